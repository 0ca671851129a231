"""``reliability.png``: accuracy against confidence per bin, with the diagonal of perfect calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def reliability_diagram(bins: dict[str, np.ndarray], ece: float, path: str | Path, title: str = "reliability") -> Path:
    """Draw the reliability bins of :func:`astrolab.tasks.calibration.reliability_bins`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges, count = bins["edges"], bins["count"]
    centers = 0.5 * (edges[1:] + edges[:-1])
    width = edges[1] - edges[0]
    ok = count > 0
    fig, (ax, axh) = plt.subplots(2, 1, figsize=(5, 6), dpi=100, sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], color="0.5", ls="--", lw=1, label="perfectly calibrated")
    ax.bar(centers[ok], bins["accuracy"][ok], width=width * 0.9, color="tab:blue", alpha=0.8, label="accuracy")
    ax.plot(bins["confidence"][ok], bins["accuracy"][ok], "o", color="k", ms=3, label="mean confidence")
    ax.set_ylabel("accuracy in bin")
    ax.set_ylim(0, 1)
    ax.set_title(f"{title}\nECE = {ece:.4f}")
    ax.legend(loc="upper left", fontsize=8)
    axh.bar(centers, count, width=width * 0.9, color="0.4")
    axh.set_xlabel("confidence (top-class probability)")
    axh.set_ylabel("objects")
    axh.set_xlim(0, 1)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
