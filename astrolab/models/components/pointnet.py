"""PointNet++ building blocks (Qi et al. 2017, "PointNet++: Deep Hierarchical Feature Learning on Point
Sets in a Metric Space"), written in plain torch on dense ``[B, N, ...]`` batches.

- :func:`farthest_point_sample`: greedy farthest point sampling (pure torch, vectorised over the batch;
  torch-cluster's ``fps`` when it is installed and ``backend="auto"``). The first point is the one
  farthest from the cloud's centroid, so the selected set does not depend on the point order.
- :func:`group_neighbours`: kNN grouping, or ball grouping (kNN restricted to a radius; neighbours beyond
  it are replaced by the nearest one, as in the original ball query).
- :class:`SetAbstraction`: sample centroids → group → shared MLP on (relative position, features) →
  max pooling. ``num_centroids=None`` makes it the global abstraction (one feature per cloud).
- :class:`FeaturePropagation`: inverse-distance interpolation from the sparse level to the dense level
  (3 nearest neighbours), concatenated with the skip features, then a shared MLP.
- :func:`procrustes_rotation`: the rotation best aligning two centred point sets (Kabsch, via SVD).
- :class:`ModernPointNetEncoder`: the stack; returns the global feature and, if asked, per-point features.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from astrolab.models.components.utils import make_activation, reset_all


def _gather(x: Tensor, idx: Tensor) -> Tensor:
    """``x [B, N, C]``, ``idx [B, ...]`` → ``[B, ..., C]``."""
    b = x.shape[0]
    flat = idx.reshape(b, -1)
    out = torch.gather(x, 1, flat.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
    return out.reshape(*idx.shape, x.shape[-1])


def _fps_torch(pos: Tensor, m: int) -> Tensor:
    b, n, _ = pos.shape
    idx = torch.empty(b, m, dtype=torch.long, device=pos.device)
    centroid = pos.mean(1, keepdim=True)
    farthest = ((pos - centroid) ** 2).sum(-1).argmax(-1)
    dist = torch.full((b, n), float("inf"), device=pos.device, dtype=pos.dtype)
    ar = torch.arange(b, device=pos.device)
    for i in range(m):
        idx[:, i] = farthest
        d = ((pos - pos[ar, farthest].unsqueeze(1)) ** 2).sum(-1)
        dist = torch.minimum(dist, d)
        farthest = dist.argmax(-1)
    return idx


def farthest_point_sample(pos: Tensor, num_samples: int, backend: str = "auto") -> Tensor:
    """Indices ``[B, M]`` of ``M`` farthest-point samples of each cloud in ``pos [B, N, 3]``.

    Args:
        backend: ``auto`` (torch-cluster when importable, else torch), ``torch``, ``torch_cluster``.
    """
    b, n, _ = pos.shape
    m = min(int(num_samples), n)
    if backend in ("auto", "torch_cluster"):
        try:
            from torch_cluster import fps

            batch = torch.arange(b, device=pos.device).repeat_interleave(n)
            sel = fps(pos.reshape(-1, 3), batch, ratio=m / n, random_start=False)
            sel = sel.reshape(b, -1)[:, :m] - (torch.arange(b, device=pos.device) * n).unsqueeze(1)
            return sel
        except ImportError:
            if backend == "torch_cluster":
                raise
    with torch.no_grad():
        return _fps_torch(pos.detach(), m)


def group_neighbours(centres: Tensor, pos: Tensor, k: int, radius: float | None = None) -> Tensor:
    """Indices ``[B, M, k]`` of the ``k`` nearest points of ``pos [B, N, 3]`` to each centre ``[B, M, 3]``;
    with ``radius``, neighbours farther than it are replaced by the nearest one (ball grouping)."""
    k = min(int(k), pos.shape[1])
    with torch.no_grad():
        d2 = torch.cdist(centres, pos) ** 2
        dist, idx = d2.topk(k, dim=-1, largest=False)
        if radius is not None:
            far = dist > radius ** 2
            idx = torch.where(far, idx[..., :1].expand_as(idx), idx)
    return idx


def procrustes_rotation(src: Tensor, dst: Tensor) -> Tensor:
    """Rotation ``R [B, 3, 3]`` minimising ``sum |dst_i - R src_i|²`` for centred ``src, dst [B, N, 3]``
    (Kabsch 1976; SVD in float64, reflection removed)."""
    h = src.transpose(1, 2).double() @ dst.double()
    u, _, vh = torch.linalg.svd(h)
    v = vh.transpose(1, 2)
    d = torch.sign(torch.linalg.det(v @ u.transpose(1, 2)))
    fix = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    return (v @ fix @ u.transpose(1, 2)).to(src.dtype)


class SharedMLP(nn.Module):
    """Per-point MLP (Linear → LayerNorm → activation) applied along the last dimension."""

    def __init__(self, dims: Sequence[int], activation: str = "relu", last_act: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(a, b))
            if last_act or i < len(dims) - 2:
                layers += [nn.LayerNorm(b), make_activation(activation)]
        self.net = nn.Sequential(*layers)

    def reset_parameters(self) -> None:
        reset_all(self.net)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class SetAbstraction(nn.Module):
    """Sample, group, shared MLP, max-pool.

    Args:
        in_dim: feature width of the input points (0: positions only).
        mlp: widths of the shared MLP.
        num_centroids: centroids per cloud (``None``: global abstraction over all points).
        k: neighbours per centroid.
        radius: ball radius (``None``: plain kNN grouping).
        fps_backend: see :func:`farthest_point_sample`.
    """

    def __init__(self, in_dim: int, mlp: Sequence[int], num_centroids: int | None = None, k: int = 16,
                 radius: float | None = None, fps_backend: str = "auto") -> None:
        super().__init__()
        self.num_centroids, self.k, self.radius, self.fps_backend = num_centroids, k, radius, fps_backend
        self.mlp = SharedMLP([in_dim + 3, *mlp])
        self.out_dim = mlp[-1]

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, pos: Tensor, feat: Tensor | None) -> tuple[Tensor | None, Tensor]:
        if self.num_centroids is None:
            centre = pos.mean(1, keepdim=True)
            h = pos - centre
            h = torch.cat([h, feat], -1) if feat is not None else h
            return None, self.mlp(h).max(1).values
        idx = farthest_point_sample(pos, self.num_centroids, self.fps_backend)
        new_pos = _gather(pos, idx)
        nbr = group_neighbours(new_pos, pos, self.k, self.radius)
        rel = _gather(pos, nbr) - new_pos.unsqueeze(2)
        if self.radius is not None:
            rel = rel / self.radius
        h = torch.cat([rel, _gather(feat, nbr)], -1) if feat is not None else rel
        return new_pos, self.mlp(h).max(2).values


class FeaturePropagation(nn.Module):
    """Interpolate sparse features onto dense points (inverse squared distance, 3 neighbours)."""

    def __init__(self, in_dim: int, skip_dim: int, mlp: Sequence[int], k: int = 3) -> None:
        super().__init__()
        self.k = k
        self.mlp = SharedMLP([in_dim + skip_dim, *mlp])
        self.out_dim = mlp[-1]

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, pos_dense: Tensor, pos_sparse: Tensor | None, feat_sparse: Tensor,
                skip: Tensor | None) -> Tensor:
        if pos_sparse is None:  # from a global feature: broadcast
            interp = feat_sparse.unsqueeze(1).expand(-1, pos_dense.shape[1], -1)
        else:
            k = min(self.k, pos_sparse.shape[1])
            d2 = torch.cdist(pos_dense, pos_sparse) ** 2
            dist, idx = d2.topk(k, dim=-1, largest=False)
            w = 1.0 / dist.clamp(min=1e-10)
            w = w / w.sum(-1, keepdim=True)
            interp = (_gather(feat_sparse, idx) * w.unsqueeze(-1)).sum(2)
        h = torch.cat([interp, skip], -1) if skip is not None else interp
        return self.mlp(h)


class ModernPointNetEncoder(nn.Module):
    """PointNet++ encoder: set abstractions down to a global feature, feature propagation back up.

    Args:
        in_dim: per-point feature width besides the positions (0: positions only).
        hidden_dim: base width (levels use ``hidden_dim``, ``2*hidden_dim``, ``4*hidden_dim``).
        num_centroids: centroids of the local set abstractions, e.g. ``[256, 64]``.
        k: neighbours per centroid (one value or one per level).
        radius: ball radii per level (``None``: kNN grouping).
        per_point: build feature propagation layers (segmentation).
        fps_backend: ``auto`` | ``torch`` | ``torch_cluster``.

    ``forward(pos [B, N, 3], feat [B, N, F] | None)`` returns ``(global [B, global_dim], per_point
    [B, N, point_dim] | None)`` with ``global_dim = hidden_dim * 2 ** (levels + 1)`` and
    ``point_dim = hidden_dim``.
    """

    def __init__(self, in_dim: int = 0, hidden_dim: int = 64, num_centroids: Sequence[int] = (256, 64),
                 k: int | Sequence[int] = 16, radius: Sequence[float] | None = None, per_point: bool = False,
                 fps_backend: str = "auto") -> None:
        super().__init__()
        levels = list(num_centroids)
        ks = list(k) if isinstance(k, Sequence) else [int(k)] * len(levels)
        radii = list(radius) if radius is not None else [None] * len(levels)
        self.sa = nn.ModuleList()
        dims = [in_dim]
        width = hidden_dim
        for m, kk, r in zip(levels, ks, radii):
            sa = SetAbstraction(dims[-1], [width, width], m, kk, r, fps_backend)
            self.sa.append(sa)
            dims.append(sa.out_dim)
            width *= 2
        self.global_sa = SetAbstraction(dims[-1], [width, width * 2], None)
        self.global_dim = self.global_sa.out_dim
        self.per_point = per_point
        self.fp = nn.ModuleList()
        if per_point:
            up = self.global_dim
            skip_dims = dims[::-1]  # skip features of each level, deepest first
            for i, sd in enumerate(skip_dims):
                out = hidden_dim * 2 ** max(len(levels) - 1 - i, 0)
                fp = FeaturePropagation(up, sd, [out, out])
                self.fp.append(fp)
                up = fp.out_dim
            self.point_dim = up
        else:
            self.point_dim = 0

    def reset_parameters(self) -> None:
        reset_all(self)

    def forward(self, pos: Tensor, feat: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        positions: list[Tensor] = [pos]
        feats: list[Tensor | None] = [feat]
        p, f = pos, feat
        for sa in self.sa:
            p, f = sa(p, f)
            positions.append(p)
            feats.append(f)
        _, g = self.global_sa(p, f)
        if not self.per_point:
            return g, None
        h, hp = g, None
        for i, fp in enumerate(self.fp):
            level = len(positions) - 1 - i
            h = fp(positions[level], hp, h, feats[level])
            hp = positions[level]
        return g, h
