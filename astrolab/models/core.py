"""``AstroBaseModel``: the Lightning module every model family builds on.

Following torchgeo's trainers, ``__init__`` calls :meth:`configure_models` (the family builds its
networks), :meth:`configure_losses` and :meth:`configure_metrics` (both taken from the task). Training,
validation and test steps are shared: the family's ``forward(batch)`` returns the raw outputs for the
task's level, the task selects the (output, target) pairs of the stage, and metrics are logged as
``train/…``, ``val/…``, ``test/…``. ``monitor``/``mode`` come from the task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

import lightning as L
import torch
from torch import Tensor

from astrolab.errors import ConfigError
from astrolab.models.components.mixins import AstronomicalModelMixin, HPOModelMixin, StandardModelMixin

log = logging.getLogger(__name__)


def resolve_task(task: Any, default: str, **task_kwargs: Any):
    """A :class:`~astrolab.tasks.Task` from an instance, a config node or a task name.

    A name is looked up in the shipped ``conf/task/<name>.yaml`` (the same file ``task=<name>`` uses),
    so the Python API and the CLI never disagree about what a task is.
    """
    from astrolab.tasks import Task

    if isinstance(task, Task):
        return task
    if task is None:
        task = default
    if isinstance(task, str):
        from astrolab.config import load_group_option

        task = load_group_option("task", task)
    from astrolab.utils.instantiate import instantiate

    kwargs = {k: v for k, v in task_kwargs.items() if v is not None}
    return instantiate(task, **kwargs)


def _plain_hparams(hparams) -> None:
    """Config nodes in hyper-parameters become plain containers (checkpoints load with weights_only)."""
    from omegaconf import Container, OmegaConf

    for k, v in list(hparams.items()):
        if isinstance(v, Container):
            hparams[k] = OmegaConf.to_container(v, resolve=True)


class AstroBaseModel(StandardModelMixin, HPOModelMixin, AstronomicalModelMixin, L.LightningModule):
    """Base class of the model families.

    Args:
        task: a :class:`~astrolab.tasks.Task`, a task name, or ``None`` for the family's default.
        num_features: input width (flows from the data module; never written in a model config).
        num_classes: classes (classification) or outputs (regression), from the data module.
        optimizer: a partial optimizer ``(params) -> Optimizer`` (Hydra ``_partial_: true``);
            default AdamW(lr=1e-3, weight_decay=1e-4).
        scheduler: a partial scheduler ``(optimizer) -> LRScheduler``, or ``None``.
        **hparams: family-specific architecture parameters.

    Options every family accepts (from the model config, all off by default; see
    :mod:`astrolab.models.components.mixins`): ``gradient_checkpointing``, ``compile``,
    ``compile_backend``, ``num_threads``, ``augmentation``.

    Class attributes:
        default_task: the task used when none is given.
        supported_tasks: task names the family can do.
        data_kinds: batch layouts the family reads (``node_graph``, ``graph_batch``, ``sequence``, …).
    """

    default_task: ClassVar[str] = "node_classification"
    supported_tasks: ClassVar[tuple[str, ...]] = ()
    data_kinds: ClassVar[tuple[str, ...]] = ()

    def __init__(self, task: Any = None, num_features: int | None = None, num_classes: int | None = None,
                 optimizer: Callable | None = None, scheduler: Callable | None = None,
                 **hparams: Any) -> None:
        super().__init__()
        self.task = resolve_task(task, self.default_task, num_classes=num_classes)
        if self.supported_tasks and self.task.name not in self.supported_tasks:
            from astrolab.errors import IncompatibleError

            raise IncompatibleError(
                f"{type(self).__name__} cannot do task '{self.task.name}'; "
                f"use one of {', '.join(self.supported_tasks)}")
        if num_features is None:
            raise ConfigError(f"{type(self).__name__} needs num_features (set by the data module)")
        self.num_features = int(num_features)
        self.num_outputs = self.task.output_dim()
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.save_hyperparameters(ignore=["task", "optimizer", "scheduler"])
        if self.hparams.get("num_classes") is None and getattr(self.task, "num_classes", None) is not None:
            self.hparams["num_classes"] = int(self.task.num_classes)  # hparams.yaml: the real count, not null
        _plain_hparams(self.hparams)
        self.astrolab_meta: dict[str, Any] = {}
        self.configure_models()
        if self.hparams.get("gradient_checkpointing"):
            self.enable_gradient_checkpointing(True)
        self.configure_losses()
        self.configure_metrics()

    # -- torchgeo-style configuration --------------------------------------------------------------
    def configure_models(self) -> None:
        """Build the networks (families override)."""
        raise NotImplementedError

    def configure_losses(self) -> None:
        self.criterion = self.task.configure_losses()

    def configure_metrics(self) -> None:
        metrics = self.task.configure_metrics()
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")

    @property
    def monitor(self) -> str:
        return self.task.monitor

    @property
    def mode(self) -> str:
        return self.task.mode

    # -- model recycling ---------------------------------------------------------------------------
    def reset_parameters(self) -> None:
        """Re-initialise every parameter (model recycling between HPO trials) and the metric states."""
        from astrolab.models.components.utils import reset_all

        reset_all(self)
        for metrics in (self.train_metrics, self.val_metrics, self.test_metrics):
            metrics.reset()

    # -- steps -------------------------------------------------------------------------------------
    def _batch_size(self, target: Tensor) -> int:
        return max(int(target.shape[0]), 1)

    def _step(self, batch, stage: str) -> Tensor:
        output = self(batch)
        out, target = self.task.select(batch, output, stage)
        if hasattr(self.task, "compute_loss"):
            loss = self.task.compute_loss(self.criterion, out, target, batch, stage)
        else:
            loss = self.criterion(out, self.task.loss_target(target))
        n = self._batch_size(target)
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, batch_size=n,
                 prog_bar=stage != "test")
        metrics = {"train": self.train_metrics, "val": self.val_metrics, "test": self.test_metrics}[stage]
        metrics.update(self.task.metric_output(out.detach()), target)
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=n, prog_bar=stage == "val")
        return loss

    def training_step(self, batch, batch_idx: int) -> Tensor:
        return self._step(self.augment_batch(batch), "train")

    def validation_step(self, batch, batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> Tensor:
        return self._step(batch, "test")

    def predict_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> dict[str, Tensor]:
        return self.task.predict(self(batch))

    # -- optimisation: OptimizationMixin.configure_optimizers (optimizer/scheduler from config) -----

    # -- checkpoint metadata -----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["astrolab"] = self.astrolab_meta
