"""Catalog reading: one reader for CSV, ECSV, FITS, VOTable and Parquet.

:func:`read_catalog` turns a file into a :class:`Catalog`: numeric columns as a ``TensorDict`` whose batch
size is the number of rows (integers stay ``int64`` so 64-bit ids such as Gaia ``source_id`` keep every
digit; floating columns stay ``float64`` until features are built), text columns as numpy string arrays,
and the original column names, units and descriptions. Masked values become NaN (floats) and are
reported; non-finite values and magnitudes beyond :data:`ABSURD` (``|v| > 1e30``, e.g. a ``1e300`` written by
a broken export) become NaN too, counted per column in one log line. Files that cannot be a table are
refused before anything else with one line naming the problem: an empty or header-only file ("no rows"), a
folder, a CSV separated by another delimiter (named), a truncated FITS file. Duplicate column names (common in VizieR/VOTable exports and hand-made CSVs) are renamed the way
astropy does it (``name_2``) and logged. Every survey schema and every embedded sample goes through
this reader, so a user's file and the generated default take the same path.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from astrolab.errors import CatalogNotFoundError, DataError, EmptyCatalogError

log = logging.getLogger(__name__)

#: file suffix -> astropy format name
FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "ascii",
    ".dat": "ascii",
    ".ecsv": "ascii.ecsv",
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    ".vot": "votable",
    ".votable": "votable",
    ".xml": "votable",
    ".parquet": "parquet",
    ".pq": "parquet",
}

#: above this size reading shows a progress indicator
LARGE_FILE_BYTES = 50 * 1024**2
#: float values with a larger magnitude are treated as missing (no catalog quantity is that large)
ABSURD = 1e30
#: delimiters recognised in a CSV header that is not comma-separated
_OTHER_DELIMITERS = {";": "semicolon ';'", "\t": "tab", "|": "pipe '|'", " ": "space"}


def catalog_format(path: str | os.PathLike) -> str:
    """The astropy format name for ``path`` from its suffix (``.gz`` is looked through)."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix not in FORMATS:
        raise DataError(
            f"cannot read '{path}': unknown catalog format '{suffix}'; use one of "
            f"{', '.join(sorted(set(FORMATS)))}"
        )
    return FORMATS[suffix]


def file_checksum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (cache keys, provenance in summaries)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class Catalog:
    """A table read from disk.

    Attributes:
        data: numeric columns, ``TensorDict`` with ``batch_size=[n_rows]``.
        strings: text columns as numpy ``str`` arrays.
        names: all column names in file order (after duplicate renaming).
        units: unit string per column (``None`` when the file gives none).
        path: the file read.
        checksum: SHA-256 of the file.
    """

    data: Any
    strings: dict[str, np.ndarray]
    names: list[str]
    units: dict[str, str | None]
    path: Path
    checksum: str
    meta: dict[str, Any] = field(default_factory=dict)
    #: per column, how many non-finite or absurd (|v| > 1e30) values were turned into NaN
    absurd: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.data.batch_size[0]) if self.data.batch_size else 0

    def __contains__(self, name: str) -> bool:
        return name in self.strings or name in self.data.keys()

    def column(self, name: str) -> np.ndarray:
        """One column as a numpy array (text or numeric)."""
        if name in self.strings:
            return self.strings[name]
        if name in self.data.keys():
            return self.data[name].numpy()
        raise KeyError(name)


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            new = f"{n}_{seen[n]}"
            while new in seen:
                seen[n] += 1
                new = f"{n}_{seen[n]}"
            log.warning("duplicate column name '%s' renamed to '%s'", n, new)
            out.append(new)
            seen[new] = 1
        else:
            seen[n] = 1
            out.append(n)
    return out


def _read_csv_header(path: Path, delimiter: str) -> list[str]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", newline="") as fh:
        for row in csv.reader(fh, delimiter=delimiter):
            if row and not row[0].startswith("#"):
                return [c.strip() for c in row]
    return []


def _check_delimiter(path: Path, header: list[str]) -> None:
    """A ``.csv`` whose header has one field holding another delimiter: say which one."""
    if len(header) != 1:
        return
    for delim, name in _OTHER_DELIMITERS.items():
        if delim in header[0].strip():
            fix = ("rename it to .tsv" if delim == "\t" else
                   f"save it comma-separated, e.g. python -c \"from astropy.table import Table; Table.read("
                   f"'{path.name}', format='ascii.csv', delimiter='{delim}').write('{path.stem}_comma.csv')\"")
            raise EmptyCatalogError(f"'{path.name}' is separated by {name}, not commas: {fix} and pass "
                                    "that file as dataset.path=")


