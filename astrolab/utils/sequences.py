"""Padded epoch sequences: keeping a subset of each row's epochs (masked pretraining, epoch subsampling)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def compact_epochs(x: Tensor, time: Tensor, band: Tensor, keep: Tensor, length: int | None = None,
                   dt_feature: int | None = None, dt_scale: Sequence[float] = (0.0, 1.0),
                   ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The epochs where ``keep`` ``[B, L]`` is true moved to the front of each row (time order kept) and
    right-padded with zeros to ``length`` (default ``L``): ``(x, time, band, mask)``. With ``dt_feature``
    that column of ``x`` becomes the time step between the kept epochs, ``(log1p(dt) − dt_scale[0]) /
    dt_scale[1]`` (the data module's standardisation of ``log_dt``)."""
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
    n = keep.sum(1)
    length = keep.shape[1] if length is None else int(length)
    order = order[:, :length]
    mask = torch.arange(length, device=keep.device).unsqueeze(0) < n.unsqueeze(1)
    nx = x.gather(1, order.unsqueeze(-1).expand(-1, -1, x.shape[-1])) * mask.unsqueeze(-1)
    nt = time.gather(1, order) * mask
    nb = band.gather(1, order) * mask
    if dt_feature is not None:
        dt = torch.diff(nt, dim=1, prepend=nt[:, :1]).clamp(min=0)
        col = (torch.log1p(dt.double()) - float(dt_scale[0])) / (float(dt_scale[1]) or 1.0)
        nx = nx.clone()
        nx[..., int(dt_feature)] = col.to(nx.dtype) * mask
    return nx, nt, nb, mask
