"""On-disk cache of prepared data, keyed by input checksum + data config, verified on every read.

A second run on the same file with the same data config skips schema work and graph building. An entry is
a folder ``<cache_dir>/<kind>/<key>/`` holding one ``.npy`` file per array (memory-mappable with
``numpy.load(mmap_mode="r")``) and ``manifest.json``: per array its file, shape, dtype and SHA-256, the batch
size of every nested ``TensorDict``, the data module's metadata, and the file the entry was built from
(path and checksum). Reading checks every array's shape and checksum; a truncated, corrupt or missing file
is logged and the entry rebuilt (never trusted, never fatal). Entries are written to a temporary folder and
renamed into place, so a crash never leaves a half-written entry that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: bump when the on-disk layout changes (older entries are then rebuilt)
LAYOUT = 3


def default_cache_dir() -> Path:
    return Path(os.environ.get("ASTROLAB_CACHE", Path.home() / ".cache" / "astrolab")).expanduser()


def cache_key(checksum: str, config: dict[str, Any]) -> str:
    blob = json.dumps({"checksum": checksum, "config": config, "layout": LAYOUT}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _sha256_array(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).view(np.uint8).reshape(-1).data).hexdigest()


def _walk(td, prefix: tuple[str, ...] = ()):
    """``(key tuple, value)`` for every nested TensorDict (first) and tensor below ``td``."""
    from tensordict import TensorDictBase

    for k in sorted(td.keys()):
        v = td.get(k)
        key = (*prefix, str(k))
        if isinstance(v, TensorDictBase):
            yield key, v
            yield from _walk(v, key)
        else:
            yield key, v


def entry_path(cache_dir: str | os.PathLike, kind: str, key: str) -> Path:
    return Path(cache_dir) / kind / key


class _Damaged(Exception):
    pass


def _sha256_file_data(file: Path) -> str:
    """:func:`_sha256_array` of a C-ordered ``.npy`` file's data, read in 16 MiB chunks (never held whole)."""
    h = hashlib.sha256()
    with open(file, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, _ = read(f)
        if fortran and len(shape) > 1:
            raise _Damaged(f"{file.name} is Fortran-ordered")
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


def load_cached(cache_dir: str | os.PathLike, kind: str, key: str, verify: bool = True, mmap: bool = False):
    """``(TensorDict, meta)`` from a verified entry, or ``None`` (absent, or damaged: then logged and removed).

    ``mmap=True``: the arrays stay memory-mapped (copy-on-write) instead of being read into memory; with
    ``verify`` each file's checksum is computed from 16 MiB reads. ``verify=False`` (an entry this process
    has just written) still checks every array's shape and dtype against the manifest.

    ``meta["cache_entry"]`` records the entry folder and the file it was built from.
    """
    import torch
    from tensordict import TensorDict

    path = entry_path(cache_dir, kind, key)
    manifest_file = path / "manifest.json"
    if not manifest_file.exists():
        if path.exists():
            log.warning("cache entry %s has no manifest (an older layout or an interrupted write): rebuilding",
                        path)
            shutil.rmtree(path, ignore_errors=True)
        return None
    try:
        manifest = json.loads(manifest_file.read_text())
        td = TensorDict({}, batch_size=manifest["batch_sizes"][""])
        for name, bs in sorted(manifest["batch_sizes"].items(), key=lambda kv: kv[0].count("/")):
            if name:
                td[tuple(name.split("/"))] = TensorDict({}, batch_size=bs)
        for name, spec in manifest["arrays"].items():
            file = path / spec["file"]
            if not file.exists():
                raise _Damaged(f"{spec['file']} is missing")
            try:
                arr = np.load(file, mmap_mode="r", allow_pickle=False)
            except ValueError as exc:  # a truncated .npy cannot be mapped
                raise _Damaged(f"{spec['file']}: {exc}") from exc
            if list(arr.shape) != list(spec["shape"]) or str(arr.dtype) != spec["dtype"]:
                raise _Damaged(f"{spec['file']} has shape {list(arr.shape)} {arr.dtype}, the manifest says "
                               f"{spec['shape']} {spec['dtype']}")
            if verify and (_sha256_file_data(file) if mmap else _sha256_array(arr)) != spec["sha256"]:
                raise _Damaged(f"{spec['file']} does not match its checksum")
            if mmap:
                arr = np.load(file, mmap_mode="c", allow_pickle=False)  # writable view, pages stay on disk
            td[tuple(name.split("/"))] = torch.from_numpy(arr if mmap else np.array(arr))
    except (_Damaged, OSError, KeyError, json.JSONDecodeError, RuntimeError) as exc:
        log.warning("cache entry %s is damaged (%s): rebuilding it", path, exc)
        shutil.rmtree(path, ignore_errors=True)
        return None
    meta = dict(manifest.get("meta", {}))
    meta["cache_entry"] = {"path": str(path), "built_from": manifest.get("source")}
    log.info("using cached %s %s (built from %s)", kind, path, (manifest.get("source") or {}).get("path"))
    return td, meta


def save_cached(cache_dir: str | os.PathLike, kind: str, key: str, td, meta: dict[str, Any],
                source: dict[str, Any] | None = None) -> Path:
    """Write an entry atomically (a temporary folder renamed into place).

    Args:
        td: the prepared ``TensorDict`` (tensors and nested TensorDicts only).
        meta: JSON-serialisable metadata returned with the arrays.
        source: the file the entry is built from, e.g. ``{"path": ..., "checksum": ...}``.
    """
    from tensordict import TensorDictBase

    root = Path(cache_dir) / kind
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{key}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    arrays: dict[str, Any] = {}
    batch_sizes: dict[str, list[int]] = {"": list(td.batch_size)}
    for i, (k, v) in enumerate(_walk(td)):
        name = "/".join(k)
        if isinstance(v, TensorDictBase):
            batch_sizes[name] = list(v.batch_size)
            continue
        arr = v.detach().cpu().numpy()
        file = f"a{i:04d}.npy"
        np.save(tmp / file, arr, allow_pickle=False)
        arrays[name] = {"file": file, "shape": list(arr.shape), "dtype": str(arr.dtype),
                        "sha256": _sha256_array(arr)}
    manifest = {"layout": LAYOUT, "arrays": arrays, "batch_sizes": batch_sizes, "meta": meta,
                "source": source}
    (tmp / "manifest.json").write_text(json.dumps(manifest, default=str))
    final = root / key
    if final.exists():
        shutil.rmtree(final, ignore_errors=True)
    try:
        os.replace(tmp, final)
    except OSError:  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    return final
