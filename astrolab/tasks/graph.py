"""Graph-level tasks: one prediction per graph of a block-diagonal batch (a star group, a sky tile).

Targets live at ``batch["graphs", "y"]``; a batch holds the graphs of one split only (``mask_key=None``).

- :class:`GraphClassification` (``graph_classification``): cross-entropy; acc / f1_macro / auroc.
- :class:`GraphRegression` (``graph_regression``): standardised MSE/Huber; mae / rmse / r2.
- :class:`AnomalyDetection` (``anomaly_detection``): unsupervised. The model returns one anomaly score per
  graph (higher = more anomalous) and is trained on normal graphs only by minimising the mean score of the
  training graphs; the score must therefore be a self-supervised error that normal data can drive down
  (AstroGraphGNN uses the masked-feature reconstruction error of a graph autoencoder). The labels
  (1 = anomaly, 0 = normal) are used only for the metrics ``auroc`` and ``average_precision`` on the
  validation and test splits, which hold the held-out anomalies. Monitor: ``val/auroc``. Trivial baseline:
  a constant score (AUROC 0.5, average precision = the fraction of anomalies).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from astrolab.tasks.base import Task
from astrolab.tasks.classification import ClassificationTask
from astrolab.tasks.regression import RegressionTask


class GraphClassification(ClassificationTask):
    """One class per graph (e.g. real open cluster vs random field asterism)."""

    name: ClassVar[str] = "graph_classification"
    level = "graph"
    target_key = ("graphs", "y")
    mask_key = None


class GraphRegression(RegressionTask):
    """One value per graph (e.g. a cluster's log age or distance)."""

    name: ClassVar[str] = "graph_regression"
    level = "graph"
    target_key = ("graphs", "y")
    mask_key = None


class MeanScoreLoss(nn.Module):
    """Unsupervised loss: the mean anomaly score of the (normal) training graphs; the target is ignored."""

    def forward(self, score: Tensor, target: Tensor | None = None) -> Tensor:
        return score.mean()


class AnomalyDetection(Task):
    """Per-graph anomaly score, trained on normal graphs only (see the module docstring)."""

    name: ClassVar[str] = "anomaly_detection"
    level = "graph"
    kind = "anomaly"
    monitor = "val/auroc"
    mode = "max"
    target_key = ("graphs", "y")
    mask_key = None

    def __init__(self, num_classes: int | None = None, class_names: Any = None, class_weights: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
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
