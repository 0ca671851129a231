"""``CosmicWebEncoder``: message passing on several neighbour graphs of the same particles at once.

Each scale (a kNN graph with k neighbours, or a radius graph in Mpc/h) is one graph. A layer aggregates
the neighbours' states on every graph (mean over neighbours, done as one sparse matrix product per
graph) and updates each particle from (its state, the aggregate, the local geometry at that scale); the
per-scale updates are fused (``concat`` → linear, ``sum``, or ``attention``: a learned softmax over
scales per particle) and added to the state (residual + LayerNorm).

Local geometry at a scale comes from the separation vectors to the neighbours, under the minimum-image
convention of a periodic box when a box size is given: the mean neighbour distance (log), the length
of the mean separation (how off-centre the particle sits), and the eigenvalues of the neighbours'
second-moment tensor divided by its trace (≈ 1/3 each in an isotropic cloud, one large eigenvalue along
a filament, two in a sheet). They are rotation invariant and computed once per graph.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from astrolab.models.components.utils import make_activation, reset_all

FUSIONS = ("concat", "sum", "attention")
GEOMETRY_DIM = 5


def minimum_image(delta: Tensor, boxsize: float | Tensor | None) -> Tensor:
    """Separation vectors wrapped into ``[-L/2, L/2]`` for a periodic box of side ``boxsize``."""
    if boxsize is None:
        return delta
    return delta - boxsize * torch.round(delta / boxsize)


def mean_operator(edge_index: Tensor, n: int) -> Tensor:
    """Sparse ``[n, n]`` matrix averaging over each target's sources (``edge_index`` ``[2, E]``)."""
    src, dst = edge_index[0], edge_index[1]
    deg = torch.bincount(dst, minlength=n).clamp(min=1).to(torch.float32)
    a = torch.sparse_coo_tensor(torch.stack([dst, src]), 1.0 / deg[dst], (n, n), check_invariants=False)
    return a.coalesce()


def local_geometry(pos: Tensor, edge_index: Tensor, boxsize: float | Tensor | None) -> Tensor:
    """``[N, 5]`` rotation-invariant descriptors of each particle's neighbourhood (see module doc)."""
    n = pos.shape[0]
    src, dst = edge_index[0], edge_index[1]
    d = minimum_image(pos[src] - pos[dst], boxsize).double()
    from torch_geometric.utils import scatter

    r = d.norm(dim=-1)
    mean_r = scatter(r, dst, dim=0, dim_size=n, reduce="mean").clamp(min=1e-9)
    mean_d = scatter(d, dst, dim=0, dim_size=n, reduce="mean")
    outer = (d.unsqueeze(-1) * d.unsqueeze(-2)).reshape(-1, 9)
    m2 = scatter(outer, dst, dim=0, dim_size=n, reduce="mean").reshape(n, 3, 3)
    eig = torch.linalg.eigvalsh(m2)
    eig = eig / eig.sum(-1, keepdim=True).clamp(min=1e-18)
    return torch.cat([torch.log(mean_r).unsqueeze(-1), (mean_d.norm(dim=-1) / mean_r).unsqueeze(-1), eig],
                     -1).float()


class MultiScaleLayer(nn.Module):
    """One round of message passing on every scale's graph, fused."""

    def __init__(self, dim: int, num_scales: int, fusion: str = "concat", dropout: float = 0.0,
                 activation: str = "gelu") -> None:
        super().__init__()
        if fusion not in FUSIONS:
            from astrolab.errors import ConfigError

            raise ConfigError(f"unknown fusion '{fusion}'; use one of {', '.join(FUSIONS)}")
        self.fusion = fusion
        self.update = nn.ModuleList(nn.Linear(2 * dim + GEOMETRY_DIM, dim) for _ in range(num_scales))
        self.act = make_activation(activation)
        if fusion == "concat":
            self.fuse = nn.Linear(num_scales * dim, dim)
        elif fusion == "attention":
            self.fuse = nn.Linear(dim, 1, bias=False)  # a bias would cancel in the softmax over scales
        else:
            self.fuse = nn.Identity()
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def reset_parameters(self) -> None:
        reset_all(self)

    def forward(self, h: Tensor, graphs: Sequence[tuple[Tensor, Tensor]]) -> Tensor:
        outs = []
        for s, (mean_op, geo) in enumerate(graphs):
            agg = torch.sparse.mm(mean_op, h)
            outs.append(self.act(self.update[s](torch.cat([h, agg, geo], -1))))
        if self.fusion == "concat":
            fused = self.fuse(torch.cat(outs, -1))
        elif self.fusion == "sum":
            fused = torch.stack(outs, 0).sum(0)
        else:
            stack = torch.stack(outs, 1)                    # [N, S, D]
            w = torch.softmax(self.fuse(torch.tanh(stack)), dim=1)
            fused = (w * stack).sum(1)
        return self.norm(h + self.dropout(fused))


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
    The graph operators and geometry depend only on positions and graphs, so they are computed once
    and reused while the same graph tensors come back (training on one box).
    """

    def __init__(self, in_dim: int, hidden_dim: int = 64, num_scales: int = 3, num_layers: int = 3,
                 fusion: str = "concat", dropout: float = 0.1) -> None:
        super().__init__()
        self.inp = nn.Sequential(nn.Linear(in_dim + num_scales * GEOMETRY_DIM, hidden_dim),
                                 nn.LayerNorm(hidden_dim), nn.GELU())
        self.layers = nn.ModuleList(MultiScaleLayer(hidden_dim, num_scales, fusion, dropout)
                                    for _ in range(num_layers))
        self.num_scales = num_scales
        self.out_dim = hidden_dim
        self._cache: dict[int, tuple[tuple, Tensor, Tensor]] = {}

    def reset_parameters(self) -> None:
        reset_all(self)
        self._cache.clear()

    def _graph(self, s: int, pos: Tensor, edge_index: Tensor, boxsize) -> tuple[Tensor, Tensor]:
        key = (edge_index.data_ptr(), pos.data_ptr(), tuple(edge_index.shape), pos.shape[0], str(pos.device),
               boxsize, float(pos[:2].sum()), int(edge_index[:, :2].sum()), int(edge_index[:, -2:].sum()))
        hit = self._cache.get(s)
        if hit is not None and hit[0] == key:
            return hit[1], hit[2]
        with torch.no_grad():
            op = mean_operator(edge_index, pos.shape[0])
            geo = local_geometry(pos, edge_index, boxsize)
        self._cache[s] = (key, op, geo)
        return op, geo

    def forward(self, x: Tensor, pos: Tensor, edge_indices: Sequence[Tensor],
                boxsize: float | Tensor | None = None) -> Tensor:
        if len(edge_indices) != self.num_scales:
            raise ValueError(f"expected {self.num_scales} neighbour graphs, got {len(edge_indices)}")
        graphs = [self._graph(s, pos, ei, boxsize) for s, ei in enumerate(edge_indices)]
        h = self.inp(torch.cat([x, *[g for _, g in graphs]], -1))
        for layer in self.layers:
            h = layer(h, graphs)
        return h
