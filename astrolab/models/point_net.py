"""``AstroPointNet``: PointNet++ on point clouds (star particles of a galaxy, …).

Reads ``batch["points", "pos"]`` ``[B, N, 3]`` and ``batch["points", "x"]`` ``[B, N, F]``; for
``point_registration`` also the reference cloud ``batch["points", "ref"]`` ``[B, N, 3]``.

- ``point_classification``: global feature → head → ``[B, C]``.
- ``point_segmentation``: feature propagation → per-point head → ``[B, N, C]``.
- ``point_registration``: one shared (siamese) encoder for the moved cloud and its reference; the two
  global features are concatenated and a head returns 9 numbers (6-D rotation code + translation),
  in the manner of PCRNet (Sarode et al. 2019).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from astrolab.models.components.heads import create_output_head
from astrolab.models.components.pointnet import ModernPointNetEncoder
from astrolab.models.core import AstroBaseModel


class AstroPointNet(AstroBaseModel):
    """PointNet++ family.

    Args:
        hidden_dim: base width of the encoder.
        num_centroids: centroids per set-abstraction level (e.g. ``[256, 64]``).
        k: neighbours per centroid.
        radius: ball-grouping radii per level in normalised units (``None``: kNN grouping).
        dropout: dropout in the head.
        fps_backend: ``auto`` | ``torch`` | ``torch_cluster``.
        (see :class:`AstroBaseModel` for task, sizes and optimisation)
    """

    default_task = "point_classification"
    supported_tasks = ("point_classification", "point_segmentation", "point_registration")
    data_kinds = ("point_cloud",)

    def __init__(self, task: Any = None, num_features: int | None = None, num_classes: int | None = None,
                 hidden_dim: int = 32, num_centroids: list[int] | tuple[int, ...] = (128, 32), k: int = 16,
                 radius: list[float] | None = None, dropout: float = 0.2, fps_backend: str = "auto",
                 **kwargs: Any) -> None:
        num_centroids = [int(m) for m in num_centroids]  # plain types for checkpoints
        radius = [float(r) for r in radius] if radius is not None else None
        super().__init__(task=task, num_features=num_features, num_classes=num_classes, hidden_dim=hidden_dim,
                         num_centroids=list(num_centroids), k=k,
                         radius=list(radius) if radius is not None else None, dropout=dropout,
                         fps_backend=fps_backend, **kwargs)

    def configure_models(self) -> None:
        hp = self.hparams
        self.encoder = ModernPointNetEncoder(self.num_features, hp.hidden_dim, hp.num_centroids, hp.k,
                                             hp.radius, per_point=self.task.name == "point_segmentation",
                                             fps_backend=hp.fps_backend)
        if self.task.name == "point_segmentation":
            in_dim = self.encoder.point_dim
        elif self.task.name == "point_registration":
            in_dim = 2 * self.encoder.global_dim
        else:
            in_dim = self.encoder.global_dim
        self.head = create_output_head(self.task, in_dim, dropout=hp.dropout)

    def forward(self, batch) -> Tensor:
        pos = batch["points", "pos"]
        feat = batch["points", "x"]
        if self.task.name == "point_registration":
            ref = batch["points", "ref"]
            both_pos = torch.cat([pos, ref], 0)
            both_feat = torch.cat([feat, batch["points", "ref_x"]], 0)
            g, _ = self.encoder(both_pos, both_feat)
            b = pos.shape[0]
            return self.head(torch.cat([g[:b], g[b:]], -1))
        g, per_point = self.encoder(pos, feat)
        if per_point is not None:
            return self.head(per_point)
        return self.head(g)
