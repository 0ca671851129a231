"""Shared helpers of the HPO tests: one tiny Gaia config (the debug=fast sample, cached once per session)."""

from __future__ import annotations

from pathlib import Path

BASE = ["hpo=gcn", "debug=fast", "trainer.max_epochs=3", "model.hidden_dim=32", "model.num_layers=2",
        "callbacks.model_checkpoint.save_last=false", "logger=csv"]

LR_SPACE = {"model.optimizer.lr": "tag(log, interval(1e-3, 3e-2))"}


def make_runner(sweep_dir: Path, *extra: str, params: dict | None = None, n_trials: int = 2):
    from astrolab.hpo.runner import NativeRunner, compose

    overrides = [*BASE, *extra]
    cfg = compose("hpo", [*overrides, f"hpo.n_trials={n_trials}", f"paths.run_dir={sweep_dir}"])
    if params is not None:
        cfg.hpo.params = params
    return NativeRunner(cfg, overrides, Path(sweep_dir), "gcn")
