"""Graph pooling: node embeddings of a block-diagonal batch → one vector per graph.

``mean``, ``max`` and ``sum`` are PyG's ``global_*_pool``; ``attention`` is global attention pooling
(Li et al. 2016, "Gated Graph Sequence Neural Networks"): a learned gate scores every node, the scores
are soft-maxed within each graph and weight the sum of the nodes (PyG ``AttentionalAggregation``). All
four are invariant to the order of the nodes within a graph.
"""

from __future__ import annotations

from torch import Tensor, nn

from astrolab.models.components.utils import reset_all

POOLINGS = ("mean", "max", "sum", "attention")


class GraphPooling(nn.Module):
    """``forward(x [N, D], graph [N] int64, num_graphs) -> [num_graphs, D]``.

    Args:
        dim: node embedding width.
        mode: ``mean``, ``max``, ``sum`` or ``attention``.
    """

    def __init__(self, dim: int, mode: str = "mean") -> None:
        super().__init__()
        if mode not in POOLINGS:
            from astrolab.errors import ConfigError

            raise ConfigError(f"unknown model.pooling '{mode}'; use one of {', '.join(POOLINGS)}")
        self.mode = mode
        self.out_dim = dim
        if mode == "attention":
            from torch_geometric.nn.aggr import AttentionalAggregation

            gate = nn.Sequential(nn.Linear(dim, max(dim // 2, 1)), nn.GELU(), nn.Linear(max(dim // 2, 1), 1))
            self.attention = AttentionalAggregation(gate_nn=gate)

    def reset_parameters(self) -> None:
        reset_all(self)

    def forward(self, x: Tensor, graph: Tensor, num_graphs: int) -> Tensor:
        if self.mode == "attention":
            return self.attention(x, index=graph, dim_size=num_graphs)
        from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

        pool = {"mean": global_mean_pool, "max": global_max_pool, "sum": global_add_pool}[self.mode]
        return pool(x, graph, size=num_graphs)
