"""End to end through the real console script: train → summary/metrics/checkpoints/predictions →
evaluate reproduces the test metrics exactly; a small grid multirun."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from tests.conftest import read_summary


@pytest.fixture(scope="module")
def trained(tmp_path_factory, session_dirs):
    import os
    import subprocess

    from tests.conftest import astrolab_exe

    run_dir = tmp_path_factory.mktemp("train") / "run"
    env = {**os.environ, "ASTROLAB_CACHE": str(session_dirs["cache"]), "COLUMNS": "200"}
    proc = subprocess.run([astrolab_exe(), "train", "model=gcn", "debug=fast", "trainer.max_epochs=8",
                           f"hydra.run.dir={run_dir}"], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir, proc


def test_train_writes_a_complete_run_directory(trained):
    run_dir, proc = trained
    summary = read_summary(run_dir)
    assert summary["command"] == "train"
    assert (summary["model"], summary["dataset"], summary["task"]) == ("gcn", "gaia", "node_classification")
    for key in ("test/acc", "test/f1_macro", "test/auroc", "test/loss", "baseline/acc", "baseline/f1_macro"):
        assert key in summary["metrics"]
    m = summary["metrics"]
    assert 0 <= m["test/f1_macro"] <= 1 and 0 <= m["test/acc"] <= 1
    assert m["test/auroc"] > 0.6  # far better than chance after a few epochs
    assert Path(summary["best_checkpoint"]).is_file() and (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert set(summary["seconds"]) >= {"data", "fit", "test"}
    assert (run_dir / "config.yaml").is_file()
    assert str(run_dir) in proc.stdout.replace("\n", "")  # the run directory is announced


def test_metrics_csv_has_every_declared_metric(trained):
    run_dir, _ = trained
    with open(run_dir / "metrics.csv") as fh:
        header = next(csv.reader(fh))
    for stage in ("val", "test"):
        for name in ("loss", "acc", "f1_macro", "auroc"):
            assert f"{stage}/{name}" in header, header


def test_predictions_keep_exact_ids(trained):
    run_dir, _ = trained
    from astrolab.data.io import read_catalog

    preds = read_catalog(run_dir / "predictions_test.csv")
    ids = preds.data["id"]
    assert ids.dtype == torch.int64 and int(ids.min()) > 2**53
    assert set(preds.column("predicted")) <= set(read_summary(run_dir)["data"]["classes"])
    summary = read_summary(run_dir)
    assert len(preds) == summary["data"]["split_sizes"]["test"]


def test_checkpoint_is_plain_data(trained):
    run_dir, _ = trained
    state = torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True, map_location="cpu")
    meta = state["astrolab"]
    assert meta["preprocessing"]["feature_names"][0] == "x_pc"
    assert len(meta["preprocessing"]["scaler"]["mean"]) == 7


def test_evaluate_reproduces_training_metrics(trained, run_cli, tmp_path):
    run_dir, _ = trained
    proc = run_cli("evaluate", f"ckpt_path={run_dir}/checkpoints/best.ckpt", f"hydra.run.dir={tmp_path}/eval")
    assert proc.returncode == 0, proc.stderr[-3000:]
    ev = read_summary(tmp_path / "eval")
    tr = read_summary(run_dir)
    assert ev["command"] == "evaluate"
    for k, v in tr["metrics"].items():
        assert ev["metrics"][k] == pytest.approx(v, abs=1e-6), k


def test_evaluate_on_another_file_uses_all_labelled_rows(trained, run_cli, tmp_path, session_dirs):
    run_dir, _ = trained
    from astrolab.data.synthetic.gaia_clusters import generate_gaia_catalog

    other = generate_gaia_catalog(tmp_path / "other.parquet", n_stars=1500, seed=11)
    proc = run_cli("evaluate", f"ckpt_path={run_dir}/checkpoints/best.ckpt", f"dataset.path={other}",
                   f"hydra.run.dir={tmp_path}/eval2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    ev = read_summary(tmp_path / "eval2")
    assert ev["data"]["evaluated"] == "all labelled rows"
    assert ev["data"]["source"].endswith("other.parquet")
    assert "test/acc" in ev["metrics"]


def test_grid_multirun(run_cli, tmp_path):
    proc = run_cli("train", "-m", "model=gcn,mlp", "debug=fast", "trainer.max_epochs=2",
                   f"hydra.sweep.dir={tmp_path}/sweep")
    assert proc.returncode == 0, proc.stderr[-3000:]
    summaries = [json.loads(p.read_text()) for p in sorted((tmp_path / "sweep").glob("*/summary.json"))]
    assert sorted(s["model"] for s in summaries) == ["gcn", "mlp"]
    dirs = sorted(p.name for p in (tmp_path / "sweep").iterdir() if p.is_dir() and p.name[0].isdigit())
    assert any("model-gcn" in d for d in dirs), dirs


def test_node_regression_reports_physical_units(run_cli, tmp_path):
    run_dir = tmp_path / "reg"
    proc = run_cli("train", "model=sage", "task=node_regression", "dataset.target=radial_velocity", "debug=fast",
                   "trainer.max_epochs=5", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = read_summary(run_dir)
    m = s["metrics"]
    assert {"test/mae", "test/rmse", "test/r2", "baseline/rmse"} <= set(m)
    assert 1.0 < m["baseline/rmse"] < 200.0  # km/s: the spread of radial velocities, not standard units
    assert s["monitor"]["metric"] == "val/rmse"


def test_normal_run_prints_no_warnings(trained):
    _, proc = trained
    noisy = [ln for ln in proc.stderr.splitlines() if "Warning" in ln or "deprecated" in ln.lower()]
    assert not noisy, noisy
