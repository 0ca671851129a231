"""The task interface shared by every model family."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn


class Task:
    """What a model predicts and how it is scored.

    Tasks are kinds (classification, regression, segmentation, forecasting, anomaly, registration,
    photo-z). Subclasses set the class attributes and implement :meth:`configure_losses`,
    :meth:`configure_metrics` and :meth:`output_dim`. A model family asks its task for the head size,
    the loss and the metrics, and for the (prediction, target) pair of a batch via :meth:`select`.

    Where the targets sit in a batch is not the task's business: the data module declares it
    (``batch_keys``) and the build step passes it in as ``target_key`` / ``mask_key``. A task built
    without keys (e.g. ``AstroNodeGNN(task="node_classification")`` in Python) takes them from the data
    module when the Trainer attaches one (``AstroBaseModel.setup`` calls :meth:`bind_keys`).

    Args (every task accepts these keywords):
        name: the config name (``task=<name>``; ``conf/task/<name>.yaml`` sets it). Default: the class's.
        level: what one prediction is about: ``node``, ``graph``, ``object``, ``point``, ``sequence``.
        target_key: where the targets are in a batch ``TensorDict`` (from the data module).
        mask_key: where the per-split masks are (``{stage}`` is replaced), or ``None`` when a batch
            already holds one split only (from the data module).
        data_target: what target the data should build for this task (the task config's
            ``data_target``, passed to the data module as ``dataset.target`` when that is ``null``);
            the task itself does not use it.

    Class attributes:
        kind: ``classification``, ``regression``, ``anomaly`` or ``forecasting``.
        monitor / mode: the validation metric that checkpointing, early stopping and HPO follow; a task
            config may set both (``monitor: val/loss`` with ``mode: min``), per instance.
    """

    name: str = "task"
    level: str = "node"
    #: metrics computed on validation and test only, never on the train split: rank-based ones (AUROC,
    #: average precision) and ones that keep every value of the epoch (photo-z scatter, outliers, bias)
    #: cost more per step than they tell while the weights move; the loss and the cheap metrics stay
    train_skip_metrics: ClassVar[tuple[str, ...]] = ()
    kind: ClassVar[str] = "classification"
    monitor: ClassVar[str] = "val/loss"
    mode: ClassVar[str] = "min"

    def __init__(self, name: str | None = None, level: str | None = None,
                 target_key: Sequence[str] | str | None = None, mask_key: Sequence[str] | str | None = None,
                 data_target: str | None = None, monitor: str | None = None, mode: str | None = None) -> None:
        self.options: dict[str, Any] = {}
        if monitor is not None or mode is not None:
            self.monitor, self.mode = self.resolve_monitor(monitor, mode)  # per instance, like name
        if name is not None:
            self.name = str(name)  # per instance: one class serves several config names
        if level is not None:
            self.level = str(level)
        self.data_target = data_target
        self.target_key: tuple[str, ...] | None = None
        self.mask_key: tuple[str, ...] | None = None
        if target_key is not None:
            self.bind_keys(target_key, mask_key)

    @classmethod
    def resolve_monitor(cls, monitor: str | None, mode: str | None) -> tuple[str, str]:
        """``(monitor, mode)`` from a task config's ``monitor`` / ``mode``: the class's own pair when both
        are null; ``mode`` may stay null for the class's own metric and for a loss (``min``), any other
        metric needs it spelled out (no guessing whether higher is better)."""
        from astrolab.errors import ConfigError

        if monitor is None:
            if mode is not None and mode != cls.mode:
                raise ConfigError(f"task.mode={mode} needs the metric it applies to: task.monitor=val/<metric>")
            return cls.monitor, cls.mode
        monitor = str(monitor)
        if mode is None:
            if monitor == cls.monitor:
                return monitor, cls.mode
            if monitor.rsplit("/", 1)[-1].endswith("loss"):
                return monitor, "min"
            raise ConfigError(f"task.monitor={monitor} needs task.mode=min or task.mode=max: "
                              "add task.mode=max if higher is better")
        if mode not in ("min", "max"):
            raise ConfigError(f"task.mode must be min or max, not {mode!r}")
        return monitor, str(mode)

    def bind_keys(self, target_key: Sequence[str] | str, mask_key: Sequence[str] | str | None) -> None:
        """Read the targets at ``target_key`` and the split masks at ``mask_key`` (the data's contract)."""
        self.target_key = _key(target_key)
        self.mask_key = None if mask_key is None else _key(mask_key)

    def use_batch_keys(self, batch_keys: Mapping[str, Any]) -> Task:
        """Bind to a data module's batch contract (``dm.batch_keys``, or the data module class's);
        returns the task, e.g. ``ClassificationTask(name="node_classification", num_classes=3)
        .use_batch_keys(GaiaDataModule.batch_keys)``."""
        self.bind_keys(batch_keys["target"], batch_keys.get("mask"))
        return self

    def _keys(self) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
        if self.target_key is None:
            from astrolab.errors import ConfigError

            raise ConfigError(f"task '{self.name}' has no target_key: build it with the data module's "
                              "batch_keys (target_key=dm.batch_keys['target'], mask_key=dm.batch_keys['mask']) "
                              "or fit it through a Trainer with the data module")
        return self.target_key, self.mask_key

    # -- interface -------------------------------------------------------------------------------
    def output_dim(self) -> int:
        raise NotImplementedError

    def configure_losses(self) -> nn.Module:
        raise NotImplementedError

    def configure_metrics(self):
        """A ``torchmetrics.MetricCollection`` without prefix (the model clones it per stage)."""
        raise NotImplementedError

    def configure_train_metrics(self):
        """The train split's ``MetricCollection``: :meth:`configure_metrics` without
        :attr:`train_skip_metrics` (may be empty: then only the loss is logged on train)."""
        from torchmetrics import MetricCollection

        metrics = self.configure_metrics()
        skip = set(self.train_skip_metrics)
        if not skip:
            return metrics
        return MetricCollection({k: m for k, m in metrics.items(keep_base=True) if k not in skip})

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        """Turn raw model outputs into reportable predictions (labels, probabilities, values)."""
        raise NotImplementedError

    def loss_target(self, target: Tensor) -> Tensor:
        """The target as the loss sees it (regression: standardised)."""
        return target

    def metric_output(self, output: Tensor) -> Tensor:
        """The model output as the metrics see it (regression: back in physical units)."""
        return output

    # -- shared ----------------------------------------------------------------------------------
    def compute_loss(self, criterion, output: Tensor, target: Tensor, batch, stage: str) -> Tensor:
        """The loss of one step (override when the loss needs more of the batch, e.g. target errors)."""
        return criterion(output, self.loss_target(target))

    def select(self, batch, output: Tensor, stage: str) -> tuple[Tensor, Tensor]:
        """The model outputs and targets that count for ``stage`` (train/val/test/predict)."""
        target_key, mask_key = self._keys()
        target = batch.get(target_key)
        if mask_key is None:
            return output, target
        mask = batch.get(self.stage_mask_key(stage))
        return output[mask], target[mask]

    def stage_mask_key(self, stage: str) -> tuple[str, ...] | None:
        """The mask key of ``stage`` (``{stage}`` replaced), or ``None`` when batches hold one split."""
        return None if self.mask_key is None else tuple(k.format(stage=stage) for k in self.mask_key)

    def baseline_output(self, train_targets: Tensor, n: int) -> Tensor:
        """Raw outputs of the trivial predictor for ``n`` objects (majority class / training mean)."""
        raise NotImplementedError

    def baseline_metrics(self, train_targets: Tensor, test_targets: Tensor) -> dict[str, float]:
        """The task's test metrics for the trivial predictor, computed with the same metric objects."""
        if len(test_targets) == 0 or len(train_targets) == 0:
            return {}
        return self.score_outputs(self.baseline_output(train_targets, len(test_targets)), test_targets)

    def score_outputs(self, output: Tensor, targets: Tensor) -> dict[str, float]:
        """The task's metrics of raw outputs (classification: logits or probabilities) against targets,
        computed with the same metric objects as the test metrics (used by the baselines)."""
        metrics = self.configure_metrics()
        metrics.update(self.metric_output(output), targets)
        return {k: float(v) for k, v in metrics.compute().items()}

    # -- predictions (trainer.predict -> predict_step -> task -> the run's one writer) ---------------
    def select_index(self, batch, output: Tensor, stage: str = "predict") -> Tensor:
        """The data's index of each selected object, in the order :meth:`select` keeps the outputs: by the
        data contract an int64 ``index`` sits next to the target (same shape), addressing a row of the data
        module's ``index_table()``; it is selected exactly as the target is."""
        target_key, _ = self._keys()
        index = batch.get(tuple(target_key[:-1]) + ("index",))
        swapped = batch.clone(recurse=False)
        swapped.set(target_key, index)
        selected = self.raw_select(swapped, output, stage)[1].reshape(-1)
        if selected.dtype != torch.int64:
            raise RuntimeError(f"{type(self).__name__}.raw_select changed the index dtype to {selected.dtype}; "
                               "raw_select must return the target key's values unchanged")
        return selected

    def raw_select(self, batch, output: Tensor, stage: str) -> tuple[Tensor, Tensor]:
        """:meth:`select` without value transforms of the target (tasks that recode targets override)."""
        return self.select(batch, output, stage)

    def finish_table(self, table) -> None:
        """Task-specific columns derived from the joined predictions table (e.g. errors against the truth
        the index table carries); default: nothing."""

    def predict_samples(self, outputs: Tensor) -> dict[str, Tensor]:
        """Predictions from ``S`` stochastic passes (``outputs[S, ...]``, dropout on): the mean prediction
        and its spread. Classification: mean probabilities, their entropy and the std of the predicted
        class's probability; regression: mean value and its std (physical units)."""
        if self.kind == "classification":
            probs = torch.stack([self.predict(o)["prob"] for o in outputs])
            mean = probs.mean(0)
            label = mean.argmax(-1)
            entropy = -(mean.clamp_min(1e-12).log() * mean).sum(-1)
            std = probs.std(0).gather(-1, label[:, None])[:, 0]
            return {"label": label, "prob": mean, "entropy": entropy, "prob_std": std}
        values = torch.stack([self.predict(o)["value"] for o in outputs])
        return {"value": values.mean(0), "value_std": values.std(0)}

    def prediction_columns(self, pred: dict[str, Tensor]) -> dict[str, Any]:
        """Columns of the predictions table: ``predicted`` (class name or value), ``prob_<class>``,
        uncertainty columns when present; float32 values, names exact."""
        import numpy as np

        cols: dict[str, Any] = {}
        if "label" in pred and hasattr(self, "class_names"):
            names = np.asarray(self.class_names)
            cols["predicted"] = names[pred["label"].cpu().numpy()]
            for i, name in enumerate(self.class_names):
                cols[f"prob_{name}"] = pred["prob"][:, i].cpu().numpy().astype(np.float32)
        elif "value" in pred:
            value = pred["value"].cpu()
            cols["predicted"] = value.numpy().astype(np.float32) if value.dim() == 1 else value.numpy()
        elif "score" in pred:
            cols["anomaly_score"] = pred["score"].cpu().numpy().astype(np.float32)
        for k in ("rotation", "translation"):
            if k in pred:
                cols[f"predicted_{k}"] = pred[k].cpu().numpy().reshape(len(pred[k]), -1)
        renamed = {"value_std": "predicted_std", "score_std": "anomaly_score_std"}
        for k in ("sigma", "value_std", "score_std", "entropy", "prob_std"):
            if k in pred:
                cols[renamed.get(k, k)] = pred[k].cpu().numpy().astype(np.float32)
        return cols

    def metric_names(self) -> list[str]:
        return list(self.configure_metrics().keys())

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "level": self.level, "kind": self.kind, "monitor": self.monitor,
                "target_key": None if self.target_key is None else list(self.target_key),
                "mask_key": None if self.mask_key is None else list(self.mask_key)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.options.items())})"


def _key(key: Sequence[str] | str) -> tuple[str, ...]:
    return (key,) if isinstance(key, str) else tuple(str(k) for k in key)


def as_tensor(values, dtype=torch.float32) -> Tensor | None:
    if values is None:
        return None
    return torch.as_tensor(values, dtype=dtype)
