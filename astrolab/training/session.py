"""The run session: the one place that assembles a run and writes its outputs.

``train``, ``evaluate``, ``predict``, every HPO trial and the Python pipeline go through here:
compose config → data module → task → model → Lightning ``Trainer`` (:func:`make_trainer`, the only
constructor of a Trainer in astrolab) → checkpoint metadata (:func:`checkpoint_meta`) → outputs.
Predictions go ``trainer.predict`` → the model's ``predict_step`` → the task → :mod:`astrolab.training.predictions`
(one writer joining the data's index table); plots read that table only.

Run directories are write-once (:mod:`astrolab.training.rundir`): a new run into a directory with results
stops at start; ``ckpt_path=last`` continues a killed training run in its own directory through
Lightning's ``fit(ckpt_path=…)`` (epoch, optimizer, scheduler, early stopping and checkpoint state).
"""

from __future__ import annotations

import csv
import logging
import os
import time
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig, OmegaConf

from astrolab import __version__
from astrolab.errors import CheckpointError, ConfigError
from astrolab.training import rundir
from astrolab.training.build import (
    build_callbacks,
    build_datamodule,
    build_loggers,
    build_model,
    build_task,
    check_compatible,
    model_inputs,
    prepare_config,
)
from astrolab.utils.runs import hydra_choices, report, write_json

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1


def quiet_lightning() -> None:
    import warnings

    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*Trying to infer the `batch_size`.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*treespec.*")
    warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
    warnings.filterwarnings("ignore", message=".*Experiment logs directory .* exists.*")


_quiet_lightning = quiet_lightning  # older name, used by the HPO outputs


# -- the pieces ---------------------------------------------------------------------------------------
def make_trainer(cfg: DictConfig | None, run_dir: Path | str | None, callbacks: list | None = None,
                 loggers: list | None = None, **overrides: Any):
    """The Lightning ``Trainer`` of a run (train, evaluate, predict, HPO trial, Python pipeline).

    ``cfg.trainer`` gives the settings (``None``: Lightning's defaults); ``overrides`` win over it;
    ``callbacks``/``loggers`` as built from the config (``loggers=None``: none)."""
    from astrolab.utils.instantiate import instantiate

    node = cfg.trainer if cfg is not None and "trainer" in cfg else OmegaConf.create(
        {"_target_": "lightning.pytorch.Trainer"})
    if node.get("precision") == "auto":  # mixed-precision default of the device
        from astrolab.models.components.mixins import default_precision

        overrides.setdefault("precision", default_precision(node.get("accelerator")))
    if "_target_" not in node:
        node = OmegaConf.merge({"_target_": "lightning.pytorch.Trainer"}, node)
    kwargs: dict[str, Any] = {"callbacks": list(callbacks or []), "logger": loggers or False}
    if run_dir is not None:
        kwargs["default_root_dir"] = str(run_dir)
    kwargs.update(overrides)
    return instantiate(node, **kwargs)


def saved_task_kwargs(dm, task) -> dict[str, Any]:
    """The task arguments that came from the data, as the task used them (saved in checkpoints so
    evaluation rebuilds exactly the same task, class weights included)."""
    kwargs = dm.task_kwargs()
    if "class_weights" in kwargs:
        kwargs["class_weights"] = task.class_weights
    return _plain(kwargs)


def checkpoint_meta(cfg: DictConfig, choices: dict[str, str], dm, task) -> dict[str, Any]:
    """What every astrolab checkpoint carries: config, choices, the data's preprocessing, the task's
    data-given arguments and the training file's checksum (plain types only: loads with weights_only)."""
    return {"format": CHECKPOINT_FORMAT, "version": __version__,
            "config": OmegaConf.to_container(cfg, resolve=True), "choices": dict(choices),
            "preprocessing": _plain(dm.preprocessing()), "task_kwargs": saved_task_kwargs(dm, task),
            "data_checksum": dm.describe().get("checksum")}


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
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError, KeyError, IndexError,
            TypeError, AttributeError) as exc:  # a text file ends in KeyError inside torch's legacy reader
        text = str(exc).strip() if not isinstance(exc, KeyError) else ""
        first = text.splitlines()[0] if text else f"{type(exc).__name__} while reading it"
        if "Weights only load failed" in text:  # torch's advice (weights_only=False) is what we refuse to do
            first = "not a PyTorch checkpoint, or one that holds code; astrolab loads weights only"
        raise CheckpointError(f"'{path}' is not a readable astrolab checkpoint ({first[:160]})") from exc
    if not isinstance(state, dict) or "astrolab" not in state or "state_dict" not in state:
        raise CheckpointError(f"'{path}' is not an astrolab checkpoint (no astrolab metadata); "
                              "pass a checkpoint written by astrolab train")
    return state


def _scalar_metrics(results: list[dict[str, Any]]) -> dict[str, float]:
    return {k: float(v) for d in results for k, v in d.items()}


def _choices(cfg: DictConfig) -> dict[str, str]:
    choices = hydra_choices()
    for g in ("model", "dataset", "task"):
        choices.setdefault(g, str(cfg.get(g, {}).get("_target_", "?")).rsplit(".", 1)[-1])
    return {g: choices[g] for g in ("model", "dataset", "task") if g in choices}


