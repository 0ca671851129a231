"""Neighbour graphs are real neighbourhoods: equal to brute force, symmetric, no loops or duplicates."""

from __future__ import annotations

import numpy as np
import torch

from astrolab.data.graphs import brute_force_knn, knn_graph, radius_graph
from astrolab.data.splits import split_masks


def _edge_set(ei: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, ei.t().tolist()))


def test_knn_equals_brute_force():
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(300, 5))
    ei = knn_graph(pts, k=8, backend="scipy")
    assert _edge_set(ei) == _edge_set(brute_force_knn(pts, 8))


def test_knn_graph_is_symmetric_without_loops_or_duplicates():
    pts = np.random.default_rng(2).uniform(size=(500, 3))
    ei = knn_graph(pts, k=6)
    edges = _edge_set(ei)
    assert len(edges) == ei.shape[1]  # no duplicates
    assert all(i != j for i, j in edges)
    assert all((j, i) in edges for i, j in edges)
    deg = torch.bincount(ei[0], minlength=500)
    assert int(deg.min()) >= 6  # every node keeps at least its own k neighbours


def test_periodic_box_uses_minimum_image():
    box = 10.0
    pts = np.array([[0.1, 5.0, 5.0], [9.9, 5.0, 5.0], [5.0, 5.0, 5.0], [5.0, 8.0, 5.0]])
    ei = knn_graph(pts, k=1, boxsize=box)
    assert (0, 1) in _edge_set(ei)  # 0.2 apart across the boundary
    ei_r = radius_graph(pts, r=0.5, boxsize=box)
    assert _edge_set(ei_r) == {(0, 1), (1, 0)}


def test_stratified_split_is_seeded_disjoint_and_proportional():
    labels = np.array([0] * 900 + [1] * 100)
    a = split_masks(1000, labels, val=0.2, test=0.1, seed=3)
    b = split_masks(1000, labels, val=0.2, test=0.1, seed=3)
    c = split_masks(1000, labels, val=0.2, test=0.1, seed=4)
    assert all((a[s] == b[s]).all() for s in a)
    assert not (a["test"] == c["test"]).all()
    assert not (a["train"] & a["val"]).any() and not (a["train"] & a["test"]).any()
    assert (a["train"] | a["val"] | a["test"]).all()
    assert a["test"][labels == 1].sum() == 10 and a["val"][labels == 1].sum() == 20


def _unique_key_symmetrise(src, dst, n):
    """The symmetrisation graphs.py used before the sparse one (np.unique of src·n + dst): the reference."""
    keep = src != dst
    src, dst = src[keep], dst[keep]
    a = np.concatenate([src, dst]).astype(np.int64)
    b = np.concatenate([dst, src]).astype(np.int64)
    key = np.unique(a * n + b)
    return torch.from_numpy(np.stack([key // n, key % n]))


def test_sparse_symmetrisation_equals_the_unique_key_one(monkeypatch):
    """Same edges in the same order (sorted by source, then target) as np.unique of the keys, for kNN
    (open and periodic; ties and coincident points included; queried in chunks of 7) and radius graphs."""
    from scipy.spatial import cKDTree

    from astrolab.data import graphs

    monkeypatch.setattr(graphs, "_QUERY_CHUNK", 7)
    rng = np.random.default_rng(5)
    for trial in range(8):
        n, k = int(rng.integers(20, 200)), int(rng.integers(1, 10))
        pts = rng.uniform(0, 10, (n, 3))
        if trial % 2:
            pts[: n // 4] = pts[0]         # coincident points: "self" may not be among the k + 1 found
            pts = np.round(pts)            # ties
        box = 10.0 if trial % 3 else None
        wrapped = np.mod(pts, box) if box else pts
        _, idx = cKDTree(wrapped, boxsize=box).query(wrapped, k=k + 1)
        ref = _unique_key_symmetrise(np.repeat(np.arange(n), k + 1), idx.reshape(-1), n)
        got = knn_graph(pts, k=k, boxsize=box, backend="scipy")
        assert got.dtype == torch.int64 and torch.equal(got, ref)
        pairs = cKDTree(wrapped, boxsize=box).query_pairs(1.5, output_type="ndarray")
        assert torch.equal(radius_graph(pts, 1.5, boxsize=box), _unique_key_symmetrise(pairs[:, 0], pairs[:, 1], n))
        src, dst = rng.integers(0, n, 3 * n), rng.integers(0, n, 3 * n)
        assert torch.equal(graphs._symmetrise(src, dst, n), _unique_key_symmetrise(src, dst, n))
