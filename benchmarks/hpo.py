"""Benchmark: the same search space and trial budget through (a) Hydra multirun + hydra-optuna-sweeper and
(b) the native runner (pruning + recycled models + data prepared once), on the default Gaia data.

    python benchmarks/hpo.py                       # 6 trials x 10 epochs, 3000-star sample (<= 10 min, 2 cores)
    python benchmarks/hpo.py --trials 20 --epochs 40 --space gat

Prints the wall time, trials per hour, the ratio native / sweeper and both best validation metrics.
Both drivers run as the real console script (start-up included in both), with the same seed, so their
first TPE suggestions are identical. The prepared graph is cached on disk before timing starts.
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
    ap.add_argument("--space", default="gcn", help="conf/hpo/<space>.yaml")
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--n-stars", type=int, default=3000, help="embedded Gaia sample size (0: the config default, 20000)")
    ap.add_argument("--out", default=None, help="folder for both studies (default: a temporary one)")
    args = ap.parse_args()

    exe = str(Path(sys.executable).parent / "astrolab")
    out = Path(args.out or tempfile.mkdtemp(prefix="astrolab-hpo-bench-"))
    env = {**os.environ, "ASTROLAB_OUTPUT": str(out / "outputs"), "COLUMNS": "120"}
    env.setdefault("ASTROLAB_CACHE", str(out / "cache"))
    common = [f"hpo={args.space}", f"hpo.n_trials={args.trials}", f"trainer.max_epochs={args.epochs}",
              "callbacks.early_stopping=null"]
    if args.n_stars:
        common.append(f"dataset.n_stars={args.n_stars}")

    # prepare (and cache) the graph once, outside the timings
    run([exe, "train", *common[2:], "trainer.max_epochs=1", "save_predictions=false",
         f"hydra.run.dir={out / 'warmup'}"], env)

    sweep_dir = out / "sweeper"
    t_sweeper = run([exe, "train", "-m", *common, f"hydra.sweep.dir={sweep_dir}"], env)
    import yaml

    best_sweeper = float(yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())["best_value"])

    native_dir = out / "native"
    t_native = run([exe, "hpo", *common, f"hydra.run.dir={native_dir}"], env)
    summary = json.loads((native_dir / "summary.json").read_text())
    best_native = float(summary["best_value"])

    tph_s = args.trials / t_sweeper * 3600
    tph_n = args.trials / t_native * 3600
    rows = [
        ("driver", "wall s", "trials/h", "best " + summary["metric"]),
        ("sweeper (train -m)", f"{t_sweeper:.1f}", f"{tph_s:.0f}", f"{best_sweeper:.4f}"),
        ("native (astrolab hpo)", f"{t_native:.1f}", f"{tph_n:.0f}", f"{best_native:.4f}"),
    ]
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)) + "\n")
    sys.stdout.write(f"ratio native/sweeper trials per hour: {tph_n / tph_s:.2f}x (target >= 3x)\n")
    better = best_native >= best_sweeper if summary["direction"] == "maximize" else best_native <= best_sweeper
    sys.stdout.write(f"native best metric at least as good: {better}\n")
    sys.stdout.write(f"native trials: {summary['trials']}, recycling: {summary['recycling']}\n")
    sys.stdout.write(f"outputs: {out}\n")


if __name__ == "__main__":
    main()