def baseline_metrics(dm, task) -> dict[str, float]:
    """Test metrics of the trivial predictor (majority class / training mean), same metrics."""
    if not hasattr(dm, "targets"):
        return {}
    return {f"baseline/{k.split('/', 1)[-1]}": v
            for k, v in task.baseline_metrics(dm.targets("train"), dm.targets("test")).items()}


def _feature_baseline(dm, task, cfg: DictConfig):
    """``baseline_features/…``: a random forest on the data's per-object features (astrolab.training.baselines)."""
    from astrolab.training.baselines import feature_baseline

    return feature_baseline(dm, task, seed=int(cfg.get("seed") or 0))


def _baseline_columns(table, forest, task) -> dict[str, int]:
    from astrolab.training.baselines import add_baseline_columns

    return add_baseline_columns(table, forest, task) if forest is not None else {}


def build_run(cfg: DictConfig, task_cls: type, stage: str, fixed_task_kwargs: dict[str, Any] | None = None,
              **dm_overrides: Any):
    """Data module (prepared and set up for ``stage``) → task → model, sized from the data."""
    dm = build_datamodule(cfg, task_cls, **dm_overrides)
    dm.prepare_data()
    dm.setup(stage)
    if getattr(dm, "tile_plan", None) is not None:  # tiles of varying size: no heap fragmentation
        from astrolab.utils.memory import fix_mmap_threshold

        fix_mmap_threshold()
    task = build_task(cfg, dm, fixed_kwargs=fixed_task_kwargs)
    model = build_model(cfg, task, dm.num_features, **model_inputs(dm))
    return dm, task, model


def save_plots(cfg: DictConfig, run_dir: Path, model, task, dm, table=None, trainer=None) -> list[str]:
    """The run's PNGs from the predictions table, also sent to the loggers that take images; never fails
    a run."""
    if not cfg.get("save_plots", True):
        return []
    try:
        from astrolab.plots import log_figures, save_run_plots

        title = f"{run_dir.parent.name}/{run_dir.name}" if run_dir.parent.name else run_dir.name
        paths = save_run_plots(run_dir, model, task, dm, table=table, title=title)
        if trainer is not None:
            log_figures(trainer.loggers, paths)
        return [p.name for p in paths]
    except Exception as exc:  # a plotting error must not lose a finished run
        log.warning("plots skipped: %s: %s", type(exc).__name__, exc)
        return []


def split_predictions(trainer, model, dm, task, split: str = "test"):
    """The predictions table of one split (``trainer.predict`` → ``predict_step`` → task → writer)."""
    from astrolab.training.predictions import predictions_table

    if not _has_index_table(dm):
        return None
    dm.predict_split = split
    outputs = trainer.predict(model, datamodule=dm, return_predictions=True)
    table = predictions_table(outputs, dm, task)
    return table[table["split"] == split] if "split" in table.colnames else table


def _has_index_table(dm) -> bool:
    return bool(getattr(dm, "has_index_table", lambda: False)())


def _write_split_predictions(cfg, run_dir: Path, trainer, model, dm, task, forest=None):
    """predictions_test.csv (with the feature baseline's columns when there is one); returns the table and
    the model-vs-forest counts."""
    from astrolab.data.io import write_table

    if not cfg.get("save_predictions", True):
        return None, {}
    table = split_predictions(trainer, model, dm, task, "test")
    counts = _baseline_columns(table, forest, task)
    if table is not None:
        write_table(table, run_dir / "predictions_test.csv")
    return table, counts


# -- resume -------------------------------------------------------------------------------------------
def resolve_resume(ckpt_path: Any, run_dir: Path) -> Path:
    """``ckpt_path=last`` → ``<run_dir>/checkpoints/last.ckpt``; a path is taken as given."""
    if str(ckpt_path) == "last":
        path = run_dir / "checkpoints" / "last.ckpt"
        if not path.exists():
            raise CheckpointError(f"no checkpoints/last.ckpt in {run_dir}; name the run to continue with "
                                  "hydra.run.dir=<its run directory> ckpt_path=last")
        return path
    path = Path(str(ckpt_path)).expanduser()
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: '{path}'; pass ckpt_path=last or a .ckpt file of the run")
    return path


def epochs_done(state: dict[str, Any]) -> str:
    """What a checkpoint holds, counted as the epoch lines and metrics.csv count (from 1): Lightning stores
    the 0-based index of the epoch during which it was saved."""
    n = int(state.get("epoch", -1)) + 1
    return f"after epoch {n}; continuing with epoch {n + 1}" if n > 0 else "before the first epoch ended"


def _trim_metrics(csv_path: Path, last_epoch: int, global_step: int) -> None:
    """Drop rows logged after the checkpoint a run continues from (they are logged again): rows of later
    epochs, and epoch-less rows (learning rate) at or after the checkpoint's global step."""
    if not csv_path.exists():
        return
    with csv_path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows or "epoch" not in rows[0]:
        return
    i = rows[0].index("epoch")
    j = rows[0].index("step") if "step" in rows[0] else None

    def kept(r: list[str]) -> bool:
        if r[i] != "":
            return float(r[i]) <= last_epoch
        return j is None or r[j] == "" or float(r[j]) < global_step

    keep = [rows[0]] + [r for r in rows[1:] if kept(r)]
    if len(keep) != len(rows):
        log.info("metrics.csv: dropped %d rows logged after epoch %d (the checkpoint continued from)",
                 len(rows) - len(keep), last_epoch + 1)  # counted from 1, as in metrics.csv and the epoch lines
        tmp = csv_path.with_name(f".{csv_path.name}.tmp")
        with tmp.open("w", newline="") as f:
            csv.writer(f).writerows(keep)
        tmp.replace(csv_path)


