"""Shared fixtures: a private cache and output folder per test session, and a runner for the real
``astrolab`` console script (end-to-end tests go through it, exactly as a user would)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def session_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("astrolab")
    dirs = {"cache": root / "cache", "outputs": root / "outputs"}
    for d in dirs.values():
        d.mkdir()
    return dirs


@pytest.fixture(autouse=True)
def _private_dirs(session_dirs, monkeypatch):
    """Tests never write into the user's cache or the repository's outputs/."""
    monkeypatch.setenv("ASTROLAB_CACHE", str(session_dirs["cache"]))
    monkeypatch.setenv("ASTROLAB_OUTPUT", str(session_dirs["outputs"]))


def astrolab_exe() -> str:
    exe = Path(sys.executable).parent / "astrolab"
    if not exe.exists():
        pytest.skip("the astrolab console script is not installed (pip install -e .)")
    return str(exe)


@pytest.fixture
def run_cli():
    """Run ``astrolab <args>`` through the installed console script."""

    def run(*args: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **(env or {})}
        return subprocess.run([astrolab_exe(), *args], capture_output=True, text=True, timeout=timeout,
                              env=full_env)

    return run


def read_summary(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "summary.json").read_text())
