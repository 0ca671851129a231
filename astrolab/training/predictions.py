"""The one writer of predictions: the outputs of ``trainer.predict`` joined to the data's index table.

``predict_step`` returns, per batch, the task's predictions of the objects the batch predicts and their
``index`` (a row of the data module's ``index_table()``). :func:`predictions_table` puts them in index
order next to the index table's exact ids and passthrough columns; :func:`catalog_predictions` widens that
to one row per input row of the user's file, in input order, with the columns the user keeps and a
``status`` for rows that could not be scored. Where the predicted objects are groups of input rows (star
groups: data modules with ``group_table()``) it is one row per group of the file instead, in order of first
appearance, and :func:`member_status` gives every input row's status. Plots read these tables and nothing
else.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def collect(outputs: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Concatenate ``predict_step`` outputs (one dict per batch) and sort them by ``index``."""
    import torch

    outputs = [o for o in (outputs or []) if o is not None]
    if not outputs:
        return {"index": torch.zeros(0, dtype=torch.long)}
    merged = {k: torch.cat([o[k].detach().cpu() for o in outputs]) for k in outputs[0]}
    order = torch.argsort(merged["index"], stable=True)
    return {k: v[order] for k, v in merged.items()}


def predictions_table(outputs, dm, task):
    """Index-table rows of the predicted objects (ids exact) with the task's prediction columns."""
    pred = collect(outputs)
    index = pred["index"].numpy()
    if len(np.unique(index)) != len(index):
        raise RuntimeError("an object was predicted more than once in one pass; the data module's predict "
                           "batches overlap")
    table = dm.index_table()[index]
    for name, values in task.prediction_columns(pred).items():
        table[name] = values
    if "offset" in table.colnames and "predicted" in table.colnames:
        # targets given relative to a per-row zero point (forecasts: magnitude minus the context median)
        table["predicted"] = np.asarray(table["predicted"], dtype=np.float64) + np.asarray(table["offset"])
        table.remove_column("offset")
    task.finish_table(table)
    if "true_code" in table.colnames:
        table.remove_column("true_code")
    for name in table.colnames:
        if table[name].dtype == np.float32:
            table[name].info.format = ".7g"  # float32 carries 7 significant digits; write no more
    return table


def source_info(dm) -> dict[str, Any]:
    """What a data module recorded about the file it read (``n_input``, ``file_columns``, ``path``)."""
    meta = getattr(dm, "meta", None)
    info = meta.get("info") if isinstance(meta, dict) else None
    return dict(info or getattr(dm, "info", None) or {})


def default_keep(dm) -> list[str]:
    """The survey's id and sky position columns as spelled in the user's file."""
    info = source_info(dm)
    found = dict(info.get("file_columns") or {})
    keep = [found[c] for c in getattr(dm, "keep_columns", ("source_id", "objid", "ra", "dec")) if c in found]
    return keep


def catalog_predictions(scored, dm, keep: list[str] | None = None):
    """One row per input row, in input order: the kept input columns (exact values and units), the
    predictions where the row was scored, and ``status`` (``ok`` or why the row was not scored)."""
    from astropy.table import MaskedColumn, Table

    if hasattr(dm, "group_table"):
        return group_predictions(scored, dm)
    source = dm.source_path() if hasattr(dm, "source_path") else None
    info = source_info(dm)
    n_input = info.get("n_input")
    if "split" in scored.colnames:
        scored.remove_column("split")  # every scored row is in the one prediction split
    if "true" in scored.colnames and not _any_label(scored["true"]):
        scored.remove_column("true")  # the catalog has no label column
    if source is None or n_input is None or "row" not in scored.colnames:
        scored["status"] = np.full(len(scored), "ok")
        return scored
    from astrolab.data.io import read_columns

    names = keep if keep is not None else default_keep(dm)
    out = read_columns(source, names) if names else Table()
    if len(out) == 0 and not names:
        out = Table()
    n = int(n_input)
    out["row"] = np.arange(n, dtype=np.int64)
    rows = np.asarray(scored["row"], dtype=np.int64)
    hit = np.zeros(n, bool)
    hit[rows] = True
    skip = {"row", "split"} | set(out.colnames)
    for name in scored.colnames:
        if name in skip:
            continue
        col = np.asarray(scored[name])
        full = np.zeros(n, dtype=col.dtype)
        full[rows] = col
        out[name] = MaskedColumn(full, mask=~hit)
        if scored[name].info.format:
            out[name].info.format = scored[name].info.format
    status = np.full(n, "ok", dtype=object)
    reasons = dm.row_status() if hasattr(dm, "row_status") else None
    for r in np.flatnonzero(~hit):
        status[r] = (reasons or {}).get(int(r), "not scored: removed by the quality cuts or a missing required "
                                                "value (see the log for the counts)")
    out["status"] = status.astype(str)
    if (~hit).any():
        log.info("%d of %d input rows could not be scored (status column says why)", int((~hit).sum()), n)
    return out


def _any_label(col) -> bool:
    values = np.asarray(col)
    if values.dtype.kind in "US":
        return bool((values != "").any())
    return bool(np.isfinite(values.astype(float)).any())


def group_predictions(scored, dm):
    """One row per group of the input file, in order of first appearance: the group id (exact, as in the
    file), ``n_stars`` (its rows in the file), ``n_stars_used`` (left after the quality cuts), ``true`` when
    the file has the label, the prediction columns (empty where the group was not scored) and ``status``."""
    from astropy.table import MaskedColumn

    out = dm.group_table()
    index = np.asarray(out["index"], dtype=np.int64)
    out.remove_column("index")
    status = out["status"]
    out.remove_column("status")
    hit = index >= 0
    # scored rows are index-table rows; the index table lists the graphs in index order, so a graph's row
    # in ``scored`` is found through its group id (exact, unique per graph)
    group = dm.group
    row_of = {v: i for i, v in enumerate(np.asarray(scored[group]).tolist())}
    pick = np.array([row_of.get(v, -1) for v in np.asarray(out[group]).tolist()], dtype=np.int64)
    if (pick[hit] < 0).any():
        raise RuntimeError("a scorable group is missing from the predictions; the predict batches lost a graph")
    drop = {group, "n_stars", "split", "index"}
    if "true" in scored.colnames and not _any_label(scored["true"]):
        drop.add("true")  # the catalog has no label column
    src = np.where(hit, pick, 0)
    for name in scored.colnames:
        if name in drop:
            continue
        col = np.asarray(scored[name])[src] if len(scored) else np.zeros(len(out), dtype=scored[name].dtype)
        out[name] = MaskedColumn(col, mask=~hit)
        if scored[name].info.format:
            out[name].info.format = scored[name].info.format
    out["status"] = status
    return out


def member_status(dm, keep: list[str] | None = None):
    """Grouped data only (``None`` otherwise): one row per input row, in input order: the kept input columns
    (default the survey's id and sky position, as in the file), the group column and ``status`` (``ok`` when
    the star was part of a scored group, else why not: a quality cut, no group id, a group left too small)."""
    if not hasattr(dm, "group_table"):
        return None
    from astrolab.data.io import read_columns

    names = list(keep) if keep is not None else default_keep(dm)
    group = dm.group
    if group not in names:
        names.append(group)
    out = read_columns(dm.source_path(), names)
    status = np.full(len(out), "ok", dtype=object)
    for r, why in dm.row_status().items():
        status[r] = why
    out["status"] = status.astype(str)
    return out