def _resume_config(cfg: DictConfig, state: dict[str, Any]) -> DictConfig:
    """The continued run's own config, with the settings named on this command line applied on top
    (e.g. a larger ``trainer.max_epochs``)."""
    saved = OmegaConf.create(state["astrolab"]["config"])
    try:
        from hydra.core.hydra_config import HydraConfig

        given = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    except Exception:  # pragma: no cover - outside Hydra
        given = []
    for o in given:
        key, _, value = o.lstrip("+~").partition("=")
        if key in ("ckpt_path",) or key.startswith("hydra.") or "." not in key:
            continue
        OmegaConf.update(saved, key, OmegaConf.create({"v": value}).v if value else None, force_add=True)
    saved.ckpt_path = str(cfg.ckpt_path)
    saved.paths.run_dir = str(cfg.paths.run_dir)
    return saved


class _FirstEpochTimer(Callback):
    """Seconds from the start of the command to the end of the first training epoch (data preparation,
    model build and Lightning start-up included): ``summary.json`` ``seconds.to_first_epoch``."""

    def __init__(self, t_start: float) -> None:
        self.t_start, self.seconds = t_start, None

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.seconds is None:
            self.seconds = round(time.perf_counter() - self.t_start, 3)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; the message says what was kept and how to continue."""


def _kept_line(run_dir: Path) -> str:
    last = run_dir / "checkpoints" / "last.ckpt"
    if last.exists():
        return (f"interrupted; kept {last} — continue with: astrolab train hydra.run.dir={run_dir} "
                "ckpt_path=last")
    return f"interrupted before the first epoch ended; nothing to continue in {run_dir}"


def _monitor_summary(model, ckpt_cb) -> dict[str, Any]:
    """summary.json's ``monitor``: the metric, its mode and the best value the checkpoint callback saw."""
    best = ckpt_cb.best_model_score if ckpt_cb is not None else None
    return {"metric": model.monitor, "mode": model.mode, "best": float(best) if best is not None else None}


