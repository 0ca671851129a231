"""Benchmark: the same search space and trial budget through (a) Hydra multirun + hydra-optuna-sweeper and
(b) the native runner (pruning + recycled models + data prepared once), on the default Gaia data.

    python benchmarks/hpo.py                                   # gat_tune, 30 trials x 10 epochs, 3000 stars
    python benchmarks/hpo.py --trials 30 --epochs 40 --n-stars 0   # the issue's budget (hours on 2 cores)
    python benchmarks/hpo.py --space gcn --pruner-warmup 1 --native-only

Prints the wall time, trials per hour, the ratio native / sweeper, both best validation metrics, the native
runner's trial states and its recycling hit rate (recycled trials / all trials), and the load average
before and after each driver. Both drivers run as the real console script (start-up included in both),
with the same seed, so their first TPE suggestions are identical. The prepared graph is cached on disk
before timing starts. The pruner options apply to the native runner only (the sweeper cannot prune).
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


def run(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="gat_tune", help="conf/hpo/<space>.yaml")
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--pruner", default="median", help="hpo.pruner of the native runner")
    ap.add_argument("--pruner-warmup", type=int, default=None,
                    help="hpo.pruner_warmup_epochs (default: a quarter of --epochs, at least 1)")
    ap.add_argument("--pruner-startup", type=int, default=5, help="hpo.pruner_startup_trials")
    ap.add_argument("--native-only", action="store_true", help="skip the sweeper (no ratio)")
    ap.add_argument("extra", nargs="*", help="more overrides for both drivers")
    ap.add_argument("--n-stars", type=int, default=3000, help="embedded Gaia sample size (0: the config default, 20000)")
    ap.add_argument("--out", default=None, help="folder for both studies (default: a temporary one)")
    args = ap.parse_args()

    exe = str(Path(sys.executable).parent / "astrolab")
    out = Path(args.out or tempfile.mkdtemp(prefix="astrolab-hpo-bench-"))
    env = {**os.environ, "ASTROLAB_OUTPUT": str(out / "outputs"), "COLUMNS": "120"}
    env.setdefault("ASTROLAB_CACHE", str(out / "cache"))
    common = [f"hpo={args.space}", f"hpo.n_trials={args.trials}", f"trainer.max_epochs={args.epochs}",
              "callbacks.early_stopping=null", *args.extra]
    if args.n_stars:
        common.append(f"dataset.n_stars={args.n_stars}")
    warmup = args.pruner_warmup if args.pruner_warmup is not None else max(args.epochs // 4, 1)
    native_only = [f"hpo.pruner={args.pruner}", f"hpo.pruner_warmup_epochs={warmup}",
                   f"hpo.pruner_startup_trials={args.pruner_startup}"]
    sys.stdout.write(f"load before: {_load()}  cpus: {os.cpu_count()}  common: {common}  native: {native_only}\n")

    # prepare (and cache) the graph once, outside the timings
    run([exe, "train", *common[2:], "trainer.max_epochs=1", "save_predictions=false",
         f"hydra.run.dir={out / 'warmup'}"], env)

    loads = {}
    t_sweeper = best_sweeper = None
    if not args.native_only:
        sweep_dir = out / "sweeper"
        before = os.getloadavg()[0]
        t_sweeper = run([exe, "train", "-m", *common, f"hydra.sweep.dir={sweep_dir}"], env)
        loads["sweeper"] = (before, os.getloadavg()[0])
        import yaml

        best_sweeper = float(yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())["best_value"])

    native_dir = out / "native"
    before = os.getloadavg()[0]
    t_native = run([exe, "hpo", *common, *native_only, f"hydra.run.dir={native_dir}"], env)
    loads["native"] = (before, os.getloadavg()[0])
    summary = json.loads((native_dir / "summary.json").read_text())
    best_native = float(summary["best_value"])

    tph_n = args.trials / t_native * 3600
    rows = [("driver", "wall s", "trials/h", "best " + summary["metric"], "load 1-min before/after")]
    if t_sweeper is not None:
        tph_s = args.trials / t_sweeper * 3600
        rows.append(("sweeper (train -m)", f"{t_sweeper:.1f}", f"{tph_s:.0f}", f"{best_sweeper:.4f}",
                     "%.1f / %.1f" % loads["sweeper"]))
    rows.append(("native (astrolab hpo)", f"{t_native:.1f}", f"{tph_n:.0f}", f"{best_native:.4f}",
                 "%.1f / %.1f" % loads["native"]))
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)) + "\n")
    if t_sweeper is not None:
        sys.stdout.write(f"ratio native/sweeper trials per hour: {tph_n / tph_s:.2f}x (target >= 3x)\n")
        better = best_native >= best_sweeper if summary["direction"] == "maximize" else best_native <= best_sweeper
        sys.stdout.write(f"native best metric at least as good: {better}\n")
    rec = summary["recycling"]
    n = sum(summary["trials"].values())
    sys.stdout.write(f"native trials: {summary['trials']}\n")
    sys.stdout.write(f"recycling: {rec['models_recycled']}/{n} trials recycled a built model "
                     f"({rec['models_built']} built; hit rate {rec['models_recycled'] / max(n, 1):.0%})\n")
    sys.stdout.write(f"budget: {args.trials} trials x {args.epochs} epochs, n_stars={args.n_stars or 'default'}\n")
    sys.stdout.write(f"load after: {_load()}\n")
    sys.stdout.write(f"outputs: {out}\n")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
