"""The feature baseline of a classification run: a random forest on the data's per-object features.

``baseline_features/<metric>`` in summary.json sits next to the majority baseline (``baseline/…``): a
scikit-learn ``RandomForestClassifier`` (the standard feature classifier for variable stars, e.g. Richards
et al. 2011, ApJ 733, 10) trained on the training split of the data module's ``baseline_features(split)``
(data contract; NaN imputed with the training medians), scored on the test split with the task's own metric
objects. Data without per-object features, or without scikit-learn, skip it with one log line.

The forest's test predictions also go next to the model's in ``predictions_test.csv``
(``baseline_features_predicted``, ``baseline_features_prob``) and the objects where the two disagree are
counted in summary.json (``baseline_features`` → ``disagree``, ``only_model_right``, ``only_baseline_right``),
so a one-object difference in accuracy can be read object by object. ``mcnemar_p`` is the exact two-sided
McNemar p-value of those discordant pairs (a binomial test of ``only_model_right`` out of
``only_model_right + only_baseline_right`` at 1/2; McNemar 1947, the paired test for two classifiers on one
test set, Dietterich 1998): how often a split of that size would come out at least this lopsided if the two
classifiers were equally good. 1.0 when they never part ways.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

PREFIX = "baseline_features"


@dataclass
class FeatureBaseline:
    """The forest's test-split result: metrics and, in the order of ``targets("test")``, its class codes and
    the probability it gives them."""

    metrics: dict[str, float] = field(default_factory=dict)
    predicted: np.ndarray | None = None
    prob: np.ndarray | None = None
    true: np.ndarray | None = None


def feature_baseline_metrics(dm, task, seed: int = 0, n_estimators: int = 300) -> dict[str, float]:
    """``{"baseline_features/acc": …, …}`` or ``{}`` (not classification, no features, no scikit-learn)."""
    return feature_baseline(dm, task, seed, n_estimators).metrics


def feature_baseline(dm, task, seed: int = 0, n_estimators: int = 300) -> FeatureBaseline:
    """The random forest of :func:`feature_baseline_metrics` with its test predictions (empty when skipped)."""
    if getattr(task, "kind", None) != "classification" or not hasattr(dm, "targets"):
        return FeatureBaseline()
    get = getattr(dm, "baseline_features", None)
    x_train = get("train") if callable(get) else None
    if x_train is None:
        log.info("baseline_features skipped: this data module exposes no per-object features "
                 "(baseline_features(split))")
        return FeatureBaseline()
    x_test = get("test")
    y_train = np.asarray(dm.targets("train")).reshape(-1)
    y_test = dm.targets("test")
    ok = y_train >= 0
    if len(y_test) == 0 or ok.sum() < 2 or x_train.shape[1] == 0:
        log.info("baseline_features skipped: empty training or test split, or no features")
        return FeatureBaseline()
    try:
        from sklearn.ensemble import RandomForestClassifier
    except ImportError:
        log.info("baseline_features skipped: scikit-learn is not installed (pip install scikit-learn)")
        return FeatureBaseline()
    import torch

    t0 = time.perf_counter()
    x_train, y_train = np.asarray(x_train, np.float64)[ok], y_train[ok]
    with np.errstate(all="ignore"):
        med = np.nan_to_num(np.nanmedian(x_train, 0)) if len(x_train) else 0.0
    fill = lambda x: np.where(np.isfinite(x), x, med)  # noqa: E731
    rf = RandomForestClassifier(n_estimators=n_estimators, random_state=int(seed), n_jobs=1,
                                class_weight="balanced")
    rf.fit(fill(x_train), y_train)
    prob = np.zeros((len(y_test), int(task.num_classes)))
    prob[:, rf.classes_] = rf.predict_proba(fill(np.asarray(x_test, np.float64)))
    out = task.score_outputs(torch.from_numpy(prob).float(), torch.as_tensor(y_test))
    metrics: dict[str, Any] = {f"{PREFIX}/{k.split('/', 1)[-1]}": v for k, v in out.items()}
    log.info("feature baseline: random forest (%d trees) on %d features in %.1f s: %s", n_estimators,
             x_train.shape[1], time.perf_counter() - t0,
             ", ".join(f"{k.split('/', 1)[-1]} {v:.3f}" for k, v in metrics.items()))
    code = prob.argmax(1)
    return FeatureBaseline(metrics, code, prob[np.arange(len(code)), code], np.asarray(y_test).reshape(-1))


def mcnemar_p(only_model_right: int, only_baseline_right: int) -> float:
    """Exact two-sided McNemar p-value of two classifiers' discordant pairs on one test set."""
    n = only_model_right + only_baseline_right
    if n == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(only_model_right, n, 0.5).pvalue)


def add_baseline_columns(table, baseline: FeatureBaseline, task) -> dict[str, int | float]:
    """Put the forest's test predictions next to the model's (``baseline_features_predicted`` /
    ``_prob``), count the objects where they disagree and test the difference (``mcnemar_p``); ``{}``
    (table untouched) when there is no forest or the table's rows are not the forest's rows (checked on the
    true labels, row by row)."""
    if baseline.predicted is None or table is None or "true" not in table.colnames \
            or "predicted" not in table.colnames:
        return {}
    names = np.asarray(task.class_names)
    true = np.asarray(table["true"]).astype(str)
    if len(true) != len(baseline.predicted) or not np.array_equal(true, names[baseline.true]):
        log.warning("baseline_features: the test predictions table has other rows than the forest's test "
                    "split (%d vs %d rows); its per-object columns are left out", len(true),
                    len(baseline.predicted))
        return {}
    forest = names[baseline.predicted]
    table["baseline_features_predicted"] = forest
    table["baseline_features_prob"] = baseline.prob.astype(np.float32)
    table["baseline_features_prob"].info.format = ".7g"
    model = np.asarray(table["predicted"]).astype(str)
    counts = {"disagree": int((model != forest).sum()),
              "only_model_right": int(((model == true) & (forest != true)).sum()),
              "only_baseline_right": int(((model != true) & (forest == true)).sum()),
              "both_wrong": int(((model != true) & (forest != true)).sum())}
    counts["mcnemar_p"] = round(mcnemar_p(counts["only_model_right"], counts["only_baseline_right"]), 6)
    log.info("model vs feature baseline on the %d test objects: they disagree on %d; only the model right on "
             "%d, only the forest on %d, both wrong on %d; McNemar p = %.3g (predictions_test.csv: "
             "baseline_features_predicted)", len(true), counts["disagree"], counts["only_model_right"],
             counts["only_baseline_right"], counts["both_wrong"], counts["mcnemar_p"])
    return counts
