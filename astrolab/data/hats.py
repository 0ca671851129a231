"""HATS catalogs (HEALPix-partitioned Parquet, read with LSDB) prepared one partition at a time with Dask.

``dataset.path=<HATS catalog directory>`` is recognised by its metadata (``hats.properties``,
``collection.properties``, or an older ``properties`` / ``catalog_info.json``). The catalog is opened with
:func:`lsdb.read_hats` (its margin cache is loaded with it when the catalog is a collection or when
``margin_cache=`` names one). Every partition then becomes Dask tasks: the survey's reader, cuts and
features on the partition's rows (the same functions a single file goes through), and the partition's kNN
query on its own nodes plus the nodes in its margin cache (neighbours across the partition edge). Tasks run
on the local threaded scheduler by default (cKDTree and NumPy release the GIL, so threads use every core
without copying partitions between processes), on processes with ``dataset.dask.scheduler=processes``,
or on an existing Dask cluster with ``dataset.dask.scheduler=tcp://host:8786`` (its workers need astrolab
installed).

The graph equals the single-file graph of the same rows: the kNN runs on the same standardised
coordinates with the same metric, and a node whose k-th neighbour could lie outside its partition and margin
(bounded from the neighbour distance, the node's distance to the partition edge and the margin width, see
:func:`sky_reach` and :func:`_knn_partition`) is queried again against the whole catalog, counted in the
log. The graph spaces mix sky position with parallax and proper motion, so that bound is degrees on the sky
for catalogs of 10^4-10^5 stars: with crossmatch margins (arcseconds) most nodes take the whole-catalog
query, and the per-partition query pays only where the margin is comparable to the neighbour distances.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from astrolab.errors import ConfigError, DataError, EmptyCatalogError

log = logging.getLogger(__name__)

#: files that mark a HATS catalog (or collection) directory, newest first
MARKERS = ("hats.properties", "collection.properties", "properties", "catalog_info.json")
#: files whose bytes enter the catalog checksum (besides every file's name and size)
_CHECKSUM_BYTES = ("hats.properties", "collection.properties", "properties", "catalog_info.json",
                   "partition_info.csv", "_metadata", "_common_metadata")
_FIX = ("give a catalog file (CSV, ECSV, FITS, VOTable or Parquet) or a HATS catalog directory (one holding "
        "hats.properties, e.g. written by lsdb.from_dataframe(df, margin_threshold=10).write_catalog(path))")


def is_hats_catalog(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a directory holding HATS catalog (or collection) metadata."""
    p = Path(path)
    return p.is_dir() and any((p / m).is_file() for m in MARKERS)


def not_hats_error(path: str | os.PathLike) -> EmptyCatalogError:
    """A folder given as ``dataset.path`` that holds no HATS metadata: one line naming the key and the fix."""
    p = Path(path)
    try:
        shown = sorted(c.name for c in p.iterdir())
    except OSError:
        shown = []
    held = f"it holds {', '.join(shown[:6])}{' …' if len(shown) > 6 else ''}" if shown else "it is empty"
    return EmptyCatalogError(f"dataset.path='{p}' is a folder, not a HATS catalog (no {MARKERS[0]}; {held}): "
                             f"{_FIX}")


def require_lsdb():
    try:
        import lsdb
    except ImportError as exc:
        raise ConfigError("dataset.path names a HATS catalog, which is read with LSDB: "
                          "pip install 'astrolab[lsdb]'") from exc
    return lsdb


def hats_checksum(path: str | os.PathLike) -> str:
    """SHA-256 over every file's relative name and size and the bytes of the catalog's metadata files
    (properties, partition_info.csv, Parquet ``_metadata`` with each row group's statistics): hashing every
    partition's bytes would read the whole catalog before the cache could be consulted."""
    root = Path(path)
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = f.relative_to(root).as_posix()
        h.update(f"{rel}\0{f.stat().st_size}\0".encode())
        if f.name in _CHECKSUM_BYTES:
            h.update(f.read_bytes())
    return h.hexdigest()


@dataclass
class HatsCatalog:
    """An opened HATS catalog: the LSDB catalog, its margin (``None`` without one) and their partitions."""

    path: Path
    catalog: Any
    margin: Any
    pixels: list
    n_rows: int
    margin_arcsec: float
    columns: list[str]
    meta: Any  # empty pandas frame with the column dtypes


