"""Pruning: Optuna pruners from the ``hpo.pruner`` key and the Lightning callback that reports the
monitored validation metric after every validation epoch and stops a trial the pruner gives up on
(optuna-integration's ``PyTorchLightningPruningCallback``, which imports ``lightning.pytorch``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from astrolab.errors import ConfigError

PRUNERS = ("median", "percentile", "hyperband", "successive_halving", "none")


def make_pruner(spec: Any, startup_trials: int = 3, warmup_epochs: int = 1, max_epochs: int | None = None):
    """An Optuna pruner from a name (``median`` default) or a config node with ``_target_``."""
    import optuna

    if spec is None:
        spec = "median"
    if isinstance(spec, Mapping) or hasattr(spec, "keys"):
        from astrolab.utils.instantiate import instantiate

        return instantiate(spec)
    name = str(spec).lower()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=warmup_epochs)
    if name == "percentile":
        return optuna.pruners.PercentilePruner(25.0, n_startup_trials=startup_trials,
                                               n_warmup_steps=warmup_epochs)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, warmup_epochs),
                                              max_resource=max_epochs or "auto")
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, warmup_epochs))
    if name in ("none", "null", "off", "false"):
        return optuna.pruners.NopPruner()
    raise ConfigError(f"unknown hpo.pruner '{spec}'; choose one of: {', '.join(PRUNERS)}")


def pruning_callback(trial: Any, monitor: str):
    """The Lightning callback that reports ``monitor`` each validation epoch and raises
    ``optuna.TrialPruned`` when the pruner says so."""
    from optuna_integration.pytorch_lightning import PyTorchLightningPruningCallback

    return PyTorchLightningPruningCallback(trial, monitor=monitor)
