"""Run plots: PNGs written into the run directory at the end of ``train`` and ``evaluate``.

Every run gets ``learning_curves.png`` (from ``metrics.csv``, when it has epochs) and, from the test
predictions, ``confusion_matrix.png`` (classification) or ``true_vs_predicted.png`` (regression). Each data
family adds the picture an astronomer looks at first, through one hook:

- a data module method ``plots(run_dir, model, task) -> list[Path]``, or
- a plotter ``plotter(run_dir, model, task, datamodule, table, title=None) -> list[Path]`` registered for
  its ``data_kind`` with :func:`register_plotter` (``table``: the split's predictions table with columns
  ``id``, ``true``, ``predicted``, ``prob_<class>`` and passthrough columns such as ``ra``/``dec``, made
  once per run and shared with the other figures, ``None`` when there is none; ``title``: the run's name)
  (``node_graph``: Gaia colour–magnitude diagram, sky and proper-motion plots of the test stars, true
  next to predicted class; ready-made figures for the other kinds are in :mod:`astrolab.plots.families`).

Photo-z runs get ``photo_z.png`` instead of ``true_vs_predicted.png``.

Plotting never fails a run: each figure that cannot be drawn is logged as a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: ``data_kind`` → ``plotter(run_dir, model, task, datamodule, table) -> list[Path]``
PLOTTERS: dict[str, Callable[..., list[Path]]] = {}


def register_plotter(data_kind: str) -> Callable:
    """Decorator registering a family's plotter for one ``data_kind``."""

    def deco(fn: Callable[..., list[Path]]) -> Callable[..., list[Path]]:
        PLOTTERS[data_kind] = fn
        return fn

    return deco


def _safe(what: str, fn: Callable[[], Any]) -> list[Path]:
    try:
        out = fn()
    except Exception as exc:  # plots must never fail a run
        log.warning("plot %s skipped: %s: %s", what, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        return []
    if out is None:
        return []
    return [Path(p) for p in (out if isinstance(out, (list, tuple)) else [out])]


def save_run_plots(run_dir: str | Path, model, task, datamodule=None, split: str = "test",
                   table=None, title: str | None = None) -> list[Path]:
    """Write every plot of a finished run; returns the PNG paths written. ``table``: the split's
    predictions table (the run's one writer made it; plots never run the model); ``title``: the run's
    name on every figure (default: the Hydra choices and the run folder)."""
    from astrolab.plots import common, families, gaia  # noqa: F401  (registers the family plotters)

    run_dir = Path(run_dir)
    if title is None:
        title = common.run_title(run_dir)
    monitor, mode = getattr(model, "monitor", None), getattr(model, "mode", None)
    paths = _safe("learning_curves", lambda: common.learning_curves(
        run_dir / "metrics.csv", run_dir / "learning_curves.png", monitor=monitor, mode=mode, title=title))
    if table is not None and "true" in table.colnames and "predicted" in table.colnames:
        if task.kind == "classification":
            paths += _safe("confusion_matrix", lambda: common.confusion_matrix(
                table["true"], table["predicted"], list(task.class_names), run_dir / "confusion_matrix.png",
                split=split, title=title))
        elif getattr(task, "name", "") != "photo_z":  # photo_z.png shows the same and more
            paths += _safe("true_vs_predicted", lambda: common.true_vs_predicted(
                table["true"], table["predicted"], run_dir / "true_vs_predicted.png",
                getattr(task, "target_name", "target"), unit=getattr(task, "target_unit", None), split=split,
                title=title))
    if datamodule is not None:
        hook = getattr(datamodule, "plots", None)
        kind = getattr(datamodule, "data_kind", None)
        if callable(hook):
            paths += _safe(f"{type(datamodule).__name__}.plots", lambda: hook(run_dir, model, task))
        elif kind in PLOTTERS:
            paths += _safe(f"{kind} plots", lambda: _call_plotter(PLOTTERS[kind], run_dir, model, task,
                                                                    datamodule, table, title))
    return paths


def _call_plotter(fn: Callable[..., list[Path]], run_dir: Path, model, task, dm, table, title: str | None):
    """A registered plotter, given ``title=`` when its signature takes it (older plotters do not)."""
    import inspect

    try:
        takes_title = "title" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        takes_title = False
    if takes_title:
        return fn(run_dir, model, task, dm, table, title=title)
    return fn(run_dir, model, task, dm, table)


def log_figures(loggers, paths: list[Path], step: int | None = None) -> int:
    """Send a run's PNGs to the experiment loggers that take images (TensorBoard: images under
    ``figures/<name>``; MLflow: artifacts in ``figures/``; W&B: images under ``figures``). Returns how
    many figures were sent; a logger that fails is logged as a warning, never fails the run."""
    sent = 0
    paths = [Path(p) for p in paths if Path(p).exists()]
    for lg in list(loggers or []):
        kind = type(lg).__name__
        try:
            if kind == "TensorBoardLogger":
                import matplotlib.image as mpimg

                for p in paths:
                    img = mpimg.imread(str(p))
                    lg.experiment.add_image(f"figures/{p.stem}", img[..., :3], global_step=step or 0,
                                            dataformats="HWC")
                    sent += 1
                lg.experiment.flush()
            elif kind == "MLFlowLogger":
                for p in paths:
                    lg.experiment.log_artifact(lg.run_id, str(p), artifact_path="figures")
                    sent += 1
            elif kind == "WandbLogger":
                if paths:
                    lg.log_image(key="figures", images=[str(p) for p in paths], caption=[p.stem for p in paths])
                    sent += len(paths)
        except Exception as exc:  # a logger must never fail a finished run
            log.warning("figures not sent to %s: %s: %s", kind, type(exc).__name__, exc)
    return sent
