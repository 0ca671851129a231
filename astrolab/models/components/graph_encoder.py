"""``ModernGraphEncoder``: stacked message passing (GCN / GAT / SAGE / GIN) with residuals and norms.

``conv_type="none"`` keeps the same depth and width but ignores the edges, which makes the no-graph
baseline (``model=mlp``) directly comparable with the graph models.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from astrolab.models.components.mlp import EnhancedMLPBlock
from astrolab.models.components.utils import make_activation, make_norm, reset_all

CONV_TYPES = ("gcn", "gat", "sage", "gin", "none")


def make_conv(conv_type: str, dim: int, heads: int = 4, dropout: float = 0.0) -> nn.Module:
    """One message-passing layer mapping ``dim`` → ``dim``."""
    import torch_geometric.nn as gnn

    if conv_type == "gcn":
        return gnn.GCNConv(dim, dim)
    if conv_type == "gat":
        if dim % heads:
            from astrolab.errors import ConfigError

            raise ConfigError(f"model.hidden_dim={dim} must be divisible by model.heads={heads} for GAT")
        return gnn.GATConv(dim, dim // heads, heads=heads, concat=True, dropout=dropout)
    if conv_type == "sage":
        return gnn.SAGEConv(dim, dim)
    if conv_type == "gin":
        return gnn.GINConv(nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim)), train_eps=True)
    if conv_type == "none":
        return EnhancedMLPBlock(dim, dim, num_layers=1, norm="none", residual=False)
    from astrolab.errors import ConfigError

    raise ConfigError(f"unknown model.conv_type '{conv_type}'; use one of {', '.join(CONV_TYPES)}")


class ModernGraphEncoder(nn.Module):
    """Input projection, then ``num_layers`` × (conv → norm → activation → dropout → residual add).

    Args:
        in_dim: node feature width.
        hidden_dim: width of every layer.
        num_layers: message-passing layers.
        conv_type: ``gcn``, ``gat``, ``sage``, ``gin`` or ``none`` (no message passing).
        heads: attention heads (GAT).
        dropout: dropout after each layer (and on GAT attention weights).
        norm: ``batch``, ``layer`` or ``none``.
        residual: add each layer's input to its output.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 64, num_layers: int = 2, conv_type: str = "gcn",
                 heads: int = 4, dropout: float = 0.1, norm: str = "layer", residual: bool = True,
                 activation: str = "gelu") -> None:
        super().__init__()
        self.conv_type = conv_type
        self.input = nn.Linear(in_dim, hidden_dim)
        self.convs = nn.ModuleList(make_conv(conv_type, hidden_dim, heads, dropout) for _ in range(num_layers))
        self.norms = nn.ModuleList(make_norm(norm, hidden_dim) for _ in range(num_layers))
        self.act = make_activation(activation)
        self.dropout = nn.Dropout(dropout)
        self.residual = residual
        self.out_dim = hidden_dim
        self.gradient_checkpointing = False

    def reset_parameters(self) -> None:
        reset_all(self)

    def _layer(self, i: int, x: Tensor, edge_index: Tensor) -> Tensor:
        conv = self.convs[i]
        h = conv(x) if self.conv_type == "none" else conv(x, edge_index)
        h = self.dropout(self.act(self.norms[i](h)))
        return x + h if self.residual else h

    def trims(self) -> bool:
        """Whether :meth:`forward` can skip outputs by hop: each layer's output at a node depends on that
        node's incoming edges only (GAT softmax, SAGE mean, GIN sum, per-node norms). GCN's normalisation
        reads the degree of each source, and batch norm statistics read every node: not trimmed."""
        return self.conv_type in ("gat", "sage", "gin") and not isinstance(self.norms[0], nn.BatchNorm1d)

    def forward(self, x: Tensor, edge_index: Tensor | None = None, hop: Tensor | None = None) -> Tensor:
        """``hop`` (optional, [N] int64, non-decreasing, 0 for the nodes whose outputs are read): the nodes'
        hop distance from those nodes (a sky tile). Layer ``i`` of ``L`` then computes outputs only for nodes
        within ``L - 1 - i`` hops, from inputs within ``L - i`` hops; the output rows of other nodes are
        zeros (exact for the hop-0 rows, and less work: the outer rings of a tile are its largest part)."""
        if edge_index is None and self.conv_type != "none":
            raise ValueError(f"conv_type={self.conv_type} needs an edge_index")
        n_all = x.shape[0]
        trim = hop is not None and self.trims() and len(self.convs) > 0
        if trim:
            n_layers = len(self.convs)
            counts = torch.bincount(hop.clamp(max=n_layers), minlength=n_layers + 1).cumsum(0).tolist()
            x = x[:counts[n_layers]]  # nodes within L hops (the rows are ordered by hop)
        x = self.act(self.input(x))
        for i in range(len(self.convs)):
            ei = edge_index
            if trim:
                keep_in, keep_out = counts[n_layers - i], counts[n_layers - 1 - i]
                x = x[:keep_in]
                ei = edge_index[:, edge_index[1] < keep_out]  # edges into the nodes this layer must output
            if self.gradient_checkpointing and self.training:
                from torch.utils.checkpoint import checkpoint

                x = checkpoint(self._layer, i, x, ei, use_reentrant=False)
            else:
                x = self._layer(i, x, ei)
        if trim and x.shape[0] < n_all:
            x = torch.cat([x, x.new_zeros(n_all - x.shape[0], x.shape[1])])
        return x
