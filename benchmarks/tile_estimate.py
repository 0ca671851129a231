"""How close the tile planner's memory estimate is to a tile's real training step.

Prepares the embedded Gaia sample at ``--n`` stars (cached; the first run writes it), plans its sky tiles
as a default ``astrolab train model=gat dataset=gaia dataset.batching=tiles`` run does, and picks tiles
at the quantiles 0, 25, 50, 75, 90 and 100 % of size among ``--sample`` random ones. Each tile is saved and
trained in a fresh process (the default GAT, two forward + backward + AdamW steps, one thread, glibc's mmap
threshold fixed as a tiled run does); the peak RSS above the process's start is compared with the planner's
estimate for that tile (``astrolab.data.tiles.tile_activation_bytes``, the model's ``tiling_hints``) and with
the whole-tile estimate (``activation_bytes`` over every tile node and edge). Ratios: peak / estimate.

    python benchmarks/tile_estimate.py                 # --n 1000000
    python benchmarks/tile_estimate.py --n 200000 dataset.memory_budget_gb=2
    python benchmarks/tile_estimate.py --fit           # per-layer bytes per node and per edge (random graphs)

``--fit`` measures where the model's per-layer figures (``AstroNodeGNN.tiling_hints``) come from: full-graph
training steps of the default GAT on random graphs (50k–300k nodes, degree 1–20), least squares of the
peak against layers × (nodes + self-loops) and layers × nodes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import torch
from astrolab.hpo.runner import compose
from astrolab.training.build import build_model
from astrolab.utils.memory import fix_mmap_threshold
fix_mmap_threshold()
torch.set_num_threads(1)
cfg = compose("train", ["model=gat", "dataset=gaia"])
batch = torch.load(sys.argv[1], weights_only=False)
model = build_model(cfg, "node_classification", num_features=batch["nodes", "x"].shape[1], num_classes=7)
model.train()
opt = torch.optim.AdamW(model.parameters())
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
base, t0 = peak(), time.perf_counter()
mask = batch["nodes", "train_mask"]
for _ in range(2):
    loss = torch.nn.functional.cross_entropy(model(batch)[mask], batch["nodes", "y"][mask].clamp(min=0))
    loss.backward(); opt.step(); opt.zero_grad()
print(json.dumps({"peak": peak() - base, "s_per_step": (time.perf_counter() - t0) / 2}))
"""


FIT_CHILD = r"""
import resource, sys
import numpy as np, torch
from tensordict import TensorDict
from astrolab.hpo.runner import compose
from astrolab.training.build import build_model
from astrolab.utils.memory import fix_mmap_threshold
fix_mmap_threshold()
torch.set_num_threads(1)
cfg = compose("train", ["model=gat", "dataset=gaia"])
model = build_model(cfg, "node_classification", num_features=6, num_classes=7)
model.train()
opt = torch.optim.AdamW(model.parameters())
n, d = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
edges = torch.from_numpy(np.stack([rng.integers(0, n, n * d), rng.integers(0, n, n * d)], 1))
nodes = TensorDict({"x": torch.randn(n, 6), "y": torch.from_numpy(rng.integers(0, 7, n))}, batch_size=[n])
batch = TensorDict({"nodes": nodes, "edges": TensorDict({"index": edges}, batch_size=[n * d])}, batch_size=[])
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
base = peak()
for _ in range(2):
    loss = torch.nn.functional.cross_entropy(model(batch), batch["nodes", "y"])
    loss.backward(); opt.step(); opt.zero_grad()
print(peak() - base)
"""


def fit() -> None:
    import numpy as np

    layers, rows = 3, []
    print("| nodes | degree | peak MiB |")
    print("|---|---|---|")
    for n, d in [(100_000, 1), (100_000, 10), (100_000, 20), (200_000, 1), (50_000, 20), (300_000, 1)]:
        out = subprocess.run([sys.executable, "-c", FIT_CHILD, str(n), str(d)], capture_output=True, text=True,
                             check=True)
        peak = int(out.stdout.split()[-1])
        rows.append((n, d, peak))
        print(f"| {n} | {d} | {peak / 2**20:.0f} |", flush=True)
    a = np.array([[layers * (n * d + n), layers * n] for n, d, _ in rows], float)
    coef = np.linalg.lstsq(a, np.array([r[2] for r in rows], float), rcond=None)[0]
    print(f"per layer: {coef[0]:.0f} B per edge (self-loops included), {coef[1]:.0f} B per node")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="stars in the embedded sample")
    ap.add_argument("--sample", type=int, default=60, help="random tiles to choose the quantiles from")
    ap.add_argument("--fit", action="store_true", help="fit per-layer bytes per node / edge on random graphs")
    ap.add_argument("extra", nargs="*", help="dataset overrides, e.g. dataset.memory_budget_gb=2")
    args = ap.parse_args()
    if args.fit:
        fit()
        return
    import numpy as np
    import torch

    from astrolab.data.tiles import activation_bytes, tile_activation_bytes
    from astrolab.hpo.runner import compose
    from astrolab.training.build import build_datamodule, check_compatible, model_hints

    cfg = compose("train", ["model=gat", "dataset=gaia", f"dataset.n_stars={args.n}", "dataset.batching=tiles",
                            *args.extra])
    _, _, task_cls = check_compatible(cfg)
    dm = build_datamodule(cfg, task_cls)
    dm.prepare_data()
    dm.setup("fit")
    plan, floats = dm.tile_plan, model_hints(cfg)["activation_floats"]
    print(f"load: {os.getloadavg()}  plan: {plan.summary()}  tile target "
          f"{dm.tile_target_bytes() / 2**30:.2f} GiB  hints: {floats}")
    rng = np.random.default_rng(0)
    cand = rng.choice(len(plan), min(args.sample, len(plan)), replace=False)
    size = {int(t): len(plan.tile_nodes(int(t))) for t in cand}
    ranked = sorted(size, key=size.get)
    picks = list(dict.fromkeys(ranked[int(q * (len(ranked) - 1))] for q in (0, 0.25, 0.5, 0.75, 0.9, 1.0)))
    rowptr = dm._csr[0]
    print("| tile | core | nodes | edges | peak MiB | estimate MiB | peak / estimate | whole-tile estimate MiB |"
          " peak / whole-tile | s per step |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for t in picks:
            batch = dm.tile_batch(t, "test")
            ids, hop = batch["nodes", "index"].numpy(), batch["nodes", "hop"].numpy()
            n, e = int(batch["nodes"].batch_size[0]), int(batch["edges"].batch_size[0])
            est = tile_activation_bytes(hop, rowptr[ids + 1] - rowptr[ids], floats)
            whole = activation_bytes(n, e, floats)
            path = Path(tmp) / f"tile{t}.pt"
            torch.save(batch, path)
            out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.splitlines()[-1])
            mib = 2**20
            print(f"| {t} | {len(plan.core[t])} | {n} | {e} | {r['peak'] / mib:.0f} | {est / mib:.0f} | "
                  f"{r['peak'] / max(est, 1):.2f} | {whole / mib:.0f} | {r['peak'] / max(whole, 1):.2f} | "
                  f"{r['s_per_step']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
