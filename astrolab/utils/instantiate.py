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
        raise ConfigError(_message(exc)) from exc


def _message(exc: BaseException) -> str:
    """Hydra's whole message on one line, its advice for Python callers replaced by the config key a user
    sets (the first line alone stopped mid-sentence: "cannot be authorized by the")."""
    import re

    text = " ".join(ln.strip() for ln in str(exc).strip().splitlines() if ln.strip())
    text = re.sub(r"\s*See https?://\S+", "", text)
    full_key = re.search(r"\s*full_key: (\S+)", text)
    text = re.sub(r"\s*full_key: \S+", "", text)
    if full_key:
        text = f"{full_key.group(1)}: {text}"
    low = text.lower()
    if "cannot be authorized" in low or "is blacklisted" in low:
        text = re.sub(r"\s*(Pass UNSAFE_DISABLE_EXECUTION_CHECKS|Pass _execution_whitelist_).*$", "", text)
        return f"{text} extra_targets cannot allow it: name a function of your own package that does the work " \
               "and list that package in extra_targets=[mypackage.*]"
    if "whitelist" in low or "not allowed" in low:
        text = re.sub(r"\s*Pass _execution_whitelist_ from trusted code to allow expected targets\.?", "", text)
        return f"{text} Add its package to extra_targets=[package.*] if you trust it"
    return text
