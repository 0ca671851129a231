"""The design's Python API: ``train_model(config)``, ``run_hpo(config, n_trials=100)`` and
``predict(ckpt_path, path)``.

Both accept a dict in the design's keys (``model_type``, ``dataset``, ``task``, ``batch_size``,
``max_epochs``, ``learning_rate``, ``hidden_dim``, ``num_layers``, ``dropout``, ``seed``, ...; any other
key written as a config path such as ``"trainer.precision": "bf16-mixed"`` is passed as an override) or a
composed ``DictConfig``. They compose the same configs as the CLI, so ``train_model({"model_type": "gat"})``
is ``astrolab train model=gat``. ``model_type`` takes the design's family names too (``node``, ``graph``,
``temporal``, ``point``, ``cosmic_web``, ``multimodal``); a family that cannot read the dataset stops with one
line naming the datasets it reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from astrolab.errors import ConfigError

log = logging.getLogger(__name__)

#: design key → config override path
DESIGN_KEYS = {
    "model_type": "model", "model": "model", "dataset": "dataset", "task": "task", "trainer": "trainer",
    "hpo": "hpo", "debug": "debug", "experiment": "experiment",
    "max_epochs": "trainer.max_epochs", "precision": "trainer.precision",
    "learning_rate": "model.optimizer.lr", "lr": "model.optimizer.lr",
    "weight_decay": "model.optimizer.weight_decay", "hidden_dim": "model.hidden_dim",
    "num_layers": "model.num_layers", "dropout": "model.dropout", "heads": "model.heads",
    "conv_type": "model.conv_type", "seed": "seed", "n_trials": "hpo.n_trials",
    "dataset_path": "dataset.path", "target": "dataset.target",
}


def _value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_value(x) for x in v) + "]"
    return str(v)


def config_overrides(config: Mapping[str, Any], command: str = "train") -> list[str]:
    """Hydra overrides from a dict in the design's keys (or config paths)."""
    out = []
    for key, value in config.items():
        if key == "batch_size":
            if value is not None:
                out.append(f"++dataset.batch_size={_value(value)}")
            continue
        if key in ("model_type", "model") and value is not None:
            from astrolab.training.pipeline import model_choice

            value = model_choice(str(value))
        path = DESIGN_KEYS.get(key, key if "." in key else None)
        if path is None:
            raise ConfigError(f"unknown key '{key}' in the config dict; use one of "
                              f"{', '.join(sorted(DESIGN_KEYS))} or a config path such as 'trainer.max_epochs'")
        if path == "hpo.n_trials" and command != "hpo":
            continue
        out.append(f"{path}={_value(value)}")
    return out


def predict(ckpt_path: str | Path, path: str | Path | None = None, *, columns: dict[str, str] | None = None,
            keep: list[str] | None = None, mc_samples: int = 0):
    """Apply a trained model (``ckpt_path``) to a catalog file: the same table ``astrolab predict`` writes
    (one row per input row, in input order, with ``status``; a star-group model: one row per group of the
    member table), as an astropy ``Table``."""
    from astrolab.training.session import predict_catalog, quiet_lightning

    quiet_lightning()
    table, _ = predict_catalog(ckpt_path, path, columns=columns, keep=keep, mc_samples=mc_samples)
    return table


def _run_dir(kind: str) -> Path:
    import os

    root = Path(os.environ.get("ASTROLAB_OUTPUT", "outputs"))
    return root / kind / time.strftime("%Y-%m-%d") / f"{time.strftime('%H-%M-%S')}-{time.perf_counter_ns() % 10**6:06d}_api"


def _compose(config: Mapping[str, Any] | DictConfig, command: str) -> tuple[DictConfig, list[str]]:
    from astrolab.hpo.runner import compose

    if isinstance(config, DictConfig):
        return config, []
    if not isinstance(config, Mapping):
        raise ConfigError(f"config must be a dict or a DictConfig, got {type(config).__name__}")
    overrides = config_overrides(config, command)
    return compose(command, [*overrides, f"paths.run_dir={_run_dir(command)}"]), overrides


