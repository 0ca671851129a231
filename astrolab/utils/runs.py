"""Run directories, summaries and the end-of-run report."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def slug(text: str, limit: int = 60) -> str:
    """A short, filesystem-safe form of a run's overrides (``model=gat,seed=1``)."""
    text = re.sub(r"[^A-Za-z0-9._+-]+", "-", str(text or "")).strip("-")
    return text[:limit] or "default"


def group_listing() -> str:
    """``group: choice, choice`` lines for ``astrolab <command> --help``, the options of the user config
    folders on the command line (``--config-dir``, ``hydra.searchpath``) included."""
    import sys

    from astrolab.config import GROUPS, group_choices, user_config_dirs

    extra = user_config_dirs(sys.argv[1:])
    return "\n".join(f"{g}: {', '.join(group_choices(g, extra))}" for g in GROUPS if group_choices(g, extra))


def register_resolvers() -> None:
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("astrolab_slug"):
        OmegaConf.register_resolver("astrolab_slug", slug)
    if not OmegaConf.has_resolver("astrolab_groups"):
        OmegaConf.register_resolver("astrolab_groups", group_listing)


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write atomically, never leaving half a file behind."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)
    return path


def hydra_choices() -> dict[str, str]:
    """Group choices of the running Hydra job (``{}`` outside Hydra)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            return {k: str(v) for k, v in HydraConfig.get().runtime.choices.items() if v is not None}
    except Exception:  # pragma: no cover - defensive
        pass
    return {}


def report(title: str, metrics: dict[str, float], run_dir: Path, extra: dict[str, Any] | None = None) -> None:
    """A table of metrics on the console and the run directory. Titles, paths and values are never broken
    inside a word (a narrow terminal or an 80-column batch log folds whole lines instead)."""
    from rich.console import Console
    from rich.table import Table

    table = Table()
    table.add_column("metric", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    for k in sorted(metrics):
        table.add_row(k, f"{metrics[k]:.4f}")
    console = Console()
    console.print(title, soft_wrap=True, highlight=False)
    console.print(table)
    for k, v in (extra or {}).items():
        console.print(f"{k}: {v}", soft_wrap=True, highlight=False)
    console.print(f"run directory: [bold]{run_dir}[/bold]", soft_wrap=True, highlight=False)
