"""PointNet++ components, AstroPointNet, point tasks and the galaxies dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from astrolab.data.io import read_catalog
from astrolab.models.components.pointnet import (
    ModernPointNetEncoder,
    farthest_point_sample,
    group_neighbours,
)
from tests.conftest import read_summary


def _fps_reference(pos: np.ndarray, m: int) -> list[int]:
    """Greedy farthest point sampling, written plainly (first point: farthest from the centroid)."""
    chosen = [int(np.argmax(((pos - pos.mean(0)) ** 2).sum(1)))]
    for _ in range(m - 1):
        d = np.min(((pos[:, None, :] - pos[chosen][None]) ** 2).sum(-1), axis=1)
        chosen.append(int(np.argmax(d)))
    return chosen


def test_fps_matches_reference_and_spreads_points():
    g = torch.Generator().manual_seed(0)
    pos = torch.rand(3, 60, 3, generator=g, dtype=torch.float64)
    idx = farthest_point_sample(pos, 12, backend="torch")
    assert idx.shape == (3, 12)
    for b in range(3):
        assert idx[b].tolist() == _fps_reference(pos[b].numpy(), 12)
        assert len(set(idx[b].tolist())) == 12
    # the 8 corners of a cube plus points near its centre: FPS takes the corners first
    corners = torch.tensor([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=torch.float64)
    inner = 0.5 + 0.05 * torch.rand(20, 3, generator=g, dtype=torch.float64)
    cloud = torch.cat([inner, corners])[None]
    sel = farthest_point_sample(cloud, 8, backend="torch")[0]
    assert sorted(sel.tolist()) == list(range(20, 28))


def test_grouping_knn_and_ball():
    g = torch.Generator().manual_seed(1)
    pos = torch.rand(2, 40, 3, generator=g)
    centres = pos[:, :5]
    idx = group_neighbours(centres, pos, 6)
    d = torch.cdist(centres, pos)
    ref = d.argsort(-1)[..., :6]
    assert torch.equal(idx.sort(-1).values, ref.sort(-1).values)
    ball = group_neighbours(centres, pos, 6, radius=0.2)
    nearest = ref[..., :1]
    dist_ball = torch.gather(d, 2, ball)
    # every neighbour is inside the ball, or replaced by the nearest point
    assert ((dist_ball <= 0.2 + 1e-6) | (ball == nearest)).all()


def _model(task: str, num_classes: int = 4):
    from astrolab.models import AstroPointNet

    return AstroPointNet(task=task, num_features=3, num_classes=num_classes, hidden_dim=8,
                         num_centroids=[16, 4], k=4, dropout=0.0)


def _batch(b: int = 3, n: int = 64, seed: int = 0):
    from tensordict import TensorDict

    g = torch.Generator().manual_seed(seed)
    pos = torch.randn(b, n, 3, generator=g)
    pts = TensorDict({"pos": pos, "x": pos.clone(), "y": torch.randint(0, 4, (b, n), generator=g),
                      "ref": pos.flip(1), "ref_x": pos.flip(1)}, batch_size=[b, n])
    clouds = TensorDict({"y": torch.randint(0, 4, (b,), generator=g), "pose": torch.randn(b, 12, generator=g)},
                        batch_size=[b])
    return TensorDict({"points": pts, "clouds": clouds}, batch_size=[b])


@pytest.mark.parametrize("task,shape", [("point_classification", (3, 4)), ("point_segmentation", (3, 64, 4)),
                                        ("point_registration", (3, 9))])
def test_shapes_and_gradient_flow(task, shape):
    model = _model(task)
    batch = _batch()
    out = model(batch)
    assert out.shape == shape
    from astrolab.data.datamodules import GalaxyCloudDataModule as G

    # the task config names the target it needs (data_target); the data module says where it is in a batch
    model.task.use_batch_keys({**G.batch_keys, **G.batch_keys_by_target[model.task.data_target]})
    pred, target = model.task.select(batch, out, "train")
    loss = model.criterion(pred, model.task.loss_target(target))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_permutation_invariance_and_equivariance():
    batch = _batch(2, 80, seed=3)
    perm = torch.randperm(80, generator=torch.Generator().manual_seed(5))
    shuffled = batch.clone()
    shuffled["points"] = batch["points"][:, perm]
    cls = _model("point_classification").eval()
    with torch.no_grad():
        assert torch.allclose(cls(batch), cls(shuffled), atol=1e-5)
    seg = _model("point_segmentation").eval()
    with torch.no_grad():
        assert torch.allclose(seg(batch)[:, perm], seg(shuffled), atol=1e-5)
    # and the output does depend on the points
    moved = batch.clone()
    moved["points", "pos"] = batch["points", "pos"] * 2
    moved["points", "x"] = moved["points", "pos"]
    with torch.no_grad():
        assert not torch.allclose(cls(batch), cls(moved), atol=1e-4)


def test_encoder_reset_parameters_changes_weights():
    enc = ModernPointNetEncoder(3, 8, [8, 4], 4, per_point=True)
    before = [p.clone() for p in enc.parameters()]
    enc.reset_parameters()
    assert any(not torch.equal(a, b) for a, b in zip(before, enc.parameters()))


def test_rotation_6d_and_registration_metrics():
    from astrolab.data.datamodules.galaxies import _random_rotations
    from astrolab.tasks.point import PointRegistration, pose_from_output, rotation_angle_deg, rotation_from_6d

    r = rotation_from_6d(torch.randn(10, 6))
    assert torch.allclose(r @ r.transpose(1, 2), torch.eye(3).expand(10, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(r), torch.ones(10), atol=1e-5)
    rot = _random_rotations(torch.Generator().manual_seed(0), 50, 45.0)
    angles = rotation_angle_deg(rot, torch.eye(3).expand(50, 3, 3))
    assert (angles <= 45.0 + 1e-3).all() and angles.max() > 20
    # a perfect prediction scores 0; the identity scores the mean angle and translation
    code = torch.cat([rot[:, 0], rot[:, 1]], -1)
    t = torch.randn(50, 3)
    target = torch.cat([rot.reshape(50, 9), t], -1)
    assert torch.allclose(pose_from_output(torch.cat([code, t], -1)), target, atol=1e-5)
    task = PointRegistration(length_scale=10.0)
    base = task.baseline_metrics(target, target)
    assert base["rot_err_deg"] == pytest.approx(float(angles.mean()), rel=1e-4)
    assert base["trans_err"] == pytest.approx(float(t.norm(dim=-1).mean() * 10), rel=1e-4)


def test_galaxy_file_labels_and_registration_targets(tmp_path):
    from astrolab.data.datamodules.galaxies import GalaxyCloudDataModule
    from astrolab.data.io import read_catalog
    from astrolab.data.synthetic.galaxies import COMPONENTS, MORPHOLOGIES, generate_galaxies

    path = generate_galaxies(tmp_path / "gal.parquet", n_clouds=15, n_points=200, seed=1)
    cat = read_catalog(path)
    assert cat.units["x"] == "kpc" and len(cat) == 15 * 200
    assert set(cat.column("morphology")) == set(MORPHOLOGIES)
    assert set(cat.column("component")) <= set(COMPONENTS) and "stream" in set(cat.column("component"))
    # streams only in mergers; ellipticals have no disk
    comp, morph = cat.column("component"), cat.column("morphology")
    assert set(morph[comp == "stream"]) == {"merger"}
    assert "disk" not in set(comp[morph == "elliptical"])

    dm = GalaxyCloudDataModule(path=str(path), n_points=128, target="component", batch_size=4)
    dm.setup()
    assert dm.num_features == 3 and dm.preprocessing()["feature_names"] == ["x", "y", "z"]
    assert dm.class_names == sorted(COMPONENTS) and dm.batch_keys["target"] == ("points", "y")
    b = next(iter(dm.test_dataloader()))
    assert b["points", "pos"].shape[1:] == (128, 3) and b["points", "y"].shape[1] == 128

    reg = GalaxyCloudDataModule(path=str(path), n_points=128, target="transform", task_kind="regression",
                                batch_size=4,
                                registration={"n_points": 64})
    reg.setup()
    assert reg.n_points == 64 and reg.preprocessing()["n_points"] == 64  # registration's own cloud size
    for loader in (reg.train_dataloader(), reg.val_dataloader()):
        b = next(iter(loader))
        pose = b["clouds", "pose"]
        rot, t = pose[:, :9].reshape(-1, 3, 3), pose[:, 9:]
        back = b["points", "pos"] @ rot.transpose(1, 2) + t[:, None]
        assert torch.allclose(back, b["points", "ref"], atol=1e-4)
    assert torch.equal(reg.targets("test"), reg.targets("test"))  # fixed evaluation motions


def test_incompatible_pairs_fail_in_one_line():
    from omegaconf import OmegaConf

    from astrolab.config import conf_dir
    from astrolab.errors import IncompatibleError
    from astrolab.training.build import check_compatible

    def cfg(model, dataset, task):
        return OmegaConf.create({g: OmegaConf.load(conf_dir() / g / f"{n}.yaml")
                                 for g, n in (("model", model), ("dataset", dataset), ("task", task))})

    choices = {"model": "pointnet", "dataset": "gaia", "task": "node_classification"}
    with pytest.raises(IncompatibleError) as err:
        check_compatible(cfg("pointnet", "gaia", "node_classification"), choices)
    msg = str(err.value)
    assert "\n" not in msg and "model=pointnet" in msg and "galaxies" in msg
    choices = {"model": "cosmic_web_gnn", "dataset": "cosmic_web", "task": "point_segmentation"}
    with pytest.raises(IncompatibleError, match="cosmic_web_classification, filament_detection"):
        check_compatible(cfg("cosmic_web_gnn", "cosmic_web", "point_segmentation"), choices)
    choices = {"model": "gat", "dataset": "galaxies", "task": "node_classification"}
    with pytest.raises(IncompatibleError, match="model=gat cannot read dataset=galaxies"):
        check_compatible(cfg("_node_gnn", "galaxies", "node_classification"), choices)
    model_cls, _, _ = check_compatible(cfg("pointnet", "galaxies", "point_registration"))
    assert model_cls.__name__ == "AstroPointNet"


def test_cli_point_segmentation_end_to_end(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    r = run_cli("train", "model=pointnet", "dataset=galaxies", "task=point_segmentation", "debug=fast",
                "trainer.max_epochs=2", "model.num_centroids=[32,8]", "model.k=8", "model.hidden_dim=8",
                f"hydra.run.dir={run_dir}", timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    s = read_summary(run_dir)
    m = s["metrics"]
    for k in ("test/acc", "test/miou", "baseline/acc", "baseline/miou"):
        assert 0.0 <= m[k] <= 1.0, k
    assert s["data"]["n_points"] == 256 and s["data"]["n_clouds"] == 30 and s["data"]["split"] == "by cloud"
    pred = read_catalog(run_dir / "predictions_test.csv")
    assert {"cloud_id", "x", "y", "z", "true", "predicted"} <= set(pred.names)
    assert len(pred) > 0 and len(pred) % 256 == 0  # one row per particle of each test cloud
    assert (run_dir / "point_segmentation.png").stat().st_size > 5000


def test_procrustes_recovers_a_rotation():
    from astrolab.data.datamodules.galaxies import _random_rotations
    from astrolab.models.components.pointnet import procrustes_rotation

    rot = _random_rotations(torch.Generator().manual_seed(2), 4)
    src = torch.randn(4, 50, 3, generator=torch.Generator().manual_seed(3))
    src = src - src.mean(1, keepdim=True)
    dst = src @ rot.transpose(1, 2)
    assert torch.allclose(procrustes_rotation(src, dst), rot, atol=1e-4)
