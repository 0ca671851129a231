"""The layering of DESIGN.md ("Contracts between the rooms") as a check: the import-linter contracts in
pyproject.toml hold, and they are the three the design states (function-level imports count: import-linter
reads every import statement of a module)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _contracts() -> dict[str, tuple[set[str], set[str]]]:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert cfg["root_package"] == "astrolab"
    return {c["name"]: (set(c["source_modules"]), set(c["forbidden_modules"])) for c in cfg["contracts"]
            if c["type"] == "forbidden"}


def test_contracts_state_the_design_rules():
    rules = {frozenset(src): forb for src, forb in _contracts().values()}
    a = "astrolab."
    assert rules[frozenset({a + "models"})] == {a + m for m in ("data", "training", "hpo", "cli")}
    assert rules[frozenset({a + "data"})] == {a + m for m in ("models", "tasks", "training", "hpo", "cli")}
    assert rules[frozenset({a + "tasks"})] == {a + m for m in ("models", "data", "training", "hpo")}


def test_lint_imports_passes():
    pytest.importorskip("importlinter", reason="import-linter is not installed (pip install -e '.[dev]')")
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.skip(f"no lint-imports next to {sys.executable}")
    res = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken" in res.stdout


def test_function_level_imports_are_in_the_checked_graph():
    """``astrolab.models.core`` imports ``astrolab.config`` only inside functions (resolve_task): the graph
    import-linter checks must still hold that edge, so a forbidden import inside a function fails too."""
    grimp = pytest.importorskip("grimp", reason="import-linter (grimp) is not installed")
    src = (ROOT / "astrolab" / "models" / "core.py").read_text()
    assert "\nfrom astrolab.config" not in src and "    from astrolab.config import" in src
    graph = grimp.build_graph("astrolab", cache_dir=None)
    assert graph.direct_import_exists(importer="astrolab.models.core", imported="astrolab.config")