def _rank_zero_trainer(trainer):
    """The trainer rank 0 predicts with alone after a DDP fit and test (``trainer.predict`` of a DDP trainer
    is collective, and the other ranks have stopped): a single-device one on the same device."""
    if trainer.world_size <= 1:
        return trainer
    import lightning as L
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():  # the other ranks have left: no collectives now
        dist.destroy_process_group()
    # the launcher's variables would make the next job of a multirun think its ranks exist already
    for var in ("LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        os.environ.pop(var, None)

    dev = trainer.strategy.root_device
    return L.Trainer(accelerator="gpu" if dev.type == "cuda" else "cpu",
                     devices=[dev.index or 0] if dev.type == "cuda" else 1, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                     precision=trainer.precision)


# -- commands -----------------------------------------------------------------------------------------
def train(cfg: DictConfig, return_model: bool = False) -> dict[str, Any]:
    """Fit and test one configuration; returns the summary (also written to summary.json), or
    ``(summary, model)`` with ``return_model=True`` (the Python API). ``ckpt_path=last`` (or a checkpoint
    of the run) continues a killed run in its own directory."""
    import lightning as L
    import torch

    quiet_lightning()
    prepare_config(cfg)
    t_start = time.perf_counter()
    run_dir = Path(cfg.paths.run_dir)
    resume_from = None
    if cfg.get("ckpt_path"):
        resume_from = resolve_resume(cfg.ckpt_path, run_dir)
        state = load_checkpoint(resume_from)
        cfg = _resume_config(cfg, state)
        log.info("continuing the run in %s from %s (%s)", run_dir, resume_from.name, epochs_done(state))
        raw = run_dir / "metrics_raw.csv"  # the logger's raw rows (metrics.csv is rebuilt from them)
        _trim_metrics(raw if raw.exists() else run_dir / "metrics.csv", int(state.get("epoch", 0)),
                      int(state.get("global_step", 0)))
    run_dir = rundir.acquire(run_dir, allow_results=resume_from is not None)
    with rundir.guarded(run_dir):
        encoder = read_pretrained(cfg) if resume_from is None else None
        choices = _choices(cfg)
        if resume_from is not None:
            choices = dict(state["astrolab"].get("choices") or choices)
        _, _, task_cls = check_compatible(cfg, choices)
        L.seed_everything(int(cfg.seed), workers=True, verbose=False)

        t0 = time.perf_counter()
        dm, task, model = build_run(cfg, task_cls, "fit")
        # initialise exactly as an HPO trial does (astrolab.hpo.recycling), so best_config.yaml reproduces it
        L.seed_everything(int(cfg.seed), workers=True, verbose=False)
        model.reset_parameters()
        if encoder is not None:
            use_pretrained(encoder, cfg, model, dm)
        t_data = time.perf_counter() - t0

        if resume_from is None and not rundir.is_ddp_child():
            OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
        model.astrolab_meta = checkpoint_meta(cfg, choices, dm, task)
        first_epoch = _FirstEpochTimer(t_start)
        trainer = make_trainer(cfg, run_dir, [*build_callbacks(cfg, model), first_epoch], build_loggers(cfg))

        t0 = time.perf_counter()
        try:
            trainer.fit(model, datamodule=dm, ckpt_path=str(resume_from) if resume_from else None)
        except SystemExit as exc:  # Lightning turns Ctrl-C into sys.exit(1) after its graceful shutdown
            if getattr(trainer, "interrupted", False):
                raise RunInterrupted(_kept_line(run_dir)) from exc
            raise
        t_fit = time.perf_counter() - t0
        if getattr(trainer, "interrupted", False):
            raise RunInterrupted(_kept_line(run_dir))

        ckpt_cb = trainer.checkpoint_callback
        best = getattr(ckpt_cb, "best_model_path", "") if ckpt_cb is not None else ""
        if best:
            model.load_state_dict(load_checkpoint(best)["state_dict"])
        t0 = time.perf_counter()
        metrics = _scalar_metrics(trainer.test(model, datamodule=dm, verbose=False))
        t_test = time.perf_counter() - t0
        metrics.update(baseline_metrics(dm, task))
        if trainer.world_size > 1:
            trainer.strategy.barrier("astrolab-test-done")
        if not trainer.is_global_zero:
            return ({}, model) if return_model else {}
        forest = _feature_baseline(dm, task, cfg)
        metrics.update(forest.metrics)
        pred_trainer = _rank_zero_trainer(trainer)  # one device: a DDP trainer's predict is collective
        if getattr(task, "calibrate", False):
            metrics.update(temperature_scaling(pred_trainer, model, dm, task,
                                               [best, run_dir / "checkpoints" / "last.ckpt"]))
        table, vs_forest = _write_split_predictions(cfg, run_dir, pred_trainer, model, dm, task, forest)
        plots = save_plots(cfg, run_dir, model, task, dm, table, trainer)
        if getattr(task, "calibrate", False) and table is not None:
            metrics.update(_calibration(table, task, run_dir, cfg))
            if (run_dir / "reliability.png").exists():
                plots.append("reliability.png")
        last = run_dir / "checkpoints" / "last.ckpt"
        summary = {
            "command": "train",
            "model": choices.get("model"), "dataset": choices.get("dataset"), "task": choices.get("task"),
            "metrics": metrics,
            **({"baseline_features": vs_forest} if vs_forest else {}),
            "monitor": _monitor_summary(model, ckpt_cb),
            "best_checkpoint": str(Path(best).resolve()) if best else None,
            "last_checkpoint": str(last.resolve()) if last.exists() else None,
            "resumed_from": str(resume_from.resolve()) if resume_from else None,
            "epochs": int(trainer.current_epoch),
            "data": dm.describe(),
            "seconds": {"data": round(t_data, 3), "fit": round(t_fit, 3), "test": round(t_test, 3),
                        "to_first_epoch": first_epoch.seconds,
                        "total": round(time.perf_counter() - t_start, 3)},
            "time_to_first_epoch_s": first_epoch.seconds,
            "world_size": int(trainer.world_size),
            "run_dir": str(run_dir),
            "plots": plots,
            "astrolab_version": __version__,
            "torch_version": torch.__version__,
        }
        write_json(run_dir / "summary.json", summary)
        report(f"test metrics — model={summary['model']} dataset={summary['dataset']} task={summary['task']}",
               metrics, run_dir, {"best checkpoint": summary["best_checkpoint"]})
        return (summary, model) if return_model else summary


def _restore(cfg: DictConfig, state: dict[str, Any], stage: str, **dm_overrides: Any):
    """A trained model with the exact preprocessing of its checkpoint, on the data ``cfg`` names."""
    meta = state["astrolab"]
    train_cfg = OmegaConf.create(meta["config"])
    if cfg.get("dataset") is not None:
        if cfg.dataset.get("path"):
            train_cfg.dataset.path = str(cfg.dataset.path)
            if "objects" in train_cfg.dataset:  # a new light-curve file comes with its own object table, or none
                objects = cfg.dataset.get("objects")
                train_cfg.dataset.objects = str(objects) if objects else None
        if cfg.dataset.get("cache_dir"):
            train_cfg.dataset.cache_dir = str(cfg.dataset.cache_dir)
        if cfg.dataset.get("group"):  # star groups: the new member table's group column
            if "group" not in train_cfg.dataset:
                raise ConfigError(f"dataset.group= names the group column of a star-group (dataset=clusters) "
                                  f"member table; this is a dataset={(meta.get('choices') or {}).get('dataset')} "
                                  "model: remove dataset.group=")
            train_cfg.dataset.group = str(cfg.dataset.group)
        for k, v in (cfg.dataset.get("columns") or {}).items():
            if v:
                OmegaConf.update(train_cfg, f"dataset.columns.{k}", str(v), force_add=True)
    _, _, task_cls = check_compatible(train_cfg, meta.get("choices"))
    dm, task, model = build_run(train_cfg, task_cls, stage, fixed_task_kwargs=meta["task_kwargs"],
                                fixed=meta["preprocessing"], **dm_overrides)
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"the checkpoint does not match its own model config: "
                              f"{str(exc).splitlines()[0]}") from exc
    model.astrolab_meta = dict(meta)
    return train_cfg, dm, task, model


