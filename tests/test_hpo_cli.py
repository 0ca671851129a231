"""End to end through the console script: `astrolab train -m hpo=...` (hydra-optuna-sweeper) and
`astrolab hpo ...` (native runner, resumed by re-running the command, best config runnable)."""

from __future__ import annotations

import json

import pandas as pd
import yaml
from omegaconf import OmegaConf

from conftest import read_summary

TINY = ["debug=fast", "trainer.max_epochs=2", "model.hidden_dim=32", "callbacks.model_checkpoint.save_last=false"]


def test_train_multirun_through_the_optuna_sweeper(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli("train", "-m", "hpo=gcn", *TINY, "hpo.n_trials=2", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Deprecat" not in proc.stderr and "deprecated" not in proc.stderr, proc.stderr[-2000:]
    result = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    jobs = sorted(p.parent for p in sweep.glob("*/summary.json"))
    assert len(jobs) == 2
    bests = [read_summary(j)["monitor"]["best"] for j in jobs]
    # each job returned its monitored validation metric; the sweeper kept the larger (maximize)
    assert result["best_value"] == max(bests)
    # like every command-line key, model.hidden_dim=32 is fixed, not searched
    assert set(result["best_params"]) >= {"model.num_layers", "model.optimizer.lr"}
    assert "model.hidden_dim" not in result["best_params"]


def test_native_hpo_resume_and_best_config(run_cli, tmp_path):
    sweep = tmp_path / "study"
    args = ["hpo", "hpo=gcn", *TINY, f"hydra.run.dir={sweep}"]
    proc = run_cli(*args, "hpo.n_trials=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "deprecated" not in proc.stderr.lower(), proc.stderr[-2000:]
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["trials"]["COMPLETE"] + summary["trials"]["PRUNED"] == 1
    assert "model.hidden_dim" not in summary["best_params"]  # fixed on the command line, as with the sweeper
    for name in ("trials.csv", "best_config.yaml", "best.ckpt", "history.png", "study.db"):
        assert (sweep / name).exists(), name
    assert summary["best_test_metrics"]["test/f1_macro"] >= 0

    # the same command asking for 2 continues the study: 2 in total, not 2 more
    proc = run_cli(*args, "hpo.n_trials=2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = pd.read_csv(sweep / "trials.csv")
    assert len(table) == 2 and table["number"].tolist() == [0, 1]
    assert json.loads((sweep / "summary.json").read_text())["trials"]["COMPLETE"] >= 1

    # best_config.yaml reproduces the best trial with astrolab train
    best = json.loads((sweep / "summary.json").read_text())
    out = tmp_path / "best_run"
    proc = run_cli("train", "--config-path", str(sweep), "--config-name", "best_config",
                   f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    cfg = OmegaConf.load(out / "config.yaml")
    for key, value in best["best_params"].items():
        assert OmegaConf.select(cfg, key) == value, key
    assert read_summary(out)["monitor"]["best"] == pytest_approx(best["best_value"])


def pytest_approx(x):
    import pytest

    return pytest.approx(x, abs=1e-4)
