"""HATS catalog preparation (LSDB + Dask, one partition at a time) against the single-file path on the same rows.

The embedded Gaia generator's stars (astrolab.data.synthetic.gaia_clusters: open clusters in a Galactic
field) are written as a HATS catalog with a margin cache (lsdb.from_dataframe(...).write_catalog) and as one
Parquet file holding the same rows in the catalog's partition order. Both are then prepared by
GaiaDataModule (cuts, features, split, kNN graph; no cache) in this process, and the graphs are checked to be
equal. Prints the time of each, their ratio, the share of nodes the margin could not settle (queried against
the whole catalog), and the cached re-run of the HATS catalog against its first run.

    python benchmarks/hats_ingest.py                      # = --n 200000 --k 16 --margin 1800 --partition-rows 20000
    python benchmarks/hats_ingest.py --n 20000 --scheduler processes
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000, help="stars")
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--space", default="astrometry")
    ap.add_argument("--margin", type=float, default=1800.0, help="margin cache width, arcsec")
    ap.add_argument("--partition-rows", type=int, default=20_000)
    ap.add_argument("--highest-order", type=int, default=5)
    ap.add_argument("--scheduler", default=None, help="dataset.dask.scheduler (default: local threads)")
    ap.add_argument("--workdir", default=None, help="keep the catalogs here (default: a temporary folder)")
    args = ap.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stdout)
    for name in ("lsdb", "hats", "distributed", "numba", "astrolab.data.io"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import warnings

    warnings.filterwarnings("ignore")
    t = time.perf_counter()
    import dask
    import lsdb
    import pandas as pd

    from astrolab.data.datamodules import GaiaDataModule
    from astrolab.data.hats import open_hats, partition_frames
    from astrolab.data.synthetic.gaia_clusters import make_gaia_table

    print(f"imports (lsdb, astrolab): {time.perf_counter() - t:.1f} s")
    root = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="astrolab_hats_bench_"))
    root.mkdir(parents=True, exist_ok=True)
    cat = root / f"gaia_n{args.n}_m{args.margin:g}"
    same = root / f"gaia_n{args.n}_m{args.margin:g}.parquet"
    if not cat.exists():
        t = time.perf_counter()
        df = make_gaia_table(n_stars=args.n, seed=0).to_pandas()
        lsdb.from_dataframe(df, ra_column="ra", dec_column="dec", margin_threshold=args.margin,
                            partition_rows=args.partition_rows, highest_order=args.highest_order
                            ).write_catalog(cat, progress_bar=False)
        frames = dask.compute(*[m for m, _ in partition_frames(open_hats(cat))])
        pd.concat(frames).reset_index(drop=True).to_parquet(same)
        print(f"wrote the HATS catalog and the single file: {time.perf_counter() - t:.1f} s (not timed below)")

    def prepare(path, cache: Path, use_cache: bool = False):
        dm = GaiaDataModule(path=str(path), graph={"k": args.k, "space": args.space}, cache_dir=str(cache),
                            use_cache=use_cache, dask={"scheduler": args.scheduler})
        t0 = time.perf_counter()
        dm.setup()
        return dm, time.perf_counter() - t0

    ref, t_file = prepare(same, root / "cache_file")
    hats, t_hats = prepare(cat, root / "cache_hats")
    shutil.rmtree(root / "cache_hot", ignore_errors=True)
    _, t_first = prepare(cat, root / "cache_hot", use_cache=True)
    _, t_again = prepare(cat, root / "cache_hot", use_cache=True)

    def edges(dm):
        ids = dm.graph["nodes", "id"].numpy()
        e = dm.graph["edges", "index"].numpy()
        return set(zip(ids[e[:, 0]].tolist(), ids[e[:, 1]].tolist()))

    equal = edges(ref) == edges(hats)
    info = hats.meta["info"]["hats"]
    n = hats.graph["nodes"].batch_size[0]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print()
    print(f"rows {info['rows']}, nodes {n}, partitions {info['partitions']}, margin {info['margin_arcsec']:g} arcsec, "
          f"k={args.k}, space={args.space}, scheduler {info['scheduler']}, cpus {os.cpu_count()}, load "
          f"{os.getloadavg()[0]:.1f}")
    print(f"single file (Parquet) prepare: {t_file:8.2f} s   (kNN {ref.meta['graph_seconds']:.2f} s)")
    print(f"HATS catalog prepare:          {t_hats:8.2f} s   (kNN {hats.meta['graph_seconds']:.2f} s; "
          f"{info['n_knn_whole_catalog']} of {n} nodes = {100 * info['n_knn_whole_catalog'] / n:.1f}% "
          "queried against the whole catalog)")
    print(f"ratio HATS / single file:      {t_hats / t_file:8.2f}x")
    print(f"HATS cached re-run / first:    {t_again / t_first:8.3f}x   ({t_again:.2f} s vs {t_first:.2f} s)")
    print(f"graphs equal (edge sets by source_id): {equal}; peak RSS {rss:.2f} GiB")
    if not args.workdir:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
