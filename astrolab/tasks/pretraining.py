"""Masked reconstruction: self-supervised pretraining of a sequence encoder on unlabelled light curves
(ASTROMER-style, Donoso-Oliva et al. 2023).

A random ``mask_ratio`` of each light curve's real epochs is hidden from the encoder (removed from the
sequence, not just zeroed, so the recurrence and the pooling never see them); the model predicts the hidden
epochs' magnitude feature from the visible ones and the hidden epochs' time and band. The loss is the mean
squared error of the standardised magnitude feature over the hidden epochs only.

Where things are in a batch comes from the data's contract (``dataset=lightcurves`` with a
``reconstruction`` target): the sequence at ``target_key[:-1]`` (``x``, ``time``, ``band``, ``mask``),
the index of the magnitude feature (``target_feature``) and of the time-step feature with its
standardisation (``dt_feature``, ``dt_scale``) so the visible epochs' time steps are recomputed after the
hidden ones are removed. The task builds the masked view (:meth:`mask_batch`); the model encodes it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from astrolab.tasks.base import Task
from astrolab.utils.sequences import compact_epochs


class MaskedReconstruction(Task):
    """Predict hidden epochs' magnitudes of a light curve from its visible epochs.

    Args:
        mask_ratio: fraction of each curve's real epochs hidden per step (at least one stays visible and
            at least one is hidden when the curve has two or more epochs).
        target_feature: column of ``sequence.x`` that is reconstructed (the data gives it: ``dmag``).
        dt_feature: column of ``sequence.x`` holding the standardised ``log(1 + Δt)`` (recomputed for the
            visible epochs), or ``None``.
        dt_scale: ``[mean, std]`` of that column's standardisation.
        target_scale: ``[mean, std]`` of the reconstructed column (metrics in magnitudes).
        eval_seed: seed of the (fixed) masks of validation/test batches, so the validation loss is
            comparable between epochs.
        feature_weight: weight of a second, cross-modal objective on the object's per-object features
            (``dataset.features``: periods, Fourier parameters, amplitudes, …, all computed from the light
            curve itself, so still no labels); 0: off. The loss is ``MSE(dmag) + feature_weight · L_f``.
        feature_objective: ``L_f``: ``predict`` — the encoder's vector of the *masked* curve predicts the
            standardised features (MSE; only the encoder is kept); ``contrast`` — that vector and the
            feature branch's vector of the same object are matched against the other objects of the batch
            (symmetric InfoNCE, CLIP-style), so both the encoder and the feature branch are pretrained and
            the encoder checkpoint holds both.
        temperature: the InfoNCE temperature of ``contrast``.
        name, level, target_key, mask_key, data_target: see :class:`~astrolab.tasks.base.Task`.
    """

    name = "masked_reconstruction"
    level = "sequence"
    kind = "reconstruction"
    monitor = "val/loss"
    mode = "min"

    def __init__(self, mask_ratio: float = 0.5, target_feature: int = 1, dt_feature: int | None = 0,
                 dt_scale: list[float] | None = None, target_scale: list[float] | None = None,
                 eval_seed: int = 0, feature_weight: float = 0.0, feature_objective: str = "predict",
                 temperature: float = 0.1, num_classes: int | None = None, class_names=None, class_weights=None,
                 **contract: Any) -> None:
        from astrolab.errors import ConfigError

        if not 0.0 < float(mask_ratio) < 1.0:
            raise ConfigError(f"task.mask_ratio={mask_ratio} must be in (0, 1), e.g. task.mask_ratio=0.5")
        if not float(feature_weight) >= 0.0:
            raise ConfigError(f"task.feature_weight={feature_weight} must be >= 0 (0: off), e.g. task.feature_weight=1")
        if feature_objective not in ("predict", "contrast"):
            raise ConfigError(f"unknown task.feature_objective={feature_objective}; use predict or contrast")
        if not float(temperature) > 0.0:
            raise ConfigError(f"task.temperature={temperature} must be > 0, e.g. task.temperature=0.1")
        super().__init__(**contract)
        self.feature_objective = str(feature_objective)
        self.temperature = float(temperature)
        self.mask_ratio = float(mask_ratio)
        self.target_feature = int(target_feature)
        self.dt_feature = None if dt_feature is None else int(dt_feature)
        self.dt_scale = [float(v) for v in (dt_scale or [0.0, 1.0])]
        self.target_scale = [float(v) for v in (target_scale or [0.0, 1.0])]
        self.eval_seed = int(eval_seed)
        self.feature_weight = float(feature_weight)
        self.num_classes = 1
        self.class_names = ["dmag"]
        self.options.update(mask_ratio=self.mask_ratio, feature_weight=self.feature_weight)
        if self.feature_weight > 0:
            self.options.update(feature_objective=self.feature_objective)

    def output_dim(self) -> int:
        return 1

    def configure_losses(self) -> nn.Module:
        return nn.MSELoss()

    def configure_metrics(self):
        from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection

        return MetricCollection({"mae": MeanAbsoluteError(), "rmse": MeanSquaredError(squared=False)})

    # -- the masked view ----------------------------------------------------------------------------
    def _seq_key(self) -> tuple[str, ...]:
        target_key, _ = self._keys()
        return tuple(target_key[:-1])

    def mask_batch(self, batch, stage: str) -> dict[str, Tensor]:
        """The masked view of a batch: ``visible`` (the real epochs left in, moved to the front and
        right-padded: ``x``, ``time``, ``band``, ``mask``), ``hidden`` ``[B, L]`` (which original epochs
        are to be reconstructed) and the original ``x``/``time``/``band`` (queries). Also written into the
        batch as ``<sequence>.hidden`` so :meth:`select` scores exactly those epochs."""
        seq = batch.get(self._seq_key())
        x, time, band, mask = seq["x"], seq["time"], seq["band"], seq["mask"].bool()
        B, L = mask.shape
        if stage == "train":
            u = torch.rand(B, L, device=mask.device)
        else:  # fixed masks: the same epochs hidden every validation epoch
            g = torch.Generator(device="cpu").manual_seed(self.eval_seed + L)
            u = torch.rand(B, L, generator=g).to(mask.device)
        u = u.masked_fill(~mask, 2.0)
        n = mask.sum(1)
        k = torch.where(n >= 2, (n.float() * self.mask_ratio).round().long().clamp(min=1), torch.zeros_like(n))
        k = torch.minimum(k, (n - 1).clamp(min=0))
        rank = u.argsort(1).argsort(1)  # 0 = smallest draw
        hidden = (rank < k.unsqueeze(1)) & mask
        visible = mask & ~hidden
        # the visible epochs moved to the front, with the time steps between the epochs the encoder sees
        nv = visible.sum(1)
        vx, vt, vb, vmask = compact_epochs(x, time, band, visible, max(int(nv.max()) if B else 0, 1),
                                           self.dt_feature, self.dt_scale)
        seq.set("hidden", hidden)
        qx = x.clone()
        qx[..., self.target_feature] = 0.0  # the hidden value itself never enters the query
        return {"x": vx, "time": vt, "band": vb, "mask": vmask, "hidden": hidden,
                "query_x": qx, "query_time": time, "query_band": band}

    # -- scoring ------------------------------------------------------------------------------------
    def select(self, batch, output: Tensor, stage: str) -> tuple[Tensor, Tensor]:
        """Predictions and targets (in magnitudes) of the hidden epochs of the batch's objects."""
        seq = batch.get(self._seq_key())
        hidden = seq["hidden"]
        target = seq["x"][..., self.target_feature]
        _, mask_key = self._keys()
        if mask_key is not None:  # only the objects a batch predicts (graph neighbours excluded)
            hidden = hidden & batch.get(self.stage_mask_key(stage)).unsqueeze(1)
        mean, std = self.target_scale
        return output[hidden], target[hidden].float() * std + mean

    raw_select = select

    def loss_target(self, target: Tensor) -> Tensor:
        mean, std = self.target_scale
        return (target - mean) / (std or 1.0)

    def metric_output(self, output: Tensor) -> Tensor:
        mean, std = self.target_scale
        return output * std + mean

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        return {"value": self.metric_output(output)}

    def baseline_output(self, train_targets: Tensor, n: int) -> Tensor:
        return torch.zeros(n)  # the band median (dmag = 0)
