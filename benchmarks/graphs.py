"""Graph build against the raw cKDTree query it is made of: time and peak memory.

For a kNN graph (open and periodic box) and a radius graph (periodic box), each measured in its own forked
process so its peak memory is its own:

- baseline: ``cKDTree(points, boxsize)`` + ``tree.query(points, k=k+1, workers=-1)`` (or ``query_pairs``),
  the query astrolab's build is made of, returning its raw arrays;
- astrolab: ``astrolab.data.graphs.knn_graph`` / ``radius_graph`` (tree, query, symmetrisation, no
  self-loops or duplicates, ``[2, E]`` int64 sorted by source then target).

Peak memory is the process's peak resident set (``ru_maxrss``) minus its resident set before the call
(the points and the imported libraries are outside both). Points: uniform in a unit cube (a periodic box
of side 1 for the periodic cases); the radius is set for a mean of k neighbours, r = (3k / 4πN)^(1/3).

    python benchmarks/graphs.py               # --n 1000000 --k 16
    python benchmarks/graphs.py --n 200000 --old   # also the previous np.unique symmetrisation
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time

import numpy as np


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _old_symmetrise(src, dst, n):
    """The symmetrisation astrolab used before (np.unique of src·n + dst keys), for --old."""
    keep = src != dst
    src, dst = src[keep], dst[keep]
    a = np.concatenate([src, dst]).astype(np.int64)
    b = np.concatenate([dst, src]).astype(np.int64)
    key = np.unique(a * n + b)
    return np.stack([key // n, key % n])


def _job(kind: str, pts: np.ndarray, k: int, box, r: float, q) -> None:
    from scipy.spatial import cKDTree

    from astrolab.data.graphs import knn_graph, radius_graph

    before = _rss_mb()
    t0 = time.perf_counter()
    if kind == "query-knn":
        tree = cKDTree(pts, boxsize=box)
        out = tree.query(pts, k=k + 1, workers=-1)
        size = out[1].size
    elif kind == "query-radius":
        tree = cKDTree(pts, boxsize=box)
        out = tree.query_pairs(r, output_type="ndarray")
        size = len(out)
    elif kind == "build-knn":
        out = knn_graph(pts, k=k, boxsize=box, backend="scipy")
        size = out.shape[1]
    elif kind == "build-radius":
        out = radius_graph(pts, r, boxsize=box)
        size = out.shape[1]
    elif kind == "old-knn":
        tree = cKDTree(pts, boxsize=box)
        _, idx = tree.query(pts, k=k + 1, workers=-1)
        out = _old_symmetrise(np.repeat(np.arange(len(pts)), k + 1), idx.reshape(-1), len(pts))
        size = out.shape[1]
    else:
        raise ValueError(kind)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB
    q.put((dt, peak - before, size))


def measure(kind, pts, k, box, r):
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_job, args=(kind, pts, k, box, r, q))
    p.start()
    res = q.get()
    p.join()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--old", action="store_true", help="also time the previous np.unique symmetrisation")
    args = ap.parse_args()
    import torch  # noqa: F401 - imported before forking, so no child pays for it

    import astrolab.data.graphs  # noqa: F401

    pts = np.random.default_rng(args.seed).uniform(0.0, 1.0, (args.n, 3))
    r = (3 * args.k / (4 * np.pi * args.n)) ** (1 / 3)
    cases = [("kNN open", "knn", None), ("kNN periodic", "knn", 1.0), ("radius periodic", "radius", 1.0)]
    print(f"n = {args.n}, k = {args.k}, radius r = {r:.5f} (mean {args.k} neighbours)")
    print(f"{'graph':<16} {'query s':>8} {'build s':>8} {'time x':>7} {'query MiB':>10} {'build MiB':>10} "
          f"{'mem x':>6} {'edges':>11}")
    for name, kind, box in cases:
        tq, mq, _ = measure(f"query-{kind}", pts, args.k, box, r)
        tb, mb, e = measure(f"build-{kind}", pts, args.k, box, r)
        print(f"{name:<16} {tq:8.2f} {tb:8.2f} {tb / tq:7.2f} {mq:10.0f} {mb:10.0f} {mb / mq:6.2f} {e:11d}",
              flush=True)
        if args.old and kind == "knn":
            to, mo, _ = measure("old-knn", pts, args.k, box, r)
            print(f"{'  (old unique)':<16} {'':>8} {to:8.2f} {to / tq:7.2f} {'':>10} {mo:10.0f} {mo / mq:6.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
