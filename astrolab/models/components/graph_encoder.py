"""``ModernGraphEncoder``: stacked message passing (GCN / GAT / SAGE / GIN) with residuals and norms.

``conv_type="none"`` keeps the same depth and width but ignores the edges, which makes the no-graph
baseline (``model=mlp``) directly comparable with the graph models.
"""

from __future__ import annotations

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

    def forward(self, x: Tensor, edge_index: Tensor | None = None) -> Tensor:
        if edge_index is None and self.conv_type != "none":
            raise ValueError(f"conv_type={self.conv_type} needs an edge_index")
        x = self.act(self.input(x))
        for i in range(len(self.convs)):
            if self.gradient_checkpointing and self.training:
                from torch.utils.checkpoint import checkpoint

                x = checkpoint(self._layer, i, x, edge_index, use_reentrant=False)
            else:
                x = self._layer(i, x, edge_index)
        return x
