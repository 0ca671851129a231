"""Astronomical loss functions (plain ``nn.Module``s), owned by the tasks (``task.loss`` selects one).

- :class:`FocalLoss` — cross-entropy scaled by ``(1 - p_true)**gamma`` (Lin et al. 2017, "Focal Loss for
  Dense Object Detection"): confidently right examples contribute little, rare/hard ones dominate.
- :func:`class_balanced_weights` — "effective number of samples" weights ``(1 - beta) / (1 - beta**n_c)``
  (Cui et al. 2019, "Class-Balanced Loss Based on Effective Number of Samples").
- :class:`HeteroscedasticGaussianNLL` — Gaussian negative log-likelihood whose variance is the model's
  predicted variance plus the *reported measurement variance* of the target, so noisy labels weigh less.
- :class:`PhotoZLoss` — photometric-redshift loss on ``Δz / (1 + z)``, the normalised residual used for
  photo-z quality (e.g. Ilbert et al. 2006), optionally Huber-robust against catastrophic outliers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FocalLoss(nn.Module):
    """Multi-class focal loss on logits; ``gamma=0`` is (weighted) cross-entropy."""

    def __init__(self, gamma: float = 2.0, weight: Tensor | Sequence[float] | None = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.gamma = float(gamma)
        self.reduction = reduction
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight, dtype=torch.float32))

    def reset_parameters(self) -> None:  # no parameters
        return None

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        logp = F.log_softmax(logits.float(), dim=-1)
        logp_t = logp.gather(-1, target.long().unsqueeze(-1)).squeeze(-1)
        loss = -((1.0 - logp_t.exp()) ** self.gamma) * logp_t
        if self.weight is not None:
            w = self.weight.to(loss.device)[target.long()]
            loss = loss * w
            if self.reduction == "mean":
                return loss.sum() / w.sum().clamp(min=1e-12)
        return loss.mean() if self.reduction == "mean" else loss.sum() if self.reduction == "sum" else loss


def class_balanced_weights(counts: Sequence[int] | Tensor, beta: float = 0.999) -> Tensor:
    """Per-class weights from the effective number of samples, normalised to mean 1."""
    n = torch.as_tensor(counts, dtype=torch.float64).clamp(min=1)
    w = (1.0 - beta) / (1.0 - torch.pow(torch.tensor(beta, dtype=torch.float64), n))
    return (w / w.mean()).float()


class HeteroscedasticGaussianNLL(nn.Module):
    """``0.5 * [log(σ²_model + σ²_meas) + (y - μ)² / (σ²_model + σ²_meas)]`` averaged.

    ``pred`` is ``[N, 2]`` (mean, log σ²_model) or ``[N]`` (mean only: σ²_model = 0, then the
    measurement errors alone set the weights). ``target_err`` is the reported 1-σ error of each target in
    the same units as ``target`` (``None``: no measurement term).
    """

    def __init__(self, min_var: float = 1e-6) -> None:
        super().__init__()
        self.min_var = float(min_var)

    def reset_parameters(self) -> None:
        return None

    def forward(self, pred: Tensor, target: Tensor, target_err: Tensor | None = None) -> Tensor:
        if pred.dim() == 2 and pred.shape[-1] == 2:
            mean, var = pred[:, 0], pred[:, 1].clamp(-20, 20).exp()
        else:
            mean, var = pred.reshape(-1), torch.zeros_like(pred.reshape(-1))
        if target_err is not None:
            var = var + target_err.to(var.dtype).reshape(-1) ** 2
        var = var.clamp(min=self.min_var)
        return 0.5 * (var.log() + (target.reshape(-1) - mean) ** 2 / var).mean()


class PhotoZLoss(nn.Module):
    """Loss on ``(z_pred - z_true) / (1 + z_true)``: ``mse`` or ``huber`` (robust to outliers)."""

    def __init__(self, kind: str = "huber", delta: float = 0.05) -> None:
        super().__init__()
        if kind not in ("mse", "huber", "l1"):
            from astrolab.errors import ConfigError

            raise ConfigError(f"unknown photo-z loss '{kind}'; use mse, huber or l1")
        self.kind, self.delta = kind, float(delta)

    def reset_parameters(self) -> None:
        return None

    def forward(self, z_pred: Tensor, z_true: Tensor) -> Tensor:
        dz = (z_pred.reshape(-1) - z_true.reshape(-1)) / (1.0 + z_true.reshape(-1))
        zero = torch.zeros_like(dz)
        if self.kind == "mse":
            return F.mse_loss(dz, zero)
        if self.kind == "l1":
            return F.l1_loss(dz, zero)
        return F.huber_loss(dz, zero, delta=self.delta)
