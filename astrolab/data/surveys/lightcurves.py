"""Light-curve schema: long-format epoch photometry (one row per epoch) and an object table.

Canonical epoch columns (map yours with ``dataset.columns.<canonical>=<your column>``):

=============  ===========================================================================
``object_id``  integer id of the star (kept int64 end to end); in a folder of per-star files
               without that column, the file name stem (``1013184.csv`` → 1013184)
``mjd``        epoch time [d] (any zero point: only differences are used)
``mag``        magnitude
``mag_err``    1σ magnitude error [mag]
``band``       filter name (text or integer filter id); absent → one band called ``all``
=============  ===========================================================================

NaN policy: epochs with a non-finite time, magnitude or error, a non-positive error, or archive
sentinels (``mag >= max_mag``, default 50, e.g. SDSS's 99.99 / ~100; ``mag_err >= max_mag_err``,
default 9, e.g. 99.999) are dropped and counted in the log. Objects left with fewer than ``min_epochs``
epochs are dropped. The object table (``dataset.objects=``) joins on ``object_id`` and holds labels
(``class``), optional truth columns and optional sky positions (``ra``, ``dec``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from astrolab.data.io import FORMATS, file_checksum, read_catalog
from astrolab.data.surveys.common import resolve_columns
from astrolab.errors import CatalogNotFoundError, DataError

log = logging.getLogger(__name__)

EPOCH_COLUMNS = ("object_id", "mjd", "mag", "mag_err", "band")


@dataclass
class Epochs:
    """Epoch photometry sorted by (object, time)."""

    object_id: np.ndarray   # [N] int64
    mjd: np.ndarray         # [N] float64
    mag: np.ndarray         # [N] float64
    mag_err: np.ndarray     # [N] float64
    band: np.ndarray        # [N] str
    checksum: str
    info: dict[str, Any] = field(default_factory=dict)


def _as_ids(values: np.ndarray, what: str) -> np.ndarray:
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    try:
        as_float = values.astype(np.float64)
    except ValueError as exc:
        raise DataError(f"{what} must be integer object ids; map an integer id column with "
                        "dataset.columns.object_id=") from exc
    if not np.all(np.isfinite(as_float)) or np.any(np.mod(as_float, 1) != 0):
        raise DataError(f"{what} has non-integer ids; map an integer id column with dataset.columns.object_id=")
    return as_float.astype(np.int64)


def _read_one(path: Path, columns: dict[str, str], file_id: int | None) -> dict[str, np.ndarray]:
    catalog = read_catalog(path)
    required = ["mjd", "mag", "mag_err"] + (["object_id"] if file_id is None else [])
    found = resolve_columns(catalog, EPOCH_COLUMNS, required, columns)
    if "band" in columns and "band" not in found:
        resolve_columns(catalog, ["band"], ["band"], columns)  # explicitly mapped but missing: error
    n = len(catalog)
    out = {c: catalog.column(found[c]).astype(np.float64) for c in ("mjd", "mag", "mag_err")}
    if "object_id" in found:
        out["object_id"] = _as_ids(catalog.column(found["object_id"]), f"{path.name}:{found['object_id']}")
    else:
        out["object_id"] = np.full(n, file_id, dtype=np.int64)
    if "band" in found:
        b = catalog.column(found["band"])
        out["band"] = np.char.strip(b.astype(str)) if b.dtype.kind in "US" else np.array(
            [str(int(v)) if np.isfinite(v) else "" for v in b.astype(np.float64)])
    else:
        out["band"] = np.full(n, "all")
    return out


def _read_folder(files: list[Path], columns: dict[str, str], h) -> list[dict[str, np.ndarray]]:
    parts = []
    for f in files:
        stem = f.name.split(".")[0]
        file_id = int(stem) if stem.lstrip("-").isdigit() else None
        parts.append(_read_one(f, columns, file_id))
        h.update(f.name.encode())
        h.update(file_checksum(f).encode())
    return parts


def read_epochs(path: str | Path, columns: dict[str, str] | None = None, max_mag: float = 50.0,
                max_mag_err: float = 9.0, min_epochs: int = 5) -> Epochs:
    """Read a long-format epochs file, or a folder of per-object files, and apply the NaN policy."""
    path = Path(path).expanduser()
    columns = dict(columns or {})
    if not path.exists():
        raise CatalogNotFoundError(f"light-curve file or folder not found: '{path}'; check dataset.path=")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                       and (p.suffix.lower() in FORMATS or p.name.lower().endswith(".gz")))
        if not files:
            raise DataError(f"folder '{path}' holds no light-curve files ({', '.join(sorted(FORMATS))})")
        import hashlib

        h = hashlib.sha256()
        io_log = logging.getLogger("astrolab.data.io")
        level = io_log.level
        io_log.setLevel(logging.WARNING)  # one line for the folder, not one per file
        try:
            parts = _read_folder(files, columns, h)
        finally:
            io_log.setLevel(level)
        data = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        checksum = h.hexdigest()
        log.info("read %d light-curve files from %s", len(files), path)
    else:
        data = _read_one(path, columns, None)
        checksum = file_checksum(path)
    n_in = len(data["mjd"])
    finite = np.isfinite(data["mjd"]) & np.isfinite(data["mag"]) & np.isfinite(data["mag_err"])
    sentinel = finite & ((data["mag"] >= max_mag) | (data["mag_err"] >= max_mag_err) | (data["mag_err"] <= 0))
    keep = finite & ~sentinel
    cuts = {"non_finite": int((~finite).sum()), "sentinel_or_bad_error": int(sentinel.sum())}
    if (~keep).any():
        log.info("dropped %d of %d epochs (%d non-finite, %d sentinel mag >= %g / mag_err >= %g or err <= 0)",
                 int((~keep).sum()), n_in, cuts["non_finite"], cuts["sentinel_or_bad_error"], max_mag,
                 max_mag_err)
    data = {k: v[keep] for k, v in data.items()}
    order = np.lexsort((data["mjd"], data["object_id"]))
    data = {k: v[order] for k, v in data.items()}
    ids, counts = np.unique(data["object_id"], return_counts=True)
    few = ids[counts < min_epochs]
    if len(few):
        log.warning("dropped %d objects with fewer than %d good epochs", len(few), min_epochs)
        keep = ~np.isin(data["object_id"], few)
        data = {k: v[keep] for k, v in data.items()}
    if len(data["mjd"]) == 0:
        raise DataError(f"no usable epochs in '{path}' after dropping NaN/sentinel rows")
    info = {"path": str(path), "n_epochs_input": n_in, "n_epochs": int(len(data["mjd"])), "cuts": cuts,
            "n_objects_dropped_few_epochs": int(len(few))}
    return Epochs(object_id=data["object_id"], mjd=data["mjd"], mag=data["mag"], mag_err=data["mag_err"],
                  band=data["band"], checksum=checksum, info=info)


def read_objects(path: str | Path, columns: dict[str, str] | None, target: str | None,
                 extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """The object table: ids, the label column (raw), and optional columns found (e.g. ra, dec)."""
    catalog = read_catalog(path)
    columns = dict(columns or {})
    found = resolve_columns(catalog, ["object_id"], ["object_id"], columns)
    ids = _as_ids(catalog.column(found["object_id"]), f"{Path(path).name}:{found['object_id']}")
    if len(np.unique(ids)) != len(ids):
        raise DataError(f"{Path(path).name}: object ids are not unique; one row per object is expected")
    out: dict[str, Any] = {"ids": ids, "checksum": catalog.checksum, "names": catalog.names}
    if target is not None:
        if target not in catalog:
            resolve_columns(catalog, [target], [target], None)
        out["target"] = catalog.column(target)
    for name in extra:
        col = columns.get(name) or name
        if col in catalog.data.keys():
            out[name] = catalog.column(col).astype(np.float64)
    return out
