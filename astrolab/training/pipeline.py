"""The design's ``create_analysis_pipeline``: survey catalog → features → model → predictions, in Python.

A thin object over the run session: the config is composed exactly as ``astrolab train`` composes it,
the data module, task, model and Trainer come from :mod:`astrolab.training.session`, and ``predict(path)``
goes through the same writer as ``astrolab predict`` (one row per input row, ids exact, ``status``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from astrolab.errors import ConfigError

log = logging.getLogger(__name__)


class AnalysisPipeline:
    """Built by :func:`create_analysis_pipeline`. ``fit()`` trains on a labelled catalog; ``test()`` gives
    the test-split metrics; ``predict(path)`` applies the model to any catalog of the same survey (label
    column not needed) and returns an astropy ``Table``."""

    def __init__(self, overrides: list[str], trainer_kwargs: dict[str, Any]) -> None:
        self.overrides = list(overrides)
        self.trainer_kwargs = dict(trainer_kwargs)
        self.cfg = None
        self.datamodule = self.task = self.model = self.trainer = None

    def build(self):
        """Compose the config, read the catalog, build features/graph and the model sized from the data."""
        from astrolab.hpo.runner import compose
        from astrolab.training.build import check_compatible
        from astrolab.training.session import build_run, checkpoint_meta, read_pretrained, use_pretrained

        self.cfg = compose("train", [*self.overrides, "paths.run_dir=unused"])
        _, _, task_cls = check_compatible(self.cfg)
        encoder = read_pretrained(self.cfg)
        self.datamodule, self.task, self.model = build_run(self.cfg, task_cls, "fit")
        if encoder is not None:  # model.pretrained=<encoder.ckpt of astrolab pretrain>
            use_pretrained(encoder, self.cfg, self.model, self.datamodule)
        self.model.astrolab_meta = checkpoint_meta(self.cfg, {}, self.datamodule, self.task)
        return self

    def fit(self, max_epochs: int = 20, **trainer_kwargs: Any):
        """Train with Lightning (device chosen automatically); returns the fitted model."""
        from astrolab.training.session import make_trainer, quiet_lightning

        quiet_lightning()
        if self.model is None:
            self.build()
        kwargs = {"max_epochs": max_epochs, "enable_checkpointing": False, "enable_progress_bar": False,
                  "enable_model_summary": False, **self.trainer_kwargs, **trainer_kwargs}
        self.trainer = make_trainer(self.cfg, None, [], None, **kwargs)
        self.trainer.fit(self.model, datamodule=self.datamodule)
        return self.model

    def test(self) -> dict[str, float]:
        """Test-split metrics of the fitted model."""
        from astrolab.training.session import _scalar_metrics, make_trainer

        trainer = self.trainer or make_trainer(self.cfg, None, [], None, enable_progress_bar=False,
                                               enable_model_summary=False)
        return _scalar_metrics(trainer.test(self.model, datamodule=self.datamodule, verbose=False))

    def predict(self, path: str | Path | None = None, keep: list[str] | None = None, mc_samples: int = 0):
        """One row per row of ``path`` (default: the training catalog), in input order: ids, the kept
        columns, the predicted class and probabilities (or value) and ``status``."""
        from astrolab.training.predictions import catalog_predictions, predictions_table
        from astrolab.training.session import build_run, make_trainer, saved_task_kwargs

        if self.model is None:
            self.build()
        from astrolab.training.build import check_compatible

        cfg = self.cfg.copy()
        if path is not None:
            cfg.dataset.path = str(path)
        _, _, task_cls = check_compatible(cfg)
        dm, _, _ = build_run(cfg, task_cls, "predict", fixed_task_kwargs=saved_task_kwargs(self.datamodule, self.task),
                             fixed=self.datamodule.preprocessing(), predict_all=True)
        if not dm.has_index_table():
            raise ConfigError(f"predict() is not available for data of kind {dm.data_kind} with this task")
        self.model.mc_samples = int(mc_samples)
        trainer = make_trainer(self.cfg, None, [], None, enable_progress_bar=False, enable_model_summary=False)
        dm.predict_split = "test"
        scored = predictions_table(trainer.predict(self.model, datamodule=dm), dm, self.task)
        return catalog_predictions(scored, dm, keep)

    __call__ = predict


#: the design's ``model_type`` → the family's config in ``conf/model``
FAMILY_CONFIGS = {"node": "gat", "graph": "graph_gnn", "temporal": "temporal_gnn", "point": "pointnet",
                  "cosmic_web": "cosmic_web_gnn", "multimodal": "multimodal"}


def model_choice(model_type: str) -> str:
    """A ``conf/model`` choice from a design ``model_type`` (family name) or a config name."""
    from astrolab.config import group_choices

    choices = group_choices("model")
    if model_type in choices:
        return model_type
    if model_type in FAMILY_CONFIGS:
        return FAMILY_CONFIGS[model_type]
    raise ConfigError(f"unknown model_type '{model_type}'; use a family ({', '.join(FAMILY_CONFIGS)}) or a "
                      f"model config ({', '.join(choices)})")


def create_analysis_pipeline(survey: str = "gaia", model_type: str | None = None, task: str | None = None,
                             path: str | Path | None = None, dataset: dict[str, Any] | None = None,
                             trainer: dict[str, Any] | None = None, **model_kwargs: Any) -> AnalysisPipeline:
    """A reader → features → model → predictions pipeline for a survey.

    Args:
        survey: a dataset config name (``gaia``, ``sdss``, ``lightcurves``, …).
        model_type: a family (``node``, ``graph``, ``temporal``, ``point``, ``cosmic_web``, ``multimodal``)
            or a model config name (``gat``, ``sage``, …); default: the dataset's usual model.
        task: a task name (default: the model's default task).
        path: your catalog (CSV/ECSV/FITS/VOTable/Parquet; default: the embedded sample).
        dataset: further dataset options (``{"target": "cluster_label", "n_stars": 3000}``).
        trainer: Lightning Trainer options for ``fit``.
        **model_kwargs: architecture and optimisation options of the model (``hidden_dim=32``,
            ``conv_type="sage"``, ``lr=1e-3``).
    """
    from astrolab.config import group_choices
    from astrolab.training.api import _value

    if survey not in group_choices("dataset"):
        raise ConfigError(f"unknown survey '{survey}'; use one of {', '.join(group_choices('dataset'))}")
    overrides = [f"dataset={survey}"]
    if model_type is not None:
        conv = model_kwargs.get("conv_type")
        choice = model_choice(model_type)
        if model_type == "node" and conv and conv in group_choices("model"):
            choice = conv
            model_kwargs.pop("conv_type")
        overrides.append(f"model={choice}")
    if task is not None:
        overrides.append(f"task={task}")
    if path is not None:
        overrides.append(f"dataset.path={path}")
    for k, v in (dataset or {}).items():
        overrides.append(f"++dataset.{k}={_value(v)}")
    for k, v in model_kwargs.items():
        key = "model.optimizer.lr" if k in ("lr", "learning_rate") else f"model.{k}"
        overrides.append(f"++{key}={_value(v)}")
    return AnalysisPipeline(overrides, dict(trainer or {}))
