"""``MultiModalFusion``: fuse per-object embeddings of whatever modalities are present.

Each modality ``m`` brings an embedding ``[B, D_m]`` (key ``(m, "embedding")`` by default) and optionally
a per-object presence flag (e.g. ``has_spectrum``); a modality whose embedding is absent from the
TensorDict (photometry-only data) counts as missing for every object. Embeddings of missing objects are
replaced by zeros with ``torch.where`` before anything else, so whatever sits in a missing slot
(garbage, NaN) cannot reach the output. Modes:

* ``concat``: per modality, the projection or a learned "missing" token, concatenated with the presence
  flags → MLP;
* ``gated``: softmax gates over the present modalities (missing ones get −inf) weigh the projections;
* ``cross_attention``: the first modality (always present, e.g. photometry) queries the tokens of all
  modalities with a key-padding mask for the missing ones; residual + LayerNorm + feed-forward.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from astrolab.models.components.tensordict_module import AstroTensorDictModule, as_key

FUSION_MODES = ("concat", "gated", "cross_attention")


class MultiModalFusion(AstroTensorDictModule):
    """Args:
        in_dims: ``{modality: embedding width}`` in order; the first is the anchor (always present).
        out_dim: fused width. mode: ``concat``, ``gated`` or ``cross_attention``. heads, dropout.
        embedding_keys: ``{modality: key}`` (default ``(modality, "embedding")``).
        presence_keys: ``{modality: key of a bool [B] flag}`` (default ``{"spectrum": "has_spectrum"}``
            when a spectrum modality exists).
        out_keys: the fused embedding (default ``("fusion", "embedding")``).
    """

    def __init__(self, in_dims: Mapping[str, int], out_dim: int = 128, mode: str = "gated", heads: int = 4,
                 dropout: float = 0.1, embedding_keys: Mapping[str, Any] | None = None,
                 presence_keys: Mapping[str, Any] | None = None,
                 out_keys: Sequence[Any] = (("fusion", "embedding"),)) -> None:
        if mode not in FUSION_MODES:
            from astrolab.errors import ConfigError

            raise ConfigError(f"unknown fusion '{mode}'; use model.fusion= one of {', '.join(FUSION_MODES)}")
        self.modalities = list(in_dims)
        emb = {m: as_key((embedding_keys or {}).get(m, (m, "embedding"))) for m in self.modalities}
        if presence_keys is None:
            presence_keys = {"spectrum": "has_spectrum"} if "spectrum" in in_dims else {}
        pres = {m: as_key(k) for m, k in presence_keys.items() if m in in_dims and k}
        in_keys = [emb[m] for m in self.modalities] + [pres[m] for m in self.modalities if m in pres]
        super().__init__(in_keys, out_keys)
        self.has_presence = [m in pres for m in self.modalities]
        self.mode, self.out_dim = mode, out_dim
        self.proj = nn.ModuleList(nn.Linear(in_dims[m], out_dim) for m in self.modalities)
        n = len(self.modalities)
        if mode == "concat":
            self.missing = nn.Parameter(torch.zeros(n, out_dim))
            self.mix = nn.Sequential(nn.Linear(n * out_dim + n, out_dim), nn.GELU(), nn.Dropout(dropout),
                                     nn.Linear(out_dim, out_dim))
        elif mode == "gated":
            self.gate = nn.ModuleList(nn.Linear(in_dims[m], 1) for m in self.modalities)
        else:
            self.type_embedding = nn.Parameter(torch.zeros(n, out_dim))
            self.attn = nn.MultiheadAttention(out_dim, heads, dropout=dropout, batch_first=True)
            self.norm1 = nn.LayerNorm(out_dim)
            self.norm2 = nn.LayerNorm(out_dim)
            self.ff = nn.Sequential(nn.Linear(out_dim, 2 * out_dim), nn.GELU(), nn.Dropout(dropout),
                                    nn.Linear(2 * out_dim, out_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for name in ("missing", "type_embedding"):
            p = getattr(self, name, None)
            if p is not None:
                nn.init.normal_(p, std=0.02)

    def compute(self, *inputs: Tensor | None) -> Tensor:
        n_mod = len(self.modalities)
        embs = list(inputs[:n_mod])
        flags = iter(inputs[n_mod:])
        anchor = embs[0]
        if anchor is None:
            raise ValueError(f"the anchor modality '{self.modalities[0]}' has no embedding in the batch")
        b = anchor.shape[0]
        present = []
        for emb, has_flag in zip(embs, self.has_presence):
            flag = next(flags) if has_flag else None
            if emb is None:
                present.append(torch.zeros(b, dtype=torch.bool, device=anchor.device))
            elif flag is None:
                present.append(torch.ones(b, dtype=torch.bool, device=anchor.device))
            else:
                present.append(flag.reshape(b).bool())
        present[0] = torch.ones_like(present[0])
        tokens = []
        for i, emb in enumerate(embs):
            if emb is None:
                tokens.append(torch.zeros(b, self.out_dim, device=anchor.device, dtype=anchor.dtype))
                continue
            clean = torch.where(present[i].unsqueeze(-1), emb, torch.zeros_like(emb))
            tokens.append(self.proj[i](clean))
        pres = torch.stack(present, 1)  # [B, M]
        if self.mode == "concat":
            filled = [torch.where(pres[:, i:i + 1], t, self.missing[i].expand_as(t)) for i, t in enumerate(tokens)]
            return self.mix(torch.cat([*filled, pres.float()], -1))
        if self.mode == "gated":
            scores = []
            for i, emb in enumerate(embs):
                if emb is None:
                    scores.append(torch.full((b,), float("-inf"), device=anchor.device))
                    continue
                clean = torch.where(pres[:, i:i + 1], emb, torch.zeros_like(emb))
                s = self.gate[i](clean).squeeze(-1)
                scores.append(torch.where(pres[:, i], s, torch.full_like(s, float("-inf"))))
            w = torch.softmax(torch.stack(scores, 1), 1)  # anchor always present: finite
            stacked = torch.stack(tokens, 1)
            stacked = torch.where(pres.unsqueeze(-1), stacked, torch.zeros_like(stacked))
            return (w.unsqueeze(-1) * stacked).sum(1)
        stacked = torch.stack(tokens, 1) + self.type_embedding.unsqueeze(0)
        stacked = torch.where(pres.unsqueeze(-1), stacked, torch.zeros_like(stacked))
        query = stacked[:, :1]
        att, _ = self.attn(query, stacked, stacked, key_padding_mask=~pres, need_weights=False)
        h = self.norm1(query + att)
        return self.norm2(h + self.ff(h)).squeeze(1)
