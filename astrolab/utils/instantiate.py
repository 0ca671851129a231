"""``instantiate`` under Hydra 1.4's execution whitelist.

Configs may name any callable, so everything astrolab builds goes through :func:`instantiate`, which
only allows astrolab's own targets and the library namespaces it builds from. Users add their own
packages with one config key, ``extra_targets: [mypkg.*]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: targets configs may name
EXECUTION_WHITELIST: tuple[str, ...] = (
    "astrolab.*",
    "torch.optim.*",
    "torch.nn.*",
    "lightning.pytorch.Trainer",
    "lightning.pytorch.callbacks.*",
    "lightning.pytorch.loggers.*",
    "lightning.pytorch.strategies.*",
    "lightning.pytorch.profilers.*",
    "torchmetrics.*",
    "optuna.samplers.*",
    "optuna.pruners.*",
    "optuna.storages.*",
    "optuna_integration.*",
    "hydra_plugins.hydra_optuna_sweeper.*",
)

_extra: list[str] = []


def allow_targets(patterns: Iterable[str] | None) -> None:
    """Extend the whitelist for this process (from the ``extra_targets`` config key)."""
    for p in patterns or ():
        if p not in _extra:
            _extra.append(str(p))


def whitelist() -> tuple[str, ...]:
    return EXECUTION_WHITELIST + tuple(_extra)


def instantiate(config: Any, *args: Any, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` with astrolab's execution whitelist."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate as _instantiate

    from astrolab.errors import AstrolabError, ConfigError

    try:
        return _instantiate(config, *args, _execution_whitelist_=list(whitelist()), **kwargs)
    except InstantiationException as exc:
        cause = exc.__cause__
        while cause is not None:
            if isinstance(cause, AstrolabError):
                raise cause from None
            cause = cause.__cause__
        msg = str(exc).strip().splitlines()[0]
        if "whitelist" in str(exc).lower() or "not allowed" in str(exc).lower():
            raise ConfigError(f"{msg} — add the package to extra_targets=[...] if you trust it") from exc
        raise ConfigError(msg) from exc
