"""Regression tasks (MSE / Huber, MAE / RMSE / R²), trained on standardised targets."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from astrolab.tasks.base import Task



class RegressionTask(Task):
    """Scalar regression.

    The model is trained on the standardised target ``(y - mean) / std`` (statistics from the training
    split, filled in by the data module); metrics are computed in the target's own units.

    Args:
        loss: ``mse`` or ``huber``.
        huber_delta: Huber transition point (in standard deviations).
        target_mean / target_std: standardisation of the target.
        target_name / target_unit: for reports.
    """

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
    ) -> None:
        if loss not in ("mse", "huber"):
            from astrolab.errors import ConfigError

            raise ConfigError(f"unknown regression loss '{loss}'; use task.loss=mse or task.loss=huber")
        super().__init__(loss=loss, huber_delta=huber_delta, target_mean=target_mean,
                         target_std=target_std)
        self.loss = loss
        self.huber_delta = float(huber_delta)
        self.target_mean = float(target_mean)
        self.target_std = float(target_std) if target_std else 1.0
        self.target_name = target_name
        self.target_unit = target_unit
        self.num_classes = 1
        self.class_names = [target_name]

    def output_dim(self) -> int:
        return 1

    def configure_losses(self) -> nn.Module:
        return nn.HuberLoss(delta=self.huber_delta) if self.loss == "huber" else nn.MSELoss()

    def configure_metrics(self):
        from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score

        return MetricCollection({
            "mae": MeanAbsoluteError(),
            "rmse": MeanSquaredError(squared=False),
            "r2": R2Score(),
        })

    def select(self, batch, output: Tensor, stage: str):
        pred, target = super().select(batch, output, stage)
        return pred.reshape(-1), target.reshape(-1).to(pred.dtype)

    def standardise(self, y: Tensor) -> Tensor:
        return (y - self.target_mean) / self.target_std

    def physical(self, z: Tensor) -> Tensor:
        return z * self.target_std + self.target_mean

    def loss_target(self, target: Tensor) -> Tensor:
        return self.standardise(target)

    def metric_output(self, output: Tensor) -> Tensor:
        return self.physical(output)

    def baseline_output(self, train_targets: Tensor, n: int) -> Tensor:
        """The training mean for every object (standardised units, like a model output)."""
        mean = train_targets.float().reshape(-1).mean()
        return self.standardise(mean).expand(n).clone()

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        return {"value": self.physical(output.float().reshape(-1))}


class NodeRegression(RegressionTask):
    """One value per node (e.g. a star's radial velocity from its co-moving neighbours)."""

    name: ClassVar[str] = "node_regression"
    level = "node"