def _check_fits(path: Path) -> None:
    """A FITS file shorter than its headers announce (an interrupted download) is refused."""
    from astropy.io import fits

    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False, lazy_load_hdus=False) as hdus:
                expected = max(h._data_offset + h._data_size for h in hdus)
    except Exception as exc:  # noqa: BLE001 - astropy raises many types for damaged files
        first = (str(exc).splitlines() or [type(exc).__name__])[0].split(". ")[0]
        raise EmptyCatalogError(f"'{path.name}' is not a readable FITS file ({first}); it may be truncated or "
                                "not FITS: download it again") from exc
    size = path.stat().st_size
    if size < expected:
        raise EmptyCatalogError(f"'{path.name}' is truncated: {size} of {expected} bytes its FITS headers "
                                "announce; download it again")


def _read_table(path: Path, fmt: str):
    from astropy.table import Table

    if fmt in ("csv", "tsv"):
        delimiter = "," if fmt == "csv" else "\t"
        header = _read_csv_header(path, delimiter)
        if not header:
            raise EmptyCatalogError(f"'{path.name}' has no rows (no header line either): point dataset.path= "
                                    "at the exported table")
        if fmt == "csv":
            _check_delimiter(path, header)
        if len(set(header)) != len(header):
            names = _dedupe(header)
            return Table.read(
                path, format="ascii.basic", delimiter=delimiter, names=names, data_start=1,
                fast_reader=True, guess=False,
            )
        return Table.read(path, format="ascii.csv" if fmt == "csv" else "ascii.tab", fast_reader=True)
    if fmt == "votable":
        import warnings

        from astropy.io.votable.exceptions import VOWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", VOWarning)
            table = Table.read(path, format="votable")
        for w in caught:
            log.debug("VOTable: %s", w.message)
        return table
    if fmt == "fits":
        if not path.name.lower().endswith(".gz"):
            _check_fits(path)
        return Table.read(path, format="fits", character_as_bytes=False)
    return Table.read(path, format=fmt)


