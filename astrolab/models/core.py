"""``AstroBaseModel``: the Lightning module every model family builds on.

Following torchgeo's trainers, ``__init__`` calls :meth:`configure_models` (the family builds its
networks), :meth:`configure_losses` and :meth:`configure_metrics` (both taken from the task). Training,
validation and test steps are shared: the family's ``forward(batch)`` returns the raw outputs for the
task's level, the task selects the (output, target) pairs of the stage, and metrics are logged as
``train/…``, ``val/…``, ``test/…``. ``monitor``/``mode`` come from the task.

Every capability the families use is a method here (optimisers and schedulers, ``torch.compile``,
threads, gradient checkpointing, memory clearing between trials, the declared search space, train-only
augmentation); the design's mixin names in :mod:`astrolab.models.components.mixins` say which group each
belongs to.
"""

from __future__ import annotations

import functools
import gc
import logging
import shutil
import sys
import warnings
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


def _hp(model: Any, key: str, default: Any = None) -> Any:
    hp = getattr(model, "hparams", None)
    if hp is None:
        return default
    value = hp.get(key, default)
    return default if value is None else value


def _named_partial(group: str, name: str) -> Callable:
    """``optimizer="sgd"`` / ``scheduler="plateau"`` in Python: the partial of the shipped
    ``conf/<group>/<name>.yaml``, the same file ``optimizer=sgd`` uses on the command line."""
    from astrolab.config import load_group_option
    from astrolab.utils.instantiate import instantiate

    return instantiate(load_group_option(group, name))


