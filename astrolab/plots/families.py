"""Ready-made figures for the other data families, on plain arrays (a family's data module calls them
from its ``plots()`` hook or registers them with :func:`astrolab.plots.register_plotter`):

- :func:`phase_folded_light_curves` — light curves folded on their period, one panel per object,
  titled with the predicted class (``sequence`` data);
- :func:`photo_z_scatter` — photometric vs spectroscopic redshift with the ``|Δz|/(1+z) = 0.15``
  outlier lines, NMAD and outlier fraction (photo-z);
- :func:`cosmic_web_slice` — a thin slab of a particle/galaxy box coloured by class
  (void / wall / filament / node);
- :func:`point_cloud_segmentation` — a point cloud coloured by predicted segment, with the true segments
  beside it when given.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from astrolab.plots import register_plotter
from astrolab.plots.common import figure, save


def phase_folded_light_curves(times: Sequence[np.ndarray], mags: Sequence[np.ndarray], periods: Sequence[float],
                              labels: Sequence[str], path: Path, max_panels: int = 12,
                              bands: Sequence[np.ndarray] | None = None) -> Path:
    """One panel per object: magnitude against phase (two cycles), one colour per band."""
    n = min(len(times), max_panels)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig = figure(figsize=(3.2 * cols, 2.4 * rows))
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 1)
        t, m, p = np.asarray(times[i], float), np.asarray(mags[i], float), float(periods[i])
        folded = np.isfinite(p) and p > 0
        phase = ((t - t.min()) / p) % 1.0 if folded else t - t.min()
        b = np.asarray(bands[i]).astype(str) if bands is not None else np.full(len(t), "")
        for name in sorted(set(b.tolist())):
            k = b == name
            x = np.r_[phase[k], phase[k] + 1] if folded else phase[k]
            y = np.r_[m[k], m[k]] if folded else m[k]
            ax.scatter(x, y, s=3, label=name or None)
        ax.invert_yaxis()
        ax.set_title(f"{labels[i]}  P={p:.4g} d" if folded else str(labels[i]), fontsize=8)
        ax.set_xlabel("phase" if folded else "days")
        ax.set_ylabel("mag")
        if bands is not None and i == 0:
            ax.legend(fontsize=6, markerscale=2)
    return save(fig, path)


def forecasts(curves: Sequence[dict], table, path: Path, max_panels: int = 6) -> Path:
    """Observed epochs (grey), the forecast epochs' true magnitudes (black) and the model's forecasts (red)
    for a few objects; ``table`` is the forecasting predictions table (id, mjd, true, predicted)."""
    n = min(len(curves), max_panels)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig = figure(figsize=(4.0 * cols, 2.6 * rows))
    oid = np.asarray(table["id"])
    for i in range(n):
        c = curves[i]
        ax = fig.add_subplot(rows, cols, i + 1)
        q = oid == c["object_id"]
        t0 = float(np.min(c["mjd"]))
        ax.scatter(c["mjd"] - t0, c["mag"], s=2, color="0.7", label="observed")
        ax.scatter(np.asarray(table["mjd"])[q] - t0, np.asarray(table["true"])[q], s=6, color="k", label="true")
        ax.scatter(np.asarray(table["mjd"])[q] - t0, np.asarray(table["predicted"])[q], s=6, color="r",
                   marker="x", label="forecast")
        ax.invert_yaxis()
        ax.set_title(f"object {c['object_id']}", fontsize=8)
        ax.set_xlabel("days")
        ax.set_ylabel("mag")
        if i == 0:
            ax.legend(fontsize=6)
    return save(fig, path)


def photo_z_scatter(z_true: np.ndarray, z_pred: np.ndarray, path: Path, outlier: float = 0.15) -> Path:
    zt, zp = np.asarray(z_true, float), np.asarray(z_pred, float)
    dz = (zp - zt) / (1 + zt)
    nmad = 1.4826 * np.median(np.abs(dz - np.median(dz))) if len(dz) else float("nan")
    frac = float(np.mean(np.abs(dz) > outlier)) if len(dz) else float("nan")
    fig = figure(figsize=(5, 5))
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(zt, zp, s=3, alpha=0.5)
    hi = float(max(zt.max(initial=0), zp.max(initial=0))) * 1.05 + 1e-3
    grid = np.linspace(0, hi, 50)
    ax.plot(grid, grid, "k-", lw=1)
    for s in (1, -1):
        ax.plot(grid, grid + s * outlier * (1 + grid), "r--", lw=0.8)
    ax.set_xlim(0, hi)
    ax.set_ylim(0, hi)
    ax.set_xlabel(r"$z_\mathrm{spec}$")
    ax.set_ylabel(r"$z_\mathrm{phot}$")
    ax.set_title(f"NMAD={nmad:.4f}  outliers={frac:.1%}", fontsize=9)
    return save(fig, path)


def cosmic_web_slice(positions: np.ndarray, labels: np.ndarray, class_names: Sequence[str], path: Path,
                     axis: int = 2, thickness: float | None = None) -> Path:
    pos = np.asarray(positions, float)
    lab = np.asarray(labels, int)
    mid = np.median(pos[:, axis])
    width = thickness if thickness is not None else 0.1 * np.ptp(pos[:, axis])
    sel = np.abs(pos[:, axis] - mid) <= width / 2
    a, b = [i for i in range(3) if i != axis]
    fig = figure(figsize=(6, 6))
    ax = fig.add_subplot(1, 1, 1)
    for k, name in enumerate(class_names):
        m = sel & (lab == k)
        ax.scatter(pos[m, a], pos[m, b], s=2, label=f"{name} ({int(m.sum())})")
    ax.set_aspect("equal")
    ax.set_xlabel("xyz"[a] + " [Mpc/h]")
    ax.set_ylabel("xyz"[b] + " [Mpc/h]")
    ax.set_title(f"slice {'xyz'[axis]} = {mid:.1f} ± {width / 2:.1f}", fontsize=9)
    ax.legend(fontsize=7, markerscale=3)
    return save(fig, path)


def point_cloud_segmentation(points: np.ndarray, predicted: np.ndarray, path: Path,
                             true: np.ndarray | None = None, class_names: Sequence[str] | None = None,
                             unit: str = "kpc") -> Path:
    """A point cloud coloured by predicted segment, with the true segments beside it when given (the same
    colour for the same class in both panels)."""
    pts = np.asarray(points, float)
    panels = [("predicted", np.asarray(predicted))] + ([("true", np.asarray(true))] if true is not None else [])
    n_cls = len(class_names) if class_names else int(max(int(p.max(initial=0)) for _, p in panels)) + 1
    colours = [f"C{k % 10}" for k in range(n_cls)]
    fig = figure(figsize=(5 * len(panels), 5))
    for i, (title, lab) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1, projection="3d")
        for k in range(n_cls):
            m = lab == k
            if m.any():
                name = class_names[k] if class_names else str(k)
                ax.scatter(pts[m, 0], pts[m, 1], pts[m, 2], s=2, color=colours[k], label=f"{name} ({int(m.sum())})")
        ax.set_title(f"{title} segments", fontsize=9)
        ax.set_xlabel(f"x [{unit}]")
        ax.set_ylabel(f"y [{unit}]")
        ax.set_zlabel(f"z [{unit}]")
        ax.legend(fontsize=7, markerscale=3, loc="upper left")
    return save(fig, path)


def _spread_pick(labels: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` row indices cycling through the distinct labels (every class shown when it fits)."""
    labels = np.asarray(labels).astype(str)
    groups = [np.flatnonzero(labels == v) for v in sorted(set(labels.tolist()))]
    picked: list[int] = []
    for j in range(max((len(g) for g in groups), default=0)):
        picked += [int(g[j]) for g in groups if j < len(g)]
        if len(picked) >= n:
            break
    return np.array(picked[:n], dtype=np.int64)


