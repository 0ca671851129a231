"""``CosmicWebEncoder``: message passing on several neighbour graphs of the same particles at once.

Each scale (a kNN graph with k neighbours, or a radius graph in Mpc/h) has its own message function;
per layer the per-scale aggregates are fused (``concat`` → linear, ``sum``, or ``attention``: a learned
softmax over scales per particle) and added to the particle state (residual + LayerNorm). Edge
features are the separation vector between neighbours under the minimum-image convention of a periodic
box (when a box size is given), divided by the graph's mean edge length, and its length — so the
network sees the local shape of the particle distribution (sheets are flat, filaments elongated) at
every scale.

A message is ``act(A h_dst + B h_src + C e)`` (linear in its inputs before the activation, so the work
per edge is one elementwise pass; the matrix products run per particle), averaged over neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from astrolab.models.components.utils import make_activation, reset_all

FUSIONS = ("concat", "sum", "attention")


def minimum_image(delta: Tensor, boxsize: float | Tensor | None) -> Tensor:
    """Separation vectors wrapped into ``[-L/2, L/2)`` for a periodic box of side ``boxsize``."""
    if boxsize is None:
        return delta
    return delta - boxsize * torch.round(delta / boxsize)


def edge_features(pos: Tensor, edge_index: Tensor, boxsize: float | Tensor | None) -> Tensor:
    """``[E, 4]``: (separation / mean length, length / mean length), source → target."""
    d = minimum_image(pos[edge_index[0]] - pos[edge_index[1]], boxsize)
    r = d.norm(dim=-1, keepdim=True)
    scale = r.mean().detach().clamp(min=1e-12)
    return torch.cat([d / scale, r / scale], -1)


class MultiScaleLayer(nn.Module):
    """One round of per-scale message passing, fused."""

    def __init__(self, dim: int, num_scales: int, fusion: str = "concat", dropout: float = 0.0,
                 activation: str = "gelu") -> None:
        super().__init__()
        if fusion not in FUSIONS:
            from astrolab.errors import ConfigError

            raise ConfigError(f"unknown fusion '{fusion}'; use one of {', '.join(FUSIONS)}")
        self.fusion = fusion
        self.dst = nn.ModuleList(nn.Linear(dim, dim) for _ in range(num_scales))
        self.src = nn.ModuleList(nn.Linear(dim, dim, bias=False) for _ in range(num_scales))
        self.edge = nn.ModuleList(nn.Linear(4, dim, bias=False) for _ in range(num_scales))
        self.post = nn.ModuleList(nn.Linear(dim, dim) for _ in range(num_scales))
        self.act = make_activation(activation)
        if fusion == "concat":
            self.fuse = nn.Linear(num_scales * dim, dim)
        elif fusion == "attention":
            self.fuse = nn.Linear(dim, 1)
        else:
            self.fuse = nn.Identity()
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def reset_parameters(self) -> None:
        reset_all(self)

    def forward(self, h: Tensor, graphs: Sequence[tuple[Tensor, Tensor]]) -> Tensor:
        from torch_geometric.utils import scatter

        outs = []
        for s, (edge_index, e) in enumerate(graphs):
            src, dst = edge_index[0], edge_index[1]
            msg = self.act(self.dst[s](h)[dst] + self.src[s](h)[src] + self.edge[s](e))
            agg = scatter(msg, dst, dim=0, dim_size=h.shape[0], reduce="mean")
            outs.append(self.post[s](agg))
        if self.fusion == "concat":
            fused = self.fuse(torch.cat(outs, -1))
        elif self.fusion == "sum":
            fused = torch.stack(outs, 0).sum(0)
        else:
            stack = torch.stack(outs, 1)                    # [N, S, D]
            w = torch.softmax(self.fuse(torch.tanh(stack)), dim=1)
            fused = (w * stack).sum(1)
        return self.norm(h + self.dropout(self.act(fused)))


class CosmicWebEncoder(nn.Module):
    """Input projection + ``num_layers`` multi-scale layers.

    Args:
        in_dim: particle feature width.
        hidden_dim: state width.
        num_scales: number of neighbour graphs passed to ``forward``.
        num_layers: message-passing rounds.
        fusion: ``concat``, ``sum`` or ``attention``.
        dropout: dropout on each layer's update.

    ``forward(x [N, F], pos [N, 3], edge_indices: list of [2, E_s], boxsize)`` → ``[N, hidden_dim]``.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 64, num_scales: int = 3, num_layers: int = 3,
                 fusion: str = "concat", dropout: float = 0.1) -> None:
        super().__init__()
        self.inp = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.LayerNorm(hidden_dim), nn.GELU())
        self.layers = nn.ModuleList(MultiScaleLayer(hidden_dim, num_scales, fusion, dropout)
                                    for _ in range(num_layers))
        self.num_scales = num_scales
        self.out_dim = hidden_dim

    def reset_parameters(self) -> None:
        reset_all(self)

    def forward(self, x: Tensor, pos: Tensor, edge_indices: Sequence[Tensor],
                boxsize: float | Tensor | None = None) -> Tensor:
        if len(edge_indices) != self.num_scales:
            raise ValueError(f"expected {self.num_scales} neighbour graphs, got {len(edge_indices)}")
        graphs = [(ei, edge_features(pos, ei, boxsize)) for ei in edge_indices]
        h = self.inp(x)
        for layer in self.layers:
            h = layer(h, graphs)
        return h
