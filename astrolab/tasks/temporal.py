"""Forecasting: magnitudes at the next given epochs of each light curve, scored against persistence and
phase-folded baselines. (``time_series_classification`` is :class:`~astrolab.tasks.ClassificationTask`
with ``level: sequence``; the light-curve data module's keys select the objects a batch predicts.)"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import Metric

from astrolab.tasks.regression import RegressionTask


class _ForecastError(Metric):
    """Mean absolute / root-mean-square error of column 0 of ``target``, or its ratio to a baseline
    column (1 = persistence, 2 = phase-folded): ``MAE(model) / MAE(baseline)``."""

    full_state_update = False
    higher_is_better = False

    def __init__(self, kind: str = "mae", baseline: int | None = None) -> None:
        super().__init__()
        self.kind, self.baseline = kind, baseline
        self.add_state("err", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("base", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def _e(self, d: Tensor) -> Tensor:
        return d.abs().sum() if self.kind == "mae" else (d**2).sum()

    def update(self, pred: Tensor, target: Tensor) -> None:
        y = target[:, 0].double()
        self.err += self._e(pred.double().reshape(-1) - y)
        if self.baseline is not None:
            self.base += self._e(target[:, self.baseline].double() - y)
        self.n += y.numel()

    def compute(self) -> Tensor:
        n = self.n.clamp(min=1)
        f = (lambda v: v / n) if self.kind == "mae" else (lambda v: torch.sqrt(v / n))
        if self.baseline is None:
            return f(self.err).float()
        return (f(self.err) / f(self.base).clamp(min=1e-12)).float()


class Forecasting(RegressionTask):
    """Predict the magnitudes at the next given epochs of each light curve.

    Targets are magnitudes relative to the object's context median in the same band (so errors are in
    magnitudes); the loss sees them standardised. Metrics: ``mae``, ``rmse`` [mag],
    ``mae_vs_persistence`` (model MAE / MAE of repeating the last context magnitude in that band) and
    ``mae_vs_folded`` (model MAE / MAE of the context magnitude nearest in phase); below 1 = better than
    that baseline. The trivial baseline written as ``baseline/…`` is persistence.
    """

    name = "forecasting"
    level = "sequence"
    kind = "forecasting"
    monitor = "val/mae"

    def configure_metrics(self):
        from torchmetrics import MetricCollection

        return MetricCollection({
            "mae": _ForecastError("mae"),
            "rmse": _ForecastError("rmse"),
            "mae_vs_persistence": _ForecastError("mae", baseline=1),
            "mae_vs_folded": _ForecastError("mae", baseline=2),
        })

    def select(self, batch, output: Tensor, stage: str):
        target_key, mask_key = self._keys()
        mask = batch.get(mask_key)
        return output[mask].reshape(-1), batch.get(target_key)[mask]

    raw_select = select  # targets are not recoded

    def loss_target(self, target: Tensor) -> Tensor:
        return self.standardise(target[:, 0])

    def baseline_metrics(self, train_targets: Tensor, test_targets: Tensor) -> dict[str, float]:
        """Persistence (``mae``, ``rmse``, ratios) and phase-folded (``folded_*``) on the test queries."""
        if len(test_targets) == 0:
            return {}
        out: dict[str, Any] = {}
        for prefix, col in (("", 1), ("folded_", 2)):
            metrics = self.configure_metrics()
            metrics.update(test_targets[:, col], test_targets)
            out.update({f"{prefix}{k}": float(v) for k, v in metrics.compute().items()})
        return out
