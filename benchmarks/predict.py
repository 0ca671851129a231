"""Benchmark: ``astrolab predict`` throughput (rows per second) on Gaia catalogs of two sizes.

    python benchmarks/predict.py                       # 20k (embedded sample) and 200k stars
    python benchmarks/predict.py --sizes 20000 200000 1000000

A small GAT is trained once (2 epochs on the 20k embedded sample); each catalog is then scored through
:func:`astrolab.training.predict` (read → cuts → features → kNN graph over the new catalog → model →
one row per input row), in-process, after one warm-up call. The baseline measured in the same run is the
bare part of that work: reading the file with astropy plus one forward pass of the same model on the
already-built graph; the ratio says how much the full path costs on top.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    work = Path(args.out or tempfile.mkdtemp(prefix="astrolab-predict-bench-"))
    env = {**os.environ, "ASTROLAB_CACHE": str(work / "cache"), "ASTROLAB_OUTPUT": str(work / "outputs")}
    os.environ.update(env)
    run_dir = work / "train"
    exe = Path(sys.executable).parent / "astrolab"
    subprocess.run([str(exe), "train", "model=gat", "dataset=gaia", "trainer.max_epochs=2", "save_plots=false",
                    "trainer.enable_model_summary=false", f"hydra.run.dir={run_dir}"], check=True, env=env,
                   capture_output=True)
    ckpt = run_dir / "checkpoints" / "best.ckpt"

    import torch
    from astropy.table import Table

    from astrolab.data.synthetic.gaia_clusters import generate_gaia_catalog
    from astrolab.training import predict
    from astrolab.training.session import _restore, load_checkpoint, quiet_lightning

    quiet_lightning()
    rows = []
    for n in args.sizes:
        path = work / f"gaia_{n}.fits"
        if not path.exists():
            generate_gaia_catalog(path, n_stars=n, seed=7)
        predict(ckpt, path)  # warm-up (imports, first graph build)
        t0 = time.perf_counter()
        table = predict(ckpt, path)
        full = time.perf_counter() - t0
        # baseline: astropy read + one forward pass on the prepared graph
        t0 = time.perf_counter()
        Table.read(path)
        t_read = time.perf_counter() - t0
        from omegaconf import OmegaConf

        req = OmegaConf.create({"dataset": {"path": str(path), "columns": {}}})
        _, dm, _, model = _restore(req, load_checkpoint(ckpt), "predict", predict_all=True)
        model.eval()
        t0 = time.perf_counter()
        with torch.no_grad():
            model(dm.graph)
        t_fwd = time.perf_counter() - t0
        base = t_read + t_fwd
        scored = int((table["status"] == "ok").sum())
        rows.append((n, len(table), scored, full, len(table) / full, base, full / base))
    print(f"{'stars':>9} {'rows out':>9} {'scored':>8} {'predict s':>10} {'rows/s':>10} {'read+fwd s':>11} {'ratio':>6}")
    for r in rows:
        print(f"{r[0]:>9} {r[1]:>9} {r[2]:>8} {r[3]:>10.2f} {r[4]:>10.0f} {r[5]:>11.2f} {r[6]:>6.1f}")


if __name__ == "__main__":
    main()
