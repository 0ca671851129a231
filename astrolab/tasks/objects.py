"""Per-object tasks (one prediction per catalog object, batches hold one split):

* ``classification`` (:class:`ObjectClassification`): e.g. SDSS STAR / GALAXY / QSO; cross-entropy with
  inverse-frequency class weights; metrics ``acc``, ``f1_macro`` and one recall per class
  (``recall_QSO``, …); monitor ``val/f1_macro``.
* ``photo_z`` (:class:`PhotoZ`): redshift regression; loss on Δz / (1 + z) (Huber by default, the
  quantity photo-z quality is judged by) or plain standardised MSE/Huber; metrics ``sigma_nmad``,
  ``outlier_frac``, ``bias`` (see :mod:`astrolab.tasks.photo_z_metrics`) plus ``mae`` and ``rmse``;
  monitor ``val/sigma_nmad``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics.classification import MulticlassRecall

from astrolab.tasks.classification import ClassificationTask
from astrolab.tasks.regression import RegressionTask


class ObjectClassification(ClassificationTask):
    """One class per object (STAR / GALAXY / QSO); per-class recall for every class."""

    name = "classification"
    level = "object"

    def configure_metrics(self):
        from torchmetrics import MetricCollection
        from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

        n = self.num_classes
        metrics = {"acc": MulticlassAccuracy(num_classes=n, average="micro"),
                   "f1_macro": MulticlassF1Score(num_classes=n, average="macro")}
        for i, name in enumerate(self.class_names):
            metrics[f"recall_{name}"] = _ClassRecall(num_classes=n, index=i)
        return MetricCollection(metrics)


class _ClassRecall(MulticlassRecall):
    """Recall of one class (a scalar, so it logs like every other metric)."""

    def __init__(self, num_classes: int, index: int, **kwargs) -> None:
        super().__init__(num_classes=num_classes, average=None, **kwargs)
        self.index = int(index)

    def compute(self) -> Tensor:
        return super().compute()[self.index]


class PhotoZ(RegressionTask):
    """Redshift from photometry (and spectra when given).

    Args:
        loss: ``dz1pz`` (Huber on Δz / (1 + z), default), ``dz1pz_mse``, or ``mse`` / ``huber`` on the
            standardised redshift.
        huber_delta: transition of the Huber loss (in Δz / (1 + z) units for ``dz1pz``).
        outlier_threshold: |Δz| / (1 + z) above which an object counts as an outlier.
    """

    name = "photo_z"
    level = "object"
    monitor = "val/sigma_nmad"
    mode = "min"
    train_skip_metrics = ("sigma_nmad", "outlier_frac", "bias")

    def __init__(self, loss: str = "dz1pz", huber_delta: float = 0.05, outlier_threshold: float = 0.15,
                 target_mean: float = 0.0, target_std: float = 1.0, target_name: str = "z", **kwargs) -> None:
        self.photo_z_loss = loss
        if loss not in ("dz1pz", "dz1pz_mse", "mse", "huber"):
            from astrolab.errors import ConfigError

            raise ConfigError(f"unknown photo_z loss '{loss}'; use task.loss=dz1pz, dz1pz_mse, mse or huber")
        # dz1pz*: RegressionTask's ``photo_z`` loss (PhotoZLoss on Δz / (1 + z) of the physical prediction)
        super().__init__(loss="photo_z" if loss.startswith("dz1pz") else loss, huber_delta=huber_delta,
                         target_mean=target_mean, target_std=target_std, target_name=target_name, **kwargs)
        self.outlier_threshold = float(outlier_threshold)
        self.options.update(loss=loss, outlier_threshold=outlier_threshold)

    def configure_losses(self) -> nn.Module:
        if self.photo_z_loss.startswith("dz1pz"):
            from astrolab.tasks.losses import PhotoZLoss

            return PhotoZLoss("mse" if self.photo_z_loss == "dz1pz_mse" else "huber", self.huber_delta)
        return super().configure_losses()

    def configure_metrics(self):
        from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection

        from astrolab.tasks.photo_z_metrics import OutlierFraction, PhotoZBias, SigmaNMAD

        return MetricCollection({"sigma_nmad": SigmaNMAD(), "outlier_frac": OutlierFraction(self.outlier_threshold),
                                 "bias": PhotoZBias(), "mae": MeanAbsoluteError(),
                                 "rmse": MeanSquaredError(squared=False)})

    def baseline_output(self, train_targets: Tensor, n: int) -> Tensor:
        """The training-split median redshift for every object (standardised units)."""
        med = torch.quantile(train_targets.float().reshape(-1), 0.5)
        return self.standardise(med).expand(n).clone()