def _data_changed(dm, meta: dict[str, Any], given_path: bool) -> str | None:
    """Say so when the training file changed since training: read again by default, or named again with
    ``dataset.path=`` (a different file is a new catalog: nothing to compare)."""
    info = dm.describe()
    checksum, trained = info.get("checksum"), meta.get("data_checksum")
    if not (trained and checksum and checksum != trained):
        return None
    if not given_path:
        log.warning("the training file changed since training (checksum %s… vs %s…): the test split is not "
                    "the one the model was tested on", str(checksum)[:12], str(trained)[:12])
        return "changed since training"
    train_path = ((meta.get("config") or {}).get("dataset") or {}).get("path")
    source = info.get("source")
    if train_path and source and Path(str(train_path)).expanduser().resolve() == Path(str(source)).resolve():
        log.warning("dataset.path is the file the model was trained on, but it changed since training (checksum "
                    "%s… vs %s…)", str(checksum)[:12], str(trained)[:12])
        return "changed since training"
    return None


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Test a trained model; reproduces the training run's test metrics on its own data. Writes into
    its own new run directory, never the training run's."""
    quiet_lightning()
    prepare_config(cfg)
    t_start = time.perf_counter()
    ckpt_path = Path(str(cfg.ckpt_path)).expanduser()
    state = load_checkpoint(ckpt_path)
    run_dir = rundir.acquire(Path(cfg.paths.run_dir), what="evaluate")
    with rundir.guarded(run_dir):
        meta = state["astrolab"]
        evaluate_all = bool(cfg.dataset.get("path"))
        t0 = time.perf_counter()
        train_cfg, dm, task, model = _restore(cfg, state, "test", evaluate_all=evaluate_all)
        if evaluate_all and dm.describe().get("checksum") == meta.get("data_checksum"):
            log.info("dataset.path is the training file: evaluating every labelled row, not only the test split")
        changed = _data_changed(dm, meta, evaluate_all)
        t_data = time.perf_counter() - t0
        trainer = make_trainer(cfg, run_dir, _progress_callbacks(),
                               [_csv_logger(run_dir)], enable_model_summary=False)
        t0 = time.perf_counter()
        metrics = _scalar_metrics(trainer.test(model, datamodule=dm, verbose=False))
        forest = None
        if not evaluate_all:
            metrics.update(baseline_metrics(dm, task))
            forest = _feature_baseline(dm, task, train_cfg)
            metrics.update(forest.metrics)
        t_test = time.perf_counter() - t0
        table, vs_forest = _write_split_predictions(cfg, run_dir, trainer, model, dm, task, forest)
        calibration = {}
        if table is not None and task.kind == "classification":
            calibration = _calibration(table, task, run_dir, cfg)
            metrics.update(calibration)
        OmegaConf.save(train_cfg, run_dir / "config.yaml", resolve=True)
        plots = save_plots(cfg, run_dir, model, task, dm, table)
        if calibration and (run_dir / "reliability.png").exists():
            plots.append("reliability.png")
        choices = meta.get("choices", {})
        summary = {
            "command": "evaluate",
            "model": choices.get("model"), "dataset": choices.get("dataset"), "task": choices.get("task"),
            "metrics": metrics,
            **({"baseline_features": vs_forest} if vs_forest else {}),
            "checkpoint": str(ckpt_path.resolve()),
            "data": {**dm.describe(), "evaluated": "all labelled rows" if evaluate_all else "test split",
                     **({"training_file": changed} if changed else {})},
            "seconds": {"data": round(t_data, 3), "test": round(t_test, 3),
                        "total": round(time.perf_counter() - t_start, 3)},
            "run_dir": str(run_dir),
            "plots": plots,
            "astrolab_version": __version__,
        }
        write_json(run_dir / "summary.json", summary)
        report(f"evaluation — {ckpt_path.name}", metrics, run_dir)
        return summary


def _calibration(table, task, run_dir: Path, cfg: DictConfig) -> dict[str, float]:
    """Expected calibration error of the test predictions and a reliability diagram."""
    import numpy as np

    from astrolab.tasks.calibration import expected_calibration_error, reliability_bins

    names = list(task.class_names)
    cols = [f"prob_{n}" for n in names]
    if "true" not in table.colnames or any(c not in table.colnames for c in cols):
        return {}
    lookup = {n: i for i, n in enumerate(names)}
    y = np.array([lookup.get(str(t), -1) for t in table["true"]])
    ok = y >= 0
    if not ok.any():
        return {}
    prob = np.stack([np.asarray(table[c], dtype=np.float64) for c in cols], axis=1)[ok]
    ece = expected_calibration_error(prob, y[ok])
    if cfg.get("save_plots", True):
        try:
            from astrolab.plots.calibration import reliability_diagram

            reliability_diagram(reliability_bins(prob, y[ok]), ece, run_dir / "reliability.png",
                                title=f"reliability — test split, N={int(ok.sum())}")
        except Exception as exc:  # plots never fail a run
            log.warning("reliability diagram skipped: %s", exc)
    return {"test/ece": float(ece)}


