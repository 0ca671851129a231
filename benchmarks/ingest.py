"""Catalog ingest against a plain read of the same file, and a cached re-run's data stage against the first.

A Gaia-DR3-like catalog of ``--n`` stars (the embedded generator's physical model,
``astrolab.data.synthetic.gaia_clusters``) is written once as Parquet and as FITS. Measured in one run:

- baseline: ``pyarrow.parquet.read_table`` / ``astropy.table.Table.read`` of the file;
- astrolab: ``astrolab.data.io.read_catalog`` (format detection, unit and dtype checks, masked values to
  NaN, absurd values counted) of the same file — the ratio is the reader's overhead;
- data stage: ``GaiaDataModule(path=..., batching="full").setup()`` (read, schema, cuts, features, kNN graph, cache write),
  then the same again in a new module reading the verified cache — the ratio cached / first.

    python benchmarks/ingest.py               # --n 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="stars in the catalog")
    ap.add_argument("--formats", nargs="+", default=["parquet", "fits"])
    ap.add_argument("--no-stage", action="store_true", help="skip the data-stage (graph) measurement")
    args = ap.parse_args()

    import pyarrow.parquet as pq
    from astropy.table import Table

    from astrolab.data.datamodules import GaiaDataModule
    from astrolab.data.io import read_catalog
    from astrolab.data.synthetic.gaia_clusters import make_gaia_table

    with tempfile.TemporaryDirectory(prefix="astrolab_ingest_") as tmp:
        root = Path(tmp)
        t_gen, table = _timed(lambda: make_gaia_table(n_stars=args.n, seed=0))
        print(f"generated {len(table):,} stars in {t_gen:.1f} s")
        paths = {}
        for fmt in args.formats:
            p = root / f"gaia.{fmt}"
            table.write(p, format="parquet" if fmt == "parquet" else None, overwrite=True)
            paths[fmt] = p
        del table
        print(f"{'format':8s} {'plain read s':>13s} {'astrolab s':>11s} {'ratio':>6s}")
        for fmt, p in paths.items():
            plain = (lambda: pq.read_table(p)) if fmt == "parquet" else (lambda: Table.read(p))
            t_plain = min(_timed(plain)[0] for _ in range(2))
            t_ours = min(_timed(lambda: read_catalog(p, progress=False))[0] for _ in range(2))
            print(f"{fmt:8s} {t_plain:13.2f} {t_ours:11.2f} {t_ours / t_plain:6.2f}")
        if not args.no_stage:
            p = paths[args.formats[0]]
            cache = root / "cache"

            def stage():
                dm = GaiaDataModule(path=str(p), target="cluster_label", cache_dir=str(cache), batching="full")
                dm.setup()
                return dm

            t_first, _ = _timed(stage)
            t_cached, _ = _timed(stage)
            print(f"data stage ({args.formats[0]}): first {t_first:.1f} s, cached re-run {t_cached:.2f} s, "
                  f"ratio {t_cached / t_first:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
