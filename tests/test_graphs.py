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
