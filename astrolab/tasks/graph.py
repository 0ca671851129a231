"""Anomaly detection: one anomaly score per graph of a block-diagonal batch (a star group, a sky tile).

(``graph_classification`` and ``graph_regression`` are :class:`~astrolab.tasks.ClassificationTask` and
:class:`~astrolab.tasks.RegressionTask` with ``level: graph``; the data module says where the targets are.)

- :class:`AnomalyDetection` (``anomaly_detection``): unsupervised. The model returns one anomaly score per
  graph (higher = more anomalous) and is trained on normal graphs only by minimising the mean score of the
  training graphs; the score must therefore be a self-supervised error that normal data can drive down
  (AstroGraphGNN uses the masked-feature reconstruction error of a graph autoencoder). The labels
  (1 = anomaly, 0 = normal) are used only for the metrics ``auroc`` and ``average_precision`` on the
  validation and test splits, which hold the held-out anomalies. Monitor: ``val/auroc``. Trivial baseline:
  a constant score (AUROC 0.5, average precision = the fraction of anomalies).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from astrolab.tasks.base import Task


class MeanScoreLoss(nn.Module):
    """Unsupervised loss: the mean anomaly score of the (normal) training graphs; the target is ignored."""

    def forward(self, score: Tensor, target: Tensor | None = None) -> Tensor:
        return score.mean()


class AnomalyDetection(Task):
    """Per-graph anomaly score, trained on normal graphs only (see the module docstring)."""

    name = "anomaly_detection"
    level = "graph"
    kind = "anomaly"
    monitor = "val/auroc"
    mode = "max"
    train_skip_metrics = ("auroc", "average_precision")

    def __init__(self, num_classes: int | None = None, class_names: Any = None, class_weights: Any = None,
                 **contract: Any) -> None:
        super().__init__(**contract)
        self.num_classes = 1
        self.class_names = ["normal", "anomaly"]
        self.class_weights = None

    def output_dim(self) -> int:
        return 1

    def configure_losses(self) -> nn.Module:
        return MeanScoreLoss()

    def configure_metrics(self):
        from torchmetrics import MetricCollection
        from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision

        return MetricCollection({"auroc": BinaryAUROC(), "average_precision": BinaryAveragePrecision()})

    def select(self, batch, output: Tensor, stage: str) -> tuple[Tensor, Tensor]:
        score, target = super().select(batch, output, stage)
        return score.reshape(-1), target.reshape(-1).long()

    def metric_output(self, output: Tensor) -> Tensor:
        """Scores mapped monotonically into (0, 1) (0.5 + atan(s) / pi): torchmetrics would otherwise
        apply a sigmoid to scores outside [0, 1], which saturates (ties) for large scores."""
        return 0.5 + torch.atan(output.double()).float() / torch.pi

    def baseline_output(self, train_targets: Tensor, n: int) -> Tensor:
        """A constant score for every graph (no ranking information: AUROC 0.5)."""
        return torch.zeros(n)

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        return {"score": output.float().reshape(-1)}

    def predict_samples(self, outputs: Tensor) -> dict[str, Tensor]:
        """``predict.mc_samples``: the mean score of the stochastic passes and its spread."""
        scores = torch.stack([self.predict(o)["score"] for o in outputs])
        return {"score": scores.mean(0), "score_std": scores.std(0)}
