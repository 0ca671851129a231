"""Run plots: non-empty PNGs with the expected names, written at the end of train/evaluate, never
failing a run."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from conftest import read_summary

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path, min_bytes: int = 5000) -> None:
    data = Path(path).read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > min_bytes, (path, len(data))


def test_learning_curves_from_metrics_csv(tmp_path):
    from astrolab.plots.common import learning_curves

    rows = ["epoch,step,train/loss,val/loss,val/acc,train/acc,test/acc"]
    for e in range(5):
        rows.append(f"{e},{e},{1 / (e + 1)},,,0.{e},")
        rows.append(f"{e},{e},,{1.2 / (e + 1)},0.{e + 1},,")
    rows.append("5,5,,,,,0.9")
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    assert_png(learning_curves(tmp_path / "metrics.csv", tmp_path / "learning_curves.png"))
    assert learning_curves(tmp_path / "missing.csv", tmp_path / "x.png") is None


def test_confusion_matrix_and_regression_scatter(tmp_path):
    from astrolab.plots.common import confusion_matrix, true_vs_predicted

    rng = np.random.default_rng(0)
    names = ["field", "Cluster A", "Cluster B"]
    true = rng.choice(names, 300)
    pred = np.where(rng.random(300) < 0.7, true, rng.choice(names, 300))
    assert_png(confusion_matrix(true, pred, names, tmp_path / "cm.png"))
    t = rng.normal(size=200)
    assert_png(true_vs_predicted(t, t + rng.normal(0, 0.1, 200), tmp_path / "tvp.png", "radial_velocity"))


def test_family_figures(tmp_path):
    from astrolab.plots import families as F

    rng = np.random.default_rng(1)
    times = [np.sort(rng.uniform(0, 50, 80)) for _ in range(3)]
    periods = [0.5, 1.3, 7.0]
    mags = [15 + 0.3 * np.sin(2 * np.pi * t / p) for t, p in zip(times, periods)]
    assert_png(F.phase_folded_light_curves(times, mags, periods, ["RRab", "EB", "Cepheid"], tmp_path / "lc.png"))
    z = rng.uniform(0, 2, 500)
    assert_png(F.photo_z_scatter(z, z + 0.03 * (1 + z) * rng.normal(size=500), tmp_path / "photoz.png"))
    pos = rng.uniform(0, 100, (3000, 3))
    assert_png(F.cosmic_web_slice(pos, rng.integers(0, 4, 3000), ["void", "wall", "filament", "node"],
                                  tmp_path / "web.png"))
    pts = rng.normal(size=(500, 3))
    assert_png(F.point_cloud_segmentation(pts, (pts[:, 0] > 0).astype(int), tmp_path / "seg.png",
                                          true=(pts[:, 1] > 0).astype(int)))


@pytest.fixture(scope="module")
def gaia_dm(tmp_path_factory):
    from astrolab.data.datamodules import GaiaDataModule

    dm = GaiaDataModule(n_stars=1500, cache_dir=str(tmp_path_factory.mktemp("cache")))
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_save_run_plots_for_gaia(tmp_path, gaia_dm):
    from astrolab.models import AstroNodeGNN
    from astrolab.tasks import ClassificationTask

    task = ClassificationTask(name="node_classification", **gaia_dm.task_kwargs()).use_batch_keys(gaia_dm.batch_keys)
    model = AstroNodeGNN(task=task, num_features=gaia_dm.num_features, hidden_dim=16, num_layers=1)
    from astrolab.plots import save_run_plots
    from astrolab.training.session import make_trainer, split_predictions

    trainer = make_trainer(None, tmp_path, enable_progress_bar=False, enable_model_summary=False)
    table = split_predictions(trainer, model, gaia_dm, task, "test")  # the run's one writer makes the table
    assert len(table) == int(gaia_dm.graph["nodes", "test_mask"].sum())
    assert save_run_plots(tmp_path / "none", model, task, gaia_dm) == []  # plots never run the model
    paths = save_run_plots(tmp_path, model, task, gaia_dm, table=table)
    assert {p.name for p in paths} == {"confusion_matrix.png", "gaia_cmd.png", "gaia_sky.png",
                                       "gaia_proper_motion.png"}
    for p in paths:
        assert_png(p)


def test_a_failing_plotter_only_warns(tmp_path, caplog):
    from astrolab.plots import PLOTTERS, save_run_plots

    class BrokenDM:
        data_kind = "broken_kind"

    def broken(run_dir, model, task, dm, table):
        raise RuntimeError("no such column")

    class Task:
        kind = "classification"

    PLOTTERS["broken_kind"] = broken
    try:
        with caplog.at_level(logging.WARNING, logger="astrolab.plots"):
            assert save_run_plots(tmp_path, None, Task(), BrokenDM()) == []
    finally:
        PLOTTERS.pop("broken_kind")
    assert "no such column" in caplog.text


def test_train_writes_plots_with_config_options(run_cli, tmp_path):
    """One CLI run exercising the config switches of the mixins; plots land in the run directory."""
    run_dir = tmp_path / "run"
    res = run_cli("train", "debug=fast", "dataset.n_stars=1500", "trainer.max_epochs=3", "model.hidden_dim=16",
                  "model.num_layers=1", "optimizer=sgd", "scheduler=cosine_warmup", "augmentation=gaia",
                  "model.gradient_checkpointing=true", "task.loss=focal", "trainer.gradient_clip_val=1.0",
                  f"hydra.run.dir={run_dir}")
    assert res.returncode == 0, res.stderr[-3000:]
    # stdout is a pipe here: one plain line per epoch instead of the rich bar
    epoch_lines = [ln for ln in res.stdout.splitlines() if "] - epoch " in ln]
    assert [ln.split("] - epoch ")[1].split()[0] for ln in epoch_lines] == ["1/3", "2/3", "3/3"], res.stdout[-2000:]
    assert all("val/f1_macro" in ln for ln in epoch_lines)
    summary = read_summary(run_dir)
    expected = {"learning_curves.png", "confusion_matrix.png", "gaia_cmd.png", "gaia_sky.png",
                "gaia_proper_motion.png"}
    assert set(summary["plots"]) == expected
    for name in expected:
        assert_png(run_dir / name)
    cfg = (run_dir / "config.yaml").read_text()
    assert "torch.optim.SGD" in cfg and "cosine_with_warmup" in cfg and "redden" in cfg
    import csv

    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    lrs = [float(r["lr-SGD"]) for r in rows if r.get("lr-SGD")]
    assert lrs and max(lrs) <= 0.05 + 1e-9  # the schedule, not the constant lr


@pytest.mark.slow
def test_evaluate_writes_plots(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    res = run_cli("train", "debug=fast", "dataset.n_stars=1500", "trainer.max_epochs=2", f"hydra.run.dir={run_dir}")
    assert res.returncode == 0, res.stderr[-2000:]
    ev = tmp_path / "eval"
    res = run_cli("evaluate", f"ckpt_path={run_dir}/checkpoints/best.ckpt", f"hydra.run.dir={ev}")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "confusion_matrix.png" in read_summary(ev)["plots"]
    assert_png(ev / "gaia_cmd.png")


def test_family_plotters_write_their_pictures(tmp_path):
    """Photo-z and cosmic-web runs get their family picture from the test predictions."""
    import numpy as np
    from astropy.table import Table

    from astrolab.plots import save_run_plots

    rng = np.random.default_rng(0)

    class Task:
        def __init__(self, name, kind, class_names=None):
            self.name, self.kind, self.class_names, self.target_name = name, kind, class_names, "z"

    class DM:
        def __init__(self, kind):
            self.data_kind = kind

    z = rng.uniform(0.05, 2.0, 200)
    photo = Table({"true": z, "predicted": z + rng.normal(0, 0.03, 200)})
    out = save_run_plots(tmp_path / "pz", None, Task("photo_z", "regression"), DM("objects"), table=photo)
    assert (tmp_path / "pz" / "photo_z.png").stat().st_size > 1000
    assert tmp_path / "pz" / "photo_z.png" in out
    names = ["void", "sheet", "filament", "knot"]
    web = Table({"x": rng.uniform(0, 50, 300), "y": rng.uniform(0, 50, 300), "z": rng.uniform(0, 50, 300),
                 "true": rng.choice(names, 300), "predicted": rng.choice(names, 300)})
    out = save_run_plots(tmp_path / "cw", None, Task("cosmic_web_classification", "classification", names),
                         DM("particles"), table=web)
    assert (tmp_path / "cw" / "cosmic_web_slice.png").stat().st_size > 1000
    assert (tmp_path / "cw" / "confusion_matrix.png").exists()


def test_photo_z_title_shows_the_metric_of_summary_json(tmp_path):
    """One σ_NMAD definition: the figure's title prints the value the SigmaNMAD metric (summary.json)
    computes, outlier fraction likewise."""
    import torch

    from astrolab.plots.families import photo_z_scatter, photo_z_title
    from astrolab.tasks.photo_z_metrics import OutlierFraction, SigmaNMAD

    rng = np.random.default_rng(3)
    z = rng.gamma(2.0, 0.15, 1001)
    zp = (z + 0.04 * (1 + z) * rng.standard_t(3, size=z.size)).astype(np.float32)
    metric = float(SigmaNMAD()(torch.from_numpy(zp), torch.from_numpy(z.astype(np.float32))))
    frac = float(OutlierFraction(0.15)(torch.from_numpy(zp), torch.from_numpy(z.astype(np.float32))))
    title = photo_z_title(z.astype(np.float32), zp)
    assert f"σ_NMAD = {metric:.4f}" in title and f"outliers (>0.15) = {frac:.1%}" in title
    assert "N = 1001" in title
    assert_png(photo_z_scatter(z, zp, tmp_path / "photo_z.png", classes=rng.choice(["GALAXY", "QSO"], z.size)))


def test_learning_curves_mark_the_best_epoch(tmp_path):
    from astrolab.plots.common import learning_curves

    rows = ["epoch,step,train/loss,val/loss,train/acc,val/acc,test/acc"]
    for e in range(1, 6):
        rows.append(f"{e},{e},{1 / e},{1.2 / e},0.{e},0.{e + 1},")
    rows.append(",,,,,,0.61")
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    out = learning_curves(tmp_path / "metrics.csv", tmp_path / "lc.png", monitor="val/acc", mode="max", title="run")
    assert_png(out)


def test_background_class_is_grey_for_field_names_and_yes_no_labels():
    from astrolab.plots.gaia import _class_colours, background_classes

    assert background_classes(["field", "Pleiades", "Hyades"]) == {"field"}
    assert background_classes(["0", "1"]) == {"0"}  # member_common 0/1: non-members are the background
    assert background_classes(["N", "Y"]) == {"N"}
    assert background_classes(["0", "1", "2"]) == set()  # three real classes: none is background
    colours = _class_colours(["0", "1"])
    assert colours["0"] == "0.78" and colours["1"] != "0.78"


@pytest.mark.parametrize("n_epochs", [1, 2, 7])
def test_learning_curves_tick_whole_epochs_even_for_a_one_epoch_run(tmp_path, monkeypatch, n_epochs):
    from astrolab.plots import common

    figs = []
    monkeypatch.setattr(common, "save", lambda fig, path, title=None: figs.append(fig) or path)
    rows = ["epoch,step,train/loss,val/loss"] + [f"{e},{e},{1 / e},{1.1 / e}" for e in range(1, n_epochs + 1)]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    common.learning_curves(tmp_path / "metrics.csv", tmp_path / "lc.png")
    ax = figs[0].axes[0]
    figs[0].canvas.draw()
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert 1 in ticks or n_epochs > 2
