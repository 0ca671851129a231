"""The design's factory functions: ``create_model``, ``create_model_for_task``,
``create_analysis_pipeline``, and re-exports of the family factories (``create_tensordict_model``,
``create_multimodal_model``, ``create_survey_specific_model``, ``create_cosmic_web_model``).

Model types name the families' modules; which family does a task is read from each family's
``supported_tasks`` (no second table to keep in sync). Families whose module is not part of this
installation raise a one-line :class:`~astrolab.errors.ConfigError`.
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


# -- analysis pipeline ------------------------------------------------------------------------------------
class AnalysisPipeline:
    """Survey catalog → features → model → predictions, in Python.

    Built by :func:`create_analysis_pipeline`. ``fit()`` trains on a labelled catalog with Lightning;
    ``predict(path)`` reads any catalog of the same survey (through the same reader, schema and saved
    preprocessing) and returns an astropy ``Table`` with exact ids and the predictions.
    """

    def __init__(self, survey: str, model_type: str | None, task: str | None, dataset_kwargs: dict[str, Any],
                 model_kwargs: dict[str, Any], trainer_kwargs: dict[str, Any]) -> None:
        self.survey = survey
        self.model_type = model_type
        self.task_name = task
        self.dataset_kwargs = dataset_kwargs
        self.model_kwargs = model_kwargs
        self.trainer_kwargs = trainer_kwargs
        self.datamodule = None
        self.model = None
        self.task = None
        self.trainer = None

    def _dataset_cfg(self, **extra: Any):
        from omegaconf import OmegaConf

        from astrolab.config import load_group_option

        cfg = load_group_option("dataset", self.survey)
        cfg = OmegaConf.merge(cfg, self.dataset_kwargs)
        if "cache_dir" in cfg and OmegaConf.is_interpolation(cfg, "cache_dir"):
            cfg.cache_dir = None
        return OmegaConf.merge(cfg, extra)

    def _task_kind(self) -> str:
        from astrolab.config import load_group_option
        from hydra.utils import get_class

        return get_class(load_group_option("task", self.task_name)._target_).kind

    def build(self):
        """Read the catalog, build features/graph, and the model sized from the data."""
        from astrolab.config import load_group_option
        from astrolab.utils.instantiate import instantiate

        task_cfg = load_group_option("task", self.task_name)
        data_cfg = self._dataset_cfg()
        extra = ({"target": task_cfg.data_target} if task_cfg.get("data_target") and "target" in data_cfg
                 and data_cfg.target is None else {})
        dm = instantiate(data_cfg, task_kind=self._task_kind(), **extra)
        dm.prepare_data()
        dm.setup("fit")
        task = instantiate(task_cfg, **dm.task_kwargs()).use_batch_keys(dm.batch_keys)
        if self.model_type is None:
            families = task_families()[task.name]
            kinds = getattr(dm, "data_kind", None)
            self.model_type = next((t for t in families if kinds in getattr(model_class(t), "data_kinds", ())),
                                   families[0])
        self.model = create_model(self.model_type, task=task, num_features=dm.num_features, **self.model_kwargs)
        self.datamodule, self.task = dm, task
        return self

    def fit(self, max_epochs: int = 20, **trainer_kwargs: Any):
        """Train with Lightning (CPU/GPU chosen automatically); returns the fitted model."""
        import lightning as L

        if self.model is None:
            self.build()
        kwargs = {"max_epochs": max_epochs, "logger": False, "enable_checkpointing": False,
                  "enable_progress_bar": False, "enable_model_summary": False, **self.trainer_kwargs,
                  **trainer_kwargs}
        self.trainer = L.Trainer(**kwargs)
        self.trainer.fit(self.model, datamodule=self.datamodule)
        return self.model

    def test(self) -> dict[str, float]:
        """Test-split metrics of the fitted model."""
        import lightning as L

        trainer = self.trainer or L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
        res = trainer.test(self.model, datamodule=self.datamodule, verbose=False)
        return {k: float(v) for d in res for k, v in d.items()}

    def predict(self, path: str | Path | None = None):
        """Predictions for every row of ``path`` (default: the training catalog) that passes the
        survey's quality cuts, as an astropy Table (``id``, ``predicted``, probabilities / values)."""
        import numpy as np
        import torch
        from astropy.table import Table

        from astrolab.utils.instantiate import instantiate

        if self.model is None:
            self.build()
        dm = self.datamodule
        if path is not None:
            kind = self.task.kind
            dm = instantiate(self._dataset_cfg(path=str(path)), task_kind=kind, fixed=self.datamodule.preprocessing(),
                             evaluate_all=True)
            dm.prepare_data()
            dm.setup("predict")
        graph = getattr(dm, "graph", None)
        if graph is None:
            raise ConfigError(f"create_analysis_pipeline: predict() supports node-graph surveys; dataset "
                              f"'{self.survey}' has data_kind={getattr(dm, 'data_kind', '?')}")
        model = self.model.eval()
        with torch.no_grad():
            out = model(graph.to(model.device)).cpu()
        pred = self.task.predict(out)
        nodes = graph["nodes"]
        table = Table()
        table["id"] = nodes["id"].numpy().astype(np.int64)
        table["row"] = nodes["row"].numpy()
        if self.task.kind == "classification":
            names = np.array(self.task.class_names)
            table["predicted"] = names[pred["label"].numpy()]
            for i, n in enumerate(self.task.class_names):
                table[f"prob_{n}"] = pred["prob"][:, i].numpy().astype(np.float32)
        else:
            for k, v in pred.items():
                table["predicted" if k == "value" else k] = v.numpy()
        return table

    __call__ = predict


def create_analysis_pipeline(survey: str = "gaia", model_type: str | None = None, task: str | None = None,
                             path: str | Path | None = None, dataset: dict[str, Any] | None = None,
                             trainer: dict[str, Any] | None = None, **model_kwargs: Any) -> AnalysisPipeline:
    """A reader → features → model → predictions pipeline for a survey.

    Args:
        survey: a dataset config name (``gaia``, …): the same reader, schema and graph as ``dataset=<survey>``.
        model_type: a :func:`create_model` type (default: the first family that reads the survey's data
            and does the task).
        task: a task name (default: the survey's usual task, ``node_classification`` for Gaia).
        path: your catalog (CSV/ECSV/FITS/VOTable/Parquet; default: the embedded sample).
        dataset: further dataset options (``{"target": "cluster_label", "n_stars": 3000}``).
        trainer: Lightning Trainer options for ``fit``.
        **model_kwargs: architecture and optimisation options of the model.
    """
    from astrolab.config import group_choices

    if survey not in group_choices("dataset"):
        raise ConfigError(f"unknown survey '{survey}'; use one of {', '.join(group_choices('dataset'))}")
    ds = dict(dataset or {})
    if path is not None:
        ds["path"] = str(path)
    return AnalysisPipeline(survey, model_type, task or "node_classification", ds, model_kwargs,
                            dict(trainer or {}))
