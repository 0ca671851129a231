"""``AstroPointNet``: PointNet++ on point clouds (star particles of a galaxy, …).

Reads ``batch["points", "pos"]`` ``[B, N, 3]`` and ``batch["points", "x"]`` ``[B, N, F]``; for
``point_registration`` also the reference cloud ``batch["points", "ref"]`` ``[B, N, 3]``.

- ``point_classification``: global feature → head → ``[B, C]``.
- ``point_segmentation``: feature propagation → per-point head → ``[B, N, C]``.
- ``point_registration``: both clouds are centred on their centroids and go through one shared (siamese)
  encoder with feature propagation; per-point embeddings give soft correspondences (softmax of the
  scaled dot products), and the rotation is the weighted Procrustes/Kabsch solution (SVD) between the
  moved cloud and its soft-matched reference points, as in Deep Closest Point (Wang & Solomon 2019).
  The translation follows from the centroids, ``t = c_ref - R c_src``. The output is the task's 9
  numbers (the rotation's first two rows = its 6-D code, then ``t``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from astrolab.models.components.heads import create_output_head
from astrolab.models.components.pointnet import ModernPointNetEncoder, procrustes_rotation
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
        per_point = self.task.name in ("point_segmentation", "point_registration")
        self.encoder = ModernPointNetEncoder(self.num_features, hp.hidden_dim, hp.num_centroids, hp.k,
                                             hp.radius, per_point=per_point, fps_backend=hp.fps_backend)
        if self.task.name == "point_registration":
            self.head = torch.nn.Linear(self.encoder.point_dim, self.encoder.point_dim)  # matching embedding
            return
        in_dim = self.encoder.point_dim if per_point else self.encoder.global_dim
        self.head = create_output_head(self.task, in_dim, dropout=hp.dropout)

    def forward(self, batch) -> Tensor:
        pos = batch["points", "pos"]
        feat = batch["points", "x"]
        if self.task.name == "point_registration":
            return self._register(pos, batch["points", "ref"])
        g, per_point = self.encoder(pos, feat)
        if per_point is not None:
            return self.head(per_point)
        return self.head(g)

    def _register(self, src: Tensor, ref: Tensor) -> Tensor:
        b = src.shape[0]
        c_src, c_ref = src.mean(1, keepdim=True), ref.mean(1, keepdim=True)
        ps, pr = src - c_src, ref - c_ref
        both = torch.cat([ps, pr], 0)
        _, f = self.encoder(both, both)
        e = self.head(f)
        es, er = e[:b], e[b:]
        attn = torch.softmax(es @ er.transpose(1, 2) / es.shape[-1] ** 0.5, dim=-1)
        virtual = attn @ pr                                       # soft-matched reference points
        virtual = virtual - virtual.mean(1, keepdim=True)
        rot = procrustes_rotation(ps, virtual)                   # virtual ≈ rot @ ps
        t = c_ref.squeeze(1) - (rot @ c_src.transpose(1, 2)).squeeze(-1)
        return torch.cat([rot[:, 0], rot[:, 1], t], -1)
