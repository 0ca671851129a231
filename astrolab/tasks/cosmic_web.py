"""Filament detection on particles (filament vs rest).

The cosmic-web data gives the four T-web classes (0 void, 1 sheet, 2 filament, 3 knot) for both
``cosmic_web_classification`` (a :class:`~astrolab.tasks.ClassificationTask` with ``level: node``) and
``filament_detection``, which turns the four classes into a binary target itself.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from astrolab.tasks.base import Task, as_tensor

WEB_CLASSES = ("void", "sheet", "filament", "knot")


class FilamentDetection(Task):
    """Binary: is the particle in a filament? One logit per particle; BCE with ``pos_weight``.

    Metrics ``f1`` (threshold 0.5 on the probability), ``auroc``, ``acc``; monitor ``val/f1``.

    Args:
        filament_class: index of the filament class in the data's labels (2 for the T-web).
        pos_weight: ``auto`` (negatives / positives in the training split, from the class counts the
            data module passes as ``class_weights``) or a number, or ``none``.
    """

    name = "filament_detection"
    level = "node"
    kind = "classification"
    monitor = "val/f1"
    mode = "max"
    train_skip_metrics = ("auroc",)

    def __init__(self, filament_class: int = 2, pos_weight: float | str | None = "auto",
                 num_classes: int | None = None, class_names=None, class_weights=None,
                 class_counts=None, **contract: Any) -> None:
        super().__init__(**contract)
        self.options.update(filament_class=filament_class, pos_weight=pos_weight)
        self.filament_class = int(filament_class)
        self.num_classes = 2
        self.class_names = ["rest", "filament"]
        self.class_weights = None
        if pos_weight == "auto" and class_counts is not None:
            counts = [float(c) for c in class_counts]
            pos = counts[self.filament_class]
            self.pos_weight = (sum(counts) - pos) / max(pos, 1.0)
        elif isinstance(pos_weight, (int, float)):
            self.pos_weight = float(pos_weight)
        else:
            self.pos_weight = None

    def output_dim(self) -> int:
        return 1

    def configure_losses(self) -> nn.Module:
        return _BCE(self.pos_weight)

    def configure_metrics(self):
        from torchmetrics import MetricCollection
        from torchmetrics.classification import BinaryAccuracy, BinaryAUROC, BinaryF1Score

        return MetricCollection({"f1": BinaryF1Score(), "auroc": BinaryAUROC(), "acc": BinaryAccuracy()})

    def binarise(self, y: Tensor) -> Tensor:
        return (y == self.filament_class).long()

    def select(self, batch, output: Tensor, stage: str) -> tuple[Tensor, Tensor]:
        out, target = super().select(batch, output, stage)
        return out.reshape(-1), self.binarise(target)

    def raw_select(self, batch, output: Tensor, stage: str) -> tuple[Tensor, Tensor]:
        out, target = super().select(batch, output, stage)
        return out.reshape(-1), target

    def finish_table(self, table) -> None:
        """``true`` becomes filament / rest (the data's class stays as ``true_class``)."""
        import numpy as np

        if "true_code" in table.colnames:
            table["true_class"] = table["true"]
            table["true"] = np.where(np.asarray(table["true_code"]) == self.filament_class, "filament", "rest")
            table.remove_column("true_code")

    def metric_output(self, output: Tensor) -> Tensor:
        return torch.sigmoid(output.float())

    def baseline_output(self, train_targets: Tensor, n: int) -> Tensor:
        """The majority answer of the training split, as a confident logit."""
        frac = float(self.binarise(train_targets).float().mean()) if len(train_targets) else 0.0
        return torch.full((n,), 10.0 if frac > 0.5 else -10.0)

    def baseline_metrics(self, train_targets: Tensor, test_targets: Tensor) -> dict[str, float]:
        if len(test_targets) == 0 or len(train_targets) == 0:
            return {}
        metrics = self.configure_metrics()
        out = self.baseline_output(train_targets, len(test_targets))
        metrics.update(self.metric_output(out), self.binarise(test_targets))
        return {k: float(v) for k, v in metrics.compute().items()}

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        p = torch.sigmoid(output.float().reshape(-1))
        return {"label": (p > 0.5).long(), "prob": torch.stack([1 - p, p], dim=-1)}


class _BCE(nn.Module):
    def __init__(self, pos_weight: float | None) -> None:
        super().__init__()
        self.register_buffer("pos_weight", as_tensor([pos_weight]) if pos_weight else None)

    def reset_parameters(self) -> None:
        """No parameters (``pos_weight`` is fixed by the data)."""

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        return nn.functional.binary_cross_entropy_with_logits(output, target.float(), pos_weight=self.pos_weight)
