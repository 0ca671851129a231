"""``AdvancedTemporalEncoder``: one vector per irregularly sampled, padded (multi-band) time series.

Inputs per epoch: a feature vector ``x`` (time delta, magnitude, error, …), the epoch time ``time``
(any zero point), a band code ``band`` (learned band embedding) and a padding ``mask`` (True = real
epoch). Cells:

- ``lstm`` / ``gru``: the recurrence never lets padding reach a real epoch: a right-padded batch in one
  direction runs as it is (an output depends only on earlier epochs; several times faster to train on CPU
  than packing), a bidirectional one or any other mask is packed (``pack_padded_sequence``); outputs are
  pooled over real epochs only and concatenated with the hidden state at the last real epoch.
- ``transformer``: a continuous-time positional encoding — sinusoids of the *actual* time since the
  object's first epoch at geometrically spaced periods (``min_period`` … ``max_period`` days), not of
  the epoch index — added to the projected inputs; self-attention with a key padding mask (no dropout on
  the attention weights, which keeps the fused attention kernel).

Pooling is masked attention pooling plus a masked mean, so padded positions never change the result,
and times enter only as differences, so a constant time shift never changes it either.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from astrolab.models.components.utils import reset_all

CELLS = ("lstm", "gru", "transformer")


class ContinuousTimeEncoding(nn.Module):
    """Sinusoidal encoding of real-valued times (days) at ``dim // 2`` geometric periods."""

    def __init__(self, dim: int, min_period: float = 0.01, max_period: float = 3000.0) -> None:
        super().__init__()
        half = max(dim // 2, 1)
        periods = torch.logspace(math.log10(min_period), math.log10(max_period), half)
        self.register_buffer("omega", 2 * math.pi / periods, persistent=False)
        self.dim = dim

    def reset_parameters(self) -> None:  # no parameters
        return None

    def forward(self, t: Tensor) -> Tensor:
        arg = t.unsqueeze(-1).double() * self.omega.double()
        enc = torch.cat([torch.sin(arg), torch.cos(arg)], -1).to(torch.get_default_dtype())
        if enc.shape[-1] < self.dim:
            enc = nn.functional.pad(enc, (0, self.dim - enc.shape[-1]))
        return enc[..., : self.dim]


class MaskedAttentionPool(nn.Module):
    """Softmax-weighted sum over real positions (padding gets zero weight)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.score = nn.Linear(dim, 1)

    def reset_parameters(self) -> None:
        self.score.reset_parameters()

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        s = self.score(h).squeeze(-1).masked_fill(~mask, float("-inf"))
        w = torch.softmax(s, dim=-1).nan_to_num(0.0)
        return (w.unsqueeze(-1) * h).sum(1)


def masked_mean(h: Tensor, mask: Tensor) -> Tensor:
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp(min=1.0)


def relative_time(time: Tensor, mask: Tensor) -> Tensor:
    """Times since each series' first real epoch (padding → 0)."""
    big = torch.finfo(time.dtype).max
    t0 = time.masked_fill(~mask, big).min(1, keepdim=True).values
    t0 = torch.where(torch.isfinite(t0) & (t0 < big), t0, torch.zeros_like(t0))
    return (time - t0) * mask


class AdvancedTemporalEncoder(nn.Module):
    """Sequence encoder for irregular, padded light curves.

    Args:
        in_dim: per-epoch feature width.
        hidden_dim: model width (output width is ``hidden_dim``).
        cell: ``lstm``, ``gru`` or ``transformer``.
        num_layers: recurrent / transformer layers.
        heads: attention heads (transformer).
        dropout: dropout.
        num_bands: size of the band embedding table.
        bidirectional: bidirectional recurrence (lstm/gru).
        min_period / max_period: range of the continuous-time encoding [days].
    """

    def __init__(self, in_dim: int, hidden_dim: int = 64, cell: str = "gru", num_layers: int = 2,
                 heads: int = 4, dropout: float = 0.1, num_bands: int = 16, bidirectional: bool = False,
                 min_period: float = 0.01, max_period: float = 3000.0) -> None:
        super().__init__()
        if cell not in CELLS:
            from astrolab.errors import ConfigError

            raise ConfigError(f"unknown temporal cell '{cell}'; use model.cell= one of {', '.join(CELLS)}")
        self.cell, self.hidden_dim = cell, hidden_dim
        self.band_embedding = nn.Embedding(num_bands, hidden_dim)
        self.input_proj = nn.Linear(in_dim, hidden_dim)
        self.time_encoding = ContinuousTimeEncoding(hidden_dim, min_period, max_period)
        self.time_proj = nn.Linear(hidden_dim, hidden_dim)
        if cell == "transformer":
            layer = nn.TransformerEncoderLayer(hidden_dim, heads, dim_feedforward=2 * hidden_dim, dropout=dropout,
                                               batch_first=True, norm_first=True, activation="gelu")
            # no dropout on the attention weights (dropout stays on the residual and feed-forward paths):
            # with it, scaled-dot-product attention falls back to its slow math kernel (3-4x slower on CPU)
            layer.self_attn.dropout = 0.0
            self.net = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
            out = hidden_dim
        else:
            rnn = nn.LSTM if cell == "lstm" else nn.GRU
            self.net = rnn(hidden_dim, hidden_dim, num_layers=num_layers, batch_first=True,
                           dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional)
            out = hidden_dim * (2 if bidirectional else 1)
        self.pool = MaskedAttentionPool(out)
        n_last = out if cell != "transformer" else 0
        self.output = nn.Sequential(nn.Linear(2 * out + n_last, hidden_dim), nn.GELU(), nn.LayerNorm(hidden_dim))
        self.dropout = nn.Dropout(dropout)

    def reset_parameters(self) -> None:
        reset_all(self)
        for m in self.modules():  # attention in-projections are not covered by reset_parameters()
            if isinstance(m, nn.MultiheadAttention):
                m._reset_parameters()

    def embed(self, x: Tensor, time: Tensor, band: Tensor, mask: Tensor) -> Tensor:
        """Per-epoch inputs in model width (features + band embedding (+ time encoding))."""
        h = self.input_proj(x) + self.band_embedding(band.clamp(min=0))
        if self.cell == "transformer":
            h = h + self.time_proj(self.time_encoding(relative_time(time, mask)))
        return self.dropout(h) * mask.unsqueeze(-1)

    def forward(self, x: Tensor, time: Tensor, band: Tensor, mask: Tensor) -> Tensor:
        """``x`` [B, L, F], ``time`` [B, L], ``band`` [B, L] int, ``mask`` [B, L] bool → ``[B, hidden_dim]``."""
        mask = mask.bool()
        h = self.embed(x, time, band, mask)
        lengths = mask.sum(1)
        if self.cell == "transformer":
            out = self.net(h, src_key_padding_mask=~mask)
            out = out.masked_fill(~mask.unsqueeze(-1), 0.0)
            pooled = [self.pool(out, mask), masked_mean(out, mask)]
        else:
            steps = torch.arange(mask.shape[1], device=mask.device)
            if not self.net.bidirectional and torch.equal(mask, steps[None, :] < lengths[:, None]):
                # right-padded, one direction: a real epoch's output depends only on earlier epochs, so the
                # padded batch runs as is (on CPU its backward pass is several times faster than packed)
                out, _ = self.net(h)
                out = out.masked_fill(~mask.unsqueeze(-1), 0.0)
                last = out[torch.arange(out.shape[0], device=out.device), (lengths - 1).clamp(min=0)]
            else:
                safe = lengths.clamp(min=1).cpu()
                packed = pack_padded_sequence(h, safe, batch_first=True, enforce_sorted=False)
                out_p, state = self.net(packed)
                out, _ = pad_packed_sequence(out_p, batch_first=True, total_length=h.shape[1])
                hn = state[0] if isinstance(state, tuple) else state
                last = torch.cat([hn[-2], hn[-1]], -1) if self.net.bidirectional else hn[-1]
            pooled = [self.pool(out, mask), masked_mean(out, mask), last]
        z = self.output(torch.cat(pooled, -1))
        return z * (lengths > 0).unsqueeze(-1).to(z.dtype)
