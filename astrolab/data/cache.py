"""On-disk cache of prepared data (memory-mapped TensorDicts), keyed by input checksum + config.

A second run on the same file with the same data config skips schema work and graph building.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    return Path(os.environ.get("ASTROLAB_CACHE", Path.home() / ".cache" / "astrolab")).expanduser()


def cache_key(checksum: str, config: dict[str, Any]) -> str:
    blob = json.dumps({"checksum": checksum, "config": config}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def load_cached(cache_dir: str | os.PathLike, kind: str, key: str):
    """The cached TensorDict, or ``None``."""
    from tensordict import TensorDict

    path = Path(cache_dir) / kind / key
    if not (path / "complete").exists():
        return None
    try:
        td = TensorDict.load_memmap(path / "td")
        meta = json.loads((path / "meta.json").read_text())
    except Exception as exc:  # a damaged cache is rebuilt, never fatal
        log.warning("ignoring damaged cache entry %s (%s)", path, exc)
        return None
    log.info("using cached %s %s", kind, path)
    return td.clone(), meta


def save_cached(cache_dir: str | os.PathLike, kind: str, key: str, td, meta: dict[str, Any]) -> Path:
    """Write atomically: a temporary folder renamed into place."""
    root = Path(cache_dir) / kind
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{key}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    td.memmap(tmp / "td")
    (tmp / "meta.json").write_text(json.dumps(meta, default=str))
    (tmp / "complete").touch()
    final = root / key
    if final.exists():
        shutil.rmtree(final, ignore_errors=True)
    try:
        os.replace(tmp, final)
    except OSError:  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    return final
