"""Regression (MSE / Huber / heteroscedastic NLL / photo-z loss, MAE / RMSE / R²), trained on standardised
targets: one value per node or graph; name and batch keys from the task config and the data module."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from astrolab.tasks.base import Task

LOSSES = ("mse", "huber", "nll", "photo_z")


class RegressionTask(Task):
    """Scalar regression.

    The model is trained on the standardised target ``(y - mean) / std`` (statistics from the training
    split, filled in by the data module); metrics are computed in the target's own units.

    Args:
        loss: ``mse``, ``huber``, ``nll`` (heteroscedastic Gaussian: the head predicts mean and
            log-variance, and the reported error of each target, read from ``error_key`` of the batch when
            present, adds to the variance) or ``photo_z`` (Huber with delta 0.05 on Δz/(1+z) of the prediction
            in physical units; :class:`~astrolab.tasks.PhotoZ` uses the same path with its own loss options).
        error_key: where the targets' 1-σ measurement errors are in a batch (``nll``), e.g.
            ``[nodes, y_err]``; absent keys mean no measurement term.
        huber_delta: Huber transition point (in standard deviations).
        target_mean / target_std: standardisation of the target.
        target_name / target_unit: for reports.
        name, level, target_key, mask_key, data_target: see :class:`~astrolab.tasks.base.Task`.
    """

    name = "regression"
    kind = "regression"
    monitor = "val/rmse"
    mode = "min"

    def __init__(
        self,
        loss: str = "mse",
        huber_delta: float = 1.0,
        target_mean: float = 0.0,
        target_std: float = 1.0,
        target_name: str = "target",
        target_unit: str | None = None,
        num_classes: int | None = None,
        class_names=None,
        class_weights=None,
        error_key=None,
        **contract: Any,
    ) -> None:
        if loss not in LOSSES:
            from astrolab.errors import ConfigError

            raise ConfigError(f"unknown regression loss '{loss}'; use task.loss=" + " or task.loss=".join(LOSSES))
        super().__init__(**contract)
        self.options.update(loss=loss, huber_delta=huber_delta, target_mean=target_mean, target_std=target_std)
        self.loss = loss
        self.huber_delta = float(huber_delta)
        self.target_mean = float(target_mean)
        self.target_std = float(target_std) if target_std else 1.0
        self.target_name = target_name
        self.target_unit = target_unit
        self.num_classes = 1
        self.class_names = [target_name]
        self.error_key = None if error_key is None else (
            error_key if isinstance(error_key, str) else tuple(error_key))

    def output_dim(self) -> int:
        return 2 if self.loss == "nll" else 1

    def configure_losses(self) -> nn.Module:
        if self.loss == "nll":
            from astrolab.tasks.losses import HeteroscedasticGaussianNLL

            return HeteroscedasticGaussianNLL()
        if self.loss == "photo_z":
            from astrolab.tasks.losses import PhotoZLoss

            return PhotoZLoss("huber")
        return nn.HuberLoss(delta=self.huber_delta) if self.loss == "huber" else nn.MSELoss()

    def configure_metrics(self):
        from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score

        return MetricCollection({
            "mae": MeanAbsoluteError(),
            "rmse": MeanSquaredError(squared=False),
            "r2": R2Score(),
        })

    def select(self, batch, output: Tensor, stage: str):
        pred, target = self.raw_select(batch, output, stage)
        return pred, target.to(pred.dtype)

    def raw_select(self, batch, output: Tensor, stage: str):
        pred, target = super().select(batch, output, stage)
        pred = pred.reshape(-1, 2) if self.loss == "nll" else pred.reshape(-1)
        return pred, target.reshape(-1)

    def target_errors(self, batch, stage: str) -> Tensor | None:
        """The selected targets' measurement errors (``error_key``), or None."""
        if self.error_key is None:
            return None
        err = batch.get(self.error_key, None)
        if err is None:
            return None
        if self.mask_key is not None:
            err = err[batch.get(self.stage_mask_key(stage))]
        return err.reshape(-1)

    def compute_loss(self, criterion, output: Tensor, target: Tensor, batch, stage: str) -> Tensor:
        if self.loss == "nll":
            err = self.target_errors(batch, stage)
            return criterion(output, self.standardise(target), None if err is None else err / self.target_std)
        if self.loss == "photo_z":
            return criterion(self.physical(output), target)
        return criterion(output, self.loss_target(target))

    def standardise(self, y: Tensor) -> Tensor:
        return (y - self.target_mean) / self.target_std

    def physical(self, z: Tensor) -> Tensor:
        return z * self.target_std + self.target_mean

    def loss_target(self, target: Tensor) -> Tensor:
        return self.standardise(target)

    def metric_output(self, output: Tensor) -> Tensor:
        if self.loss == "nll" and output.dim() == 2:
            output = output[:, 0]
        return self.physical(output)

    def baseline_output(self, train_targets: Tensor, n: int) -> Tensor:
        """The training mean for every object (standardised units, like a model output)."""
        mean = train_targets.float().reshape(-1).mean()
        return self.standardise(mean).expand(n).clone()

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        if self.loss == "nll":
            out = output.float().reshape(-1, 2)
            return {"value": self.physical(out[:, 0]),
                    "sigma": out[:, 1].clamp(-20, 20).mul(0.5).exp() * self.target_std}
        return {"value": self.physical(output.float().reshape(-1))}