def temperature_scaling(trainer, model, dm, task, checkpoints: list) -> dict[str, float]:
    """``task.calibrate=true``: the temperature minimising the validation split's NLL (L-BFGS), set on the
    task (test and predicted probabilities use it) and written into the run's checkpoints (``task_kwargs``),
    with the test split's ECE before it (``test/ece_uncalibrated``) and the validation NLL before and
    after; ``test/ece`` (after) is computed from the written test predictions."""
    import numpy as np

    from astrolab.tasks.calibration import expected_calibration_error, fit_temperature, nll

    task.temperature = 1.0
    tables = {s: split_predictions(trainer, model, dm, task, s) for s in ("val", "test")}

    def logp_y(table):
        names = list(task.class_names)
        if table is None or len(table) == 0 or "true" not in table.colnames:
            return None, None
        lookup = {n: i for i, n in enumerate(names)}
        y = np.array([lookup.get(str(t), -1) for t in table["true"]])
        prob = np.stack([np.asarray(table[f"prob_{n}"], dtype=np.float64) for n in names], 1)[y >= 0]
        return np.log(np.clip(prob, 1e-30, None)), y[y >= 0]

    zv, yv = logp_y(tables["val"])
    if zv is None or len(yv) == 0:
        log.warning("task.calibrate=true: no labelled validation objects to fit a temperature on; skipped")
        return {}
    temperature = fit_temperature(zv, yv)
    out = {"temperature": temperature, "val/nll_uncalibrated": nll(zv, yv), "val/nll": nll(zv, yv, temperature)}
    zt, yt = logp_y(tables["test"])
    if zt is not None and len(yt):
        out["test/ece_uncalibrated"] = expected_calibration_error(np.exp(zt), yt)
    task.temperature = temperature
    model.astrolab_meta.setdefault("task_kwargs", {})["temperature"] = temperature
    _store_in_checkpoints(checkpoints, model.astrolab_meta)
    log.info("temperature scaling on the validation split: T = %.3f (val NLL %.4f -> %.4f)", temperature,
             out["val/nll_uncalibrated"], out["val/nll"])
    return out


def _store_in_checkpoints(paths: list, meta: dict[str, Any]) -> None:
    """Rewrite the astrolab metadata of finished checkpoints (e.g. the fitted temperature)."""
    import torch

    for p in paths:
        if not p or not Path(p).is_file():
            continue
        state = torch.load(p, map_location="cpu", weights_only=True)
        state["astrolab"] = _plain(meta)
        tmp = Path(p).with_name(f".{Path(p).name}.tmp")
        torch.save(state, tmp)
        tmp.replace(p)


# -- self-supervised pretraining and fine-tuning from it ----------------------------------------------
ENCODER_CHECKPOINT = "encoder.ckpt"


def read_pretrained(cfg: DictConfig) -> dict[str, Any] | None:
    """The encoder checkpoint ``model.pretrained`` names (``None`` when unset); one line when it is missing
    or not an encoder checkpoint of ``astrolab pretrain``."""
    path = cfg.get("model", {}).get("pretrained") if cfg.get("model") is not None else None
    if path in (None, "", "null", "None"):
        return None
    p = Path(str(path)).expanduser()
    fix = "pass the encoder checkpoint of a pretraining run: model.pretrained=<run dir>/checkpoints/encoder.ckpt"
    if not p.is_file():
        raise CheckpointError(f"model.pretrained={path}: {'a folder' if p.is_dir() else 'file not found'}; {fix}")
    try:
        state = load_checkpoint(p)
    except CheckpointError as exc:
        raise CheckpointError(f"model.pretrained={path}: {str(exc).splitlines()[0]}") from exc
    if (state["astrolab"] or {}).get("kind") != "encoder":
        raise CheckpointError(f"model.pretrained={path} is not an encoder checkpoint (a training checkpoint?); {fix}")
    return state


