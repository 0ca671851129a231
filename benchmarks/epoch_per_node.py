"""Tiled training: epoch time per node and peak memory at growing catalog sizes.

Each size is one real ``astrolab train model=gat dataset=gaia dataset.n_stars=N trainer.max_epochs=1
dataset.batching=tiles`` process (the console script, start-up included); its peak RSS comes from the
kernel (``os.wait4`` rusage of that process, as ``/usr/bin/time -v`` reports it). The time is summary.json's
``seconds.fit`` for ``--tiles`` training tiles (``trainer.limit_train_batches``, one validation tile, no sanity
check; the default 0 trains every tile: a whole epoch), divided by the core nodes those tiles hold (tiles are
shuffled, so ``--tiles`` random tiles × the mean core size): seconds per trained node, i.e. the epoch time
per node. A first, untimed run per size writes the embedded sample and the graph cache, so the timed run
reads a cached graph (its data stage is reported separately). Ratios are per-node times against the
smallest size measured in the same run; the target is flat within 1.5x.

    python benchmarks/epoch_per_node.py                 # 20k, 200k, 1M stars
    python benchmarks/epoch_per_node.py --big           # also 5M
    python benchmarks/epoch_per_node.py --sizes 20000 200000
    python benchmarks/epoch_per_node.py --tiles 0       # whole epochs (every tile)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(n: int, root: Path, extra: list[str], tiles: int) -> dict:
    exe = Path(sys.executable).parent / "astrolab"
    run_dir = root / f"run_{n}_{time.perf_counter_ns()}"
    args = [str(exe), "train", "model=gat", "dataset=gaia", f"dataset.n_stars={n}", "trainer.max_epochs=1",
            "+trainer.num_sanity_val_steps=0", "save_plots=false", "save_predictions=false",
            "+trainer.limit_test_batches=1", f"hydra.run.dir={run_dir}", *extra]
    if tiles:
        args += [f"+trainer.limit_train_batches={tiles}", "+trainer.limit_val_batches=1",
                 "callbacks.early_stopping=null"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"n={n}: astrolab train failed (exit {proc.returncode}):\n{out[-3000:]}")
    summary = json.loads((run_dir / "summary.json").read_text())
    batching = summary["data"].get("batching") or {}
    t = batching.get("tiles") or {}
    trained = summary["data"]["n_nodes"] if not tiles else min(tiles, t.get("n_tiles", tiles)) * t.get(
        "mean_core_nodes", 0)
    return {"trained_nodes": int(trained),"n_stars": n, "n_nodes": summary["data"]["n_nodes"], "n_edges": summary["data"]["n_edges"],
            "fit_s": summary["seconds"]["fit"], "data_s": summary["seconds"]["data"], "wall_s": round(wall, 1),
            "peak_rss_gib": round(usage.ru_maxrss / 2**20, 3), "mode": batching.get("mode"),
            "tiles": (batching.get("tiles") or {}).get("n_tiles"), "nside": (batching.get("tiles") or {}).get("nside"),
            "margin_overhead": t.get("margin_overhead"), "max_tile_nodes": t.get("max_tile_nodes"),
            "out_of_core": batching.get("out_of_core")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000, 1_000_000])
    ap.add_argument("--big", action="store_true", help="also 5,000,000 stars")
    ap.add_argument("--tiles", type=int, default=20, help="training tiles timed per size (0: a whole epoch)")
    ap.add_argument("--cached", action="store_true", help="the samples and graphs are cached already: no warm-up run")
    ap.add_argument("--cache", default=None, help="cache folder (default: $ASTROLAB_CACHE or ~/.cache/astrolab)")
    ap.add_argument("extra", nargs="*", help="more astrolab overrides, e.g. dataset.memory_budget_gb=2")
    args = ap.parse_args()
    sizes = sorted(set(args.sizes + ([5_000_000] if args.big else [])))
    if args.cache:
        os.environ["ASTROLAB_CACHE"] = args.cache
    extra = ["dataset.batching=tiles", *args.extra]
    print(f"load: {os.getloadavg()}  cpus: {os.cpu_count()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            if not args.cached:
                run(n, Path(tmp), extra, 1)  # writes the sample and the graph cache (untimed)
            row = run(n, Path(tmp), extra, args.tiles)
            row["us_per_node"] = round(1e6 * row["fit_s"] / max(row["trained_nodes"], 1), 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
    base = rows[0]["us_per_node"]
    print("\n| stars | nodes | edges | tiles (nside) | largest tile | margin overhead | fit s (tiles) | "
          "us/node | ratio | peak RSS GiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n_stars']:,} | {r['n_nodes']:,} | {r['n_edges']:,} | {r['tiles']} ({r['nside']}) | "
              f"{r['max_tile_nodes']} | {r['margin_overhead']} | {r['fit_s']:.1f} ({args.tiles or 'all'}) | "
              f"{r['us_per_node']} | {r['us_per_node'] / base:.2f}x | {r['peak_rss_gib']} |")
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
