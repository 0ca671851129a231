"""Photometric-redshift metrics as torchmetrics ``Metric``s (states gathered across processes).

With Δz = z_phot − z_spec:

* ``SigmaNMAD``: 1.48 × median(|Δz − median(Δz)| / (1 + z_spec)) (normalised median absolute deviation,
  e.g. Ilbert et al. 2006, A&A 457, 841; Brammer et al. 2008);
* ``OutlierFraction``: fraction with |Δz| / (1 + z_spec) > 0.15 (catastrophic outliers);
* ``PhotoZBias``: mean of Δz / (1 + z_spec).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat


def sigma_nmad(z_phot, z_spec) -> float:
    """σ_NMAD = 1.48 × median(|Δz − median(Δz)| / (1 + z_spec)), Δz = z_phot − z_spec (medians with numpy's
    convention: the mean of the two middle values). The one definition used by the ``SigmaNMAD`` metric
    (summary.json) and the photo-z figure."""
    zp = np.asarray(z_phot, dtype=np.float64).reshape(-1)
    zs = np.asarray(z_spec, dtype=np.float64).reshape(-1)
    if zs.size == 0:
        return float("nan")
    dz = zp - zs
    return float(1.48 * np.median(np.abs(dz - np.median(dz)) / (1 + zs)))


def outlier_fraction(z_phot, z_spec, threshold: float = 0.15) -> float:
    """Fraction of objects with |Δz| / (1 + z_spec) above ``threshold`` (catastrophic outliers)."""
    zp = np.asarray(z_phot, dtype=np.float64).reshape(-1)
    zs = np.asarray(z_spec, dtype=np.float64).reshape(-1)
    if zs.size == 0:
        return float("nan")
    return float(np.mean(np.abs(zp - zs) / (1 + zs) > threshold))


class _DeltaZ(Metric):
    """Collects (z_phot, z_spec) pairs."""

    is_differentiable = False
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("pred", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")

    def update(self, pred: Tensor, target: Tensor) -> None:
        self.pred.append(pred.detach().reshape(-1).double())
        self.target.append(target.detach().reshape(-1).double())

    def _pairs(self) -> tuple[Tensor, Tensor]:
        if not self.pred:
            return torch.zeros(0, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)
        return dim_zero_cat(self.pred), dim_zero_cat(self.target)


class SigmaNMAD(_DeltaZ):
    """1.48 × median(|Δz − median(Δz)| / (1 + z)); lower is better."""

    higher_is_better = False

    def compute(self) -> Tensor:
        pred, z = self._pairs()
        return torch.tensor(sigma_nmad(pred.cpu().numpy(), z.cpu().numpy()), dtype=torch.float32)


class OutlierFraction(_DeltaZ):
    """Fraction of objects with |Δz| / (1 + z) above ``threshold`` (0.15)."""

    higher_is_better = False

    def __init__(self, threshold: float = 0.15, **kwargs) -> None:
        super().__init__(**kwargs)
        self.threshold = float(threshold)

    def compute(self) -> Tensor:
        pred, z = self._pairs()
        if len(z) == 0:
            return torch.tensor(float("nan"))
        return ((pred - z).abs() / (1 + z) > self.threshold).double().mean().float()


class PhotoZBias(_DeltaZ):
    """Mean of Δz / (1 + z)."""

    def compute(self) -> Tensor:
        pred, z = self._pairs()
        if len(z) == 0:
            return torch.tensor(float("nan"))
        return ((pred - z) / (1 + z)).mean().float()