def use_pretrained(state: dict[str, Any], cfg: DictConfig, model, dm) -> None:
    """Load the encoder of ``state`` into ``model`` (after its initialisation, before training): same model
    family, architecture and input features, else one line naming ``model.pretrained``."""
    path = cfg.model.pretrained
    meta = state["astrolab"]
    if not callable(getattr(model, "load_encoder_state", None)):
        raise ConfigError(f"model.pretrained={path}: {type(model).__name__} cannot start from a pretrained "
                          "encoder (model=temporal_gnn can); remove model.pretrained")
    want, got = model.encoder_signature(), dict(meta.get("signature") or {})
    if got.get("family") != want["family"]:
        raise CheckpointError(f"model.pretrained={path} holds a {got.get('family')} encoder, not {want['family']}; "
                              "fine-tune with the model family it was pretrained with")
    feats = list(meta.get("feature_names") or [])
    if feats and feats != list(dm.feature_names):
        raise CheckpointError(f"model.pretrained={path} was pretrained on the features {feats}, this data gives "
                              f"{list(dm.feature_names)}; use the pretraining run's dataset settings (e.g. the same "
                              "dataset.periodogram=)")
    # a checkpoint of task.feature_objective=contrast also holds the feature branch; loaded where the model has one
    with_branch = (any(k.startswith("feature_branch.") for k in state["state_dict"])
                   and getattr(model, "feature_branch", None) is not None)
    if with_branch:
        names = list(meta.get("object_feature_names") or [])
        have = list(getattr(dm, "object_feature_names", []) or [])
        if names != have:
            raise CheckpointError(f"model.pretrained={path} holds a feature branch pretrained on the per-object "
                                  f"features {names}, this data gives {have}; use the pretraining run's "
                                  "dataset.features (or model.object_features=false)")
    diff = [k for k in want if k != "family" and got.get(k) != want[k]]
    if diff:
        shown = ", ".join(f"model.{k}={got.get(k)}" for k in diff if k != "num_features")
        raise CheckpointError(f"model.pretrained={path} does not fit this model (shape mismatch: "
                              + ", ".join(f"{k} {got.get(k)} vs {want[k]}" for k in diff)
                              + f"); use the pretraining run's settings{': ' + shown if shown else ''}")
    try:
        model.load_encoder_state(state["state_dict"], freeze=bool(cfg.model.get("freeze_encoder", False)))
    except RuntimeError as exc:
        raise CheckpointError(f"model.pretrained={path} does not fit this model: {str(exc).splitlines()[0][:200]}") from exc
    log.info("encoder%s initialised from %s (pretrained %s)%s",
             " and feature branch" if with_branch else "",
             path, meta.get("pretrained_on", "?"),
             "; frozen" if cfg.model.get("freeze_encoder") else "")


def pretrain(cfg: DictConfig) -> dict[str, Any]:
    """``astrolab pretrain``: fit a model on a self-supervised task (``task=masked_reconstruction``) and
    write its encoder to ``<run dir>/checkpoints/encoder.ckpt`` (plus the usual best/last checkpoints,
    metrics.csv and summary.json). No labels are used; the split's test objects are never seen."""
    import lightning as L
    import torch

    quiet_lightning()
    prepare_config(cfg)
    t_start = time.perf_counter()
    run_dir = rundir.acquire(Path(cfg.paths.run_dir), what="pretrain")
    with rundir.guarded(run_dir):
        choices = _choices(cfg)
        _, _, task_cls = check_compatible(cfg, choices)
        if task_cls.kind != "reconstruction":
            raise ConfigError(f"astrolab pretrain needs a self-supervised task: task=masked_reconstruction "
                              f"(not task={choices.get('task')})")
        L.seed_everything(int(cfg.seed), workers=True, verbose=False)
        t0 = time.perf_counter()
        dm, task, model = build_run(cfg, task_cls, "fit")
        L.seed_everything(int(cfg.seed), workers=True, verbose=False)
        model.reset_parameters()
        t_data = time.perf_counter() - t0
        OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
        model.astrolab_meta = checkpoint_meta(cfg, choices, dm, task)
        trainer = make_trainer(cfg, run_dir, build_callbacks(cfg, model), build_loggers(cfg))
        t0 = time.perf_counter()
        try:
            trainer.fit(model, datamodule=dm)
        except SystemExit as exc:
            if getattr(trainer, "interrupted", False):
                raise RunInterrupted(f"interrupted; nothing kept to continue in {run_dir}") from exc
            raise
        if getattr(trainer, "interrupted", False):
            raise RunInterrupted(f"interrupted; pretraining in {run_dir} stopped before its encoder was written")
        t_fit = time.perf_counter() - t0
        ckpt_cb = trainer.checkpoint_callback
        best = getattr(ckpt_cb, "best_model_path", "") if ckpt_cb is not None else ""
        if best:
            model.load_state_dict(load_checkpoint(best)["state_dict"])
        metrics = _scalar_metrics(trainer.validate(model, datamodule=dm, verbose=False))
        if not trainer.is_global_zero:
            return {}
        encoder_path = run_dir / "checkpoints" / ENCODER_CHECKPOINT
        encoder_path.parent.mkdir(parents=True, exist_ok=True)
        sizes = dm.describe().get("split_sizes", {})
        meta = {**model.astrolab_meta, "kind": "encoder", "signature": model.encoder_signature(),
                "feature_names": list(dm.feature_names), "bands": list(getattr(dm, "band_names", []) or []),
                "pretrained_on": f"{sizes.get('train')} train + {sizes.get('val')} val light curves, no labels",
                **({"object_feature_names": list(dm.object_feature_names)}
                   if getattr(model, "pretrains_feature_branch", False) else {}),
                "val_metrics": metrics}
        torch.save({"astrolab": _plain(meta), "state_dict": model.encoder_state_dict()}, encoder_path)
        plots = save_plots(cfg, run_dir, model, task, None, None, trainer)  # learning curves (no predictions)
        summary = {
            "command": "pretrain",
            "model": choices.get("model"), "dataset": choices.get("dataset"), "task": choices.get("task"),
            "metrics": metrics,
            "monitor": _monitor_summary(model, ckpt_cb),
            "encoder_checkpoint": str(encoder_path.resolve()),
            "best_checkpoint": str(Path(best).resolve()) if best else None,
            "epochs": int(trainer.current_epoch),
            "data": dm.describe(),
            "objects_used": {"train": sizes.get("train"), "val": sizes.get("val"), "test": 0},
            "seconds": {"data": round(t_data, 3), "fit": round(t_fit, 3),
                        "total": round(time.perf_counter() - t_start, 3)},
            "run_dir": str(run_dir), "plots": plots, "astrolab_version": __version__,
        }
        write_json(run_dir / "summary.json", summary)
        report(f"pretraining — model={summary['model']} dataset={summary['dataset']} task={summary['task']}",
               metrics, run_dir, {"encoder checkpoint": summary["encoder_checkpoint"]})
        return summary


