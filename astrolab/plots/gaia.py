"""``node_graph`` plots (Gaia): colour–magnitude diagram, sky and proper-motion (vector-point) diagrams
coloured by predicted class, for every star of the graph.

Positions and proper motions are read back from the input catalog (``ra``, ``dec``, ``pmra``, ``pmdec``
in the user's column names, rows as kept by the schema); the CMD uses the model's own features
``bp_rp`` and ``abs_g_mag`` (un-standardised).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from astrolab.plots import register_plotter
from astrolab.plots.common import figure, save


def _predicted(model, task, dm) -> tuple[np.ndarray, list[str]]:
    import torch

    model.eval()
    with torch.no_grad():
        out = model(dm.graph.to(model.device)).cpu()
    pred = task.predict(out)
    if task.kind == "classification":
        return pred["label"].numpy(), list(task.class_names)
    return pred["value"].numpy(), []


def _scatter(ax, x, y, c, names):
    if names:
        cmap = "tab20" if len(names) > 10 else "tab10"
        order = np.argsort(np.bincount(c, minlength=len(names))[c])[::-1]  # rare classes on top
        sc = ax.scatter(x[order], y[order], c=c[order], s=3, cmap=cmap, vmin=-0.5,
                        vmax=(20 if len(names) > 10 else 10) - 0.5, alpha=0.8, linewidths=0)
        if len(names) <= 20:
            import matplotlib

            colours = matplotlib.colormaps[cmap]
            for i, n in enumerate(names):
                ax.scatter([], [], color=colours(i), s=10, label=n)
            ax.legend(fontsize=6, markerscale=1.5, loc="best", title="predicted", title_fontsize=7)
        return sc
    sc = ax.scatter(x, y, c=c, s=3, cmap="viridis", linewidths=0)
    ax.figure.colorbar(sc, ax=ax, label="predicted")
    return sc


def _raw_features(dm) -> dict[str, np.ndarray]:
    x = dm.graph["nodes", "x"].double().numpy()
    mean, std = np.asarray(dm.scaler["mean"]), np.asarray(dm.scaler["std"])
    raw = x * std + mean
    return {n: raw[:, i] for i, n in enumerate(dm.feature_names)}


def _catalog_columns(dm, names) -> dict[str, np.ndarray]:
    from astrolab.data.io import read_catalog

    info = dm.meta.get("info", {})
    catalog = read_catalog(info.get("path") or dm.source_path())
    file_cols = info.get("file_columns", {}) or {}
    rows = dm.graph["nodes", "row"].numpy()
    out = {}
    for n in names:
        col = file_cols.get(n, n)
        if col in catalog:
            out[n] = np.asarray(catalog.column(col), dtype=float)[rows]
    return out


@register_plotter("node_graph")
def node_graph_plots(run_dir: Path, model, task, dm, table=None) -> list[Path]:
    """``gaia_cmd.png``, ``gaia_sky.png``, ``gaia_proper_motion.png`` (those the columns allow), every
    star coloured by its prediction (``table``, the test split alone, is not used)."""
    run_dir = Path(run_dir)
    c, names = _predicted(model, task, dm)
    paths: list[Path] = []
    feats = _raw_features(dm)
    if "bp_rp" in feats and "abs_g_mag" in feats:
        fig = figure(figsize=(5, 6))
        ax = fig.add_subplot(1, 1, 1)
        _scatter(ax, feats["bp_rp"], feats["abs_g_mag"], c, names)
        ax.invert_yaxis()
        ax.set_xlabel(r"$G_{BP}-G_{RP}$ [mag]")
        ax.set_ylabel(r"$M_G$ [mag]")
        ax.set_title(f"colour–magnitude diagram ({len(c)} stars, predicted {task.kind})", fontsize=9)
        paths.append(save(fig, run_dir / "gaia_cmd.png"))
    cols = _catalog_columns(dm, ("ra", "dec", "pmra", "pmdec"))
    if "ra" in cols and "dec" in cols:
        fig = figure(figsize=(6.5, 4.5))
        ax = fig.add_subplot(1, 1, 1)
        _scatter(ax, cols["ra"], cols["dec"], c, names)
        ax.invert_xaxis()
        ax.set_xlabel("RA [deg]")
        ax.set_ylabel("Dec [deg]")
        ax.set_title("sky positions coloured by prediction", fontsize=9)
        paths.append(save(fig, run_dir / "gaia_sky.png"))
    if "pmra" in cols and "pmdec" in cols:
        fig = figure(figsize=(5.5, 5))
        ax = fig.add_subplot(1, 1, 1)
        _scatter(ax, cols["pmra"], cols["pmdec"], c, names)
        lo = np.nanpercentile(np.c_[cols["pmra"], cols["pmdec"]], [0.5, 99.5], axis=0)
        ax.set_xlim(lo[0, 0], lo[1, 0])
        ax.set_ylim(lo[0, 1], lo[1, 1])
        ax.set_xlabel(r"$\mu_{\alpha*}$ [mas/yr]")
        ax.set_ylabel(r"$\mu_\delta$ [mas/yr]")
        ax.set_title("proper-motion (vector-point) diagram", fontsize=9)
        paths.append(save(fig, run_dir / "gaia_proper_motion.png"))
    return paths
