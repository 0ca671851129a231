"""The design's mixins for ``AstroBaseModel`` — small, orthogonal capabilities switched on from config.

Core:           ``MetricsMixin``, ``OptimizationMixin``, ``VisualizationMixin``
HPO:            ``HPOResetMixin``, ``HPOMemoryMixin``, ``EfficientTrainingMixin``, ``ArchitectureSearchMixin``
Astronomical:   ``AstronomicalAugmentationMixin``, ``AstronomicalLossMixin``
Combinations:   ``StandardModelMixin``, ``HPOModelMixin``, ``AstronomicalModelMixin``

Every mixin is inert until configured, so ``AstroBaseModel`` includes all of them and a family gets each
capability from its model config (``model.optimizer``, ``model.scheduler``, ``model.compile``,
``model.gradient_checkpointing``, ``model.num_threads``, ``model.augmentation``). Lightning hooks a mixin
defines call ``super()`` so they compose in any order.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import logging
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

log = logging.getLogger(__name__)


def _hp(model: Any, key: str, default: Any = None) -> Any:
    hp = getattr(model, "hparams", None)
    if hp is None:
        return default
    value = hp.get(key, default)
    return default if value is None else value


# -- core -------------------------------------------------------------------------------------------------
class MetricsMixin:
    """Per-stage torchmetrics collections (``train_metrics``/``val_metrics``/``test_metrics``)."""

    def stage_metrics(self, stage: str):
        return getattr(self, f"{stage}_metrics")

    def compute_metrics(self, stage: str) -> dict[str, float]:
        """Current values of a stage's metrics as plain floats."""
        return {k: float(v) for k, v in self.stage_metrics(stage).compute().items()}

    def reset_metrics(self) -> None:
        for stage in ("train", "val", "test"):
            if hasattr(self, f"{stage}_metrics"):
                self.stage_metrics(stage).reset()


OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}


def build_optimizer(name: str, params, lr: float = 1e-3, weight_decay: float = 1e-4, **kwargs: Any):
    """An optimizer by name (``adamw``, ``adam``, ``sgd``; SGD gets Nesterov momentum 0.9 by default)."""
    key = name.lower()
    if key not in OPTIMIZERS:
        from astrolab.errors import ConfigError

        raise ConfigError(f"unknown optimizer '{name}'; use one of {', '.join(OPTIMIZERS)}")
    if key == "sgd":
        kwargs.setdefault("momentum", 0.9)
        kwargs.setdefault("nesterov", True)
    return OPTIMIZERS[key](params, lr=lr, weight_decay=weight_decay, **kwargs)


class OptimizationMixin:
    """``configure_optimizers`` from the model's ``optimizer``/``scheduler`` (config partials or names).

    ``optimizer``: a partial ``(params) -> Optimizer`` (``conf/optimizer/*.yaml``) or a name
    (``adamw``/``adam``/``sgd``); default AdamW(lr=1e-3, weight_decay=1e-4).
    ``scheduler``: a partial or a name (``cosine_warmup``, ``onecycle``, ``plateau``). Schedules that need
    the run's length (:data:`~astrolab.models.components.schedulers.STEP_SCHEDULES`) get
    ``total_steps`` from the trainer and step every optimizer step; ``ReduceLROnPlateau`` follows the
    task's monitor and mode. Gradient clipping and accumulation are trainer settings
    (``trainer.gradient_clip_val``, ``trainer.accumulate_grad_batches``).
    """

    def _total_steps(self) -> int:
        trainer = getattr(self, "_trainer", None)
        if trainer is not None:
            try:
                return int(trainer.estimated_stepping_batches)
            except Exception:  # no dataloader yet
                pass
        return int(_hp(self, "total_steps", 1000))

    def configure_optimizers(self):
        from astrolab.models.components import schedulers as S

        params = [p for p in self.parameters() if p.requires_grad]
        factory = getattr(self, "optimizer_factory", None)
        if factory is None:
            optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
        elif isinstance(factory, str):
            optimizer = build_optimizer(factory, params, lr=float(_hp(self, "lr", 1e-3)))
        else:
            optimizer = factory(params)
        sched = getattr(self, "scheduler_factory", None)
        if sched is None or sched in ("none", "null"):
            return optimizer
        if isinstance(sched, str):
            named = {"cosine_warmup": S.cosine_with_warmup, "onecycle": S.one_cycle,
                     "plateau": torch.optim.lr_scheduler.ReduceLROnPlateau}
            if sched not in named:
                from astrolab.errors import ConfigError

                raise ConfigError(f"unknown scheduler '{sched}'; use one of {', '.join(named)}")
            sched = functools.partial(named[sched])
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