def _picklable(factory: Any) -> Any:
    """Hydra's ``_partial_`` factories refuse to be pickled (``strategy=ddp_spawn`` pickles the module):
    the already-resolved callable and its arguments become a plain :func:`functools.partial`."""
    if isinstance(factory, functools.partial) and type(factory) is not functools.partial:
        return functools.partial(factory.func, *factory.args, **(factory.keywords or {}))
    return factory


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
        self.optimizer_factory = _picklable(optimizer)
        self.scheduler_factory = _picklable(scheduler)
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

    def setup(self, stage: str) -> None:
        """Before fit/validate/test/predict: a task built without batch keys
        (``AstroNodeGNN(task="node_classification")``) takes them from the data module the Trainer
        attached (its ``batch_keys``: the data owns the batch contract); ``model.num_threads`` sets
        torch's threads; ``model.compile`` compiles the sub-networks (EfficientTrainingMixin)."""
        if getattr(self.task, "target_key", True) is None:
            trainer = getattr(self, "_trainer", None)
            keys = getattr(getattr(trainer, "datamodule", None), "batch_keys", None)
            if keys:
                self.task.use_batch_keys(keys)
        threads = _hp(self, "num_threads")
        if threads:
            torch.set_num_threads(int(threads))
        if _hp(self, "compile", False) and not getattr(self, "_compiled", False):
            self.compile_model()
        super().setup(stage)

    # -- torchgeo-style configuration --------------------------------------------------------------
    def configure_models(self) -> None:
        """Build the networks (families override)."""
        raise NotImplementedError

    def configure_losses(self) -> None:
        self.criterion = self.task.configure_losses()

    def configure_metrics(self) -> None:
        metrics = self.task.configure_metrics()
        # the train split skips the costly metrics (Task.train_skip_metrics); val/test keep all of them
        train = self.task.configure_train_metrics() if hasattr(self.task, "configure_train_metrics") else metrics
        self.train_metrics = train.clone(prefix="train/")
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
        if target.shape[0] == 0 and self._world_size() > 1:
            # a DDP rank's padding tile (no node of this split, data.datamodules.node.TileShards): a zero
            # loss that still reaches every parameter, so the ranks' gradient all-reduce matches; nothing
            # is logged or counted (every rank holds at least one real tile, so every rank logs the keys)
            return output.sum() * 0.0
        loss = self.step_loss(out, target, batch, stage)
        n = self._batch_size(target)
        # under DDP the epoch loss is the weighted mean over every rank's nodes, so all ranks agree on it
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, batch_size=n,
                 prog_bar=stage != "test", sync_dist=self._world_size() > 1)
        metrics = {"train": self.train_metrics, "val": self.val_metrics, "test": self.test_metrics}[stage]
        if len(metrics):
            metrics.update(self.task.metric_output(out.detach()), target)
            self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=n, prog_bar=stage == "val")
        return loss

    def step_loss(self, output: Tensor, target: Tensor, batch, stage: str) -> Tensor:
        """The loss of a step's selected outputs (the task's ``compute_loss`` where it has one)."""
        if hasattr(self.task, "compute_loss"):
            return self.task.compute_loss(self.criterion, output, target, batch, stage)
        return self.criterion(output, self.task.loss_target(target))

    def _world_size(self) -> int:
        trainer = getattr(self, "_trainer", None)
        return int(getattr(trainer, "world_size", 1) or 1) if trainer is not None else 1

    def training_step(self, batch, batch_idx: int) -> Tensor:
        return self._step(self.augment_batch(batch), "train")

    def validation_step(self, batch, batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> Tensor:
        return self._step(batch, "test")

    #: stochastic forward passes per prediction batch (``predict.mc_samples``; 0/1: one deterministic pass)
    mc_samples: int = 0

    def predict_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> dict[str, Tensor]:
        """Predictions of the objects a batch predicts, with their index in the data's index table
        (``index``); with ``mc_samples > 1`` dropout stays on and the task reports the spread."""
        output = self(batch)
        index = self.task.select_index(batch, output, "predict")
        n = int(self.mc_samples or 0)
        if n <= 1:
            out, _ = self.task.select(batch, output, "predict")
            return {"index": index, **self.task.predict(out)}
        # every module in training mode (dropout modules and functional dropout read ``self.training``),
        # normalisation layers kept in eval mode so their running statistics are used and not updated
        self.train()
        for m in self.modules():
            if isinstance(m, torch.nn.modules.batchnorm._NormBase):
                m.eval()
        try:
            outs = torch.stack([self.task.select(batch, self(batch), "predict")[0] for _ in range(n)])
        finally:
            self.eval()
        return {"index": index, **self.task.predict_samples(outs)}

    # -- optimisation (OptimizationMixin) ----------------------------------------------------------
    def _total_steps(self) -> int:
        trainer = getattr(self, "_trainer", None)
        if trainer is not None:
            try:
                return int(trainer.estimated_stepping_batches)
            except Exception:  # no dataloader yet
                pass
        return int(_hp(self, "total_steps", 1000))

    def configure_optimizers(self):
        """``optimizer``: a partial ``(params) -> Optimizer`` (``conf/optimizer/*.yaml``) or the name of one
        of those files (``adamw``/``adam``/``sgd``; ``lr=`` overrides its learning rate); default
        AdamW(lr=1e-3, weight_decay=1e-4). ``scheduler``: a partial or a ``conf/scheduler`` name
        (``cosine_warmup``, ``onecycle``, ``plateau``). Schedules that need the run's length
        (:data:`~astrolab.models.components.schedulers.STEP_SCHEDULES`) get ``total_steps`` from the
        trainer and step every optimizer step; ``ReduceLROnPlateau`` follows the task's monitor and mode.
        Gradient clipping and accumulation are trainer settings."""
        from astrolab.models.components import schedulers as S

        params = [p for p in self.parameters() if p.requires_grad]
        factory = getattr(self, "optimizer_factory", None)
        if factory is None:
            optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
        else:
            if isinstance(factory, str):
                factory = _named_partial("optimizer", factory)
                if _hp(self, "lr") is not None:
                    factory = functools.partial(factory, lr=float(_hp(self, "lr")))
            optimizer = factory(params)
        sched = getattr(self, "scheduler_factory", None)
        if sched is None or sched in ("none", "null"):
            return optimizer
        if isinstance(sched, str):
            sched = _named_partial("scheduler", sched)
        func = getattr(sched, "func", sched)
        interval = "epoch"
        kwargs: dict[str, Any] = {}
        if func in S.STEP_SCHEDULES:
            interval = "step"
            if "total_steps" not in getattr(sched, "keywords", {}):
                kwargs["total_steps"] = self._total_steps()
        elif func is torch.optim.lr_scheduler.ReduceLROnPlateau and "mode" not in getattr(sched, "keywords", {}):
            kwargs["mode"] = self.mode
        scheduler = sched(optimizer, **kwargs)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": self.monitor, "interval": interval}}

    # -- efficient training and memory (EfficientTrainingMixin, HPOMemoryMixin) ---------------------
    def compile_model(self, backend: str | None = None) -> bool:
        """``torch.compile`` the sub-networks in place (checkpoints keep their keys); returns False (and
        warns) where torch.compile cannot run, and training runs eagerly."""
        backend = backend or _hp(self, "compile_backend", "inductor")
        reason = None
        try:
            import torch._dynamo as dynamo

            if not dynamo.is_dynamo_supported():
                reason = f"torch.compile is not supported on Python {sys.version_info[:2]} / this platform"
        except Exception as exc:
            reason = f"torch._dynamo unavailable ({exc})"
        if reason is None and backend == "inductor" and not torch.cuda.is_available() and not (
                shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")):
            reason = "the inductor backend on CPU needs a C compiler"
        if reason is not None:
            warnings.warn(f"model.compile=true ignored: {reason}; training runs eagerly", stacklevel=2)
            return False
        targets = [m for name, m in self.named_children()
                   if isinstance(m, torch.nn.Module) and not name.endswith("metrics")
                   and any(True for _ in m.parameters())]
        for m in targets:
            m.compile(backend=backend, dynamic=True)
        self._compiled = True
        return True

    def enable_gradient_checkpointing(self, enabled: bool = True) -> int:
        """Recompute activations in backward on every encoder with a ``gradient_checkpointing`` flag
        (same result, lower peak memory). Returns how many modules were switched."""
        n = 0
        for module in self.modules():
            if module is not self and hasattr(module, "gradient_checkpointing"):
                module.gradient_checkpointing = bool(enabled)
                n += 1
        if n == 0 and enabled:
            log.warning("%s has no encoder that supports gradient checkpointing", type(self).__name__)
        return n

    def clear_memory(self) -> None:
        """Between HPO trials: drop gradients, collect garbage, empty the CUDA cache."""
        for p in self.parameters():
            p.grad = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # -- architecture search (ArchitectureSearchMixin) ----------------------------------------------
    #: searchable dimensions of the family: a list is a categorical choice, an ``(int, int)`` pair an
    #: integer range, a pair with a float a float range, ``("log", low, high)`` a log-uniform range; a
    #: string is passed through as sweeper grammar
    search_dimensions: ClassVar[dict[str, Any]] = {}
    #: dimensions that live outside ``model.<name>`` (sweeper key)
    search_paths: ClassVar[dict[str, str]] = {"lr": "model.optimizer.lr",
                                              "weight_decay": "model.optimizer.weight_decay"}

    @staticmethod
    def _grammar(spec: Any) -> str:
        if isinstance(spec, str):
            return spec
        if isinstance(spec, list):
            return "choice(" + ",".join(str(v) for v in spec) + ")"
        if isinstance(spec, tuple) and len(spec) == 3 and spec[0] == "log":
            return f"tag(log, interval({spec[1]},{spec[2]}))"
        if isinstance(spec, tuple) and len(spec) == 2:
            lo, hi = spec
            if isinstance(lo, int) and isinstance(hi, int) and not isinstance(lo, bool):
                return f"int(interval({lo},{hi}))"
            return f"interval({float(lo)},{float(hi)})"
        raise ValueError(f"cannot turn {spec!r} into a search dimension")

    @classmethod
    def _search_key(cls, name: str, prefix: str) -> str:
        return cls.search_paths.get(name, f"{prefix}.{name}") if prefix == "model" else f"{prefix}.{name}"

    @classmethod
    def search_space(cls, prefix: str = "model") -> dict[str, str]:
        """``{"model.hidden_dim": "choice(32,64,128)", "model.num_layers": "int(interval(2,4))", …}``
        (hydra-optuna-sweeper grammar)."""
        return {cls._search_key(n, prefix): cls._grammar(spec) for n, spec in cls.search_dimensions.items()}

    @classmethod
    def suggest(cls, trial, prefix: str = "model") -> dict[str, Any]:
        """Sample every dimension from an ``optuna.Trial``; keys as in :meth:`search_space`."""
        out: dict[str, Any] = {}
        for name, spec in cls.search_dimensions.items():
            key = cls._search_key(name, prefix)
            if isinstance(spec, list):
                out[key] = trial.suggest_categorical(key, spec)
            elif isinstance(spec, tuple) and len(spec) == 3 and spec[0] == "log":
                out[key] = trial.suggest_float(key, float(spec[1]), float(spec[2]), log=True)
            elif isinstance(spec, tuple) and all(isinstance(v, int) for v in spec):
                out[key] = trial.suggest_int(key, spec[0], spec[1])
            elif isinstance(spec, tuple):
                out[key] = trial.suggest_float(key, float(spec[0]), float(spec[1]))
            else:
                raise ValueError(f"{key}: use a list or tuple in search_dimensions for native sampling")
        return out

    # -- augmentation (AstronomicalAugmentationMixin) -----------------------------------------------
    def augment_batch(self, batch):
        """Train-only augmentation from ``model.augmentation`` (``{operation: {params}}``, see
        :mod:`astrolab.models.components.augmentation`): changes the batch only while the module is in
        training mode; validation, test and prediction see the data as it is."""
        spec = _hp(self, "augmentation")
        if not spec or not self.training:
            return batch
        from omegaconf import DictConfig, OmegaConf

        if isinstance(spec, DictConfig):
            spec = OmegaConf.to_container(spec, resolve=True)
        if not any(v for v in spec.values()):
            return batch
        from astrolab.models.components.augmentation import apply_augmentations

        return apply_augmentations(batch, spec)

    # -- checkpoint metadata -----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["astrolab"] = self.astrolab_meta