def train_model(config: Mapping[str, Any] | DictConfig) -> tuple[Any, dict[str, float]]:
    """Train (and test) one model; returns ``(model, metrics)`` (test metrics and baselines).

    ``config``: a dict such as ``{"model_type": "gat", "dataset": "gaia", "max_epochs": 20}`` or a
    ``DictConfig`` composed from ``train.yaml`` (with ``paths.run_dir`` set).
    """
    from astrolab.training.run import train

    cfg, _ = _compose(config, "train")
    summary, model = train(cfg, return_model=True)
    model.astrolab_summary = summary
    return model, dict(summary["metrics"])


def _hpo_choice(config: Mapping[str, Any]) -> str | None:
    """``hpo=<model_type>`` when a space of that name exists, else the model's own (``hpo=auto``)."""
    from astrolab.config import group_choices

    if "hpo" in config:
        return None
    model = config.get("model_type", config.get("model"))
    if model is None:
        return None
    from astrolab.training.pipeline import model_choice

    model = model_choice(str(model))
    return model if model in group_choices("hpo") else "auto"


def run_hpo(config: Mapping[str, Any] | DictConfig, n_trials: int = 100, **kwargs: Any) -> dict[str, Any]:
    """Run (or continue) a native Optuna study; returns ``best_model``, ``best_params``, ``best_value``,
    ``study``, ``best_config``, ``best_checkpoint``, ``sweep_dir`` and ``test_metrics``.

    ``config``: a dict in the design's keys plus optional ``hpo.*`` paths (``"hpo.storage": "journal:x.log"``),
    or a ``DictConfig`` composed from ``hpo.yaml``. ``kwargs`` are more ``hpo.*`` settings
    (``timeout``, ``storage``, ``study_name``, ``pruner``, ``sweep_dir``).
    """
    from astrolab.hpo.runner import compose, run_native

    sweep_dir = kwargs.pop("sweep_dir", None)
    if isinstance(config, DictConfig):
        cfg, overrides = config, []
        cfg.hpo.n_trials = int(n_trials)
        for k, v in kwargs.items():
            cfg.hpo[k] = v
        choice = None
    else:
        config = dict(config)
        choice = _hpo_choice(config)
        if choice:
            config["hpo"] = choice
        overrides = [*config_overrides(config, "hpo"), f"hpo.n_trials={int(n_trials)}",
                     *(f"hpo.{k}={_value(v)}" for k, v in kwargs.items())]
        cfg = compose("hpo", [*overrides, "paths.run_dir=unused"])
    if sweep_dir is None:
        from astrolab.utils.runs import slug

        name = f"{cfg.hpo.name}_{slug('_'.join(o for o in overrides if not o.startswith('hpo.n_trials')))}"
        sweep_dir = Path(str(cfg.paths.output_dir)) / "hpo" / name
    cfg.paths.run_dir = str(sweep_dir)
    result = run_native(cfg, [o for o in overrides if not o.startswith("hpo.")], Path(sweep_dir))
    return {"best_model": result.best_model, "best_params": result.best_params,
            "best_value": result.best_value, "study": result.study, "best_config": result.best_config,
            "best_checkpoint": result.best_checkpoint, "sweep_dir": result.sweep_dir,
            "test_metrics": result.test_metrics, "summary": result.summary}


def hpo_from_hydra(cfg: DictConfig) -> dict[str, Any]:
    """``astrolab hpo``: the study for the running Hydra job (its overrides, its run folder)."""
    from hydra.core.hydra_config import HydraConfig

    from astrolab.hpo.runner import run_native

    hc = HydraConfig.get()
    overrides = list(hc.overrides.task)
    choice = hc.runtime.choices.get("hpo")
    result = run_native(cfg, overrides, Path(cfg.paths.run_dir), hpo_choice=choice)
    return result.summary