def read_catalog(path: str | os.PathLike, progress: bool | None = None, multidim: bool = False) -> Catalog:
    """Read a catalog file into a :class:`Catalog`.

    Args:
        path: CSV/TSV, ECSV, FITS, VOTable or Parquet file (``.gz`` allowed for text formats).
        progress: show a progress indicator; default: only for files larger than 50 MB.
        multidim: keep numeric array columns (e.g. a spectrum per row, FITS ``flux[3841]``) as
            ``[n_rows, ...]`` tensors in their own dtype (float32 stays float32); by default they are
            skipped.

    Raises:
        CatalogNotFoundError: the file does not exist.
        DataError: unknown format or unreadable file.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise CatalogNotFoundError(f"catalog file not found: '{path}'; check dataset.path=")
    if path.is_dir():
        raise EmptyCatalogError(f"'{path}' is a folder; dataset.path= must name one catalog file in it")
    fmt = catalog_format(path)
    size = path.stat().st_size
    if size == 0:
        raise EmptyCatalogError(f"'{path.name}' has no rows (the file is empty): point dataset.path= at the "
                                "exported table")
    show = progress if progress is not None else size > LARGE_FILE_BYTES
    try:
        if show:
            from rich.console import Console

            with Console(stderr=True).status(f"Reading {path.name} ({size / 1024**2:.0f} MB)"):
                table = _read_table(path, fmt)
        else:
            table = _read_table(path, fmt)
    except (OSError, ValueError, TypeError, IndexError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"could not read '{path.name}' as {fmt}: {first}; check the file and its suffix") from exc
    if len(table) == 0:
        raise EmptyCatalogError(f"'{path.name}' has no rows (header only: {len(table.colnames)} columns); "
                                "point dataset.path= at a table with data")
    catalog = catalog_from_table(table, path, file_checksum(path), multidim=multidim)
    log.info("read %d rows, %d columns from %s", len(table), len(catalog.names), path)
    return catalog


def catalog_from_table(table, path: Path, checksum: str, multidim: bool = False, quiet: bool = False) -> Catalog:
    """An astropy ``Table`` (read from a file, or one partition of a HATS catalog) as a :class:`Catalog`,
    with the conversions :func:`read_catalog` documents; ``quiet``: do not log the absurd-value count (the
    caller sums :attr:`Catalog.absurd` over partitions and logs it once)."""
    import torch
    from tensordict import TensorDict

    names = list(table.colnames)
    units: dict[str, str | None] = {}
    numeric: dict[str, torch.Tensor] = {}
    strings: dict[str, np.ndarray] = {}
    n_rows = len(table)
    absurd: dict[str, int] = {}
    for name in names:
        col = table[name]
        unit = getattr(col, "unit", None)
        units[name] = None if unit is None else str(unit)
        if col.ndim > 1:
            values = np.asarray(col)
            if multidim and values.dtype.kind in "fiub":
                arr = np.ascontiguousarray(values)
                if arr.dtype.byteorder not in ("=", "|"):
                    arr = arr.astype(arr.dtype.newbyteorder("="))
                numeric[name] = torch.from_numpy(arr)
            else:
                log.debug("skipping multidimensional column '%s'", name)
            continue
        mask = np.asarray(getattr(col, "mask", np.zeros(n_rows, bool)), dtype=bool)
        values = np.asarray(col)
        kind = values.dtype.kind
        if kind in "US" or kind == "O":
            arr = np.asarray(values.astype(str), dtype=str)
            if mask.any():
                arr = arr.copy()
                arr[mask] = ""
            strings[name] = arr
        elif kind == "b":
            numeric[name] = torch.from_numpy(np.array(values, dtype=bool))
        elif kind in "iu":
            if mask.any():
                if name.endswith("id") or "source_id" in name:
                    raise DataError(f"column '{name}' has {mask.sum()} empty id values in '{path}'")
                numeric[name] = torch.from_numpy(np.where(mask, np.nan, values.astype(np.float64)))
            else:
                numeric[name] = torch.from_numpy(np.array(values, dtype=np.int64))
        elif kind == "f":
            arr = np.array(values, dtype=np.float64)
            if mask.any():
                arr[mask] = np.nan
            with np.errstate(invalid="ignore"):
                bad = ~np.isnan(arr) & ~(np.abs(arr) <= ABSURD)
            if bad.any():
                absurd[name] = int(bad.sum())
                arr[bad] = np.nan
            numeric[name] = torch.from_numpy(arr)
        else:
            log.debug("skipping column '%s' of dtype %s", name, values.dtype)
    if absurd and not quiet:
        log.warning("treated %d non-finite or |v| > %g values as missing: %s", sum(absurd.values()), ABSURD,
                    ", ".join(f"{k} ({v})" for k, v in absurd.items()))
    data = TensorDict(numeric, batch_size=[n_rows])
    return Catalog(
        data=data, strings=strings, names=names, units=units, path=path,
        checksum=checksum, meta=dict(table.meta) if table.meta else {}, absurd=absurd,
    )


def write_table(table, path: str | os.PathLike) -> Path:
    """Write an astropy ``Table`` in the format named by ``path``'s suffix, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = catalog_format(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{path.suffix}")
    kwargs: dict[str, Any] = {"overwrite": True}
    if fmt == "votable":
        kwargs["format"] = "votable"
    elif fmt == "csv":
        kwargs["format"] = "ascii.csv"
    elif fmt == "tsv":
        kwargs["format"] = "ascii.tab"
    else:
        kwargs["format"] = fmt
    table.write(tmp, **kwargs)
    os.replace(tmp, path)
    return path


def read_columns(path: str | os.PathLike, names: list[str]):
    """Columns of a catalog file exactly as stored (values, dtypes, units), as an astropy ``Table``;
    for echoing a user's own columns next to predictions (a HATS catalog: rows in partition order)."""
    path = Path(path).expanduser()
    from astrolab.data.hats import is_hats_catalog

    if is_hats_catalog(path):
        from astrolab.data.hats import read_hats_columns

        table = read_hats_columns(path, names)
    else:
        table = _read_table(path, catalog_format(path))
    missing = [n for n in names if n not in table.colnames]
    if missing:
        raise DataError(f"column(s) {', '.join(missing)} not in '{path.name}'; the file has: "
                        f"{', '.join(table.colnames[:30])} (fix predict.keep=[...])")
    return table[list(names)]
