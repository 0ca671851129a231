"""``AstroCosmicWebGNN``: per-particle cosmic-web classification with a multi-scale GNN, and the
``create_cosmic_web_model`` factory of the published design."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from astrolab.keys import scale_key
from astrolab.models.components.cosmic_web import CosmicWebEncoder
from astrolab.models.components.heads import create_output_head
from astrolab.models.core import AstroBaseModel

__all__ = ["AstroCosmicWebGNN", "create_cosmic_web_model", "scale_key"]


class AstroCosmicWebGNN(AstroBaseModel):
    """Multi-scale message passing over particles.

    Reads ``batch["nodes", "x"]`` ``[N, F]``, ``batch["nodes", "pos"]`` ``[N, 3]`` (Mpc/h), the box size
    ``batch["box"]`` (0: not periodic) and one graph per scale ``batch[scale_key(s), "index"]``
    ``[E, 2]``; returns one output row per particle.

    Args:
        scales: neighbour graphs: ints are k of a kNN graph, floats radii in Mpc/h (e.g. ``[8, 16, 32]``).
        hidden_dim, num_layers, dropout: encoder size.
        fusion: ``concat`` | ``sum`` | ``attention``.
    """

    default_task = "cosmic_web_classification"
    supported_tasks = ("cosmic_web_classification", "filament_detection")
    data_kinds = ("particles",)

    def __init__(self, task: Any = None, num_features: int | None = None, num_classes: int | None = None,
                 scales: list[int | float] | tuple = (8, 16, 32), hidden_dim: int = 32, num_layers: int = 2,
                 dropout: float = 0.1, fusion: str = "concat", **kwargs: Any) -> None:
        scales = [s if isinstance(s, int) else float(s) for s in scales]  # plain types for checkpoints
        super().__init__(task=task, num_features=num_features, num_classes=num_classes, scales=list(scales),
                         hidden_dim=hidden_dim, num_layers=num_layers, dropout=dropout, fusion=fusion, **kwargs)

    def configure_models(self) -> None:
        hp = self.hparams
        self.keys = [scale_key(s) for s in hp.scales]
        self.encoder = CosmicWebEncoder(self.num_features, hp.hidden_dim, len(self.keys), hp.num_layers,
                                        hp.fusion, hp.dropout)
        self.head = create_output_head(self.task, hp.hidden_dim, dropout=hp.dropout)

    def forward(self, batch) -> Tensor:
        missing = [k for k in self.keys if k not in batch.keys()]
        if missing:
            from astrolab.errors import ConfigError

            raise ConfigError(f"the batch has no neighbour graph {', '.join(missing)}; set dataset.scales to "
                              f"include the model's scales {list(self.hparams.scales)}")
        box = batch.get("box", None)
        boxsize = float(box) if box is not None and float(box) > 0 else None
        edges = [batch[k, "index"].t() for k in self.keys]
        h = self.encoder(batch["nodes", "x"], batch["nodes", "pos"], edges, boxsize)
        return self.head(h)


def create_cosmic_web_model(**kw: Any) -> AstroCosmicWebGNN:
    """Build an :class:`AstroCosmicWebGNN` (e.g. ``create_cosmic_web_model(num_features=3,
    task="cosmic_web_classification", num_classes=4, scales=[8, 16, 32])``)."""
    kw.setdefault("task", AstroCosmicWebGNN.default_task)
    return AstroCosmicWebGNN(**kw)
