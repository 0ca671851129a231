"""``SpatialAttention``: multi-head attention of each object over its k nearest neighbours in space.

Positions are unit vectors on the sky (chord distance ↔ angular separation) or 3-D Cartesian
coordinates; neighbours are found by brute force within the batch (``torch.cdist`` + ``topk``, the object
itself included), so it suits batches of up to a few thousand objects. Keys and values get a learned
encoding of the relative position (scaled by the batch's median neighbour distance, so it works in
degrees or megaparsecs alike). The output is ``x + attention`` followed by LayerNorm (same width).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from astrolab.models.components.tensordict_module import AstroTensorDictModule


class SpatialAttention(AstroTensorDictModule):
    """Args: dim (feature width), heads, k (neighbours), pos_dim (2/3), dropout,
    in_keys (features ``[N, dim]``, positions ``[N, pos_dim]``), out_keys (``[N, dim]``)."""

    def __init__(self, dim: int, heads: int = 4, k: int = 8, pos_dim: int = 3, dropout: float = 0.0,
                 in_keys: Sequence[Any] = ("features", "coordinates"),
                 out_keys: Sequence[Any] = ("spatial_features",)) -> None:
        super().__init__(in_keys, out_keys)
        if dim % heads:
            from astrolab.errors import ConfigError

            raise ConfigError(f"SpatialAttention: dim={dim} must be divisible by heads={heads}")
        self.dim, self.heads, self.k = dim, heads, k
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.pos = nn.Sequential(nn.Linear(pos_dim + 1, dim), nn.GELU(), nn.Linear(dim, dim))
        self.out = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def neighbours(self, pos: Tensor) -> tuple[Tensor, Tensor]:
        """Indices ``[N, k]`` of the k nearest (self included) and their distances."""
        k = min(self.k, pos.shape[0])
        d = torch.cdist(pos.float(), pos.float())
        dist, idx = d.topk(k, dim=1, largest=False)
        return idx, dist

    def compute(self, x: Tensor, pos: Tensor) -> Tensor:
        n, dim = x.shape
        h, dh = self.heads, dim // self.heads
        idx, dist = self.neighbours(pos)
        k = idx.shape[1]
        rel = pos[idx].float() - pos.float().unsqueeze(1)  # [N, k, P]
        scale = dist[:, 1:].median().clamp(min=1e-12) if k > 1 else torch.tensor(1.0, device=x.device)
        pe = self.pos(torch.cat([rel / scale, (dist / scale).unsqueeze(-1)], -1))  # [N, k, D]
        kv = self.kv(x)[idx]  # [N, k, 2D]
        keys, values = kv[..., :dim] + pe, kv[..., dim:] + pe
        q = self.q(x).view(n, h, 1, dh)
        keys = keys.view(n, k, h, dh).transpose(1, 2)  # [N, H, k, dh]
        values = values.view(n, k, h, dh).transpose(1, 2)
        att = torch.softmax((q * keys).sum(-1) / dh**0.5, dim=-1)  # [N, H, k]
        att = self.drop(att)
        agg = (att.unsqueeze(-1) * values).sum(2).reshape(n, dim)
        return self.norm(x + self.out(agg))
