"""``node_graph`` plots (Gaia): colour–magnitude diagram, sky and proper-motion (vector-point) diagrams of the
test stars, true class next to predicted class (field stars grey, underneath; regression: the same colour
scale in both panels).

The plots read the predictions table (``true``, ``predicted`` and passthrough columns such as ``ra``,
``dec``, ``pmra``, ``pmdec``, ``bp_rp``, ``phot_g_mean_mag``, ``parallax``). Columns the table does not pass
through are looked up by its ``row`` column: the model's own un-standardised features (``bp_rp``,
``abs_g_mag``) from the data module's graph, positions and proper motions from the input catalog.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from astrolab.plots import register_plotter
from astrolab.plots.common import figure, save, set_title

#: class names drawn grey and underneath (the background population)
BACKGROUND = ("field", "background", "none", "other")
#: the negative class of a yes/no label (member_common 0/1, True/False, Y/N): the background of a two-class run
NEGATIVE = ("0", "false", "no", "n", "non-member", "nonmember", "non_member", "not member")


def background_classes(names: list[str]) -> set[str]:
    """The class names drawn grey and underneath: field-like names, or the negative class of a yes/no label."""
    bg = {n for n in names if n.lower() in BACKGROUND}
    if not bg and len(names) == 2:
        bg = {n for n in names if n.lower() in NEGATIVE}
    return bg


def _raw_features(dm) -> dict[str, np.ndarray]:
    x = dm.graph["nodes", "x"].double().numpy()
    mean, std = np.asarray(dm.scaler["mean"]), np.asarray(dm.scaler["std"])
    raw = x * std + mean
    return {n: raw[:, i] for i, n in enumerate(dm.feature_names)}


def _catalog_columns(dm, names, rows: np.ndarray) -> dict[str, np.ndarray]:
    from astrolab.data.io import read_catalog

    info = dm.meta.get("info", {})
    catalog = read_catalog(info.get("path") or dm.source_path())
    file_cols = info.get("file_columns", {}) or {}
    out = {}
    for n in names:
        col = file_cols.get(n, n)
        if col in catalog:
            out[n] = np.asarray(catalog.column(col), dtype=float)[rows]
    return out


def table_columns(table, dm, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """``names`` from the predictions table, else (by its ``row`` column) from the model features or the
    input catalog; absent names are left out."""
    out = {n: np.asarray(table[n], dtype=float) for n in names if n in table.colnames}
    missing = [n for n in names if n not in out]
    if missing and dm is not None and "row" in table.colnames:
        rows = np.asarray(table["row"], dtype=np.int64)
        try:
            feats = _raw_features(dm)
            node_rows = dm.graph["nodes", "row"].numpy()
            where = {int(r): i for i, r in enumerate(node_rows)}
            idx = np.array([where.get(int(r), -1) for r in rows])
            if (idx >= 0).all():
                out.update({n: feats[n][idx] for n in missing if n in feats})
        except Exception:  # no graph features: the catalog alone
            pass
        still = [n for n in missing if n not in out]
        if still:
            try:
                out.update(_catalog_columns(dm, still, rows))
            except Exception:
                pass
    if "abs_g_mag" in names and "abs_g_mag" not in out and {"phot_g_mean_mag", "parallax"} <= set(out):
        with np.errstate(invalid="ignore", divide="ignore"):
            out["abs_g_mag"] = out["phot_g_mean_mag"] + 5 * np.log10(out["parallax"]) - 10  # parallax in mas
    return out


def _class_colours(names: list[str]) -> dict[str, str]:
    colours, k, bg = {}, 0, background_classes(names)
    for n in names:
        if n in bg:
            colours[n] = "0.78"
        else:
            colours[n] = f"C{k % 10}"
            k += 1
    return colours


def _panels(x: np.ndarray, y: np.ndarray, true, pred, names: list[str], labels: tuple[str, str], path: Path,
            title: str | None, subtitle: str, invert_x: bool = False, invert_y: bool = False,
            limits: tuple | None = None, figsize: tuple[float, float] = (10, 4.8)) -> Path:
    """Two panels, true (left) and predicted (right), same axes and colours."""
    fig = figure(figsize=figsize)
    axes = [fig.add_subplot(1, 2, i + 1) for i in range(2)]
    if names:
        colours, background = _class_colours(names), background_classes(names)
        t_str, p_str = np.asarray(true).astype(str), np.asarray(pred).astype(str)
        for ax, lab, which in ((axes[0], t_str, "true"), (axes[1], p_str, "predicted")):
            order = sorted(names, key=lambda n: (n not in background, -int((lab == n).sum())))
            for n in order:
                m = lab == n
                if not m.any():
                    continue
                bg = n in background
                ax.scatter(x[m], y[m], s=2 if bg else 6, color=colours[n], alpha=0.5 if bg else 0.9, linewidths=0,
                           label=f"{n} ({int(m.sum())})", zorder=0 if bg else 2)
            ax.set_title(f"{which} class", fontsize=9)
            ax.legend(fontsize=6, markerscale=1.5, loc="best")
    else:
        vals = np.r_[np.asarray(true, float), np.asarray(pred, float)]
        lo, hi = np.nanpercentile(vals, [1, 99]) if np.isfinite(vals).any() else (0, 1)
        for ax, v, which in ((axes[0], true, "true"), (axes[1], pred, "predicted")):
            sc = ax.scatter(x, y, c=np.asarray(v, float), s=5, cmap="viridis", vmin=lo, vmax=hi, linewidths=0)
            ax.set_title(f"{which} value", fontsize=9)
        fig.colorbar(sc, ax=axes, fraction=0.04, label="value")
    for ax in axes:
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        if limits is not None:
            ax.set_xlim(*limits[0])
            ax.set_ylim(*limits[1])
        if invert_x:
            ax.invert_xaxis()
        if invert_y:
            ax.invert_yaxis()
    set_title(fig, title, subtitle)
    return save(fig, path)


@register_plotter("node_graph")
def node_graph_plots(run_dir: Path, model, task, dm, table=None, title: str | None = None) -> list[Path]:
    """``gaia_cmd.png``, ``gaia_sky.png``, ``gaia_proper_motion.png`` (those the columns allow) for the test
    stars of ``table``, true next to predicted."""
    if table is None or len(table) == 0 or "true" not in table.colnames:
        return []
    run_dir = Path(run_dir)
    names = list(task.class_names) if task.kind == "classification" else []
    true, pred = table["true"], table["predicted"]
    cols = table_columns(table, dm, ("bp_rp", "abs_g_mag", "ra", "dec", "pmra", "pmdec"))
    n = len(table)
    paths: list[Path] = []
    if "bp_rp" in cols and "abs_g_mag" in cols:
        paths.append(_panels(cols["bp_rp"], cols["abs_g_mag"], true, pred, names,
                             (r"$G_{BP}-G_{RP}$ [mag]", r"$M_G$ [mag]"), run_dir / "gaia_cmd.png", title,
                             f"colour–magnitude diagram, test split: {n} stars", invert_y=True,
                             figsize=(9, 5.2)))
    if "ra" in cols and "dec" in cols:
        paths.append(_panels(cols["ra"], cols["dec"], true, pred, names, ("RA [deg]", "Dec [deg]"),
                             run_dir / "gaia_sky.png", title, f"sky positions, test split: {n} stars",
                             invert_x=True))
    if "pmra" in cols and "pmdec" in cols:
        both = np.c_[cols["pmra"], cols["pmdec"]]
        lo = np.nanpercentile(both, [0.5, 99.5], axis=0)
        paths.append(_panels(cols["pmra"], cols["pmdec"], true, pred, names,
                             (r"$\mu_{\alpha*}$ [mas/yr]", r"$\mu_\delta$ [mas/yr]"),
                             run_dir / "gaia_proper_motion.png", title,
                             f"proper motions (vector-point diagram), test split: {n} stars",
                             limits=((lo[0, 0], lo[1, 0]), (lo[0, 1], lo[1, 1]))))
    return paths
