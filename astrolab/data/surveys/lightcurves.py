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

Known exports are read without a mapping (:data:`SPELLINGS`; one log line says which was recognised;
``dataset.columns.*`` always wins): ZTF alerts ``oid, mjd, magpsf, sigmapsf, fid`` (fid 1/2/3 → g/r/i) and
the ZTF/IRSA light-curve service ``oid, mjd, mag, magerr, filtercode``; OGLE / ASAS-SN ``HJD, mag, err`` /
``HJD, mag, mag_err, Filter`` (and OGLE's header-less ``.dat``: time, mag, err in the first three columns);
Gaia DR3 epoch photometry (``source_id, band, time, mag, flux_over_error, rejected_by_variability``: the
error is 2.5 / ln 10 / (flux/error) and rejected epochs are dropped).

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
from astrolab.data.surveys.common import recognise_columns, require_target, resolve_columns
from astrolab.errors import CatalogNotFoundError, DataError

log = logging.getLogger(__name__)

EPOCH_COLUMNS = ("object_id", "mjd", "mag", "mag_err", "band")
#: known spellings of the epoch columns, recognised without a mapping (first match wins)
SPELLINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "generic (time, magerr, filter)": {"mjd": ("time", "MJD", "jd", "t"),
                                       "mag_err": ("magerr", "mag_error", "e_mag", "sigma"),
                                       "band": ("filter", "passband")},
    "ZTF": {"object_id": ("oid", "objectId"), "mag": ("magpsf",), "mag_err": ("sigmapsf",),
            "band": ("fid", "filtercode")},
    "OGLE/ASAS-SN": {"object_id": ("ID", "id", "asassn_id"), "mjd": ("HJD", "hjd", "JD", "BJD", "HJD-2450000"),
                     "mag_err": ("err",), "band": ("Filter",)},
    "Gaia DR3 epoch photometry": {"object_id": ("source_id",), "mjd": ("g_transit_time",)},
    "headerless (time, mag, err)": {"mjd": ("col1",), "mag": ("col2",), "mag_err": ("col3",)},
}
#: ZTF filter ids
ZTF_FID = {"1": "g", "2": "r", "3": "i"}


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
    required = ["mjd", "mag"] + (["object_id"] if file_id is None else [])
    if file_id is not None and columns.get("object_id") and columns["object_id"] not in catalog:
        columns = {k: v for k, v in columns.items() if k != "object_id"}  # per-star files: id from the name
    if "band" in columns and columns["band"] not in catalog:
        resolve_columns(catalog, ["band"], ["band"], columns)  # explicitly mapped but missing: error
    found, _ = recognise_columns(catalog, EPOCH_COLUMNS, required, columns, SPELLINGS)
    n = len(catalog)
    out = {c: catalog.column(found[c]).astype(np.float64) for c in ("mjd", "mag")}
    if "mag_err" in found:
        out["mag_err"] = catalog.column(found["mag_err"]).astype(np.float64)
    elif "flux_over_error" in catalog.data.keys() or {"flux", "flux_error"} <= set(catalog.data.keys()):
        with np.errstate(divide="ignore", invalid="ignore"):
            snr = (catalog.column("flux_over_error").astype(np.float64) if "flux_over_error" in catalog.data.keys()
                   else catalog.column("flux").astype(np.float64) / catalog.column("flux_error").astype(np.float64))
            out["mag_err"] = 2.5 / np.log(10) / snr
        log.debug("%s: mag_err from the flux signal-to-noise (Gaia epoch photometry)", path.name)
    else:
        aliases = {"mag_err": [a for sp in SPELLINGS.values() for a in sp.get("mag_err", ())]}
        resolve_columns(catalog, ["mag_err"], ["mag_err"], columns, aliases)  # raises, naming the fix
    for flag in ("rejected_by_variability", "rejected_by_photometry"):
        if flag in catalog:
            bad = catalog.column(flag).astype(str)
            rejected = np.isin(np.char.lower(bad), ["true", "1"])
            out["mag"] = np.where(rejected, np.nan, out["mag"])
    if "object_id" in found:
        out["object_id"] = _as_ids(catalog.column(found["object_id"]), f"{path.name}:{found['object_id']}")
    else:
        out["object_id"] = np.full(n, file_id, dtype=np.int64)
    if "band" in found:
        b = catalog.column(found["band"])
        out["band"] = np.char.strip(b.astype(str)) if b.dtype.kind in "US" else np.array(
            [str(int(v)) if np.isfinite(v) else "" for v in b.astype(np.float64)])
        if found["band"] == "fid":
            out["band"] = np.array([ZTF_FID.get(v, v) for v in out["band"]])
    else:
        out["band"] = np.full(n, "all")
    return out


def _read_folder(files: list[Path], columns: dict[str, str], h) -> list[dict[str, np.ndarray]]:
    parts = []
    common_log = logging.getLogger("astrolab.data.surveys.common")
    level = common_log.level
    try:
        for i, f in enumerate(files):
            if i == 1:  # the recognised spelling is said once for the folder
                common_log.setLevel(logging.WARNING)
            _read_folder_file(f, columns, h, parts)
    finally:
        common_log.setLevel(level)
    return parts


def _read_folder_file(f: Path, columns: dict[str, str], h, parts: list) -> None:
    stem = f.name.split(".")[0]
    file_id = int(stem) if stem.lstrip("-").isdigit() else None
    parts.append(_read_one(f, columns, file_id))
    h.update(f.name.encode())
    h.update(file_checksum(f).encode())


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
                 extra: tuple[str, ...] = (), split_column: str | None = None) -> dict[str, Any]:
    """The object table: ids, the label column (raw), optional numeric columns found (e.g. ra, dec) and
    the raw ``split_column`` (``out["split"]``; a missing one is an error naming ``dataset.split.column``)."""
    catalog = read_catalog(path)
    columns = dict(columns or {})
    found, _ = recognise_columns(catalog, ["object_id"], ["object_id"], columns, SPELLINGS,
                                 exclude=[target] if target else ())
    ids = _as_ids(catalog.column(found["object_id"]), f"{Path(path).name}:{found['object_id']}")
    if len(np.unique(ids)) != len(ids):
        raise DataError(f"{Path(path).name}: object ids are not unique; one row per object is expected")
    out: dict[str, Any] = {"ids": ids, "checksum": catalog.checksum, "names": catalog.names}
    if target is not None:
        require_target(catalog, target)
        out["target"] = catalog.column(target)
    if split_column:
        if split_column not in catalog:
            from astrolab.errors import ConfigError

            raise ConfigError(f"dataset.split.column={split_column}: no such column in {Path(path).name}; name the "
                              "object-table column holding train/val/test")
        out["split"] = catalog.column(split_column)
    for name in extra:
        col = columns.get(name) or name
        if col in catalog.data.keys():
            out[name] = catalog.column(col).astype(np.float64)
    return out
