"""``astrolab train`` and ``astrolab evaluate``.

train: build data → model → trainer from the composed config, fit, restore the best checkpoint, test,
and write ``config.yaml``, ``checkpoints/``, ``metrics.csv``, ``predictions_test.csv`` and
``summary.json`` into the run directory.

evaluate: restore a model and the config it was trained with from an astrolab checkpoint (loaded with
``weights_only=True``: no pickled code runs), rebuild the data (or read another file with the same
schema through ``dataset.path=``), test, and write the same outputs into its own run directory.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from astrolab import __version__
from astrolab.errors import CheckpointError
from astrolab.training.build import (
    build_callbacks,
    build_datamodule,
    build_loggers,
    build_model,
    build_task,
    build_trainer,
    check_compatible,
    prepare_config,
)
from astrolab.utils.runs import hydra_choices, report, write_json

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1


def _quiet_lightning() -> None:
    import warnings

    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*Trying to infer the `batch_size`.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*treespec.*")
    warnings.filterwarnings("ignore", message=".*exists and is not empty.*")


def _scalar_metrics(results: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for d in results:
        for k, v in d.items():
            out[k] = float(v)
    return out


def write_predictions(path: Path, dm, model, task, split: str = "test"):
    """Write per-object predictions of one split, as the data module lays them out (ids exact); returns
    the table (``None`` when the data module has none) so the plots can reuse it."""
    from astrolab.data.io import write_table

    table = dm.predictions_table(model, task, split) if hasattr(dm, "predictions_table") else None
    if table is not None:
        write_table(table, path)
    return table


def save_plots(cfg: DictConfig, run_dir: Path, model, task, dm, table=None) -> list[str]:
    """The run's PNGs (learning curves, confusion matrix, the data family's figures); never fails.
    ``table``: the test predictions already made for predictions_test.csv (made again only if absent)."""
    if not cfg.get("save_plots", True):
        return []
    try:
        from astrolab.plots import save_run_plots

        return [p.name for p in save_run_plots(run_dir, model, task, dm, table=table)]
    except Exception as exc:  # a plotting error must not lose a finished run
        log.warning("plots skipped: %s: %s", type(exc).__name__, exc)
        return []


def baseline_metrics(dm, task) -> dict[str, float]:
    """Test metrics of the trivial predictor (majority class / training mean), same metrics."""
    if not hasattr(dm, "targets"):
        return {}
    return {f"baseline/{k.split('/', 1)[-1]}": v
            for k, v in task.baseline_metrics(dm.targets("train"), dm.targets("test")).items()}


def _choices(cfg: DictConfig) -> dict[str, str]:
    choices = hydra_choices()
    for g in ("model", "dataset", "task"):
        choices.setdefault(g, str(cfg.get(g, {}).get("_target_", "?")).rsplit(".", 1)[-1])
    return choices


def _run_dir(cfg: DictConfig) -> Path:
    run_dir = Path(cfg.paths.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def train(cfg: DictConfig, return_model: bool = False) -> dict[str, Any]:
    """Fit and test one configuration; returns the summary (also written to summary.json), or
    ``(summary, model)`` with ``return_model=True`` (the Python API)."""
    import lightning as L
    import torch

    _quiet_lightning()
    prepare_config(cfg)
    t_start = time.perf_counter()
    run_dir = _run_dir(cfg)
    choices = _choices(cfg)
    _, _, task_cls = check_compatible(cfg, choices)
    L.seed_everything(int(cfg.seed), workers=True, verbose=False)

    t0 = time.perf_counter()
    dm = build_datamodule(cfg, task_cls)
    dm.prepare_data()
    dm.setup("fit")
    task = build_task(cfg, dm)
    model = build_model(cfg, task, dm.num_features)
    # initialise exactly as an HPO trial does (astrolab.hpo.recycling), so best_config.yaml reproduces it
    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    model.reset_parameters()
    t_data = time.perf_counter() - t0

    resolved = OmegaConf.to_container(cfg, resolve=True)
    OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
    model.astrolab_meta = {
        "format": CHECKPOINT_FORMAT, "version": __version__, "config": resolved, "choices": choices,
        "preprocessing": dm.preprocessing(), "task_kwargs": saved_task_kwargs(dm, task),
        "data_checksum": dm.describe().get("checksum"),
    }
    callbacks = build_callbacks(cfg, model)
    trainer = build_trainer(cfg, callbacks, build_loggers(cfg), default_root_dir=str(run_dir))

    t0 = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    t_fit = time.perf_counter() - t0

    ckpt_cb = trainer.checkpoint_callback
    best = getattr(ckpt_cb, "best_model_path", "") if ckpt_cb is not None else ""
    if best:
        state = load_checkpoint(best)
        model.load_state_dict(state["state_dict"])
    t0 = time.perf_counter()
    results = trainer.test(model, datamodule=dm, verbose=False)
    t_test = time.perf_counter() - t0
    metrics = _scalar_metrics(results)
    metrics.update(baseline_metrics(dm, task))
    table = None
    if cfg.get("save_predictions", True):
        table = write_predictions(run_dir / "predictions_test.csv", dm, model, task)
    plots = save_plots(cfg, run_dir, model, task, dm, table)
    summary = {
        "command": "train",
        "model": choices.get("model"),
        "dataset": choices.get("dataset"),
        "task": choices.get("task"),
        "metrics": metrics,
        "monitor": {"metric": model.monitor, "mode": model.mode,
                    "best": float(ckpt_cb.best_model_score) if ckpt_cb is not None and
                    ckpt_cb.best_model_score is not None else None},
        "best_checkpoint": str(Path(best).resolve()) if best else None,
        "last_checkpoint": str((run_dir / "checkpoints" / "last.ckpt").resolve())
        if (run_dir / "checkpoints" / "last.ckpt").exists() else None,
        "epochs": int(trainer.current_epoch),
        "data": dm.describe(),
        "seconds": {"data": round(t_data, 3), "fit": round(t_fit, 3), "test": round(t_test, 3),
                    "total": round(time.perf_counter() - t_start, 3)},
        "run_dir": str(run_dir.resolve()),
        "plots": plots,
        "astrolab_version": __version__,
        "torch_version": torch.__version__,
    }
    write_json(run_dir / "summary.json", summary)
    report(f"test metrics — model={summary['model']} dataset={summary['dataset']} task={summary['task']}",
           metrics, run_dir, {"best checkpoint": summary["best_checkpoint"]})
    return (summary, model) if return_model else summary


def saved_task_kwargs(dm, task) -> dict[str, Any]:
    """The task arguments that came from the data, as the task used them (saved in checkpoints so
    evaluation rebuilds exactly the same task, class weights included)."""
    kwargs = dm.task_kwargs()
    if "class_weights" in kwargs:
        kwargs["class_weights"] = task.class_weights
    return _plain(kwargs)


def _plain(obj: Any) -> Any:
    """Only plain Python types in checkpoints (so they load with weights_only=True)."""
    from omegaconf import Container

    if isinstance(obj, Container):
        obj = OmegaConf.to_container(obj, resolve=True)
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return obj


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load an astrolab checkpoint without running pickled code."""
    import pickle

    import torch

    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: '{path}'; pass ckpt_path=<run dir>/checkpoints/best.ckpt")
    if path.is_dir():
        raise CheckpointError(f"'{path}' is a folder; pass ckpt_path=<file>.ckpt")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"'{path}' is not a readable astrolab checkpoint ({first[:160]})") from exc
    if not isinstance(state, dict) or "astrolab" not in state or "state_dict" not in state:
        raise CheckpointError(f"'{path}' is not an astrolab checkpoint (no astrolab metadata); "
                              "pass a checkpoint written by astrolab train")
    return state


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Test a trained model; reproduces the training run's test metrics on its own data."""
    _quiet_lightning()
    prepare_config(cfg)
    t_start = time.perf_counter()
    ckpt_path = Path(str(cfg.ckpt_path)).expanduser()
    state = load_checkpoint(ckpt_path)
    meta = state["astrolab"]
    train_cfg = OmegaConf.create(meta["config"])
    run_dir = _run_dir(cfg)
    overrides: dict[str, Any] = {}
    pre = meta["preprocessing"]
    evaluate_all = False
    if cfg.dataset.get("path"):
        train_cfg.dataset.path = str(cfg.dataset.path)
        evaluate_all = True
    if cfg.dataset.get("cache_dir"):
        train_cfg.dataset.cache_dir = str(cfg.dataset.cache_dir)
    _, _, task_cls = check_compatible(train_cfg, meta.get("choices"))
    t0 = time.perf_counter()
    overrides.update(fixed=pre, evaluate_all=evaluate_all)
    dm = build_datamodule(train_cfg, task_cls, **overrides)
    dm.prepare_data()
    dm.setup("test")
    if evaluate_all and dm.describe().get("checksum") == meta.get("data_checksum"):
        log.info("dataset.path is the training file: evaluating every labelled row, not only the test split")
    task = build_task(train_cfg, dm, fixed_kwargs=meta["task_kwargs"])
    model = build_model(train_cfg, task, dm.num_features)
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"'{ckpt_path}' does not match its own model config: "
                              f"{str(exc).splitlines()[0]}") from exc
    t_data = time.perf_counter() - t0
    import lightning as L

    from astrolab.utils.instantiate import instantiate

    callbacks = [instantiate({"_target_": "lightning.pytorch.callbacks.RichProgressBar"})]
    loggers = [instantiate({"_target_": "lightning.pytorch.loggers.CSVLogger", "save_dir": str(run_dir),
                            "name": "", "version": ""})]
    trainer_kwargs = {k: v for k, v in OmegaConf.to_container(cfg.trainer).items() if v is not None}
    trainer = L.Trainer(callbacks=callbacks, logger=loggers, default_root_dir=str(run_dir),
                        enable_model_summary=False, **trainer_kwargs)
    t0 = time.perf_counter()
    metrics = _scalar_metrics(trainer.test(model, datamodule=dm, verbose=False))
    if not evaluate_all:
        metrics.update(baseline_metrics(dm, task))
    t_test = time.perf_counter() - t0
    table = None
    if cfg.get("save_predictions", True):
        table = write_predictions(run_dir / "predictions_test.csv", dm, model, task)
    OmegaConf.save(train_cfg, run_dir / "config.yaml", resolve=True)
    plots = save_plots(cfg, run_dir, model, task, dm, table)
    choices = meta.get("choices", {})
    summary = {
        "command": "evaluate",
        "model": choices.get("model"),
        "dataset": choices.get("dataset"),
        "task": choices.get("task"),
        "metrics": metrics,
        "checkpoint": str(ckpt_path.resolve()),
        "data": {**dm.describe(), "evaluated": "all labelled rows" if evaluate_all else "test split"},
        "seconds": {"data": round(t_data, 3), "test": round(t_test, 3),
                    "total": round(time.perf_counter() - t_start, 3)},
        "run_dir": str(run_dir.resolve()),
        "plots": plots,
        "astrolab_version": __version__,
    }
    write_json(run_dir / "summary.json", summary)
    report(f"evaluation — {ckpt_path.name}", metrics, run_dir)
    return summary
