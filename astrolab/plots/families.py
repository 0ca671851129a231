"""Ready-made figures for the other data families, on plain arrays (a family's data module calls them
from its ``plots()`` hook or registers them with :func:`astrolab.plots.register_plotter`):

- :func:`phase_folded_light_curves` — light curves folded on their period, one panel per object,
  titled with the predicted class (``sequence`` data);
- :func:`photo_z_scatter` — photometric vs spectroscopic redshift density with the ``|Δz|/(1+z) = 0.15``
  outlier lines and a Δz/(1+z) residual panel; σ_NMAD and outlier fraction as the metrics define them;
- :func:`cosmic_web_slice` — the test region of a particle/galaxy box seen face-on, true and predicted
  class (void / sheet / filament / knot) side by side;
- :func:`point_cloud_segmentation` — a point cloud coloured by predicted segment, with the true segments
  beside it when given.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from astrolab.plots import register_plotter
from astrolab.plots.common import figure, save, set_title


def phase_folded_light_curves(times: Sequence[np.ndarray], mags: Sequence[np.ndarray], periods: Sequence[float],
                              labels: Sequence[str], path: Path, max_panels: int = 12,
                              bands: Sequence[np.ndarray] | None = None, title: str | None = None,
                              sources: Sequence[str] | None = None) -> Path:
    """One panel per object: magnitude against phase (two cycles), one colour per band; ``sources`` names
    where each period comes from (``catalogue`` / ``periodogram``), shown in the panel title."""
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
        src = {"catalogue": " (catalogue)", "periodogram": " (Lomb-Scargle)"}.get(
            str(sources[i]) if sources is not None else "", "")
        ax.set_title(f"{labels[i]}  P={p:.4g} d{src}" if folded else str(labels[i]), fontsize=8)
        ax.set_xlabel("phase" if folded else "days")
        ax.set_ylabel("mag")
        if bands is not None and i == 0:
            ax.legend(fontsize=6, markerscale=2)
    return save(fig, path, title)


def forecasts(curves: Sequence[dict], table, path: Path, max_panels: int = 6, title: str | None = None) -> Path:
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
    return save(fig, path, title)


def photo_z_title(z_true, z_pred, outlier: float = 0.15, split: str = "test") -> str:
    """``test split: N = 812   σ_NMAD = 0.0614   outliers (>0.15) = 2.1%   bias = +0.0031`` with the metrics'
    own definitions (the values summary.json reports)."""
    from astrolab.tasks.photo_z_metrics import outlier_fraction, sigma_nmad

    zt, zp = np.asarray(z_true, float), np.asarray(z_pred, float)
    bias = float(np.mean((zp - zt) / (1 + zt))) if len(zt) else float("nan")
    return (f"{split} split: N = {len(zt)}   σ_NMAD = {sigma_nmad(zp, zt):.4f}   outliers (>{outlier:g}) = "
            f"{outlier_fraction(zp, zt, outlier):.1%}   bias = {bias:+.4f}")


def _residual_limit(resid: np.ndarray, outlier: float) -> float:
    if not len(resid):
        return 3 * outlier
    return float(min(max(3 * outlier, float(np.nanpercentile(np.abs(resid), 99)) * 1.1), 1.0))


def photo_z_scatter(z_true: np.ndarray, z_pred: np.ndarray, path: Path, outlier: float = 0.15,
                    classes: np.ndarray | None = None, split: str = "test", title: str | None = None) -> Path:
    """Photometric against spectroscopic redshift as a density (hexbin, log counts; a scatter coloured by
    class when ``classes`` is given and the sample is small), with the 1:1 line and the
    ``|Δz|/(1+z) = outlier`` bounds, above a Δz/(1+z) residual panel. σ_NMAD and the outlier fraction are
    the metrics' own definitions (:mod:`astrolab.tasks.photo_z_metrics`), so the title shows the values of
    summary.json."""
    from astrolab.tasks.photo_z_metrics import sigma_nmad

    zt, zp = np.asarray(z_true, float), np.asarray(z_pred, float)
    ok = np.isfinite(zt) & np.isfinite(zp)
    zt, zp = zt[ok], zp[ok]
    cls = np.asarray(classes).astype(str)[ok] if classes is not None else None
    nmad = sigma_nmad(zp, zt)
    resid = (zp - zt) / (1 + zt)
    hi = float(np.nanpercentile(np.r_[zt, zp], 99.5)) * 1.08 + 1e-3 if len(zt) else 1.0
    fig = figure(figsize=(5.6, 7.0))
    gs = fig.add_gridspec(2, 1, height_ratios=[3, 1.3])
    ax = fig.add_subplot(gs[0])
    ax_r = fig.add_subplot(gs[1], sharex=ax)
    if cls is not None and len(zt) <= 5000:
        for i, name in enumerate(sorted(set(cls.tolist()))):
            m = cls == name
            ax.scatter(zt[m], zp[m], s=4, alpha=0.6, color=f"C{i % 10}", label=f"{name} ({int(m.sum())})")
            ax_r.scatter(zt[m], resid[m], s=4, alpha=0.6, color=f"C{i % 10}")
        ax.legend(fontsize=7, markerscale=2, loc="upper left")
    elif 0 < len(zt) < 500:
        ax.scatter(zt, zp, s=5, alpha=0.6)
        ax_r.scatter(zt, resid, s=5, alpha=0.6)
    elif len(zt):
        extent = (0, hi, 0, hi)
        hb = ax.hexbin(zt, zp, gridsize=60, bins="log", mincnt=1, cmap="viridis", extent=extent)
        fig.colorbar(hb, ax=[ax, ax_r], label="objects per cell", fraction=0.05, pad=0.02)
        r_lim = _residual_limit(resid, outlier)
        ax_r.hexbin(zt, np.clip(resid, -r_lim, r_lim), gridsize=(60, 20), bins="log", mincnt=1, cmap="viridis",
                    extent=(0, hi, -r_lim, r_lim))
    grid = np.linspace(0, hi, 50)
    ax.plot(grid, grid, "k-", lw=1)
    for sgn in (1, -1):
        ax.plot(grid, grid + sgn * outlier * (1 + grid), "r--", lw=0.8)
        ax_r.axhline(sgn * outlier, color="r", ls="--", lw=0.8)
        if np.isfinite(nmad):
            ax_r.axhline(sgn * nmad, color="0.4", ls=":", lw=0.8)
    ax_r.axhline(0, color="k", lw=0.8)
    ax.set_xlim(0, hi)
    ax.set_ylim(0, hi)
    r_lim = _residual_limit(resid, outlier)
    ax_r.set_ylim(-r_lim, r_lim)
    ax.set_ylabel(r"photometric redshift $z_\mathrm{phot}$")
    ax_r.set_xlabel(r"spectroscopic redshift $z_\mathrm{spec}$")
    ax_r.set_ylabel(r"$\Delta z/(1+z_\mathrm{spec})$")
    ax.tick_params(labelbottom=False)
    ax.set_title(photo_z_title(zt, zp, outlier, split), fontsize=8)
    return save(fig, path, title)


def cosmic_web_slice(positions: np.ndarray, labels: np.ndarray, class_names: Sequence[str], path: Path,
                     axis: int | None = None, thickness: float | None = None, true: np.ndarray | None = None,
                     split: str = "test", title: str | None = None) -> Path:
    """The particles of a region (the test split: a slab of the box) projected on the plane of the slab,
    coloured by predicted class, with the true classes in a panel beside it when given (same colours).

    ``axis``: the axis across the slab (default: the axis along which the positions are thinnest, which is
    the slab normal for a slab split); ``thickness``: keep only a slice of that width around the median
    (default: the whole region)."""
    pos = np.asarray(positions, float)
    pred = np.asarray(labels, int)
    if axis is None:
        axis = int(np.argmin(np.ptp(pos, axis=0))) if len(pos) else 2
    lo_ax, hi_ax = (float(pos[:, axis].min()), float(pos[:, axis].max())) if len(pos) else (0.0, 0.0)
    if thickness is not None:
        mid = float(np.median(pos[:, axis]))
        sel = np.abs(pos[:, axis] - mid) <= thickness / 2
        lo_ax, hi_ax = mid - thickness / 2, mid + thickness / 2
    else:
        sel = np.ones(len(pos), bool)
    a, b = [i for i in range(3) if i != axis]
    panels = [("predicted", pred)] + ([("true", np.asarray(true, int))] if true is not None else [])
    panels = panels[::-1]  # true on the left, predicted on the right
    fig = figure(figsize=(4.6 * len(panels) + 0.4, 5.4))
    handles = []
    for i, (name, lab) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for k, cname in enumerate(class_names):
            m = sel & (lab == k)
            h = ax.scatter(pos[m, a], pos[m, b], s=3 if sel.sum() > 3000 else 6, color=f"C{k % 10}",
                           label=f"{cname}", linewidths=0)
            if i == 0:
                handles.append(h)
        ax.set_aspect("equal")
        ax.set_xlabel("xyz"[a] + " [Mpc/h]")
        ax.set_ylabel("xyz"[b] + " [Mpc/h]")
        counts = ", ".join(f"{c} {int((sel & (lab == k)).sum())}" for k, c in enumerate(class_names))
        ax.set_title(f"{name} class\n{counts}", fontsize=8)
    fig.legend(handles, list(class_names), loc="outside lower center", ncol=len(class_names), fontsize=8,
               markerscale=3, frameon=False)
    set_title(fig, title, f"{split} region: {'xyz'[axis]} = {lo_ax:.1f}–{hi_ax:.1f} Mpc/h, {int(sel.sum())} particles")
    return save(fig, path)


def point_cloud_segmentation(points: np.ndarray, predicted: np.ndarray, path: Path,
                             true: np.ndarray | None = None, class_names: Sequence[str] | None = None,
                             unit: str = "kpc", title: str | None = None) -> Path:
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
    return save(fig, path, title)


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
def objects_plots(run_dir: Path, model, task, dm, t, title: str | None = None) -> list[Path]:
    """Photo-z runs: ``photo_z.png`` (photometric vs spectroscopic redshift density and the Δz/(1+z)
    residuals, coloured by class when the table passes a ``class`` column through)."""
    if getattr(task, "name", "") != "photo_z" or t is None:
        return []
    cls = next((t[c] for c in ("class", "CLASS", "true_class") if c in t.colnames), None)
    return [photo_z_scatter(np.asarray(t["true"], float), np.asarray(t["predicted"], float),
                            Path(run_dir) / "photo_z.png", outlier=float(getattr(task, "outlier_threshold", 0.15)),
                            classes=cls, title=title)]


def _codes(values, names: list[str]) -> np.ndarray:
    lookup = {n: i for i, n in enumerate(names)}
    return np.array([lookup.get(str(v), -1) for v in np.asarray(values)], dtype=int)


@register_plotter("particles")
def particles_plots(run_dir: Path, model, task, dm, t, title: str | None = None) -> list[Path]:
    """Cosmic-web runs: ``cosmic_web_slice.png``, the test region (a slab of the box) seen face-on, true
    and predicted classes side by side."""
    if t is None:
        return []
    pos = np.column_stack([np.asarray(t[c], float) for c in "xyz"])
    if getattr(task, "name", "") == "filament_detection":
        names = ["rest", "filament"]
        pred, true = np.asarray(t["predicted"], int), np.asarray(t["true"], int)
    else:
        names = list(task.class_names)
        pred, true = _codes(t["predicted"], names), _codes(t["true"], names)
    return [cosmic_web_slice(pos, pred, names, Path(run_dir) / "cosmic_web_slice.png", true=true, title=title)]


@register_plotter("sequence")
def sequence_plots(run_dir: Path, model, task, dm, t, title: str | None = None) -> list[Path]:
    """Light-curve runs: ``light_curves.png`` (test objects folded at the catalogue period when the object
    table has one, else at the multi-band Lomb–Scargle period, the panel saying which; titled true →
    predicted class, every class shown) or, for forecasting, ``forecasts.png``."""
    if t is None or len(t) == 0:
        return []
    if task.kind == "classification":
        rows = _spread_pick(t["true"], 12)
        curves = dm.light_curves(np.asarray(t["id"])[rows])
        labels = [f"{t['true'][r]} → {t['predicted'][r]}" for r in rows]
        return [phase_folded_light_curves([c["mjd"] for c in curves], [c["mag"] for c in curves],
                                          [c["period"] for c in curves], labels, Path(run_dir) / "light_curves.png",
                                          bands=[c["band"] for c in curves], title=title,
                                          sources=[c.get("period_source", "") for c in curves])]
    ids = list(dict.fromkeys(np.asarray(t["id"]).tolist()))[:6]
    return [forecasts(dm.light_curves(ids), t, Path(run_dir) / "forecasts.png", title=title)]


@register_plotter("point_cloud")
def point_cloud_plots(run_dir: Path, model, task, dm, t, title: str | None = None) -> list[Path]:
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
                                     true=codes("true"), class_names=names, title=title)]
