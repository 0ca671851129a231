"""Sky tiles of a node graph: HEALPix cores with an exact k-hop margin, for mini-batch training.

A tile is one HEALPix pixel (``nested`` order, astropy-healpix): its *core* nodes are the stars whose
(ra, dec) fall in the pixel, so every node is a core node of exactly one tile. The tile's subgraph is the
subgraph induced on every node within ``hops`` graph hops of a core node (the *margin*). A message-passing
model with ``L`` layers computes a node's output from its ``L``-hop neighbourhood only, so with
``hops >= L`` the core nodes' outputs on the tile equal their outputs on the whole graph (GCN's symmetric
normalisation also reads the degree of the outermost sources: it needs ``L + 1``; the model says how
many it needs, see ``AstroNodeGNN.tiling_hints``). Loss and metrics count core nodes only.

The margin is measured in graph hops, not in degrees on the sky, because the kNN graph is built in a
feature space (astrometry, proper motions) where a neighbour can sit far away on the sky; a hop margin is
exact whatever the graph space. Written here with NumPy (a CSR walk) because PyG's ``k_hop_subgraph``
needs the whole graph as tensors in memory, and the edges here may be a memory-mapped file.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

#: bytes of the graph arrays per node (float64 features counted separately) and per edge (int64 pair)
NODE_BYTES, EDGE_BYTES = 48, 16
#: default float32 activations a training pass keeps per node and per edge of one message-passing layer
#: (``layers`` of them; ``trims``: the model computes a layer's outputs only where a later layer reads them)
DEFAULT_FLOATS = {"node": 6 * 64, "edge": 2 * 64 + 8 * 4, "layers": 3, "trims": False}
#: share of (budget - resident memory) a tile's estimated activations may take (the rest: optimizer,
#: allocator slack, the tile's own index arrays)
TILE_SHARE = 0.8
#: default budget: this share of the memory available when the run starts
DEFAULT_BUDGET_FRACTION = 1 / 6


def default_memory_budget_gb(fraction: float = DEFAULT_BUDGET_FRACTION) -> float:
    """A sixth of the memory available now (``MemAvailable`` in /proc/meminfo, else free pages from
    ``os.sysconf``; 16 GiB assumed when neither can be read)."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = 16 * 2**30
    return round(fraction * avail / 2**30, 2)


def resident_bytes() -> int:
    """This process's resident memory now (``/proc/self/statm``; the peak so far where that is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)


def graph_bytes(n: int, e: int, n_features: int) -> int:
    """Bytes of the prepared graph arrays (float64 raw features, labels, masks, ids; int64 edge pairs)."""
    return int(n * (NODE_BYTES + 8 * n_features) + e * EDGE_BYTES)


def activation_bytes(n: int, e: int, floats: dict | None = None) -> int:
    """Bytes of a forward + backward pass over ``n`` nodes and ``e`` edges, every layer on every node
    (float32 activations; each layer also passes a self-loop per node, as GAT and GCN add them)."""
    f = {**DEFAULT_FLOATS, **(floats or {})}
    return int(4 * int(f["layers"]) * (n * f["node"] + (e + n) * f["edge"]))


def tile_activation_bytes(hop: np.ndarray, degree: np.ndarray, floats: dict | None = None) -> int:
    """Bytes of a forward + backward pass over a tile whose nodes are ``hop`` hops from its core, with
    ``degree`` edges into each. A model that trims (``floats["trims"]``) runs layer ``i`` of ``L`` on the
    edges into nodes within ``L - 1 - i`` hops, from inputs within ``L - i`` hops (``ModernGraphEncoder``):
    the outer rings cost only the first layers. For the default GAT on tiles of a 1M-star graph the measured
    peak of a training step was 0.63–0.75 of this estimate, and 0.25–0.30 of the whole-tile estimate
    (:func:`activation_bytes` on every tile node and edge), which cut tiles far smaller than memory allowed
    (``python benchmarks/tile_estimate.py``)."""
    f = {**DEFAULT_FLOATS, **(floats or {})}
    layers = int(f["layers"])
    if not f["trims"] or layers == 0:
        return activation_bytes(len(hop), int(np.sum(degree)), f)
    hop = np.minimum(np.asarray(hop, np.int64), layers)
    n_within = np.cumsum(np.bincount(hop, minlength=layers + 1))
    e_within = np.cumsum(np.bincount(hop, weights=np.asarray(degree, np.float64), minlength=layers + 1))
    total = 0.0
    for i in range(layers):
        inner = layers - 1 - i  # this layer: inputs within inner + 1 hops, edges into nodes within inner hops
        rows = n_within[inner + 1]
        total += rows * f["node"] + (e_within[inner] + rows) * f["edge"]  # + a self-loop per input row
    return int(4 * total)


def csr(edges: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(rowptr, col, order)`` of an ``[E, 2]`` (source, target) edge array. ``order`` is ``None`` when
    the edges are already sorted by source (astrolab's graphs are: ``col`` is then a view of the array,
    memory-mapped when the array is), else the permutation that sorts them."""
    src = edges[:, 0]
    order = None
    if len(src) > 1 and not bool(np.all(src[1:] >= src[:-1])):
        order = np.argsort(src, kind="stable")
        src = src[order]
    rowptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=rowptr[1:])
    col = edges[:, 1] if order is None else np.asarray(edges[:, 1])[order]
    return rowptr, col, order


