"""Cosmic-web generator (Zel'dovich + T-web), data module, multi-scale encoder and tasks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import read_summary


def test_periodic_knn_matches_brute_force_minimum_image():
    from astrolab.data.graphs import _symmetrise, knn_graph

    rng = np.random.default_rng(0)
    box = 10.0
    pts = rng.uniform(0, box, (150, 3))
    pts[:10, 0] = rng.uniform(0, 0.3, 10)          # some points right at the faces
    pts[10:20, 0] = rng.uniform(box - 0.3, box, 10)
    d = pts[:, None, :] - pts[None, :, :]
    d -= box * np.round(d / box)
    dist = np.linalg.norm(d, axis=-1)
    np.fill_diagonal(dist, np.inf)
    idx = np.argsort(dist, axis=1, kind="stable")[:, :6]
    ref = _symmetrise(np.repeat(np.arange(150), 6), idx.reshape(-1), 150)
    got = knn_graph(pts, k=6, boxsize=box)
    assert torch.equal(got, ref)
    # across the seam: a point at x≈0 has neighbours at x≈box
    src, dst = got
    wrap = (pts[src.numpy(), 0] < 0.3) & (pts[dst.numpy(), 0] > box - 0.3)
    assert wrap.any()


def test_minimum_image():
    from astrolab.models.components.cosmic_web import minimum_image

    d = torch.tensor([[9.0, -9.0, 4.0]])
    assert torch.allclose(minimum_image(d, 10.0), torch.tensor([[-1.0, 1.0, 4.0]]))


def _grid_points(n: int, box: float) -> np.ndarray:
    return (np.indices((n, n, n)).reshape(3, -1).T + 0.5) * (box / n)


def test_tweb_planar_overdensity_is_a_sheet_and_a_line_is_a_filament():
    from astrolab.data.synthetic.cosmic_web import sample_grid, tidal_eigenvalues, tweb_classes

    n, box = 32, 32.0
    x = (np.arange(n) + 0.5) * box / n
    X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
    pts = _grid_points(n, box)
    plane = 5.0 * np.exp(-0.5 * ((X - 16) / 1.5) ** 2)
    labels = tweb_classes(sample_grid(tidal_eigenvalues(plane, box, 1.0), pts, box), 0.3)
    dx = np.abs(pts[:, 0] - 16)
    assert (labels[dx < 1.0] == 1).all()             # in the wall: one collapsing direction → sheet
    assert (labels[dx > 8.0] == 0).all()             # far from it: void
    line = 5.0 * np.exp(-0.5 * (((X - 16) ** 2 + (Y - 16) ** 2) / 1.5 ** 2))
    labels = tweb_classes(sample_grid(tidal_eigenvalues(line, box, 1.0), pts, box), 0.3)
    r = np.hypot(pts[:, 0] - 16, pts[:, 1] - 16)
    assert (labels[r < 1.0] == 2).all()              # on the line: filament
    blob = 20.0 * np.exp(-0.5 * (((X - 16) ** 2 + (Y - 16) ** 2 + (Z - 16) ** 2) / 1.5 ** 2))
    labels = tweb_classes(sample_grid(tidal_eigenvalues(blob, box, 1.0), pts, box), 0.3)
    assert (labels[np.linalg.norm(pts - 16, axis=1) < 1.0] == 3).all()   # a knot


def test_zeldovich_box_statistics():
    from astrolab.data.synthetic.cosmic_web import (
        cic_density,
        gaussian_random_field,
        tidal_eigenvalues,
        zeldovich_positions,
    )

    delta = gaussian_random_field(32, 64.0, -1.5, 0.9, seed=2)
    assert abs(delta.mean()) < 1e-8
    pos = zeldovich_positions(delta, 64.0)
    assert pos.shape == (32 ** 3, 3) and (pos >= 0).all() and (pos < 64.0).all()
    rho = cic_density(pos, 32, 64.0)
    assert abs(rho.mean()) < 1e-9
    # displaced particles trace the linear field: on scales above a few cells their density follows it
    from scipy.ndimage import gaussian_filter

    smooth = [gaussian_filter(f, 2.0, mode="wrap").ravel() for f in (rho, delta)]
    assert np.corrcoef(*smooth)[0, 1] > 0.7
    eig = tidal_eigenvalues(rho, 64.0, 2.0)
    assert np.all(np.diff(eig, axis=-1) >= -1e-9)


def test_slab_split_is_spatially_separated():
    from astrolab.data.datamodules.cosmic_web import slab_masks

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 100, 20000)
    m = slab_masks(x, 0.15, 0.15, 4.0, 100.0)
    assert not (m["train"] & m["test"]).any() and not (m["val"] & m["test"]).any()
    gap = np.abs(x[m["train"]][:, None] - x[m["test"]][None, :200])
    gap = np.minimum(gap, 100 - gap)                 # periodic seam
    assert gap.min() >= 4.0 - 1e-9


def test_user_catalog_from_sky_uses_comoving_distance(tmp_path):
    from astropy.cosmology import Planck18
    from astropy.table import Table

    from astrolab.data.datamodules.cosmic_web import CosmicWebDataModule
    from astrolab.data.io import read_catalog, write_table

    rng = np.random.default_rng(3)
    n = 600
    t = Table({"objid": np.arange(n, dtype=np.int64) + 10 ** 15, "RA": rng.uniform(150, 160, n),
               "DEC": rng.uniform(0, 10, n), "z": rng.uniform(0.05, 0.1, n)})
    path = write_table(t, tmp_path / "gal.fits")
    dm = CosmicWebDataModule(path=str(path), columns={"id": "objid", "ra": "RA", "dec": "DEC", "redshift": "z"},
                             scales=[4, 8], grid=32, smoothing=5.0)
    dm.setup()
    pos = dm.graph["nodes", "pos"].double()
    expected = Planck18.comoving_distance(t["z"]).value * Planck18.h
    assert np.allclose(pos.norm(dim=1).numpy(), expected, rtol=1e-5)
    assert dm.graph["nodes", "id"].dtype == torch.int64 and int(dm.graph["nodes", "id"][0]) == 10 ** 15
    assert np.array_equal(read_catalog(path).column("z"), t["z"])    # the redshift column is untouched
    assert dm.describe()["labels"].startswith("T-web") and dm.describe()["boxsize_mpc_h"] is None
    assert set(dm.graph.keys()) >= {"edges_k4", "edges_k8"}


def _tiny_box(tmp_path, scales=(4, 8)):
    from astrolab.data.datamodules.cosmic_web import CosmicWebDataModule

    dm = CosmicWebDataModule(boxsize=40.0, grid=24, n_particles=1500, smoothing=2.5, scales=list(scales),
                             cache_dir=str(tmp_path))
    dm.setup()
    return dm


@pytest.mark.parametrize("fusion", ["concat", "sum", "attention"])
def test_encoder_shapes_and_gradients(tmp_path, fusion):
    from astrolab.models import create_cosmic_web_model

    dm = _tiny_box(tmp_path)
    assert dm.describe()["boxsize_mpc_h"] == 40.0
    model = create_cosmic_web_model(num_features=dm.num_features, num_classes=4, scales=[4, 8],
                                    hidden_dim=8, fusion=fusion)
    out = model(dm.graph)
    assert out.shape == (1500, 4)
    model.task.use_batch_keys(dm.batch_keys)
    pred, target = model.task.select(dm.graph, out, "train")
    model.criterion(pred, target).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_model_names_missing_scale(tmp_path):
    from astrolab.errors import ConfigError
    from astrolab.models import create_cosmic_web_model

    dm = _tiny_box(tmp_path, scales=(4,))
    model = create_cosmic_web_model(num_features=dm.num_features, num_classes=4, scales=[4, 16])
    with pytest.raises(ConfigError, match="dataset.scales"):
        model(dm.graph)


def test_one_data_module_serves_both_web_tasks_without_knowing_their_names(tmp_path):
    from astrolab.tasks import ClassificationTask, FilamentDetection

    dm = _tiny_box(tmp_path)
    kw = dm.task_kwargs()
    web = ClassificationTask(name="cosmic_web_classification", **kw).use_batch_keys(dm.batch_keys)
    fil = FilamentDetection(**kw).use_batch_keys(dm.batch_keys)
    assert web.output_dim() == 4 and fil.output_dim() == 1
    counts = kw["class_counts"]
    assert fil.pos_weight == pytest.approx((sum(counts) - counts[2]) / counts[2])
    _, y = fil.select(dm.graph, torch.zeros(1500), "train")
    assert set(y.unique().tolist()) <= {0, 1} and len(y) == int(dm.graph["nodes", "train_mask"].sum())


def test_filament_detection_task_binarises_and_baseline():
    from astrolab.tasks import FilamentDetection

    task = FilamentDetection(class_counts=[10, 20, 30, 40])
    assert task.pos_weight == pytest.approx(70 / 30)
    y = torch.tensor([0, 2, 2, 3, 1, 2])
    assert task.binarise(y).tolist() == [0, 1, 1, 0, 0, 1]
    base = task.baseline_metrics(torch.tensor([0, 1, 1, 2]), y)
    assert base["f1"] == 0.0 and base["auroc"] == 0.5 and base["acc"] == pytest.approx(0.5)


def test_cli_cosmic_web_end_to_end(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    r = run_cli("train", "model=cosmic_web_gnn", "dataset=cosmic_web", "task=filament_detection",
                "debug=fast", "dataset.n_particles=1500", "dataset.grid=24", "model.scales=[4,8]",
                "model.hidden_dim=8", "trainer.max_epochs=2", "trainer.enable_model_summary=false",
                f"hydra.run.dir={run_dir}", timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    s = read_summary(run_dir)
    m = s["metrics"]
    for k in ("test/f1", "test/auroc", "baseline/f1", "baseline/auroc"):
        assert 0.0 <= m[k] <= 1.0, k
    assert set(s["data"]["graphs"]) == {"edges_k4", "edges_k8"}      # the dataset followed model.scales
    assert s["data"]["split"].startswith("slabs") and s["data"]["boxsize_mpc_h"] == 40.0
    assert s["data"]["n_particles"] == 1500
    assert (run_dir / "predictions_test.csv").exists()
