"""The design's mixin names, kept importable and documented; the behaviour lives in ``AstroBaseModel``.

Every capability a model family uses is a method of :class:`astrolab.models.core.AstroBaseModel`, which
includes every mixin below, so each is available to a family (or to your own model on
``AstroBaseModel``) and switched on from its model config. The mixin classes name the groups of the
published design; they add no methods of their own, so ``class MyModel(AstroBaseModel,
HPOModelMixin, AstronomicalModelMixin)`` (the design's "Using Mixins Directly") works as written.

========================================  ================================================================
mixin                                     what ``AstroBaseModel`` does for it
========================================  ================================================================
``MetricsMixin``                          ``train_metrics`` / ``val_metrics`` / ``test_metrics`` (torchmetrics
                                          collections from the task), logged as ``train/…``, ``val/…``, ``test/…``
``OptimizationMixin``                     ``configure_optimizers`` from ``model.optimizer`` / ``model.scheduler``
                                          (a partial, or a name of ``conf/optimizer`` / ``conf/scheduler``)
``VisualizationMixin``                    nothing on the model: the run draws the plots from the predictions
                                          table (:func:`astrolab.plots.save_run_plots`)
``HPOResetMixin``                         ``reset_parameters()`` (model recycling between HPO trials)
``HPOMemoryMixin``                        ``enable_gradient_checkpointing()`` (``model.gradient_checkpointing``),
                                          ``clear_memory()`` (between trials)
``EfficientTrainingMixin``                ``model.compile`` (``compile_model()``), ``model.num_threads``;
                                          :func:`default_precision` for ``trainer.precision=auto``
``ArchitectureSearchMixin``               ``search_dimensions`` → ``search_space()`` / ``suggest(trial)``
``AstronomicalAugmentationMixin``         ``augment_batch()`` in ``training_step`` (``model.augmentation``)
``AstronomicalLossMixin``                 the task's loss (``task.loss``; :mod:`astrolab.tasks.losses`)
``StandardModelMixin``                    Metrics + Optimization + Visualization
``HPOModelMixin``                         HPOReset + HPOMemory + EfficientTraining + ArchitectureSearch
``AstronomicalModelMixin``                AstronomicalAugmentation + AstronomicalLoss
========================================  ================================================================
"""

from __future__ import annotations

import torch


def default_precision(accelerator: str | None = None) -> str:
    """Mixed-precision default per device: bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPU
    (CPU autocast helps little for small graph models and changes results)."""
    if accelerator in (None, "auto", "gpu", "cuda") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


class MetricsMixin:
    """Per-stage torchmetrics collections from the task (``AstroBaseModel.configure_metrics``)."""


class OptimizationMixin:
    """``configure_optimizers`` from the model's ``optimizer`` / ``scheduler`` (``AstroBaseModel``)."""


class VisualizationMixin:
    """Plots of a run. The model draws nothing itself: the run session writes the predictions table and
    :func:`astrolab.plots.save_run_plots` draws every figure from it (models never import plots, which
    read catalogs through data/)."""


class HPOResetMixin:
    """Model recycling between HPO trials: ``AstroBaseModel.reset_parameters()`` re-initialises every
    parameter and metric state; ``astrolab.hpo.recycling`` decides from the config when to recycle."""


class HPOMemoryMixin:
    """``AstroBaseModel.enable_gradient_checkpointing()`` and ``clear_memory()``."""


class EfficientTrainingMixin:
    """``model.compile`` / ``model.num_threads`` (``AstroBaseModel.setup``) and :func:`default_precision`."""

    default_precision = staticmethod(default_precision)


class ArchitectureSearchMixin:
    """The family's ``search_dimensions`` and ``AstroBaseModel.search_space()`` / ``suggest(trial)``."""


class AstronomicalAugmentationMixin:
    """Train-only augmentation from ``model.augmentation`` (``AstroBaseModel.augment_batch``)."""


class AstronomicalLossMixin:
    """Domain losses (focal, class-balanced weights, heteroscedastic Gaussian NLL with measurement errors,
    photo-z loss on Δz/(1+z)) belong to the task: select them with ``task.loss`` (see
    :mod:`astrolab.tasks.losses`)."""


class StandardModelMixin(MetricsMixin, OptimizationMixin, VisualizationMixin):
    """Metrics, optimisation and plots."""


class HPOModelMixin(HPOResetMixin, HPOMemoryMixin, EfficientTrainingMixin, ArchitectureSearchMixin):
    """Recycling, memory, efficient training and the declared search space."""


class AstronomicalModelMixin(AstronomicalAugmentationMixin, AstronomicalLossMixin):
    """Augmentation and losses for astronomical data."""


__all__ = [
    "MetricsMixin", "OptimizationMixin", "VisualizationMixin", "HPOResetMixin", "HPOMemoryMixin",
    "EfficientTrainingMixin", "ArchitectureSearchMixin", "AstronomicalAugmentationMixin",
    "AstronomicalLossMixin", "StandardModelMixin", "HPOModelMixin", "AstronomicalModelMixin",
    "default_precision",
]