class VisualizationMixin:
    """Plots of a run. The model draws nothing itself: the run session writes the predictions table and
    :func:`astrolab.plots.save_run_plots` draws every figure from it (models never import plots, which
    read catalogs through data/). Kept as the design's name; it adds no methods."""


# -- HPO --------------------------------------------------------------------------------------------------
#: hyper-parameters that do not change the architecture (ignored by :meth:`architecture_signature`)
NON_ARCHITECTURE = ("optimizer", "scheduler", "lr", "weight_decay", "dropout", "compile", "compile_backend",
                    "num_threads", "augmentation", "gradient_checkpointing", "total_steps")


class HPOResetMixin:
    """Model recycling: a finished trial's model becomes a fresh one without re-allocation."""

    def reset_for_trial(self) -> None:
        """Fresh parameters (each module's ``reset_parameters()``), metric states and optimizer state
        (Lightning builds a new optimizer from :meth:`configure_optimizers` on the next fit)."""
        self.reset_parameters()
        if hasattr(self, "reset_metrics"):
            self.reset_metrics()
        for p in self.parameters():
            p.grad = None

    def architecture_signature(self) -> str:
        """A hash of the hyper-parameters that shape the tensors (recycle only when it matches)."""
        hp = {k: v for k, v in dict(getattr(self, "hparams", {})).items() if k not in NON_ARCHITECTURE}
        hp["__class__"] = type(self).__qualname__
        hp["__outputs__"] = getattr(self, "num_outputs", None)
        blob = json.dumps(hp, sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]


class HPOMemoryMixin:
    """Memory savings for large graphs and long studies."""

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

    def optimize_memory_usage(self, level: str = "conservative") -> None:
        """``conservative``: free caches and gradients; ``aggressive``: also gradient checkpointing and
        no cuDNN autotuning workspace."""
        if level not in ("conservative", "aggressive"):
            from astrolab.errors import ConfigError

            raise ConfigError(f"unknown memory level '{level}'; use conservative or aggressive")
        self.clear_memory()
        if level == "aggressive":
            self.enable_gradient_checkpointing(True)
            torch.backends.cudnn.benchmark = False

    def clear_memory(self) -> None:
        """Between HPO trials: drop gradients, collect garbage, empty the CUDA cache."""
        for p in self.parameters():
            p.grad = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def default_precision(accelerator: str | None = None) -> str:
    """Mixed-precision default per device: bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPU
    (CPU autocast helps little for small graph models and changes results)."""
    if accelerator in (None, "auto", "gpu", "cuda") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


class EfficientTrainingMixin:
    """``model.compile`` (``torch.compile`` of the encoders, in place so checkpoints keep their keys,
    falling back to eager with a warning where it cannot work), ``model.num_threads``
    (``torch.set_num_threads``) and :func:`default_precision`."""

    default_precision = staticmethod(default_precision)

    def compile_model(self, backend: str | None = None) -> bool:
        """Compile the model's sub-networks; returns False (and warns) where torch.compile cannot run."""
        import shutil
        import sys

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

    def setup(self, stage: str) -> None:
        threads = _hp(self, "num_threads")
        if threads:
            torch.set_num_threads(int(threads))
        if _hp(self, "compile", False) and not getattr(self, "_compiled", False):
            self.compile_model()
        parent = super()
        if hasattr(parent, "setup"):
            parent.setup(stage)


