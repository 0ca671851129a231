"""The feature baseline of a classification run: a random forest on the data's per-object features.

``baseline_features/<metric>`` in summary.json sits next to the majority baseline (``baseline/…``): a
scikit-learn ``RandomForestClassifier`` (the standard feature classifier for variable stars, e.g. Richards
et al. 2011, ApJ 733, 10) trained on the training split of the data module's ``baseline_features(split)``
(data contract; NaN imputed with the training medians), scored on the test split with the task's own metric
objects. Data without per-object features, or without scikit-learn, skip it with one log line.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

PREFIX = "baseline_features"


def feature_baseline_metrics(dm, task, seed: int = 0, n_estimators: int = 300) -> dict[str, float]:
    """``{"baseline_features/acc": …, …}`` or ``{}`` (not classification, no features, no scikit-learn)."""
    if getattr(task, "kind", None) != "classification" or not hasattr(dm, "targets"):
        return {}
    get = getattr(dm, "baseline_features", None)
    x_train = get("train") if callable(get) else None
    if x_train is None:
        log.info("baseline_features skipped: this data module exposes no per-object features "
                 "(baseline_features(split))")
        return {}
    x_test = get("test")
    y_train = np.asarray(dm.targets("train")).reshape(-1)
    y_test = dm.targets("test")
    ok = y_train >= 0
    if len(y_test) == 0 or ok.sum() < 2 or x_train.shape[1] == 0:
        log.info("baseline_features skipped: empty training or test split, or no features")
        return {}
    try:
        from sklearn.ensemble import RandomForestClassifier
    except ImportError:
        log.info("baseline_features skipped: scikit-learn is not installed (pip install scikit-learn)")
        return {}
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
    return metrics
