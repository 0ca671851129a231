"""``AstroNodeGNN``: one prediction per node of a graph (stars in a kNN graph of a catalog)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from astrolab.models.components.graph_encoder import ModernGraphEncoder
from astrolab.models.components.heads import create_output_head
from astrolab.models.core import AstroBaseModel


class AstroNodeGNN(AstroBaseModel):
    """Graph encoder + per-node head.

    Reads ``batch["nodes", "x"]`` and ``batch["edges", "index"]`` (``[E, 2]``, source → target) and
    returns one output row per node.

    Args:
        conv_type: ``gcn``, ``gat``, ``sage``, ``gin``, or ``none`` (the no-graph MLP baseline).
        hidden_dim, num_layers, heads, dropout, norm, residual: encoder architecture.
        (see :class:`AstroBaseModel` for task, sizes and optimisation)
    """

    default_task = "node_classification"
    supported_tasks = ("node_classification", "node_regression", "node_segmentation")
    data_kinds = ("node_graph",)
    #: searchable dimensions (ArchitectureSearchMixin → ``search_space()`` for ``astrolab hpo``)
    search_dimensions = {"hidden_dim": [32, 64, 128], "num_layers": (2, 4), "conv_type": ["gcn", "gat", "sage", "gin"],
                         "heads": [2, 4], "dropout": (0.0, 0.5), "lr": ("log", 1e-4, 1e-2)}

    def __init__(self, task: Any = None, num_features: int | None = None, num_classes: int | None = None,
                 hidden_dim: int = 64, num_layers: int = 3, conv_type: str = "gat", heads: int = 4,
                 dropout: float = 0.1, norm: str = "layer", residual: bool = True, **kwargs: Any) -> None:
        super().__init__(task=task, num_features=num_features, num_classes=num_classes,
                         hidden_dim=hidden_dim, num_layers=num_layers, conv_type=conv_type, heads=heads,
                         dropout=dropout, norm=norm, residual=residual, **kwargs)

    @classmethod
    def tiling_hints(cls, hparams: Any) -> dict[str, Any]:
        """What tiled training needs from this model, read from its config (no model is built): the hops a
        node's output depends on (one per layer; GCN one more, its normalisation reads the degree of the
        outermost sources; none for the MLP) and the float32 activations a training pass keeps per node and
        per edge (the data module sizes its tiles and chooses full-batch or tiles with these)."""
        get = hparams.get if hasattr(hparams, "get") else (lambda k, d=None: getattr(hparams, k, d))
        layers, conv = int(get("num_layers", 3) or 0), str(get("conv_type", "gat"))
        hidden, heads = int(get("hidden_dim", 64) or 64), int(get("heads", 4) or 1)
        hops = 0 if conv == "none" else layers + (1 if conv == "gcn" else 0)
        # per layer, fitted for the default GAT (python benchmarks/tile_estimate.py --fit): ~1.3 kB per node and
        # ~610 B per edge (gathered messages [E, hidden] and attention [E, heads] kept for the backward pass)
        per_edge = 0 if conv == "none" else 2 * hidden + (8 * heads if conv == "gat" else 0)
        trims = conv in ("gat", "sage", "gin") and str(get("norm", "layer")) != "batch"
        return {"num_hops": hops, "activation_floats": {"node": 6 * hidden, "edge": per_edge, "layers": layers,
                                                         "trims": trims}}

    def configure_models(self) -> None:
        hp = self.hparams
        self.encoder = ModernGraphEncoder(self.num_features, hp.hidden_dim, hp.num_layers, hp.conv_type,
                                          hp.heads, hp.dropout, hp.norm, hp.residual)
        self.head = create_output_head(self.task, hp.hidden_dim, dropout=hp.dropout)

    def forward(self, batch) -> Tensor:
        x = batch["nodes", "x"]
        edge_index = None if self.hparams.conv_type == "none" else batch["edges", "index"].t()
        hop = batch.get(("nodes", "hop"), None)  # sky tiles: skip outputs beyond the core's reach
        return self.head(self.encoder(x, edge_index, hop=hop))
