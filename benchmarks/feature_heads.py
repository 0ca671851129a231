"""Neural classifiers on a light-curve run's per-object features against the run's random forest
(``baseline_features``), on the same splits: how far a smooth head is from the trees, and what closes it.

    python benchmarks/feature_heads.py                     # embedded sample, seeds 42 1 2
    python benchmarks/feature_heads.py --data sdss         # the shared SDSS Stripe 82 RR Lyrae
    python benchmarks/feature_heads.py --heads mlp ple_munge --inits 1

The features, labels and splits come from the real data module (``model=temporal_gnn dataset=lightcurves
seed=S dataset.split.seed=S``; the period search is cached after the first run). The forest is the run's
own baseline (astrolab.training.baselines: 300 trees, balanced class weights, NaN → training median). Heads,
each a 2-layer 128-wide GELU MLP trained with AdamW and early stopping on validation accuracy, averaged
over ``--inits`` initialisations:

- ``mlp``: on the features scaled as the model sees them (``dataset.feature_scaling=robust``);
- ``ple``: piecewise-linear encoding of each feature in 16 training-quantile bins, as the model's
  ``dataset.feature_scaling=ple`` (Gorishniy et al. 2022,
  "On Embeddings for Numerical Features in Tabular Deep Learning"), the encoding that lets MLPs cut like trees;
- ``ple_tree``: the same encoding with target-aware edges (PLE-T of the same paper): the thresholds of a
  16-leaf decision tree fitted to each feature alone against the training labels;
- ``mlp_oob``: ``mlp`` distilled from the forest's out-of-bag class probabilities (0.5 CE + 0.5 KL);
- ``ple_munge``: ``ple`` trained on the forest's probabilities over the training rows plus 10× MUNGE samples
  (Bucilă et al. 2006, model compression: features swapped with the nearest neighbour's and jittered);
- ``stack``: ``mlp`` with the forest's out-of-bag probabilities as extra inputs (the forest's test
  probabilities at test time): an upper reference, not a sequence-model recipe.

Prints each head's test accuracy per seed, its mean, and the ratio of its test errors to the forest's.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from astrolab.data.datamodules.lightcurves import apply_object_scaler, fit_object_scaler  # noqa: E402

SDSS = next((p / "shared" / "data" / "sdss_s82_rrlyrae_lightcurves" for p in ROOT.parents
             if (p / "shared" / "data" / "sdss_s82_rrlyrae_lightcurves").is_dir()), None)
HEADS = ("mlp", "ple", "ple_tree", "mlp_oob", "ple_munge", "stack")


def splits(data: str, seed: int) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """``{split: (raw features, labels)}`` and the feature names from the run's own data module."""
    from astrolab.hpo.runner import compose
    from astrolab.training.build import build_datamodule, check_compatible

    extra = []
    if data == "sdss":
        if SDSS is None:
            sys.exit("feature_heads: shared/data/sdss_s82_rrlyrae_lightcurves not found next to the checkout")
        extra = [f"dataset.path={SDSS / 'light-curves'}", f"dataset.objects={SDSS / 'periods.csv'}",
                 "dataset.target=Type", "dataset.columns.object_id=Num", "dataset.columns.mjd=time",
                 "dataset.columns.mag_err=magerr", "dataset.period_column=Per",
                 "dataset.period_search.min_period=0.1"]
    cfg = compose("train", ["model=temporal_gnn", "dataset=lightcurves", f"seed={seed}",
                            f"dataset.split.seed={seed}", "paths.run_dir=outputs/benchmarks/feature_heads", *extra])
    _, _, task_cls = check_compatible(cfg)
    dm = build_datamodule(cfg, task_cls)
    dm.prepare_data()
    dm.setup("fit")
    out = {s: (np.asarray(dm.baseline_features(s), np.float64), np.asarray(dm.targets(s)).reshape(-1))
           for s in ("train", "val", "test")}
    return out, list(dm.object_feature_names)


def tree_edges(ref: np.ndarray, y: np.ndarray, bins: int = 16, min_leaf: int = 5) -> list[np.ndarray]:
    """Target-aware bin edges (Gorishniy et al. 2022, PLE-T): the thresholds of a decision tree with at most
    ``bins`` leaves fitted to each feature alone against the labels, plus the training minimum and maximum."""
    from sklearn.tree import DecisionTreeClassifier

    out = []
    for j in range(ref.shape[1]):
        v = ref[:, j]
        ok = np.isfinite(v)
        if ok.sum() < 2 * min_leaf or np.ptp(v[ok]) == 0:
            out.append(np.unique(v[ok]) if ok.any() else np.zeros(0))
            continue
        tree = DecisionTreeClassifier(max_leaf_nodes=bins, min_samples_leaf=min_leaf, random_state=0)
        tree.fit(v[ok, None], y[ok])
        thr = tree.tree_.threshold[tree.tree_.feature >= 0]
        out.append(np.unique(np.r_[v[ok].min(), thr, v[ok].max()]))
    return out


def munge(x: np.ndarray, copies: int, rng: np.random.Generator, swap: float = 0.5) -> np.ndarray:
    """MUNGE samples of scaled rows ``x``: each feature swapped (prob ``swap``) for a Gaussian draw around
    the nearest neighbour's value, with the pair's distance as its width."""
    from scipy.spatial import cKDTree

    _, idx = cKDTree(x).query(x, k=2)
    nb = x[idx[:, 1]]
    return np.concatenate([np.where(rng.random(x.shape) < swap, rng.normal(nb, np.abs(x - nb) + 1e-9), x)
                           for _ in range(copies)])


