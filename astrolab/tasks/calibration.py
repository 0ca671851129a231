"""Calibration of class probabilities: expected calibration error (ECE), reliability bins and temperature
scaling (:func:`fit_temperature`, fitted on the validation split with ``task.calibrate=true``).

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


def fit_temperature(logits, y, max_iter: int = 100) -> float:
    """Temperature scaling (Guo et al. 2017): the ``T > 0`` minimising the mean negative log-likelihood of
    ``softmax(logits / T)`` for true classes ``y`` (L-BFGS on ``log T``, so ``T`` stays positive).
    ``logits`` may be log-probabilities (softmax is unchanged by a per-row constant). Returns 1.0 when
    there is nothing to fit on."""
    import torch

    z = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    t = torch.as_tensor(np.asarray(y), dtype=torch.long)
    if z.ndim != 2 or len(z) == 0 or len(t) != len(z):
        return 1.0
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")
    nll = torch.nn.CrossEntropyLoss()

    def closure():
        opt.zero_grad()
        loss = nll(z / log_t.exp(), t)
        loss.backward()
        return loss

    opt.step(closure)
    value = float(log_t.detach().exp())
    return value if np.isfinite(value) and value > 0 else 1.0


def nll(logits, y, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``softmax(logits / temperature)`` for true classes ``y``."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-logp[np.arange(len(z)), np.asarray(y)].mean())


def scale_probabilities(prob, temperature: float) -> np.ndarray:
    """Probabilities ``prob`` [N, C] recomputed at ``temperature`` (``softmax(log prob / T)``)."""
    logp = np.log(np.clip(np.asarray(prob, dtype=np.float64), 1e-30, None)) / float(temperature)
    logp -= logp.max(1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(1, keepdims=True)
