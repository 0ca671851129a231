"""Classification (cross-entropy or focal loss, class weights, accuracy / macro-F1 / AUROC): one class per
node, graph, point cloud, light curve or particle; the config name (``node_classification``,
``graph_classification``, …) and the batch keys come from ``conf/task/<name>.yaml`` and the data module."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from astrolab.tasks.base import Task, as_tensor


class ClassificationTask(Task):
    """Multi-class classification.

    Args:
        num_classes: number of classes (filled in from the data module at build time).
        class_names: names for reports (filled in from the data module).
        class_weights: per-class loss weights (the data module computes inverse-frequency weights
            from the training split when the config says ``class_weights: auto``).
        label_smoothing: cross-entropy label smoothing.
        loss: ``ce`` (cross-entropy) or ``focal`` (down-weights easy examples; rare classes dominate).
        focal_gamma: focusing parameter of the focal loss.
        class_counts: training-split count per class (from the data module; for reports).
        calibrate: fit a temperature on the validation split after training (temperature scaling, Guo et
            al. 2017) and apply it to the test and predicted probabilities (``task.calibrate=true``).
        temperature: the fitted temperature (saved in checkpoints; 1: probabilities as the network gives
            them). Labels and accuracy never change with it.
        name, level, target_key, mask_key, data_target: see :class:`~astrolab.tasks.base.Task`.
    """

    name = "classification"
    kind = "classification"
    monitor = "val/f1_macro"
    mode = "max"
    train_skip_metrics = ("auroc",)

    def __init__(
        self,
        num_classes: int = 2,
        class_names: Sequence[str] | None = None,
        class_weights: Sequence[float] | str | None = None,
        label_smoothing: float = 0.0,
        loss: str = "ce",
        focal_gamma: float = 2.0,
        class_counts: Sequence[int] | None = None,
        calibrate: bool = False,
        temperature: float = 1.0,
        **contract: Any,
    ) -> None:
        if isinstance(class_weights, str):  # "auto"/"none" not resolved by a data module
            class_weights = None
        super().__init__(**contract)
        self.options.update(num_classes=num_classes, class_weights=class_weights, label_smoothing=label_smoothing)
        self.class_counts = None if class_counts is None else [int(c) for c in class_counts]
        self.num_classes = int(num_classes)
        self.class_names = list(class_names) if class_names is not None else [
            str(i) for i in range(self.num_classes)]
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self.label_smoothing = float(label_smoothing)
        if loss not in ("ce", "focal"):
            from astrolab.errors import ConfigError

            raise ConfigError(f"unknown classification loss '{loss}'; use task.loss=ce or task.loss=focal")
        self.loss = loss
        self.focal_gamma = float(focal_gamma)
        self.calibrate = bool(calibrate)
        self.temperature = float(temperature)
        if loss != "ce":
            self.options.update(loss=loss, focal_gamma=self.focal_gamma)

    def output_dim(self) -> int:
        return self.num_classes

    def configure_losses(self) -> nn.Module:
        if self.loss == "focal":
            from astrolab.tasks.losses import FocalLoss

            return FocalLoss(self.focal_gamma, as_tensor(self.class_weights))
        return nn.CrossEntropyLoss(weight=as_tensor(self.class_weights),
                                   label_smoothing=self.label_smoothing)

    def configure_metrics(self):
        from torchmetrics import MetricCollection
        from torchmetrics.classification import MulticlassAccuracy, MulticlassAUROC, MulticlassF1Score

        n = self.num_classes
        return MetricCollection({
            "acc": MulticlassAccuracy(num_classes=n, average="micro"),
            # mean per-class recall = balanced accuracy (imbalanced classes)
            "balanced_acc": MulticlassAccuracy(num_classes=n, average="macro"),
            "f1_macro": MulticlassF1Score(num_classes=n, average="macro"),
            "auroc": MulticlassAUROC(num_classes=n, average="macro"),
        })

    def baseline_output(self, train_targets: Tensor, n: int) -> Tensor:
        """Majority class of the training split, as confident logits (AUROC of a constant is 0.5)."""
        counts = torch.bincount(train_targets.long().reshape(-1), minlength=self.num_classes)
        logits = torch.full((n, self.num_classes), -10.0)
        logits[:, int(counts.argmax())] = 10.0
        return logits

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        prob = torch.softmax(output.float() / self.temperature, dim=-1)
        return {"label": prob.argmax(-1), "prob": prob}

