"""Search spaces: the sweeper's ``params`` grammar → Optuna distributions, for both drivers.

``conf/hpo/<name>.yaml`` writes a space as ``{config.path: "choice(32, 64)" | "int(interval(1, 4))" |
"tag(log, interval(1e-4, 1e-2))" | "range(0, 1, 0.25)" | "interval(0, 0.5)"}``. The Hydra multirun path
hands it to hydra-optuna-sweeper; the native runner parses it here with Hydra's public override parser and
the sweeper's documented mapping (choice → categorical, range → stepped int/float, interval → uniform,
``tag(log, ...)`` → log-uniform; :func:`create_params_from_overrides`), so both drivers sample the same
distributions (a test compares them with the sweeper's own code) without importing its private module. Also owns the config resolvers the ``hpo`` group uses
(``astrolab_direction``, ``astrolab_auto_space``) and the trial → override-string conversion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from astrolab.errors import ConfigError


def parse_space(params: Mapping[str, Any] | None,
                extra: list[str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """``(distributions, fixed_overrides)`` from a ``params`` mapping plus optional override strings.

    Sweeps (``choice``, ``range``, ``interval``) become Optuna distributions; plain values become fixed
    overrides (``key=value``), as the sweeper does.
    """
    from hydra.errors import HydraException

    args = [f"{k}={v}" for k, v in (params or {}).items()] + list(extra or [])
    try:
        dists, fixed, fixed_overrides = create_params_from_overrides(args)
    except (HydraException, ValueError, AssertionError, NotImplementedError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot parse the search space ({first}); write values as choice(..), "
                          "range(..), interval(..), int(interval(..)) or tag(log, interval(..))") from exc
    for name in fixed:
        dists.pop(name, None)
    return dists, [f"{k}={v}" for k, v in fixed.items()] + list(fixed_overrides)


def create_params_from_overrides(arguments: list[str]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """``(distributions, fixed params, fixed overrides)`` from sweeper-grammar override strings, with
    Hydra's public :class:`OverridesParser` (the mapping hydra-optuna-sweeper documents)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    dists: dict[str, Any] = {}
    fixed: dict[str, Any] = {}
    fixed_overrides: list[str] = []
    for override in OverridesParser.create().parse_overrides(arguments):
        if override.is_delete():
            fixed_overrides.append(str(override.input_line))
            continue
        value = _distribution(override)
        if isinstance(value, str) and not override.is_sweep_override():
            fixed[override.get_key_element()] = value
        else:
            dists[override.get_key_element()] = value
    return dists, fixed, fixed_overrides


def _distribution(override: Any) -> Any:
    """One override → an Optuna distribution (a sweep) or its value string (a fixed parameter)."""
    from decimal import Decimal
    from fractions import Fraction
    from math import ceil

    from hydra.core.override_parser.types import Transformer
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if not override.is_sweep_override():
        return override.get_value_element_as_str()
    value = override.value()

    def categorical():
        return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))

    if override.is_choice_sweep():
        return categorical()
    if override.is_range_sweep():
        if value.step == 0:
            raise ValueError("an Optuna range sweep needs a nonzero step")
        if value.shuffle or value.transformers:
            return categorical()
        values = value.range()
        if isinstance(values, range):
            if not values:
                raise ValueError("an Optuna range sweep must contain at least one value")
            low, high = sorted((values[0], values[-1]))
            return IntDistribution(low, high, step=abs(values.step))
        count = ceil((Fraction(values.stop) - Fraction(values.start)) / Fraction(values.step))
        if count <= 0:
            raise ValueError("an Optuna range sweep must contain at least one value")
        last = values.start + (count - 1) * values.step  # Optuna includes both ends; Hydra's stop is exclusive
        low, high = sorted((float(values.start), float(last)))
        step = float(abs(values.step))
        if Decimal(str(low)) != min(values.start, last) or Decimal(str(high)) != max(values.start, last) \
                or Decimal(str(step)) != abs(values.step):
            return categorical()  # not exactly representable as a float grid
        return FloatDistribution(low, high, step=step)
    if override.is_interval_sweep():
        ints = isinstance(value.start, int) and isinstance(value.end, int)
        log = "log" in value.tags
        if ints:
            return IntDistribution(int(value.start), int(value.end), log=log)
        return FloatDistribution(value.start, value.end, log=log)
    raise NotImplementedError(f"{override.input_line} is not supported by the Optuna search")


def suggest(trial: Any, distributions: Mapping[str, Any]) -> dict[str, Any]:
    """Sample every distribution on ``trial`` through the public ``suggest_*`` API."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name, d in distributions.items():
        if isinstance(d, FloatDistribution):
            out[name] = trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)
        elif isinstance(d, IntDistribution):
            out[name] = trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
        elif isinstance(d, CategoricalDistribution):
            out[name] = trial.suggest_categorical(name, d.choices)
        else:  # pragma: no cover - the sweeper grammar yields only these three
            raise ConfigError(f"unsupported distribution for {name}: {d!r}")
    return out


def to_overrides(params: Mapping[str, Any]) -> list[str]:
    """``{"model.hidden_dim": 64}`` → ``["model.hidden_dim=64"]`` (Hydra override grammar)."""
    out = []
    for k, v in params.items():
        if v is None:
            text = "null"
        elif isinstance(v, bool):
            text = str(v).lower()
        elif isinstance(v, float):
            text = repr(v)
        else:
            text = str(v)
        out.append(f"{k}={text}")
    return out


def direction_for(task_target: str, monitor: str | None = None, mode: str | None = None) -> str:
    """``maximize``/``minimize`` from the task's monitor mode (``max``/``min``): the task config's
    ``monitor`` / ``mode`` where it sets them (``Task.resolve_monitor``), else the task class's."""
    from hydra.utils import get_class

    try:
        cls = get_class(str(task_target))
    except Exception as exc:
        raise ConfigError(f"cannot import task '{task_target}' to read its monitor mode: {exc}") from exc
    resolve = getattr(cls, "resolve_monitor", None)
    mode = resolve(monitor, mode)[1] if callable(resolve) else getattr(cls, "mode", "min")
    return "maximize" if mode == "max" else "minimize"


def auto_space(model_target: str) -> dict[str, str]:
    """The model class's own search space (``Model.search_space()`` classmethod) for ``hpo=auto``."""
    from hydra.utils import get_class

    try:
        cls = get_class(str(model_target))
    except Exception as exc:
        raise ConfigError(f"cannot import model '{model_target}' for hpo=auto: {exc}") from exc
    fn = getattr(cls, "search_space", None)
    if not callable(fn):
        raise ConfigError(f"{cls.__name__} defines no search_space(); pick a written space instead "
                          "(hpo=gat, hpo=gcn, ...) or add ArchitectureSearchMixin to the model")
    space = fn()
    if not isinstance(space, Mapping) or not space:
        raise ConfigError(f"{cls.__name__}.search_space() returned no parameters")
    return {str(k): str(v) for k, v in space.items()}


def register_resolvers() -> None:
    """Resolvers the ``hpo`` config group uses (idempotent)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("astrolab_direction"):
        OmegaConf.register_resolver("astrolab_direction", direction_for)
    if not OmegaConf.has_resolver("astrolab_auto_space"):
        OmegaConf.register_resolver("astrolab_auto_space", auto_space)
