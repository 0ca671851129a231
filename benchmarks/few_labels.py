"""Few labels, features only: how far ``dataset.label_fraction`` labels go on a light-curve run's per-object
features, and whether the unlabelled objects' features help (transductive label spreading).

    python benchmarks/few_labels.py --data rrlyrae          # the shared SDSS Stripe 82 RR Lyrae, splits 0 1 2
    python benchmarks/few_labels.py --data embedded         # the embedded sample (800 objects)

Same data module, split and label subset as ``benchmarks/pretraining.py`` (``dataset.split.seed=S
dataset.label_fraction=F dataset.max_length=100``). The features are the scaled per-object vector the model
sees (``objects.features``). Per split, test accuracy of:

- ``forest``: the feature baseline's settings (300 trees, balanced class weights) on the labelled subset
  (here on the scaled vector, where an undefined feature is 0 rather than the training median);
- ``logistic``: logistic regression (C = 1, balanced class weights) on the labelled subset;
- ``pca8_logistic``: the same on 8 principal components fitted to the features of every non-test object
  (train, val, and the unlabelled training objects): an unsupervised representation, then the labels;
- ``label_spreading``: scikit-learn's LabelSpreading (7-nearest-neighbour graph) over every non-test object,
  labels only on the labelled subset: the unlabelled objects shape the decision boundary.

Prints the test objects correct per split, the mean accuracy and the ratio of each method's test errors to
the forest's (< 1: fewer errors). The test objects never enter any fit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pretraining import RRLYRAE, data_args  # noqa: E402  (the same data overrides as the pretraining benchmark)

METHODS = ("forest", "logistic", "pca8_logistic", "label_spreading")


def split_features(seed: int, ns):
    """``(features, labels, labelled train mask, test mask)`` of one split from the run's data module."""
    from astrolab.hpo.runner import compose
    from astrolab.training.build import build_datamodule, check_compatible

    if ns.data == "rrlyrae" and not (Path(ns.rrlyrae) / "periods.csv").is_file():
        sys.exit(f"few_labels: no periods.csv in {ns.rrlyrae}; pass --rrlyrae <folder with light-curves/ and "
                 "periods.csv>")
    cfg = compose("train", ["model=temporal_gnn", "dataset=lightcurves", f"seed={seed}", f"dataset.split.seed={seed}",
                            f"dataset.label_fraction={ns.label_fraction}", "dataset.max_length=100",
                            "paths.run_dir=outputs/benchmarks/few_labels", *data_args(ns.data, ns)])
    _, _, task_cls = check_compatible(cfg)
    dm = build_datamodule(cfg, task_cls)
    dm.prepare_data()
    dm.setup("fit")
    objs = dm.td["objects"]
    return (objs["features"].numpy().astype(np.float64), objs["y"].numpy(), objs["train_mask"].numpy(),
            objs["test_mask"].numpy())


def fit_predict(method: str, x, y, labelled, test, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.semi_supervised import LabelSpreading

    pool = ~test  # every object whose features may be used without its label
    if method == "forest":
        m = RandomForestClassifier(300, random_state=seed, class_weight="balanced", n_jobs=1)
        return m.fit(x[labelled], y[labelled]).predict(x[test])
    if method == "logistic":
        m = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced")
        return m.fit(x[labelled], y[labelled]).predict(x[test])
    if method == "pca8_logistic":
        pca = PCA(8, random_state=seed).fit(x[pool])
        m = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced")
        return m.fit(pca.transform(x[labelled]), y[labelled]).predict(pca.transform(x[test]))
    partial = np.where(labelled, y, -1)
    m = LabelSpreading(kernel="knn", n_neighbors=7).fit(x[pool], partial[pool])
    return m.predict(x[test])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", choices=("embedded", "rrlyrae"), default="rrlyrae")
    ap.add_argument("--rrlyrae", default=RRLYRAE)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--label-fraction", type=float, default=0.1)
    ap.add_argument("--n-objects", type=int, default=800, help="embedded sample size")
    ns = ap.parse_args()
    correct = {m: [] for m in METHODS}
    n_test = []
    for s in ns.seeds:
        x, y, labelled, test = split_features(s, ns)
        n_test.append(int(test.sum()))
        for m in METHODS:
            correct[m].append(int((fit_predict(m, x, y, labelled, test, s) == y[test]).sum()))
        print(f"split {s}: {int(labelled.sum())} labels, {int(test.sum())} test objects: "
              + ", ".join(f"{m} {correct[m][-1]}" for m in METHODS), flush=True)
    total = sum(n_test)
    errors_forest = total - sum(correct["forest"])
    print(f"\n{ns.data}, label fraction {ns.label_fraction}, splits {' '.join(map(str, ns.seeds))}")
    for m in METHODS:
        errors = total - sum(correct[m])
        print(f"{m:<16} correct {', '.join(map(str, correct[m])):<16} mean acc {sum(correct[m]) / total:.4f}  "
              f"errors / forest's {errors / max(errors_forest, 1):.2f}")


if __name__ == "__main__":
    main()