def fit_head(x, y, xv, yv, xt, n_cls, soft=None, alpha=0.0, seed=0, epochs=300, patience=40):
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(seed)
    x, xv, xt = (torch.tensor(a, dtype=torch.float32) for a in (x, xv, xt))
    y = torch.as_tensor(y)
    net = nn.Sequential(nn.Linear(x.shape[1], 128), nn.GELU(), nn.Dropout(0.1), nn.Linear(128, 128), nn.GELU(),
                        nn.Dropout(0.1), nn.Linear(128, n_cls))
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    count = np.bincount(y.numpy(), minlength=n_cls)
    weight = torch.tensor(len(y) / (n_cls * np.maximum(count, 1)), dtype=torch.float32)
    soft = None if soft is None else torch.tensor(soft, dtype=torch.float32)
    best, state, bad = -1.0, None, 0
    for _ in range(epochs):
        net.train()
        for b in torch.randperm(len(x)).split(128):
            out = net(x[b])
            loss = F.cross_entropy(out, y[b], weight=weight)
            if soft is not None:
                loss = (1 - alpha) * loss + alpha * F.kl_div(F.log_softmax(out, 1), soft[b], reduction="batchmean")
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            acc = float((net(xv).argmax(1).numpy() == yv).mean())
        if acc > best:
            best, bad, state = acc, 0, {k: v.clone() for k, v in net.state_dict().items()}
        elif (bad := bad + 1) > patience:
            break
    net.load_state_dict(state)
    net.eval()
    with torch.no_grad():
        return net(xt).argmax(1).numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", choices=("embedded", "sdss"), default="embedded")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    ap.add_argument("--heads", nargs="+", choices=HEADS, default=list(HEADS))
    ap.add_argument("--inits", type=int, default=3, help="initialisations averaged per head and seed")
    args = ap.parse_args()

    import torch
    from sklearn.ensemble import RandomForestClassifier

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    acc: dict[str, list[float]] = {h: [] for h in ("forest", *args.heads)}
    for seed in args.seeds:
        sp, names = splits(args.data, seed)
        (x, y), (xv, yv), (xt, yt) = sp["train"], sp["val"], sp["test"]
        n_cls = int(max(y.max(), yv.max(), yt.max()) + 1)
        med = np.nan_to_num(np.nanmedian(x, 0))
        fill = lambda a: np.where(np.isfinite(a), a, med)  # noqa: E731  (as the run's baseline does)
        rf = RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1, class_weight="balanced",
                                    oob_score=True).fit(fill(x), y)
        acc["forest"].append(float((rf.predict(fill(xt)) == yt).mean()))
        oob = np.nan_to_num(rf.oob_decision_function_, nan=1.0 / len(rf.classes_))
        prob = lambda a: rf.predict_proba(fill(a))  # noqa: E731
        scaler = fit_object_scaler(x, names, "robust")
        scaled = lambda a: apply_object_scaler(a, scaler)  # noqa: E731
        ple_scaler = fit_object_scaler(x, names, "ple")  # the model's dataset.feature_scaling=ple
        ple = lambda a: apply_object_scaler(a, ple_scaler)  # noqa: E731
        tree_scaler = {**ple_scaler, "edges": tree_edges(x, y)}
        ple_tree = lambda a: apply_object_scaler(a, tree_scaler)  # noqa: E731
        for head in args.heads:
            enc = ple_tree if head == "ple_tree" else ple if head.startswith("ple") else scaled
            a, b, c, labels, soft, alpha = enc(x), enc(xv), enc(xt), y, None, 0.0
            if head == "mlp_oob":
                soft, alpha = oob, 0.5
            if head == "stack":
                a, b, c = np.hstack([a, oob]), np.hstack([b, prob(xv)]), np.hstack([c, prob(xt)])
            if head == "ple_munge":
                sx = scaled(x)
                centre, width = np.asarray(scaler["center"]), np.asarray(scaler["scale"])
                synth = munge(sx, 10, np.random.default_rng(seed)) * width + centre  # back to raw units
                p_syn = prob(synth)
                a, soft, alpha = np.vstack([a, enc(synth)]), np.vstack([oob, p_syn]), 1.0
                labels = np.concatenate([y, p_syn.argmax(1)])
            runs = [float((fit_head(a, labels, b, yv, c, n_cls, soft, alpha, seed=i) == yt).mean())
                    for i in range(args.inits)]
            acc[head].append(float(np.mean(runs)))
    forest_err = 1 - np.mean(acc["forest"])
    print(f"\nfeature heads against the run's forest, {args.data} data, seeds {args.seeds}, "
          f"{args.inits} initialisations per head ({time.perf_counter() - t0:.0f} s)\n")
    print("| head | test acc per seed | mean | errors / forest's |")
    print("|---|---|---|---|")
    for head, v in acc.items():
        ratio = (1 - np.mean(v)) / forest_err if forest_err > 0 else float("nan")
        print(f"| {head} | {' / '.join(f'{a:.3f}' for a in v)} | {np.mean(v):.4f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