def _neighbours(rowptr: np.ndarray, col: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated neighbour lists of ``nodes`` and the edge positions they come from."""
    starts, ends = rowptr[nodes], rowptr[nodes + 1]
    lens = ends - starts
    total = int(lens.sum())
    if total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    pos = offsets + np.arange(total)
    return np.asarray(col[pos], dtype=np.int64), pos


def k_hop_nodes(rowptr: np.ndarray, col: np.ndarray, seeds: np.ndarray, hops: int,
                return_hops: bool = False, max_nodes: int | None = None):
    """Sorted ids of every node within ``hops`` hops of ``seeds`` (seeds included); with ``return_hops``
    also each node's hop distance from the seeds. ``max_nodes``: stop early (returning what was reached)
    once more nodes than that are reached (a planner only needs to know that a tile is too big).

    A breadth-first walk with one distance byte per graph node (no sorting per hop)."""
    dist = np.full(len(rowptr) - 1, -1, dtype=np.int8)
    frontier = np.unique(np.asarray(seeds, dtype=np.int64))
    dist[frontier] = 0
    reached = len(frontier)
    for h in range(1, int(hops) + 1):
        if len(frontier) == 0 or (max_nodes is not None and reached > max_nodes):
            break
        nb, _ = _neighbours(rowptr, col, frontier)
        new = nb[dist[nb] < 0]
        dist[new] = h
        frontier = np.flatnonzero(dist == h)
        reached += len(frontier)
    nodes = np.flatnonzero(dist >= 0)
    return (nodes, dist[nodes].astype(np.int64)) if return_hops else nodes


def induced_edges(rowptr: np.ndarray, col: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Edges among the sorted ``nodes`` in local numbering, ``[E_tile, 2]`` int64 (source, target)."""
    nb, pos = _neighbours(rowptr, col, nodes)
    lens = rowptr[nodes + 1] - rowptr[nodes]
    src_local = np.repeat(np.arange(len(nodes)), lens)
    j = np.searchsorted(nodes, nb)
    j[j == len(nodes)] = 0
    keep = nodes[j] == nb
    return np.stack([src_local[keep], j[keep]], axis=1)


def sky_pixels(ra_deg: np.ndarray, dec_deg: np.ndarray, nside: int) -> np.ndarray:
    """HEALPix pixel (nested order) of each position."""
    import astropy.units as u
    from astropy_healpix import HEALPix

    hp = HEALPix(nside=int(nside), order="nested")
    return np.asarray(hp.lonlat_to_healpix(np.asarray(ra_deg) * u.deg, np.asarray(dec_deg) * u.deg), np.int64)


@dataclass
class TilePlan:
    """Tiles of a graph: for tile ``t``, ``core[t]`` (sorted global ids of its core nodes) and its HEALPix
    pixel (``pixels[t]``; ``[order, pixel]`` rows when ``nside`` is 0, adaptive); its nodes (core
    and margin) are walked from the graph when the tile is built (:meth:`tile_nodes`), so a plan holds
    ``N`` ids, not the tiles. ``sizes`` records the tiles built so far (``{tile: (nodes, edges,
    estimated activation bytes)}``)."""

    nside: int
    hops: int
    pixels: np.ndarray
    core: list[np.ndarray]
    rowptr: np.ndarray
    col: np.ndarray
    sizes: dict

    def __len__(self) -> int:
        return len(self.core)

    def tile_nodes(self, t: int, return_hops: bool = False):
        return k_hop_nodes(self.rowptr, self.col, self.core[t], self.hops, return_hops=return_hops)

    def summary(self) -> dict:
        cores = np.array([len(c) for c in self.core])
        nside = self.nside if self.nside else (f"adaptive: orders {int(self.pixels[:, 0].min())}-"
                                               f"{int(self.pixels[:, 0].max())}")
        out = {"nside": nside, "hops": self.hops, "n_tiles": len(self), "max_core_nodes": int(cores.max()),
               "mean_core_nodes": round(float(cores.mean()), 1)}
        if self.sizes:
            nodes = np.array([v[0] for v in self.sizes.values()])
            seen = np.array([len(self.core[t]) for t in self.sizes])
            out.update({"tiles_built": len(self.sizes), "max_tile_nodes": int(nodes.max()),
                        "max_tile_edges": int(max(v[1] for v in self.sizes.values())),
                        "max_tile_estimate_gib": round(max(v[2] for v in self.sizes.values())
                                                       / 2**30, 3),
                        "margin_overhead": round(float(nodes.sum() / max(seen.sum(), 1)), 2)})
        return out


def plan_tiles(ra_deg: np.ndarray, dec_deg: np.ndarray, rowptr: np.ndarray, col: np.ndarray, hops: int,
               nside: int) -> TilePlan:
    """One tile per non-empty HEALPix pixel at ``nside``, with a ``hops``-hop margin."""
    pix = sky_pixels(ra_deg, dec_deg, nside)
    order = np.argsort(pix, kind="stable")
    uniq, starts = np.unique(pix[order], return_index=True)
    bounds = np.append(starts, len(order))
    core = [np.sort(order[bounds[i]:bounds[i + 1]]) for i in range(len(uniq))]
    return TilePlan(nside=int(nside), hops=int(hops), pixels=uniq, core=core, rowptr=rowptr, col=col, sizes={})


def plan_adaptive(ra_deg: np.ndarray, dec_deg: np.ndarray, rowptr: np.ndarray, col: np.ndarray, hops: int,
                  target_bytes: float, floats: dict | None = None, max_order: int = 12) -> TilePlan:
    """Tiles of mixed HEALPix orders (as HATS partitions a catalog): starting from the 12 base pixels, a pixel
    is split into its 4 nested children while its tile (core and margin, walked on the graph) needs more
    than ``target_bytes`` of activations (:func:`tile_activation_bytes`); sparse regions keep large pixels,
    dense ones get small ones."""
    f = {**DEFAULT_FLOATS, **(floats or {})}
    shift = 2 * int(max_order)
    fine = sky_pixels(ra_deg, dec_deg, 2 ** int(max_order))
    order = np.argsort(fine, kind="stable")
    fine_sorted = fine[order]
    degree = np.diff(rowptr)
    # every tile node costs at least one layer's node activations: a walk past this many nodes stops (split)
    max_nodes = int(target_bytes / (4 * max(f["node"], 1))) + 1
    stack = [(0, p) for p in range(11, -1, -1)]
    core, pixels = [], []
    while stack:
        o, p = stack.pop()
        lo, hi = np.searchsorted(fine_sorted, [p << (shift - 2 * o), (p + 1) << (shift - 2 * o)])
        if hi == lo:
            continue
        members = np.sort(order[lo:hi])
        split = False
        if o < max_order and hi - lo > 1:
            if activation_bytes(hi - lo, int(degree[members].sum()), f) > target_bytes:
                split = True  # the core alone (every layer on it) is too big: no need to walk its margin
            else:
                nodes, hop = k_hop_nodes(rowptr, col, members, hops, return_hops=True, max_nodes=max_nodes)
                split = (len(nodes) > max_nodes
                         or tile_activation_bytes(hop, degree[nodes], f) > target_bytes)
        if split:
            stack.extend((o + 1, 4 * p + j) for j in range(3, -1, -1))
        else:
            core.append(members)
            pixels.append((o, p))
    return TilePlan(nside=0, hops=int(hops), pixels=np.array(pixels, dtype=np.int64).reshape(-1, 2), core=core,
                    rowptr=rowptr, col=col, sizes={})