@register_plotter("objects")
def objects_plots(run_dir: Path, model, task, dm, t) -> list[Path]:
    """Photo-z runs: ``photo_z.png`` (spectroscopic vs photometric redshift with outlier bounds)."""
    if getattr(task, "name", "") != "photo_z" or t is None:
        return []
    return [photo_z_scatter(np.asarray(t["true"], float), np.asarray(t["predicted"], float),
                            Path(run_dir) / "photo_z.png")]


@register_plotter("particles")
def particles_plots(run_dir: Path, model, task, dm, t) -> list[Path]:
    """Cosmic-web runs: ``cosmic_web_slice.png``, a slice of the test particles coloured by predicted class."""
    if t is None:
        return []
    pos = np.column_stack([np.asarray(t[c], float) for c in "xyz"])
    if getattr(task, "name", "") == "filament_detection":
        names, codes = ["rest", "filament"], np.asarray(t["predicted"], int)
    else:
        names = list(task.class_names)
        lookup = {n: i for i, n in enumerate(names)}
        codes = np.array([lookup[str(v)] for v in t["predicted"]])
    return [cosmic_web_slice(pos, codes, names, Path(run_dir) / "cosmic_web_slice.png")]


@register_plotter("sequence")
def sequence_plots(run_dir: Path, model, task, dm, t) -> list[Path]:
    """Light-curve runs: ``light_curves.png`` (test objects folded on their Lomb–Scargle period, titled
    true → predicted class, every class shown) or, for forecasting, ``forecasts.png``."""
    if t is None or len(t) == 0:
        return []
    if task.kind == "classification":
        rows = _spread_pick(t["true"], 12)
        curves = dm.light_curves(np.asarray(t["id"])[rows])
        labels = [f"{t['true'][r]} → {t['predicted'][r]}" for r in rows]
        return [phase_folded_light_curves([c["mjd"] for c in curves], [c["mag"] for c in curves],
                                          [c["period"] for c in curves], labels, Path(run_dir) / "light_curves.png",
                                          bands=[c["band"] for c in curves])]
    ids = list(dict.fromkeys(np.asarray(t["id"]).tolist()))[:6]
    return [forecasts(dm.light_curves(ids), t, Path(run_dir) / "forecasts.png")]


@register_plotter("point_cloud")
def point_cloud_plots(run_dir: Path, model, task, dm, t) -> list[Path]:
    """Galaxy segmentation runs: ``point_segmentation.png``, one test cloud coloured by predicted and
    true component."""
    if getattr(task, "name", "") != "point_segmentation" or t is None:
        return []
    first = np.asarray(t["cloud_id"]) == t["cloud_id"][0]
    names = list(task.class_names)
    lookup = {n: i for i, n in enumerate(names)}
    codes = lambda col: np.array([lookup[str(v)] for v in np.asarray(t[col])[first]])  # noqa: E731
    return [point_cloud_segmentation(np.column_stack([np.asarray(t[c], float)[first] for c in "xyz"]),
                                     codes("predicted"), Path(run_dir) / "point_segmentation.png",
                                     true=codes("true"), class_names=names)]
