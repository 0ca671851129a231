"""The design's factory functions: ``create_model``, ``create_model_for_task`` and re-exports of the family factories (``create_tensordict_model``,
``create_multimodal_model``, ``create_survey_specific_model``, ``create_cosmic_web_model``).

Model types name the families' modules; which family does a task is read from each family's
``supported_tasks`` (no second table to keep in sync). Families whose module is not part of this
installation raise a one-line :class:`~astrolab.errors.ConfigError`. ``create_analysis_pipeline`` (which
reads catalogs and trains) lives with the runs: :mod:`astrolab.training.pipeline`.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from astrolab.errors import ConfigError

log = logging.getLogger(__name__)

#: ``model_type`` → ``module:Class`` of the family
MODEL_TYPES: dict[str, str] = {
    "graph": "astrolab.models.graph_gnn:AstroGraphGNN",
    "node": "astrolab.models.node_gnn:AstroNodeGNN",
    "temporal": "astrolab.models.temporal_gnn:AstroTemporalGNN",
    "point": "astrolab.models.point_net:AstroPointNet",
    "cosmic_web": "astrolab.models.cosmic_web_gnn:AstroCosmicWebGNN",
    "multimodal": "astrolab.models.multimodal:create_multimodal_model",
}
#: design aliases
ALIASES = {"gnn": "graph", "node_gnn": "node", "graph_gnn": "graph", "pointnet": "point", "point_net": "point",
           "point_cloud": "point", "temporal_gnn": "temporal", "lightcurve": "temporal",
           "cosmic_web_gnn": "cosmic_web", "cosmicweb": "cosmic_web"}

#: family factories living in the family modules (re-exported here)
FAMILY_FACTORIES = {
    "create_tensordict_model": "astrolab.models.multimodal",
    "create_multimodal_model": "astrolab.models.multimodal",
    "create_survey_specific_model": "astrolab.models.multimodal",
    "create_cosmic_web_model": "astrolab.models.cosmic_web_gnn",
}


def _load(spec: str, what: str):
    module, _, name = spec.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise ConfigError(f"{what} is not available in this astrolab installation (module {module} "
                              "missing); update astrolab or pick another model type") from None
        raise
    return getattr(mod, name)


def available_model_types() -> list[str]:
    """Model types whose family module is importable here."""
    out = []
    for t, spec in MODEL_TYPES.items():
        try:
            _load(spec, t)
            out.append(t)
        except ConfigError:
            continue
    return out


def model_class(model_type: str):
    """The family class (or factory, for ``multimodal``) of a model type."""
    key = ALIASES.get(str(model_type).lower(), str(model_type).lower())
    if key not in MODEL_TYPES:
        raise ConfigError(f"unknown model type '{model_type}'; use one of {', '.join(MODEL_TYPES)}")
    return _load(MODEL_TYPES[key], f"model type '{key}'")


def create_model(model_type: str, **kwargs: Any):
    """A model of one family: ``create_model('graph', num_features=128, num_classes=7)``.

    Keyword arguments go to the family's constructor (``task``, ``num_features``, ``num_classes``,
    architecture, ``optimizer``/``scheduler`` as partials or names, mixin options such as
    ``gradient_checkpointing=True``)."""
    return model_class(model_type)(**kwargs)


def task_families() -> dict[str, list[str]]:
    """``task name → [model types]`` from each importable family's ``supported_tasks``."""
    out: dict[str, list[str]] = {}
    for t in available_model_types():
        cls = model_class(t)
        for task in getattr(cls, "supported_tasks", ()) or ():
            out.setdefault(task, []).append(t)
    return out


def create_model_for_task(task: str, **kwargs: Any):
    """The first family (in :data:`MODEL_TYPES` order) whose ``supported_tasks`` include ``task``:
    ``create_model_for_task('node_classification', num_features=128, num_classes=7)``."""
    families = task_families()
    name = getattr(task, "name", task)
    if name not in families:
        raise ConfigError(f"no model family in this installation does task '{name}'; tasks available: "
                          f"{', '.join(sorted(families))}")
    model_type = kwargs.pop("model_type", None) or families[name][0]
    return create_model(model_type, task=task, **kwargs)


def __getattr__(name: str):
    if name in FAMILY_FACTORIES:
        return _load(f"{FAMILY_FACTORIES[name]}:{name}", name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
