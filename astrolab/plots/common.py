"""Figures every run gets: learning curves, confusion matrix, true vs predicted (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def figure(*args, **kwargs):
    """A matplotlib figure on the non-interactive Agg canvas (no display needed, thread-safe)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(*args, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def learning_curves(metrics_csv: Path, path: Path) -> Path | None:
    """Per-epoch train/val curves of the loss and every metric logged for both stages."""
    import csv

    metrics_csv = Path(metrics_csv)
    if not metrics_csv.exists():
        return None
    with metrics_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "epoch" not in rows[0]:
        return None
    series: dict[str, dict[int, float]] = {}
    for row in rows:
        if not row.get("epoch"):
            continue
        ep = int(float(row["epoch"]))
        for k, v in row.items():
            if v not in ("", None) and "/" in k and k.split("/", 1)[0] in ("train", "val"):
                series.setdefault(k, {})[ep] = float(v)
    names = sorted({k.split("/", 1)[1] for k in series})
    if not names:
        return None
    fig = figure(figsize=(4 * min(len(names), 4), 3.2 * ((len(names) + 3) // 4)))
    for i, name in enumerate(names):
        ax = fig.add_subplot((len(names) + 3) // 4, min(len(names), 4), i + 1)
        for stage, style in (("train", "-"), ("val", "--")):
            s = series.get(f"{stage}/{name}")
            if s:
                ep = sorted(s)
                ax.plot(ep, [s[e] for e in ep], style, label=stage)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend(fontsize=8)
    return save(fig, path)


def confusion_matrix(true: Sequence, predicted: Sequence, class_names: Sequence[str], path: Path) -> Path:
    """Row-normalised confusion matrix (rows: true class) with counts in the cells."""
    names = [str(n) for n in class_names]
    index = {n: i for i, n in enumerate(names)}
    k = len(names)
    cm = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(np.asarray(true).astype(str), np.asarray(predicted).astype(str)):
        cm[index[t], index[p]] += 1
    frac = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    size = max(4.0, 0.45 * k + 2.5)
    fig = figure(figsize=(size, size))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    if k <= 25:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), names, rotation=90, fontsize=7)
    ax.set_yticks(range(k), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of true class")
    return save(fig, path)


def true_vs_predicted(true: Sequence[float], predicted: Sequence[float], path: Path, name: str = "target") -> Path:
    t, p = np.asarray(true, float), np.asarray(predicted, float)
    ok = np.isfinite(t) & np.isfinite(p)
    fig = figure(figsize=(4.5, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(t[ok], p[ok], s=4, alpha=0.5)
    if ok.any():
        lo, hi = float(min(t[ok].min(), p[ok].min())), float(max(t[ok].max(), p[ok].max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel(f"true {name}")
    ax.set_ylabel(f"predicted {name}")
    return save(fig, path)
