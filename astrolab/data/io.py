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


def _read_table(path: Path, fmt: str, text_as_bytes: bool = False):
    """``text_as_bytes``: FITS text columns stay bytes (:func:`catalog_from_table` decodes them in one numpy
    cast; astropy's per-element decode costs more than the rest of the read at 10^6 rows)."""
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
        return Table.read(path, format="fits", character_as_bytes=text_as_bytes)
    if fmt == "parquet":
        return _read_parquet(path)
    return Table.read(path, format=fmt)


def _yaml_header(text: str) -> dict[str, Any]:
    """astropy's ``table_meta_yaml``: libyaml's safe loader when the header holds plain values (50× faster
    than the pure-Python loader at 20 columns), astropy's own loader when it holds astropy tags."""
    import yaml

    try:
        header = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if isinstance(header, dict):
            return header
    except yaml.YAMLError:
        pass
    from astropy.table.meta import get_header_from_yaml

    return get_header_from_yaml(text.splitlines())


def _read_parquet(path: Path):
    """A Parquet file as an astropy ``Table`` without copies: pyarrow reads it, each plain column becomes a
    numpy view (a null-mask where it has nulls; text through Arrow's dictionary encoding, one decode per
    distinct value), units and table meta come from astropy's ``table_meta_yaml`` when the file has it.
    Files astropy wrote with mixin columns (SkyCoord, Time, ...), or with list, nested or time-typed
    columns, go through astropy's own reader (``Table.read(format="parquet")``), which knows them; this
    path exists because that reader's per-column conversions cost as much as the read itself at 10^6 rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from astropy.table import Column, MaskedColumn, Table

    schema = pq.read_schema(path)
    raw_meta = (schema.metadata or {}).get(b"table_meta_yaml")
    plain = all(pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_boolean(f.type)
                or pa.types.is_string(f.type) or pa.types.is_large_string(f.type) for f in schema)
    if not plain or (raw_meta is not None and b"__serialized_columns__" in raw_meta):
        return Table.read(path, format="parquet")
    header: dict[str, Any] = {}
    if raw_meta is not None:
        header = _yaml_header(raw_meta.decode("utf-8"))
    described = {c["name"]: c for c in header.get("datatype", [])}
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    arrow = pq.read_table(path, read_dictionary=text)  # text stays dictionary-coded as Parquet stores it
    columns = []
    for name, chunked in zip(arrow.column_names, arrow.columns):
        info = described.get(name, {})
        nulls = chunked.null_count > 0
        if name in text:
            coded = chunked.combine_chunks()
            if not pa.types.is_dictionary(coded.type):
                coded = coded.dictionary_encode()
            words = np.asarray(coded.dictionary.to_numpy(zero_copy_only=False).astype(str))
            codes = coded.indices.fill_null(0).to_numpy() if nulls else coded.indices.to_numpy()
            values = words[codes] if len(words) else np.full(len(chunked), "", dtype="U1")
        elif nulls:
            fill = np.nan if pa.types.is_floating(chunked.type) else 0
            values = chunked.fill_null(fill).to_numpy()
        else:
            values = chunked.to_numpy()
        kwargs = {"name": name, "unit": info.get("unit"), "description": info.get("description")}
        if nulls:
            columns.append(MaskedColumn(values, mask=chunked.is_null().to_numpy(), copy=False, **kwargs))
        else:
            columns.append(Column(values, copy=False, **kwargs))
    meta = header.get("meta") or {}
    return Table(columns, copy=False, meta=dict(meta) if isinstance(meta, list) else meta)


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
    # the file's SHA-256 is computed on a second thread while the table is parsed (hashlib releases the
    # GIL on large blocks): on a 10^6-row file it costs as much as the pyarrow read itself
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        checksum = pool.submit(file_checksum, path)
        try:
            if show:
                from rich.console import Console

                with Console(stderr=True).status(f"Reading {path.name} ({size / 1024**2:.0f} MB)"):
                    table = _read_table(path, fmt, text_as_bytes=True)
            else:
                table = _read_table(path, fmt, text_as_bytes=True)
        except (OSError, ValueError, TypeError, IndexError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"could not read '{path.name}' as {fmt}: {first}; check the file and its suffix") from exc
        if len(table) == 0:
            raise EmptyCatalogError(f"'{path.name}' has no rows (header only: {len(table.colnames)} columns); "
                                    "point dataset.path= at a table with data")
        catalog = catalog_from_table(table, path, "", multidim=multidim, copy=False)
        del table
        catalog.checksum = checksum.result()
    log.info("read %d rows, %d columns from %s", len(catalog), len(catalog.names), path)
    return catalog


def catalog_from_table(table, path: Path, checksum: str, multidim: bool = False, quiet: bool = False,
                       copy: bool = True) -> Catalog:
    """An astropy ``Table`` (read from a file, or one partition of a HATS catalog) as a :class:`Catalog`,
    with the conversions :func:`read_catalog` documents; ``quiet``: do not log the absurd-value count (the
    caller sums :attr:`Catalog.absurd` over partitions and logs it once); ``copy=False``: the caller owns
    ``table`` and drops it, so native float64 columns are taken over instead of copied."""
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
        mask = getattr(col, "mask", None)
        mask = np.zeros(0, bool) if mask is None else np.asarray(mask, dtype=bool)
        values = np.asarray(col)
        kind = values.dtype.kind
        if kind in "US" or kind == "O":
            try:
                arr = _as_text(values)
            except (TypeError, ValueError):  # an object column of lists (variable-length arrays): not a value
                log.debug("skipping column '%s' of variable-length arrays", name)
                continue
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
            arr = np.array(values, dtype=np.float64, copy=copy or not values.flags.writeable or None)
            if mask.any():
                arr[mask] = np.nan
            bad = _absurd(arr)
            if bad is not None:
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


def _absurd(arr: np.ndarray) -> np.ndarray | None:
    """Where a float column holds ±inf or |v| > ABSURD (NaN is a missing value, not absurd); ``None`` when
    nowhere — two NaN-ignoring reductions settle that without the temporaries of the full test."""
    if len(arr) == 0:
        return None
    with np.errstate(invalid="ignore"):
        hi, lo = np.fmax.reduce(arr), np.fmin.reduce(arr)
        if np.isnan(hi) or (hi <= ABSURD and lo >= -ABSURD):  # all NaN, or every value in range
            return None
        bad = ~np.isnan(arr) & ~(np.abs(arr) <= ABSURD)
    return bad if bad.any() else None


def _as_text(values: np.ndarray) -> np.ndarray:
    """Text column as a numpy ``str`` array: bytes are ASCII (the FITS standard) in one cast, else UTF-8."""
    if values.dtype.kind == "S":
        try:
            return values.astype("U")
        except UnicodeDecodeError:
            return np.char.decode(values, "utf-8", errors="replace")
    return np.asarray(values.astype(str), dtype=str)


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