class ArchitectureSearchMixin:
    """Searchable dimensions declared once per family, as ``search_dimensions``::

        search_dimensions = {"hidden_dim": [32, 64, 128], "num_layers": (2, 4),
                             "conv_type": ["gcn", "gat", "sage"], "dropout": (0.0, 0.5),
                             "lr": ("log", 1e-4, 1e-2)}

    A list is a categorical choice, an ``(int, int)`` pair an integer range, a pair with a float a float
    range, ``("log", low, high)`` a log-uniform range; a string is passed through as sweeper grammar.
    :meth:`search_space` turns it into hydra-optuna-sweeper grammar, :meth:`suggest` samples it from an
    Optuna trial (the native runner).
    """

    search_dimensions: ClassVar[dict[str, Any]] = {}
    #: dimensions that live outside ``model.<name>`` (sweeper key)
    search_paths: ClassVar[dict[str, str]] = {"lr": "model.optimizer.lr", "weight_decay": "model.optimizer.weight_decay"}

    @staticmethod
    def _grammar(spec: Any) -> str:
        if isinstance(spec, str):
            return spec
        if isinstance(spec, (list,)):
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
    def search_space(cls, prefix: str = "model") -> dict[str, str]:
        """``{"model.hidden_dim": "choice(32,64,128)", "model.num_layers": "int(interval(2,4))", …}``."""
        out = {}
        for name, spec in cls.search_dimensions.items():
            key = cls.search_paths.get(name, f"{prefix}.{name}") if prefix == "model" else f"{prefix}.{name}"
            out[key] = cls._grammar(spec)
        return out

    @classmethod
    def suggest(cls, trial, prefix: str = "model") -> dict[str, Any]:
        """Sample every dimension from an ``optuna.Trial``; keys as in :meth:`search_space`."""
        out: dict[str, Any] = {}
        for name, spec in cls.search_dimensions.items():
            key = cls.search_paths.get(name, f"{prefix}.{name}") if prefix == "model" else f"{prefix}.{name}"
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


# -- astronomical -----------------------------------------------------------------------------------------
class AstronomicalAugmentationMixin:
    """Train-only augmentation from ``model.augmentation`` (``{operation: {params}}``, see
    :mod:`astrolab.models.components.augmentation`). ``AstroBaseModel.training_step`` passes each batch
    through :meth:`augment_batch`, which changes it only while the module is in training mode:
    validation, test and prediction see the data as it is."""

    def augment_batch(self, batch):
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


class AstronomicalLossMixin:
    """Domain losses as methods (the tasks select them from ``task.loss``): heteroscedastic Gaussian NLL
    with measurement errors, focal loss, class-balanced weights, photo-z loss in Δz/(1+z)."""

    @staticmethod
    def gaussian_nll(pred: Tensor, target: Tensor, target_err: Tensor | None = None) -> Tensor:
        from astrolab.tasks.losses import HeteroscedasticGaussianNLL

        return HeteroscedasticGaussianNLL()(pred, target, target_err)

    @staticmethod
    def focal_loss(logits: Tensor, target: Tensor, gamma: float = 2.0,
                   weight: Sequence[float] | Tensor | None = None) -> Tensor:
        from astrolab.tasks.losses import FocalLoss

        return FocalLoss(gamma, weight)(logits, target)

    @staticmethod
    def class_balanced_weights(counts: Sequence[int] | Tensor, beta: float = 0.999) -> Tensor:
        from astrolab.tasks.losses import class_balanced_weights

        return class_balanced_weights(counts, beta)

    @staticmethod
    def photo_z_loss(z_pred: Tensor, z_true: Tensor, kind: str = "huber", delta: float = 0.05) -> Tensor:
        from astrolab.tasks.losses import PhotoZLoss

        return PhotoZLoss(kind, delta)(z_pred, z_true)


# -- combinations -----------------------------------------------------------------------------------------
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
    "build_optimizer", "default_precision",
]