def open_hats(path: str | os.PathLike, columns: Sequence[str] | str | None = "all",
              margin_cache: str | None = None, quiet: bool = False) -> HatsCatalog:
    """Open a HATS catalog with LSDB (``columns``: load only these; ``"all"``: every column; ``None``: the
    catalog's default columns). Logs
    "HATS catalog with N partitions, M rows" and whether a margin cache came with it."""
    lsdb = require_lsdb()
    p = Path(path).expanduser()
    if not is_hats_catalog(p):
        raise not_hats_error(p)
    kwargs: dict[str, Any] = {}
    if columns is not None:
        kwargs["columns"] = columns if isinstance(columns, str) else list(columns)  # "all": every column
    if margin_cache:
        kwargs["margin_cache"] = str(margin_cache)
    try:
        cat = lsdb.read_hats(p, **kwargs)
    except (ValueError, FileNotFoundError, OSError, KeyError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise DataError(f"dataset.path='{p}': LSDB cannot read it as a HATS catalog ({first}); {_FIX}") from exc
    pixels = list(cat.get_healpix_pixels())
    info = cat.hc_structure.catalog_info
    n_rows = int(getattr(info, "total_rows", 0) or 0)
    margin = getattr(cat, "margin", None)
    margin_arcsec = 0.0
    if margin is not None:
        margin_arcsec = float(getattr(margin.hc_structure.catalog_info, "margin_threshold", 0.0) or 0.0)
    log.log(logging.DEBUG if quiet else logging.INFO, "HATS catalog with %d partitions, %d rows (%s)%s", len(pixels), n_rows, p.name,
             f", margin cache {margin_arcsec:g} arcsec" if margin is not None else
             ", no margin cache: nodes near partition edges are matched against the whole catalog")
    return HatsCatalog(path=p, catalog=cat, margin=margin, pixels=pixels, n_rows=n_rows,
                       margin_arcsec=margin_arcsec, columns=list(cat.columns), meta=cat._ddf._meta
                       if hasattr(cat, "_ddf") else cat.meta)


def partition_frames(hc: HatsCatalog, margins: HatsCatalog | None = None) -> list[tuple[Any, Any]]:
    """Per partition (``hc.pixels`` order) the delayed main frame and the delayed margin frame (``None``
    where the partition has no margin rows), the margin taken from ``margins`` (the same catalog opened with
    fewer columns) when given."""
    main = dict(zip(hc.catalog.get_healpix_pixels(), hc.catalog.to_delayed()))
    src = margins if margins is not None else hc
    margin: dict = {}
    if src.margin is not None:
        margin = dict(zip(src.margin.get_healpix_pixels(), src.margin.to_delayed()))
    return [(main[px], margin.get(px)) for px in hc.pixels]


def read_hats_columns(path: str | os.PathLike, names: Sequence[str]):
    """The named columns of a HATS catalog as an astropy ``Table``, rows in partition order (the row numbers
    its prepared graph records)."""
    import dask
    import pandas as pd

    hc = open_hats(path, columns="all")
    missing = [n for n in names if n not in hc.columns]
    if missing:
        raise DataError(f"column(s) {', '.join(missing)} not in the HATS catalog '{Path(path).name}'; it has: "
                        f"{', '.join(hc.columns[:30])} (fix predict.keep=[...])")
    hc = open_hats(path, columns=list(names))
    frames = dask.compute(*[main for main, _ in partition_frames(hc)])
    frame = pd.concat(frames) if frames else hc.meta
    return frame_table(frame.reset_index(drop=True)[list(names)])


# -- Dask ----------------------------------------------------------------------------------------------
_POOLS: dict[int, Any] = {}


def _process_pool(workers: int):
    """One pool of worker processes per size, kept for the session: a spawned worker imports astrolab (and
    torch) once, not once per ``dask.compute``."""
    if workers not in _POOLS:
        import atexit
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        _POOLS[workers] = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        atexit.register(_POOLS[workers].shutdown, wait=False, cancel_futures=True)
    return _POOLS[workers]


@contextlib.contextmanager
def dask_scheduler(cfg: dict[str, Any] | None) -> Iterator[str]:
    """Run the ``dask.compute`` calls inside on the scheduler ``cfg`` names (``dataset.dask``):
    ``scheduler``: ``null``/``threads`` (local threads, default), ``processes``, ``synchronous``, or the
    address of a running Dask scheduler; ``workers``: local threads/processes (``null``: every core);
    ``timeout``: seconds to wait for that scheduler."""
    import dask

    cfg = dict(cfg or {})
    scheduler = cfg.get("scheduler") or "threads"
    workers = cfg.get("workers") or os.cpu_count() or 1
    if scheduler in ("threads", "processes", "synchronous"):
        extra = {"pool": _process_pool(int(workers))} if scheduler == "processes" else {}
        with dask.config.set(scheduler=scheduler, num_workers=int(workers), **extra):
            yield f"local {scheduler} ({workers} worker{'s' if int(workers) != 1 else ''})"
        return
    try:
        from distributed import Client
    except ImportError as exc:
        raise ConfigError(f"dataset.dask.scheduler={scheduler} needs dask.distributed: "
                          "pip install 'astrolab[lsdb]'") from exc
    try:
        client = Client(str(scheduler), timeout=cfg.get("timeout", 10), set_as_default=True)
    except (OSError, TimeoutError, ValueError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"dataset.dask.scheduler={scheduler}: no Dask scheduler answers there ({first}); "
                          "start one (dask scheduler; dask worker <address>) or set dataset.dask.scheduler=null "
                          "for local threads") from exc
    try:
        with dask.config.set(scheduler=client):
            yield f"Dask cluster at {scheduler} ({len(client.scheduler_info().get('workers', {}))} workers)"
    finally:
        client.close()


class _Capture(logging.Filter):
    """Holds back the records of the threads registered in it (one partition's task each), so that the
    per-partition lines of the survey reader are summed and logged once by the caller."""

    def __init__(self) -> None:
        super().__init__()
        self.buffers: dict[int, list[tuple[int, str]]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        buf = self.buffers.get(threading.get_ident())
        if buf is None:
            return True
        buf.append((record.levelno, record.getMessage()))
        return False


_CAPTURE = _Capture()
_CAPTURED_LOGGERS = ("astrolab.data.io", "astrolab.data.surveys.common", "astrolab.data.surveys.gaia")


@contextlib.contextmanager
def captured_logs() -> Iterator[list[tuple[int, str]]]:
    """The reader's log records of this thread, held back into the yielded list."""
    for name in _CAPTURED_LOGGERS:
        lg = logging.getLogger(name)
        if _CAPTURE not in lg.filters:
            lg.addFilter(_CAPTURE)
    buf: list[tuple[int, str]] = []
    tid = threading.get_ident()
    _CAPTURE.buffers[tid] = buf
    try:
        yield buf
    finally:
        _CAPTURE.buffers.pop(tid, None)


def frame_table(frame):
    """A pandas frame (LSDB's pyarrow-backed columns) as an astropy ``Table`` of NumPy columns, missing values
    masked (as astropy reads a Parquet file with nulls); nested and other non-scalar columns are left out.
    Goes through one pyarrow table (column access on LSDB's frames is slow)."""
    import pandas as pd
    import pyarrow as pa
    from astropy.table import Column, MaskedColumn, Table

    flat = pd.DataFrame({c: frame[c] for c in frame.columns if not hasattr(frame[c].dtype, "field_names")})
    arrow = pa.Table.from_pandas(flat, preserve_index=False)
    table = Table()
    for name, col in zip(arrow.column_names, arrow.columns):
        kind = col.type
        na = col.is_null().to_numpy(zero_copy_only=False) if col.null_count else None
        if pa.types.is_boolean(kind):
            values = col.fill_null(False).to_numpy(zero_copy_only=False)
        elif pa.types.is_integer(kind):
            values = col.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        elif pa.types.is_floating(kind):
            values = col.to_numpy(zero_copy_only=False)
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            values = np.asarray(col.fill_null("").to_numpy(zero_copy_only=False), dtype=str)
        else:
            continue
        table[str(name)] = MaskedColumn(values, mask=na) if na is not None else Column(values)
    return table


def frame_catalog(frame, path: Path, checksum: str):
    """One partition's pandas frame as a :class:`~astrolab.data.io.Catalog`, converted exactly as a
    file's table is (missing values masked, then NaN; absurd values counted; int64 ids kept exact)."""
    from astrolab.data.io import catalog_from_table

    return catalog_from_table(frame_table(frame), path, checksum, quiet=True)


# -- kNN across partitions -----------------------------------------------------------------------------
@dataclass
class PartitionLayout:
    """Which rows each partition owns and which rows its margin cache holds (row numbers in the catalog's
    partition order; ``margin_rows[p]`` holds rows of other partitions), with each row's position."""

    starts: np.ndarray                    # [P + 1] first row of each partition (rows are contiguous)
    pixels: list[tuple[int, int]]         # (order, pixel) of each partition
    margin_rows: list[np.ndarray]
    margin_arcsec: float
    ra: np.ndarray                        # [rows kept] degrees, aligned with ``node_rows``
    dec: np.ndarray
    node_rows: np.ndarray                 # increasing catalog rows of the kept rows


@dataclass
class SkyReach:
    """Bounds the sky separation (degrees) between a node and any point within ``radius`` of it in the graph
    metric: ``astrometry``: ``radius · factor``; ``xyz``: ``asin(radius · factor / distance)`` (``aux``: the
    node's distance in pc)."""

    kind: str
    factor: float

    def __call__(self, radius: np.ndarray, aux: np.ndarray | None) -> np.ndarray:
        if self.kind == "astrometry":
            return radius * self.factor
        ratio = radius * self.factor / aux
        with np.errstate(invalid="ignore"):
            return np.where(ratio < 1.0, np.rad2deg(np.arcsin(np.minimum(ratio, 1.0))), np.inf)


def _unit(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    ra, dec = np.deg2rad(ra_deg), np.deg2rad(dec_deg)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def boundary_distance(ra: np.ndarray, dec: np.ndarray, order: int, pixel: int,
                      samples: int | None = None) -> np.ndarray:
    """A lower bound (degrees) on the separation between points inside a HEALPix pixel and its boundary: the
    nearest of the ``4 · samples`` points cdshealpix ``vertices(step=samples)`` puts along the boundary, in
    order (default about 0.05-0.1 deg apart, 16 to 512 per edge), less the largest gap between neighbouring
    samples (the true nearest boundary point lies within half a gap of one, with room for the edge's
    curvature)."""
    import cdshealpix.nested as chp

    if samples is None:
        samples = int(np.clip(np.ceil(58.6 / 2**order / 0.05), 16, 512))
    lon, lat = chp.vertices(np.array([pixel], dtype=np.uint64), order, step=samples, num_threads=1)
    pts = np.column_stack([lon.to_value("deg").reshape(-1), lat.to_value("deg").reshape(-1)])
    b = _unit(pts[:, 0], pts[:, 1])
    gap = np.rad2deg(np.arccos(np.clip(np.sum(b * np.roll(b, -1, axis=0), axis=1), -1, 1))).max()
    out = np.empty(len(ra))
    v = _unit(ra, dec)
    for i in range(0, len(ra), 8192):
        dots = np.clip(v[i:i + 8192] @ b.T, -1, 1).max(axis=1)
        out[i:i + 8192] = np.rad2deg(np.arccos(dots))
    return np.maximum(out - gap, 0.0)


def _knn_partition(core: np.ndarray, candidates: np.ndarray, k: int, reach: SkyReach, aux, ra, dec,
                   pixel: tuple[int, int], margin_deg: float):
    """One partition's kNN (a Dask task): the k + 1 nearest candidates (the core nodes first, then the
    margin) of each core node, and whether they are proven complete: every point outside the core and its
    margin lies further than ``margin + distance to the pixel edge`` on the sky, so a node whose k-th
    neighbour radius reaches less far on the sky has all its neighbours among the candidates."""
    from scipy.spatial import cKDTree

    kk = min(k + 1, len(candidates))
    dist, idx = cKDTree(candidates).query(core, k=kk)
    dist, idx = dist.reshape(len(core), kk), idx.reshape(len(core), kk)
    if kk < k + 1:
        return idx, np.zeros(len(core), bool)
    sky = reach(dist[:, -1], aux)
    ok = sky < margin_deg
    near = np.flatnonzero(~ok & np.isfinite(sky))
    if len(near):  # nodes inside the pixel: the edge is further away than the margin alone
        ok[near] = sky[near] < margin_deg + boundary_distance(ra[near], dec[near], *pixel)
    return idx, ok


def symmetrise(src: np.ndarray, dst: np.ndarray, n: int):
    """``edge_index`` of the undirected graph with an edge for each (src, dst) pair, without self-loops or
    duplicates, sorted by (source, target) (the single-file graph's layout)."""
    import torch

    keep = src != dst
    src, dst = src[keep].astype(np.int64), dst[keep].astype(np.int64)
    key = np.concatenate([src * n + dst, dst * n + src])
    key.sort()
    if len(key):
        key = key[np.concatenate([[True], key[1:] != key[:-1]])]
    return torch.from_numpy(np.stack([key // n, key % n]))


def partitioned_knn(pts: np.ndarray, rows: np.ndarray, layout: PartitionLayout, k: int, reach: SkyReach,
                    aux: np.ndarray | None = None):
    """The kNN graph of ``pts`` (``[N, D]``, one per node; ``rows``: each node's catalog row, increasing)
    built one partition at a time as Dask tasks, equal to the whole-catalog kNN graph: a node whose
    neighbours the margin cannot prove complete (see :func:`_knn_partition`) is queried again against every
    node. Returns ``(edge_index, number of nodes queried against the whole catalog)``."""
    import dask
    from scipy.spatial import cKDTree

    n = len(pts)
    at = np.searchsorted(layout.node_rows, rows)  # position of each node among the kept rows
    ra, dec = layout.ra[at], layout.dec[at]
    bounds = np.searchsorted(rows, layout.starts)
    margin_deg = layout.margin_arcsec / 3600.0
    tasks, parts = [], []
    for p in range(len(bounds) - 1):
        core = np.arange(bounds[p], bounds[p + 1])
        if not len(core):
            continue
        mrows = layout.margin_rows[p]
        pos = np.minimum(np.searchsorted(rows, mrows), n - 1)
        margin = np.unique(pos[rows[pos] == mrows])  # margin rows that are nodes (passed cuts and policies)
        cand = np.concatenate([core, margin])
        tasks.append(dask.delayed(_knn_partition, pure=False)(
            pts[core], pts[cand], k, reach, None if aux is None else aux[core], ra[core], dec[core],
            layout.pixels[p], margin_deg))
        parts.append((core, cand))
    results = dask.compute(*tasks)
    src_l, dst_l, redo = [], [], []
    for (core, cand), (idx, ok) in zip(parts, results):
        src_l.append(np.repeat(core[ok], idx.shape[1]))
        dst_l.append(cand[idx[ok]].reshape(-1))
        redo.append(core[~ok])
    redo_nodes = np.concatenate(redo) if redo else np.empty(0, np.int64)
    if len(redo_nodes):
        kk = min(k + 1, n)
        _, idx = cKDTree(pts).query(pts[redo_nodes], k=kk, workers=-1)
        src_l.append(np.repeat(redo_nodes, kk))
        dst_l.append(idx.reshape(-1))
    log.info("kNN per partition: %d partitions; %d of %d nodes (%.1f%%) queried against the whole catalog "
             "(their k-th neighbour could lie beyond the %g arcsec margin)", len(parts), len(redo_nodes), n,
             100.0 * len(redo_nodes) / max(n, 1), layout.margin_arcsec)
    return symmetrise(np.concatenate(src_l), np.concatenate(dst_l), n), int(len(redo_nodes))


def sky_reach(space: str, graph_points: np.ndarray, scale: np.ndarray | None) -> tuple[SkyReach, np.ndarray | None]:
    """The :class:`SkyReach` of a graph space and its per-node ``aux`` array.

    ``astrometry`` (x = Δra·cos dec, y = dec in degrees, then parallax and proper motions, each divided by
    ``scale``): sep ≤ |Δx| + (1 + A)·|Δdec| (triangle inequality through (ra_j, dec_i),
    |cos dec_j − cos dec_i| ≤ |Δdec|, A the largest |Δra| in radians), so by Cauchy–Schwarz a point within
    radius d lies within d·sqrt(scale_x² + (1 + A)²·scale_dec²) degrees. Spaces whose first three
    coordinates are the Galactic position in pc (``xyz``, ``xyz_pm``, ``features``): a point within radius d
    is within |Δr| ≤ d·max(scale_xyz) pc, seen from the Sun at most asin(|Δr| / D_i) away.
    """
    if space == "astrometry":
        dec = np.deg2rad(graph_points[:, 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            dra = np.where(np.cos(dec) > 0, graph_points[:, 0] / np.cos(dec), 180.0)
        a = min(float(np.nanmax(np.abs(np.deg2rad(dra)))) if len(dra) else np.pi, np.pi)
        return SkyReach("astrometry", float(np.hypot(scale[0], (1.0 + a) * scale[1]))), None
    s = 1.0 if scale is None else float(np.max(scale[:3]))
    return SkyReach("xyz", s), np.linalg.norm(graph_points[:, :3], axis=1)
