"""Build data module, task, model, callbacks, loggers and trainer from a composed config."""

from __future__ import annotations

import copy
import functools
import logging
from typing import Any

from omegaconf import DictConfig, OmegaConf

from astrolab.errors import ConfigError, IncompatibleError
from astrolab.utils.instantiate import allow_targets, instantiate

log = logging.getLogger(__name__)


def _class(node: Any, what: str):
    from hydra.utils import get_class

    target = node.get("_target_") if node is not None else None
    if not target:
        raise ConfigError(f"the {what} config has no _target_")
    try:
        return get_class(target)
    except Exception as exc:
        raise ConfigError(f"cannot import {what} target '{target}': {exc}") from exc


@functools.lru_cache(maxsize=1)
def _dataset_kinds() -> tuple[tuple[str, str | None], ...]:
    """(dataset choice, data kind) of every packaged dataset config, read once per process."""
    from astrolab.config import conf_dir, group_choices

    out = []
    for name in group_choices("dataset"):
        try:
            node = OmegaConf.load(conf_dir() / "dataset" / f"{name}.yaml")
            out.append((name, getattr(_class(node, "dataset"), "data_kind", None)))
        except Exception:
            continue
    return tuple(out)


def check_compatible(cfg: DictConfig, choices: dict[str, str] | None = None) -> tuple[type, type, type]:
    """Fail at start, in one line, when model, dataset and task cannot work together."""
    choices = choices or {}
    model_cls = _class(cfg.model, "model")
    data_cls = _class(cfg.dataset, "dataset")
    task_cls = _class(cfg.task, "task")
    m, d, t = (choices.get("model", model_cls.__name__), choices.get("dataset", data_cls.__name__),
               choices.get("task", task_cls.__name__))
    data_kind = getattr(data_cls, "data_kind", None)
    kinds = getattr(model_cls, "data_kinds", ())
    if kinds and data_kind not in kinds:
        ok = [name for name, kind in _dataset_kinds() if kind in kinds]
        raise IncompatibleError(f"model={m} cannot read dataset={d} ({data_kind} data); "
                                f"datasets for model={m}: {', '.join(ok) or 'none'}")
    supported = getattr(model_cls, "supported_tasks", ())
    if supported and (cfg.task.get("name") or task_cls.name) not in supported:
        raise IncompatibleError(f"model={m} cannot do task={t}; tasks for model={m}: {', '.join(supported)}")
    return model_cls, data_cls, task_cls


def build_datamodule(cfg: DictConfig, task_cls: type, **overrides: Any):
    """The data module, told the target's type (``task_kind``) and, where ``dataset.target`` is null, the
    task config's ``data_target`` (what to build, e.g. galaxies: morphology / component / transform)."""
    if cfg.task.get("data_target") and "target" in cfg.dataset and cfg.dataset.target is None:
        overrides.setdefault("target", cfg.task.data_target)
    for key, value in model_hints(cfg).items():  # hops and activation sizes, for tiles
        overrides.setdefault(key, value)
    return instantiate(cfg.dataset, task_kind=task_cls.kind, **overrides)


def model_hints(cfg: DictConfig) -> dict[str, Any]:
    """The model's ``tiling_hints`` (hops, activation sizes) for a data module that takes them
    (``takes_model_hints``), read from the model config; ``{}`` otherwise."""
    if cfg.get("model") is None or not getattr(_class(cfg.dataset, "dataset"), "takes_model_hints", False):
        return {}
    hints = getattr(_class(cfg.model, "model"), "tiling_hints", None)
    return dict(hints(cfg.model)) if hints else {}


def build_task(cfg: DictConfig, dm, fixed_kwargs: dict[str, Any] | None = None):
    kwargs = dict(fixed_kwargs) if fixed_kwargs is not None else dm.task_kwargs()
    if fixed_kwargs is None and "class_weights" in kwargs:
        mode = cfg.task.get("class_weights", "auto")
        if mode in (None, "none", False):
            kwargs["class_weights"] = None
        elif mode != "auto":
            kwargs.pop("class_weights")  # an explicit list in the config wins
    keys = dm.batch_keys  # the data's batch contract: where the targets and split masks are
    return instantiate(cfg.task, target_key=keys["target"], mask_key=keys["mask"], **kwargs)


