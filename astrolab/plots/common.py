"""Figures every run gets: learning curves, confusion matrix, true vs predicted (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def figure(*args, **kwargs):
    """A matplotlib figure on the non-interactive Agg canvas (no display needed, thread-safe), with
    constrained layout (titles, legends and colour bars never overlap)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    kwargs.setdefault("layout", "constrained")
    fig = Figure(*args, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def set_title(fig, title: str | None, subtitle: str | None = None) -> None:
    """The figure's top lines: the run (small, grey) and a subtitle, wrapped to the figure's width."""
    import textwrap

    width = max(int(fig.get_figwidth() * 13), 30)
    lines = [textwrap.fill(t, width) for t in (title, subtitle) if t]
    if lines:
        fig.suptitle("\n".join(lines), fontsize=8, color="0.25")


def save(fig, path: Path, title: str | None = None) -> Path:
    """Write ``fig`` as a PNG (sizes readable at 100 dpi), with ``title`` (the run) as its top line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    set_title(fig, title)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def run_title(run_dir: Path, split: str | None = None) -> str:
    """``model=gat dataset=gaia task=node_classification · <run folder>`` (the Hydra choices of the running
    job when there are any), shortened to fit a figure."""
    from astrolab.utils.runs import hydra_choices

    choices = hydra_choices()
    parts = [f"{g}={choices[g]}" for g in ("model", "dataset", "task") if choices.get(g)]
    name = Path(run_dir).name
    text = " ".join(parts + ([f"· {name}"] if name else []))
    if split:
        text += f" · {split} split"
    return text if len(text) <= 110 else text[:107] + "..."


def _read_rows(metrics_csv: Path) -> list[dict[str, str]]:
    import csv

    with Path(metrics_csv).open() as fh:
        return list(csv.DictReader(fh))


def learning_curves(metrics_csv: Path, path: Path, monitor: str | None = None, mode: str | None = None,
                    title: str | None = None) -> Path | None:
    """Per-epoch train/val curves of the loss and every metric logged for both stages: integer epochs
    (from 1), the best epoch of the monitored metric marked, the test value of each metric as a star."""
    from matplotlib.ticker import MaxNLocator

    metrics_csv = Path(metrics_csv)
    if not metrics_csv.exists():
        return None
    rows = _read_rows(metrics_csv)
    if not rows or "epoch" not in rows[0]:
        return None
    raw = not _is_epoch_table(rows)  # Lightning's own file counts epochs from 0
    series: dict[str, dict[int, float]] = {}
    test: dict[str, float] = {}
    for row in rows:
        for k, v in row.items():
            if v in ("", None) or not k or "/" not in k:
                continue
            stage = k.split("/", 1)[0]
            if stage == "test":
                test[k.split("/", 1)[1]] = float(v)
            elif stage in ("train", "val") and row.get("epoch") not in ("", None):
                ep = int(float(row["epoch"])) + (1 if raw else 0)
                series.setdefault(k, {})[ep] = float(v)
    names = sorted({k.split("/", 1)[1] for k in series}, key=lambda n: (n != "loss", n))
    if not names:
        return None
    best_epoch = None
    if monitor and monitor in series and series[monitor]:
        s = series[monitor]
        pick = max if (mode or "min") == "max" else min
        best_epoch = pick(s, key=lambda e: s[e])
    epochs = [e for s in series.values() for e in s]
    first_epoch, last_epoch = min(epochs), max(epochs)
    cols = min(len(names), 4)
    n_rows = (len(names) + cols - 1) // cols
    fig = figure(figsize=(3.6 * cols, 3.0 * n_rows))
    for i, name in enumerate(names):
        ax = fig.add_subplot(n_rows, cols, i + 1)
        for stage, style in (("train", "-"), ("val", "--")):
            s = series.get(f"{stage}/{name}")
            if s:
                ep = sorted(s)
                ax.plot(ep, [s[e] for e in ep], style, marker="o" if len(ep) <= 30 else None, ms=3, label=stage)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.5", lw=0.8, ls=":", label=f"best epoch {best_epoch}")
        if name in test:
            x = best_epoch if best_epoch is not None else max(max(v) for v in series.values() if v)
            ax.plot([x], [test[name]], marker="*", ms=10, color="C3", ls="none",
                    label=f"test {test[name]:.4g}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        if last_epoch - first_epoch < 2:  # a run of one or two epochs: whole-epoch ticks, not 0.945 … 1.055
            ax.set_xlim(first_epoch - 0.5, last_epoch + 0.5)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name + (f" (monitored, {mode})" if monitor and monitor.endswith("/" + name) else ""),
                     fontsize=9)
        ax.legend(fontsize=7)
    return save(fig, path, title)


def _is_epoch_table(rows: list[dict[str, str]]) -> bool:
    """``metrics.csv`` as astrolab writes it: epochs counted from 1, one row each."""
    eps = [r["epoch"] for r in rows if r.get("epoch") not in ("", None)]
    return bool(eps) and eps[0] in ("1", "1.0") and len(eps) == len(set(eps))


def confusion_matrix(true: Sequence, predicted: Sequence, class_names: Sequence[str], path: Path,
                     split: str = "test", title: str | None = None) -> Path:
    """Row-normalised confusion matrix (rows: true class) with counts in the cells; titled with the split,
    the number of objects and the accuracy."""
    names = [str(n) for n in class_names]
    index = {n: i for i, n in enumerate(names)}
    k = len(names)
    cm = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(np.asarray(true).astype(str), np.asarray(predicted).astype(str)):
        cm[index[t], index[p]] += 1
    frac = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    size = max(4.5, 0.45 * k + 3.0)
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
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    n = int(cm.sum())
    acc = float(np.trace(cm)) / n if n else float("nan")
    ax.set_title(f"{split} split: N = {n}, accuracy {acc:.3f}", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the true class")
    return save(fig, path, title)


def true_vs_predicted(true: Sequence[float], predicted: Sequence[float], path: Path, name: str = "target",
                      unit: str | None = None, split: str = "test", title: str | None = None) -> Path:
    """Predicted against true values (hexbin density when there are many) with the 1:1 line."""
    t, p = np.asarray(true, float), np.asarray(predicted, float)
    ok = np.isfinite(t) & np.isfinite(p)
    fig = figure(figsize=(5, 4.6))
    ax = fig.add_subplot(1, 1, 1)
    if ok.sum() > 2000:
        hb = ax.hexbin(t[ok], p[ok], gridsize=60, bins="log", mincnt=1, cmap="viridis")
        fig.colorbar(hb, ax=ax, label="objects per cell")
    else:
        ax.scatter(t[ok], p[ok], s=4, alpha=0.5)
    if ok.any():
        lo, hi = float(min(t[ok].min(), p[ok].min())), float(max(t[ok].max(), p[ok].max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        rmse = float(np.sqrt(np.mean((p[ok] - t[ok]) ** 2)))
        ax.set_title(f"{split} split: N = {int(ok.sum())}, RMSE {rmse:.4g}", fontsize=9)
    u = f" [{unit}]" if unit else ""
    ax.set_xlabel(f"true {name}{u}")
    ax.set_ylabel(f"predicted {name}{u}")
    return save(fig, path, title)