def _progress_callbacks() -> list:
    from astrolab.training.console import progress_bar

    return [progress_bar()]


def _csv_logger(run_dir: Path):
    from astrolab.training.console import EpochCSVLogger

    return EpochCSVLogger(save_dir=str(run_dir), name="", version="")


def predict_catalog(ckpt_path: str | Path, path: str | Path | None = None, *, columns: dict[str, str] | None = None,
                    keep: list[str] | None = None, mc_samples: int = 0, cfg: DictConfig | None = None,
                    trainer_cfg: DictConfig | None = None):
    """Apply a trained model to a catalog: one row per input row, in input order (see
    :func:`astrolab.training.predictions.catalog_predictions`). Returns ``(table, info)``."""
    from astrolab.training.predictions import catalog_predictions, member_status, predictions_table

    state = load_checkpoint(ckpt_path)
    meta = state["astrolab"]
    req = OmegaConf.create({"dataset": {"path": str(path) if path else None, "columns": dict(columns or {})}})
    for key in ("cache_dir", "group"):
        if cfg is not None and cfg.get("dataset") is not None and cfg.dataset.get(key):
            req.dataset[key] = str(cfg.dataset[key])
    train_cfg, dm, task, model = _restore(req, state, "predict", predict_all=True)
    if path is None:
        log.info("no dataset.path: predicting every row of the training catalog")
    changed = _data_changed(dm, meta, path is not None)
    model.mc_samples = int(mc_samples or 0)
    if not hasattr(dm, "index_table") or not _has_index_table(dm):
        raise ConfigError(f"predict is not available for dataset={meta.get('choices', {}).get('dataset')} yet; "
                          "use astrolab evaluate")
    dm.predict_split = "test"
    node = trainer_cfg if trainer_cfg is not None else OmegaConf.create({"trainer": {
        "_target_": "lightning.pytorch.Trainer", "accelerator": "auto", "devices": 1}})
    trainer = make_trainer(node, None, [], None, enable_model_summary=False, enable_progress_bar=False)
    t0 = time.perf_counter()
    outputs = trainer.predict(model, datamodule=dm, return_predictions=True)
    scored = predictions_table(outputs, dm, task)
    seconds = time.perf_counter() - t0
    table = catalog_predictions(scored, dm, keep)
    members = member_status(dm, keep)  # grouped data (star groups): every input row's status
    info = {"n_rows": len(table), "n_scored": len(scored), "seconds_predict": round(seconds, 3),
            "rows_per_second": round(len(scored) / max(seconds, 1e-9), 1), "data": dm.describe(),
            "model": meta.get("choices", {}), **({"training_file": changed} if changed else {}),
            **({"rows_are": "groups", "members": members} if members is not None else {})}
    return table, info


def predict(cfg: DictConfig) -> dict[str, Any]:
    """``astrolab predict ckpt_path=… dataset.path=…``: a catalog with predictions for every input row,
    written into the command's own run directory."""
    from astrolab.data.io import write_table

    quiet_lightning()
    prepare_config(cfg)
    t_start = time.perf_counter()
    run_dir = rundir.acquire(Path(cfg.paths.run_dir), what="predict")
    with rundir.guarded(run_dir):
        p = cfg.get("predict") or {}
        keep = list(p.get("keep") or []) or None
        table, info = predict_catalog(cfg.ckpt_path, cfg.dataset.get("path"),
                                      columns=dict(cfg.dataset.get("columns") or {}), keep=keep,
                                      mc_samples=int(p.get("mc_samples") or 0), cfg=cfg, trainer_cfg=cfg)
        out = run_dir / str(p.get("output") or "predictions.csv")
        if out.parent != run_dir:
            raise ConfigError("predict.output= is a file name inside the run directory (predictions.csv, "
                              ".parquet, .fits or .vot); choose the folder with hydra.run.dir=")
        write_table(table, out)
        members = info.pop("members", None)
        if members is not None:  # star groups: one row per input star with its status, next to the groups
            info["members_output"] = str(out.with_name(f"{out.stem}_members{out.suffix}"))
            write_table(members, Path(info["members_output"]))
        status = table["status"] if "status" in table.colnames else []
        n_bad = int(sum(1 for s in status if s != "ok"))
        summary = {"command": "predict", "checkpoint": str(Path(str(cfg.ckpt_path)).expanduser().resolve()),
                   "output": str(out), **info, "n_not_scored": n_bad,
                   "seconds": {"total": round(time.perf_counter() - t_start, 3)}, "run_dir": str(run_dir),
                   "astrolab_version": __version__}
        write_json(run_dir / "summary.json", summary)
        report(f"predictions — {info['n_scored']} of {info['n_rows']} {info.get('rows_are', 'rows')} scored",
               {"rows_per_second": info["rows_per_second"]}, run_dir, {"written": out.name})
        return summary
