"""Calibration of class probabilities: expected calibration error (ECE) and reliability bins.

ECE (Guo et al. 2017): the test objects are binned by their top-class probability (confidence) into
``n_bins`` equal-width bins; ECE is the count-weighted mean of |accuracy − mean confidence| over bins.
Written by hand (a dozen lines of NumPy) because torchmetrics' version needs tensors on one device and
reports no per-bin values for the reliability diagram.
"""

from __future__ import annotations

import numpy as np


def reliability_bins(prob: np.ndarray, y: np.ndarray, n_bins: int = 15) -> dict[str, np.ndarray]:
    """Per confidence bin: ``edges`` [n_bins+1], ``confidence`` and ``accuracy`` (NaN where empty), ``count``."""
    prob = np.asarray(prob, dtype=np.float64)
    y = np.asarray(y)
    conf = prob.max(1)
    correct = prob.argmax(1) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(which, conf, minlength=n_bins) / count
        accuracy = np.bincount(which, correct.astype(float), minlength=n_bins) / count
    return {"edges": edges, "confidence": confidence, "accuracy": accuracy, "count": count}


def expected_calibration_error(prob: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """ECE of probabilities ``prob`` [N, C] for true class indices ``y`` [N] (0: perfectly calibrated)."""
    b = reliability_bins(prob, y, n_bins)
    n = b["count"].sum()
    if n == 0:
        return float("nan")
    ok = b["count"] > 0
    return float((b["count"][ok] * np.abs(b["accuracy"][ok] - b["confidence"][ok])).sum() / n)
