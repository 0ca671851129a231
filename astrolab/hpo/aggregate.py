"""``astrolab aggregate <dir>``: mean ± std of every test metric over runs that differ only in ``seed``.

Reads every ``summary.json`` under the folder (a Hydra multirun, a sweep, or any tree of runs), groups
the runs by their overrides (``.hydra/overrides.yaml``) minus ``seed``, and writes ``aggregate.csv`` and
``aggregate.md`` into the folder, sorted by the monitor metric's test counterpart (best first). The
standard deviation is the sample standard deviation (ddof=1; a group of one run shows its value alone). Runs
of different tasks are never grouped together.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from astrolab.errors import ConfigError, DataError

log = logging.getLogger(__name__)

IGNORED_KEYS = ("seed", "hydra.", "paths.", "ckpt_path")


def _overrides(run_dir: Path) -> list[str]:
    path = run_dir / ".hydra" / "overrides.yaml"
    if path.exists():
        from omegaconf import OmegaConf

        return [str(o) for o in OmegaConf.load(path)]
    return []


def group_key(overrides: list[str], summary: dict[str, Any]) -> str:
    """The run's overrides without ``seed`` (and Hydra/path settings), sorted; or model/dataset/task."""
    keep = sorted(o for o in overrides
                  if not any(o.lstrip("+~").split("=", 1)[0] == k or o.lstrip("+~").startswith(k)
                             for k in IGNORED_KEYS if k.endswith(".")) and
                  o.lstrip("+~").split("=", 1)[0] not in ("seed", "ckpt_path"))
    if keep:
        if not any(o.lstrip("+~").startswith("task=") for o in keep) and summary.get("task"):
            keep.append(f"task={summary.get('task')}")  # runs of different tasks never share a group
        return " ".join(keep)
    return f"model={summary.get('model')} dataset={summary.get('dataset')} task={summary.get('task')}"


def collect(root: Path) -> list[dict[str, Any]]:
    runs = []
    for path in sorted(Path(root).rglob("summary.json")):
        try:
            summary = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            log.warning("skipping unreadable %s", path)
            continue
        if summary.get("command") not in ("train", "evaluate") or not summary.get("metrics"):
            continue
        runs.append({"dir": path.parent, "summary": summary, "key": group_key(_overrides(path.parent), summary)})
    return runs


def _mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def aggregate(root: str | Path):
    """A DataFrame: one row per group with ``n``, ``<metric>_mean`` and ``<metric>_std`` columns."""
    import pandas as pd

    root = Path(root).expanduser()
    if not root.is_dir():
        raise ConfigError(f"'{root}' is not a folder; pass a multirun or sweep folder: astrolab aggregate DIR")
    runs = collect(root)
    if not runs:
        raise DataError(f"no run summaries (summary.json) under '{root}'; pass the folder of a multirun")
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault(r["key"], []).append(r)
    metric_names = sorted({k for r in runs for k in r["summary"]["metrics"] if k.startswith("test/")})
    monitor = runs[0]["summary"].get("monitor") or {}
    sort_metric = "test/" + str(monitor.get("metric") or "val/loss").split("/", 1)[-1]
    ascending = monitor.get("mode", "min") != "max"
    rows = []
    for key, members in groups.items():
        row: dict[str, Any] = {"group": key, "n": len(members),
                               "seeds": " ".join(sorted(str(_seed(m)) for m in members))}
        for name in metric_names:
            vals = [float(m["summary"]["metrics"][name]) for m in members if name in m["summary"]["metrics"]]
            if vals:
                row[f"{name}_mean"], row[f"{name}_std"] = _mean_std(vals)
        rows.append(row)
    df = pd.DataFrame(rows)
    if f"{sort_metric}_mean" in df:
        df = df.sort_values(f"{sort_metric}_mean", ascending=ascending, kind="stable")
    df.attrs.update(metrics=metric_names, sort_metric=sort_metric, ascending=ascending)
    return df.reset_index(drop=True)


def _seed(run: dict[str, Any]) -> Any:
    for o in _overrides(run["dir"]):
        if o.split("=", 1)[0].lstrip("+~") == "seed":
            return o.split("=", 1)[1]
    cfg = run["dir"] / "config.yaml"
    if cfg.exists():
        from omegaconf import OmegaConf

        return OmegaConf.load(cfg).get("seed", "?")
    return "?"


def markdown(df) -> str:
    metrics = df.attrs.get("metrics", [])
    head = ["group", "n", *metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, row in df.iterrows():
        cells = [str(row["group"]), str(row["n"])]
        for m in metrics:
            mean, std = row.get(f"{m}_mean"), row.get(f"{m}_std")
            if mean is None or mean != mean:
                cells.append("—")
            elif int(row["n"]) < 2:
                cells.append(f"{mean:.4f}")  # one run: no spread to report
            else:
                cells.append(f"{mean:.4f} ± {std:.4f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def aggregate_command(args: list[str]) -> None:
    """``astrolab aggregate DIR``: write ``aggregate.csv`` and ``aggregate.md`` into DIR."""
    if not args or args[0] in ("-h", "--help") or len(args) > 1:
        raise ConfigError("usage: astrolab aggregate DIR (a multirun or sweep folder)")
    root = Path(args[0]).expanduser()
    df = aggregate(root)
    df.to_csv(root / "aggregate.csv", index=False)
    text = markdown(df)
    (root / "aggregate.md").write_text(text)
    from rich.console import Console
    from rich.markdown import Markdown

    console = Console()
    console.print(Markdown(f"sorted by **{df.attrs['sort_metric']}** "
                           f"({'lower' if df.attrs['ascending'] else 'higher'} is better)\n\n{text}"))
    console.print(f"wrote {root / 'aggregate.csv'} and {root / 'aggregate.md'}")
