"""``SpectralEncoder``: 1-D convolutions over a spectrum with a bad-pixel mask (a tensordict module).

Masking is exact: bad pixels are replaced by zero (``torch.where``, so even NaN/inf garbage never
enters) and the mask itself is a second input channel; pooling over wavelength is a mean and a max over
the positions whose receptive field holds at least one good pixel. Changing the flux at masked pixels
therefore cannot change the encoding. A spectrum with no good pixel gives a constant embedding (the
fusion module ignores it through the object's presence flag). Per-sample GroupNorm (no BatchNorm), so one
object's spectrum never influences another's encoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from astrolab.models.components.tensordict_module import AstroTensorDictModule


class SpectralEncoder(AstroTensorDictModule):
    """Strided 1-D CNN + masked mean/max pooling → ``hidden_dim``.

    Args:
        hidden_dim: embedding width.
        channels: output channels of the convolution blocks (each halves the length).
        kernel_size: convolution width in (rebinned) pixels.
        dropout: dropout before the projection.
        in_keys: (flux ``[B, L]``, mask ``[B, L]`` bool, True = good); a missing mask means all good.
        out_keys: the embedding ``[B, hidden_dim]``.
    """

    def __init__(self, hidden_dim: int = 128, channels: Sequence[int] = (16, 32, 64), kernel_size: int = 7,
                 dropout: float = 0.1, in_keys: Sequence[Any] = (("spectrum", "flux"), ("spectrum", "mask")),
                 out_keys: Sequence[Any] = (("spectrum", "embedding"),)) -> None:
        super().__init__(in_keys, out_keys)
        chans = [2, *channels]
        self.convs = nn.ModuleList(nn.Conv1d(a, b, kernel_size, stride=2, padding=kernel_size // 2)
                                   for a, b in zip(chans[:-1], chans[1:]))
        self.norms = nn.ModuleList(nn.GroupNorm(1, b) for b in chans[1:])
        self.kernel_size = kernel_size
        self.proj = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * chans[-1], hidden_dim), nn.GELU())
        self.out_dim = hidden_dim

    def compute(self, flux: Tensor, mask: Tensor | None = None) -> Tensor:
        mask = torch.ones_like(flux, dtype=torch.bool) if mask is None else mask.bool()
        x = torch.where(mask, flux, torch.zeros_like(flux)).float()
        m = mask.float().unsqueeze(1)
        h = torch.cat([x.unsqueeze(1), m], 1)
        for conv, norm in zip(self.convs, self.norms):
            h = F.gelu(norm(conv(h)))
            # a position is informative when its receptive field saw a good pixel
            m = F.max_pool1d(m, self.kernel_size, stride=2, padding=self.kernel_size // 2)
            m = m[..., : h.shape[-1]]
        w = m  # [B, 1, L']
        count = w.sum(-1).clamp(min=1.0)
        mean = (h * w).sum(-1) / count
        neg = torch.finfo(h.dtype).min
        mx = torch.where(w > 0, h, torch.full_like(h, neg)).amax(-1)
        mx = torch.where(w.sum(-1) > 0, mx, torch.zeros_like(mx))
        return self.proj(torch.cat([mean, mx], -1))
