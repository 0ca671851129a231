"""Write-once run directories and the lock that keeps two processes out of one.

A run directory that already holds results (``summary.json``, ``metrics.csv``, ``config.yaml``,
checkpoints, predictions, plots) is never written over: a new run into it stops at start with one line.
The one exception is continuing a run (``ckpt_path=last``), which writes into its own directory.
While a run is writing, ``.astrolab.lock`` (created atomically, holding the process id) keeps a second
process out; a lock left by a killed process (its pid no longer alive) is taken over with a log line.
A run refused on a user error leaves nothing behind: :func:`discard_if_empty` removes its directory and
the parent folders this process created for it (``outputs/train/<date>/``), noted by :func:`note_new_folders`
before they were made; a folder that existed before, or holds anything, is never removed.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import socket
from pathlib import Path

from astrolab.errors import AstrolabError, RunDirError

log = logging.getLogger(__name__)

LOCK_NAME = ".astrolab.lock"
#: files (or folders) whose presence means a directory holds results of a run
RESULT_NAMES = ("summary.json", "metrics.csv", "metrics_raw.csv", "config.yaml", "checkpoints", "predictions.csv",
                "predictions.parquet", "predictions.fits", "predictions.vot", "trials.csv")
RESULT_GLOBS = ("predictions_*", "*.png", "*.ckpt")

_HELD: dict[Path, int] = {}
#: folders that did not exist when this process noted them (created for its runs; removable when empty)
_NEW_FOLDERS: set[Path] = set()


def note_new_folders(path: str | Path) -> None:
    """Remember ``path`` and those of its parents that do not exist yet: the folders this run is about to
    create (Hydra's ``outputs/<command>/<date>/``, a named ``hydra.run.dir``), which
    :func:`discard_if_empty` may remove again when a refused run leaves them empty."""
    path = Path(path).expanduser().resolve()
    for p in (path, *path.parents):
        if p.exists():
            break
        _NEW_FOLDERS.add(p)


def results_in(path: Path) -> list[str]:
    """Names of result files already in ``path`` (empty for a new or only Hydra-initialised directory)."""
    path = Path(path)
    if not path.is_dir():
        return []
    found = [n for n in RESULT_NAMES if (path / n).exists() and not ((path / n).is_dir() and not any((path / n).iterdir()))]
    for pattern in RESULT_GLOBS:
        found += sorted(p.name for p in path.glob(pattern))
    return found


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_lock(lock: Path) -> tuple[str, int] | None:
    try:
        host, pid = lock.read_text().strip().split(":", 1)
        return host, int(pid)
    except (OSError, ValueError):
        return None


def is_ddp_child() -> bool:
    """A process Lightning's DDP launcher started for rank > 0 (``LOCAL_RANK``/``NODE_RANK`` set by it)."""
    return "WORLD_SIZE" in os.environ and (os.environ.get("LOCAL_RANK", "0") not in ("", "0")
                                            or os.environ.get("NODE_RANK", "0") not in ("", "0"))


def acquire(path: str | Path, *, allow_results: bool = False, what: str = "train") -> Path:
    """Claim ``path`` for this process: refuse a directory with results (unless ``allow_results``, i.e.
    continuing that run) or one in use by another live process; create it and its lock. A DDP process of
    rank > 0 shares the directory rank 0 holds (no lock of its own, no check)."""
    path = Path(path).expanduser().resolve()
    if path in _HELD:
        return path
    if is_ddp_child():
        path.mkdir(parents=True, exist_ok=True)
        return path
    if path.exists() and not path.is_dir():
        raise RunDirError(f"hydra.run.dir={path} is a file, not a directory; choose another hydra.run.dir=")
    lock = path / LOCK_NAME
    holder = _read_lock(lock) if lock.exists() else None
    if holder is not None:
        host, pid = holder
        if pid != os.getpid() and (host != socket.gethostname() or _pid_alive(pid)):
            raise RunDirError(f"run directory {path} is in use by process {pid} on {host}; wait for it to finish "
                              "or choose another hydra.run.dir=")
    if not allow_results:
        found = results_in(path)
        if found:
            tail = (", or continue that training run with ckpt_path=last" if what == "train" else
                    f" (astrolab {what} writes into a new directory of its own)")
            raise RunDirError(f"run directory {path} already holds results ({', '.join(found[:4])}); choose another "
                              f"hydra.run.dir={tail}")
    note_new_folders(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"cannot create run directory {path} ({exc.strerror}); choose a writable "
                          "hydra.run.dir=") from exc
    if holder is not None:
        log.warning("taking over the lock of a process that no longer runs (%s:%d) in %s", *holder, path)
        lock.unlink(missing_ok=True)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError as exc:
        raise RunDirError(f"run directory {path} is in use by another process; choose another "
                          "hydra.run.dir=") from exc
    except OSError as exc:
        raise RunDirError(f"cannot write into run directory {path} ({exc.strerror}); choose a writable "
                          "hydra.run.dir=") from exc
    with os.fdopen(fd, "w") as f:
        f.write(f"{socket.gethostname()}:{os.getpid()}\n")
    _HELD[path] = os.getpid()
    return path


def release(path: str | Path | None = None) -> None:
    """Drop this process's lock on ``path`` (all of them when ``None``)."""
    paths = list(_HELD) if path is None else [Path(path).expanduser().resolve()]
    for p in paths:
        if _HELD.pop(p, None) is None:
            continue
        lock = p / LOCK_NAME
        holder = _read_lock(lock)
        if holder is not None and holder[1] == os.getpid():
            lock.unlink(missing_ok=True)


atexit.register(release)


#: what Hydra and the lock put into a run directory before any result exists
_SCAFFOLD = (".hydra", LOCK_NAME)


def discard_if_empty(path: str | Path) -> bool:
    """After a run that stopped on a user error: remove its directory when it holds nothing but Hydra's
    config copy, logs and the lock (no run directory is left behind for a run that never started), then
    the parent folders created for it (:func:`note_new_folders`) that are now empty, nearest first."""
    import shutil

    path = Path(path).expanduser().resolve()
    if not path.is_dir() or results_in(path) or is_ddp_child():
        return False
    entries = list(path.iterdir())
    if not all(e.name.startswith(_SCAFFOLD) or (e.is_file() and e.suffix == ".log") for e in entries):
        return False
    release(path)
    shutil.rmtree(path, ignore_errors=True)
    _remove_new_parents(path)
    return True


@contextlib.contextmanager
def guarded(path: str | Path):
    """The body of a run writing into ``path``: a user error removes the directory when it holds no result
    (:func:`discard_if_empty`) and is raised on; the lock is released however the body ends."""
    try:
        yield
    except AstrolabError:
        discard_if_empty(path)
        raise
    finally:
        release(path)


def _remove_new_parents(path: Path) -> None:
    """Empty parent folders of ``path`` that this process created (never one that existed before)."""
    for parent in path.parents:
        if parent not in _NEW_FOLDERS:
            break
        try:
            parent.rmdir()  # only an empty folder; another run writing into it keeps it
        except OSError:
            break
        _NEW_FOLDERS.discard(parent)
