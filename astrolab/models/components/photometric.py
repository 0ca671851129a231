"""``PhotometricEncoder``: magnitudes, colours and their errors → an embedding (a tensordict module).

Two input layouts:

* one key (default ``("photometry", "features")``): a feature vector the data module already built and
  standardised (magnitudes, colours, psf−model, log errors …; see :mod:`astrolab.data.surveys.sdss`);
* two or three keys ``(mag, mag_err[, extra])`` with raw magnitudes ``[B, n_bands]``: the encoder forms
  the adjacent colours ``m_i − m_{i+1}`` and ``log10(err)`` itself and standardises the derived inputs
  with a (non-affine) BatchNorm, so raw survey magnitudes can be fed directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from astrolab.models.components.mlp import EnhancedMLPBlock
from astrolab.models.components.tensordict_module import AstroTensorDictModule


class PhotometricEncoder(AstroTensorDictModule):
    """MLP encoder of photometry.

    Args:
        in_dim: width of the feature vector (one-key layout) or number of bands (raw layout).
        hidden_dim: embedding width (output).
        num_layers / dropout / norm: the MLP.
        num_extra: width of the optional third (extra) input in the raw layout.
        in_keys / out_keys: see the module docstring.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 128, num_layers: int = 3, dropout: float = 0.1,
                 norm: str = "layer", num_extra: int = 0,
                 in_keys: Sequence[Any] = (("photometry", "features"),),
                 out_keys: Sequence[Any] = (("photometry", "embedding"),)) -> None:
        super().__init__(in_keys, out_keys)
        self.raw = len(self.in_keys) > 1
        width = (in_dim + (in_dim - 1) + in_dim + num_extra) if self.raw else in_dim
        self.input_norm = nn.BatchNorm1d(width, affine=False) if self.raw else nn.Identity()
        self.mlp = EnhancedMLPBlock(width, hidden_dim, out_dim=hidden_dim, num_layers=num_layers,
                                    norm=norm, dropout=dropout)
        self.out_dim = hidden_dim

    def compute(self, x: Tensor, mag_err: Tensor | None = None, extra: Tensor | None = None) -> Tensor:
        if self.raw:
            mags = x
            parts = [mags, mags[:, :-1] - mags[:, 1:]]
            if mag_err is not None:
                parts.append(torch.log10(mag_err.clamp(min=1e-4)))
            if extra is not None:
                parts.append(extra)
            x = self.input_norm(torch.cat(parts, -1).float())
        return self.mlp(x.float())