#: model options of the AstroBaseModel mixins, left out of the constructor call while off (so a family
#: with a closed signature keeps working until the option is switched on)
MIXIN_OPTIONS = ("compile", "gradient_checkpointing", "num_threads", "augmentation")


def build_model(cfg: DictConfig, task, num_features: int, augmentation_inputs: dict[str, Any] | None = None,
                **model_inputs: Any):
    """The model, sized from the data: ``num_features`` and the data module's ``model_inputs()`` (e.g. the
    per-object feature vector's length), passed only when the data module gives them. Augmentation
    parameters set to ``auto`` take the data module's ``augmentation_inputs()``."""
    node = cfg.model
    off = [k for k in MIXIN_OPTIONS if k in node and not node.get(k)]
    if off:
        node = OmegaConf.masked_copy(node, [k for k in node.keys() if k not in off])
    aug = resolve_augmentation(node.get("augmentation"), augmentation_inputs or {})
    if aug is not None:
        model_inputs["augmentation"] = aug
    return instantiate(node, task=task, num_features=num_features, **model_inputs)


def resolve_augmentation(spec, inputs: dict[str, Any]) -> dict[str, Any] | None:
    """``model.augmentation`` with every ``auto`` parameter replaced by the data's value of that name
    (``None`` when there is nothing to replace)."""
    if not spec or not any(v == "auto" for params in spec.values() if isinstance(params, DictConfig | dict)
                           for v in params.values()):
        return None
    out = OmegaConf.to_container(spec, resolve=True) if isinstance(spec, DictConfig) else copy.deepcopy(dict(spec))
    for name, params in out.items():
        for key, value in (params or {}).items() if isinstance(params, dict) else ():
            if value != "auto":
                continue
            if key not in inputs:
                from astrolab.errors import ConfigError

                raise ConfigError(f"model.augmentation.{name}.{key}=auto: this data module gives no {key}; "
                                  f"set model.augmentation.{name}.{key}=<value> or model.augmentation.{name}=null")
            params[key] = inputs[key]
    return out


def model_inputs(dm) -> dict[str, Any]:
    """The data module's extra model sizes (data contract ``model_inputs()``; ``{}`` when it has none), and
    its ``augmentation_inputs()`` for augmentation parameters set to ``auto``."""
    fn = getattr(dm, "model_inputs", None)
    out = dict(fn()) if callable(fn) else {}
    aug = getattr(dm, "augmentation_inputs", None)
    aug = dict(aug()) if callable(aug) else {}
    if aug:
        out["augmentation_inputs"] = aug
    return out


def build_callbacks(cfg: DictConfig, model) -> list:
    callbacks = []
    for name, node in (cfg.get("callbacks") or {}).items():
        if node is None or "_target_" not in node:
            continue
        kwargs = {}
        if "monitor" in node and node.monitor is None:
            kwargs["monitor"] = model.monitor
            if "mode" in node:
                kwargs["mode"] = model.mode
        callbacks.append(instantiate(node, **kwargs))
    return callbacks


def build_loggers(cfg: DictConfig) -> list:
    loggers = []
    for name, node in (cfg.get("logger") or {}).items():
        if node is not None and "_target_" in node:
            loggers.append(instantiate(node))
    return loggers


def build_trainer(cfg: DictConfig, callbacks: list, loggers: list, **overrides: Any):
    """The run's Trainer (kept name; the one constructor is :func:`astrolab.training.session.make_trainer`)."""
    from astrolab.training.session import make_trainer

    return make_trainer(cfg, overrides.pop("default_root_dir", None), callbacks, loggers, **overrides)


def prepare_config(cfg: DictConfig) -> None:
    allow_targets(cfg.get("extra_targets") or [])
