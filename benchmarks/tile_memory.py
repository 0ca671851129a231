"""Peak memory of a sequence of tiled training steps, with and without the fixed mmap threshold.

Each mode runs in a fresh process: the default GAT (conf/model/gat.yaml) does forward + backward + AdamW
steps over random graphs of the given node counts (degree 20, every node scored, like the largest tiles of
a tiled run), then prints its peak RSS above the start. Baseline in the same run: the largest size alone,
with glibc's default malloc. Prints peak MiB per case and the ratios.

    python benchmarks/tile_memory.py                      # --sizes 20000 45000 10000 60000 30000 55000 60000 15000 60000
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CHILD = r"""
import resource, sys, time
import numpy as np, torch
from tensordict import TensorDict
from astrolab.hpo.runner import compose
from astrolab.training.build import build_model
if sys.argv[1] == "fixed":
    from astrolab.utils.memory import fix_mmap_threshold
    assert fix_mmap_threshold()
torch.set_num_threads(1)
cfg = compose("train", ["model=gat", "dataset=gaia"])
model = build_model(cfg, "node_classification", num_features=6, num_classes=7)
opt = torch.optim.AdamW(model.parameters())
rng = np.random.default_rng(0)
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
base = peak()
t0 = time.perf_counter()
for n in map(int, sys.argv[2:]):
    e = 20 * n
    edges = torch.from_numpy(np.stack([rng.integers(0, n, e), rng.integers(0, n, e)], 1))
    nodes = TensorDict({"x": torch.randn(n, 6), "y": torch.from_numpy(rng.integers(0, 7, n))}, batch_size=[n])
    batch = TensorDict({"nodes": nodes, "edges": TensorDict({"index": edges}, batch_size=[e])}, batch_size=[])
    loss = torch.nn.functional.cross_entropy(model(batch), batch["nodes", "y"])
    loss.backward(); opt.step(); opt.zero_grad()
print(round(peak() - base), round(time.perf_counter() - t0, 2))
"""


def run(mode: str, sizes: list[int]) -> tuple[int, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, *map(str, sizes)], capture_output=True, text=True,
                         check=True)
    mib, sec = out.stdout.split()[-2:]
    return int(mib), float(sec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+",
                    default=[20000, 45000, 10000, 60000, 30000, 55000, 60000, 15000, 60000])
    args = ap.parse_args()
    largest = [max(args.sizes)]
    rows = {("default", "largest alone"): run("default", largest), ("default", "sequence"): run("default", args.sizes),
            ("fixed", "largest alone"): run("fixed", largest), ("fixed", "sequence"): run("fixed", args.sizes)}
    ref = rows[("default", "largest alone")][0]
    print("| malloc | steps | peak MiB above start | / largest alone (default) | s |")
    print("|---|---|---|---|---|")
    for (mode, what), (mib, sec) in rows.items():
        print(f"| {mode} | {what} | {mib} | {mib / ref:.2f} | {sec} |")


if __name__ == "__main__":
    main()
