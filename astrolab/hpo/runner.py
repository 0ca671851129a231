"""The native Optuna runner behind ``astrolab hpo`` and :func:`astrolab.training.run_hpo`.

Each trial composes its config with Hydra's compose API from the command's overrides plus the sampled
parameters (``astrolab train <overrides> <params>``), trains it on the process's prepared data with a
recycled or new model (:mod:`astrolab.hpo.recycling`), reports the monitored validation metric to the
pruner every epoch (:mod:`astrolab.hpo.pruning`) and returns the best value of that metric.

Persistence: the study lives in an Optuna storage (``study.db`` SQLite file in the sweep folder by
default; any URL through ``hpo.storage``, ``journal:<file>`` for a JournalStorage file). Re-running the
same command continues the study until it holds ``hpo.n_trials`` finished trials in total. A trial left
RUNNING by a killed process on this machine (its pid is gone), or whose RDB heartbeat stopped, is failed
and re-queued with the same parameters. Several processes on the same storage and study name share the
work; the sampler is re-seeded per trial number so parallel workers never draw the same parameters.

Failed trials (OOM, NaN, invalid combination) are recorded as FAIL with their reason; pruned ones as
PRUNED; a study whose every trial failed ends with a one-line error. At the end the sweep folder holds
``trials.csv``, ``best_config.yaml``, ``best.ckpt``, ``importance.csv``/``.md``, ``history.png`` and
``summary.json``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from astrolab.errors import AstrolabError, ConfigError
from astrolab.hpo.recycling import DataCache, ModelPool, release_memory
from astrolab.hpo.space import parse_space, register_resolvers, suggest, to_overrides

log = logging.getLogger(__name__)

HOST = socket.gethostname()


class TrialFailed(AstrolabError):
    """A trial that cannot give a value (diverged, no metric)."""


class _Surplus(Exception):
    """Another worker already started the last trial the study needed."""


# -- configs ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def _hydra_context() -> Iterator[None]:
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        yield
        return
    from hydra import initialize_config_dir

    from astrolab.config import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir())):
        yield


def compose(config_name: str, overrides: list[str]) -> DictConfig:
    """A config composed exactly as ``astrolab <config_name> <overrides>`` would compose it."""
    from hydra import compose as _compose

    from astrolab.utils.runs import register_resolvers as _register_run_resolvers

    _register_run_resolvers()
    register_resolvers()
    with _hydra_context():
        return _compose(config_name=config_name, overrides=list(overrides))


def trial_overrides(user_overrides: list[str], hpo_choice: str | None) -> list[str]:
    """The ``astrolab train`` overrides a trial starts from: the command's own (Hydra settings dropped),
    with the search-space choice (``hpo=gat``) added when it came from the defaults."""
    out = [o for o in user_overrides if not o.lstrip("+~").startswith("hydra.")]
    if hpo_choice and not any(o.split("=", 1)[0].lstrip("+~") == "hpo" for o in out):
        out.insert(0, f"hpo={hpo_choice}")
    return out


# -- storage and sampler ---------------------------------------------------------------------------
def open_storage(url: str | None, sweep_dir: Path, hpo: DictConfig | dict) -> tuple[Any, str]:
    """``(storage, url)``: SQLite in the sweep folder by default; ``journal:<file>``; any Optuna URL."""
    import optuna
    
    from astrolab.config_check import storage_folder_error

    if url in (None, "", "null", "None"):
        Path(sweep_dir).mkdir(parents=True, exist_ok=True)  # the default: study.db in the study folder
        url = f"sqlite:///{(Path(sweep_dir) / 'study.db').resolve()}"
    url = str(url)
    missing = storage_folder_error(url)  # a folder the URL names is never created
    if missing:
        raise ConfigError(missing)
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        path = Path(url[len("journal:"):]).expanduser()
        return optuna.storages.JournalStorage(JournalFileBackend(str(path))), url
    if url.split(":", 1)[0].split("+", 1)[0] in ("sqlite", "postgresql", "mysql", "oracle", "mssql"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                retry_cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or \
                    optuna.storages.RetryFailedTrialCallback
                retry = retry_cls(max_retry=int(hpo.get("max_retry", 2)))
                storage = optuna.storages.RDBStorage(
                    url, heartbeat_interval=int(hpo.get("heartbeat_interval", 30)),
                    grace_period=int(hpo.get("grace_period", 90)), heartbeat_stale_trial_callback=retry)
        except Exception as exc:
            raise ConfigError(f"cannot open hpo.storage={url}: {str(exc).splitlines()[0]}") from exc
        return storage, url
    return url, url


def _make_sampler(node: Any):
    import optuna

    from astrolab.utils.instantiate import instantiate

    if node is None:
        return optuna.samplers.TPESampler, None
    node = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
    seed = node.pop("seed", None)

    def factory(s: int | None):
        return instantiate(node, seed=s) if "seed" in _signature(node) else instantiate(node)

    return factory, seed


def _signature(node: dict) -> set[str]:
    import inspect

    from hydra.utils import get_class

    try:
        return set(inspect.signature(get_class(node["_target_"])).parameters)
    except Exception:
        return {"seed"}


def seeded_sampler(factory: Callable[[int | None], Any], seed: int | None):
    """A sampler re-created with ``seed + trial.number`` before every trial: reproducible for one
    worker, and workers sharing a study never draw the same parameters."""
    import optuna

    class TrialSeededSampler(optuna.samplers.BaseSampler):
        def __init__(self) -> None:
            self._inner = factory(seed)

        def infer_relative_search_space(self, study, trial):
            return self._inner.infer_relative_search_space(study, trial)

        def sample_relative(self, study, trial, search_space):
            return self._inner.sample_relative(study, trial, search_space)

        def sample_independent(self, study, trial, param_name, param_distribution):
            return self._inner.sample_independent(study, trial, param_name, param_distribution)

        def before_trial(self, study, trial) -> None:
            self._inner = factory(None if seed is None else int(seed) + int(trial.number))
            self._inner.before_trial(study, trial)

        def after_trial(self, study, trial, state, values) -> None:
            self._inner.after_trial(study, trial, state, values)

        def reseed_rng(self) -> None:
            self._inner.reseed_rng()

    return TrialSeededSampler()


# -- trial bookkeeping -----------------------------------------------------------------------------
def counts_toward_budget(t: Any) -> bool:
    """Finished or running trials count; stale/killed ones (re-queued) and surplus ones do not."""
    from optuna.trial import TrialState

    if t.user_attrs.get("stale") or t.user_attrs.get("surplus"):
        return False
    if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING):
        return True
    return t.state == TrialState.FAIL and "fail_reason" in t.user_attrs


def _pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True
    return True


def requeue_dead_trials(study: Any) -> int:
    """Fail and re-queue trials left RUNNING by a dead process of this machine."""
    from optuna.trial import TrialState

    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") != HOST or pid is None or int(pid) == os.getpid() or _pid_alive(pid):
            continue
        storage = study._storage
        storage.set_trial_user_attr(t._trial_id, "stale", True)
        storage.set_trial_user_attr(t._trial_id, "fail_reason", f"process {pid} died during the trial")
        try:
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        except Exception:  # finished meanwhile
            continue
        if t.params:
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number}, skip_if_exists=False)
        log.warning("trial %d was left running by dead process %s: failed and re-queued", t.number, pid)
        n += 1
    return n


# -- the runner ------------------------------------------------------------------------------------
@dataclass
class HPOResult:
    """What a finished (or resumed) study leaves behind."""

    study: Any
    sweep_dir: Path
    best_value: float | None
    best_params: dict[str, Any]
    best_config: Path | None
    best_checkpoint: Path | None
    best_model: Any = None
    test_metrics: dict[str, float] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


class NativeRunner:
    """One process's share of a study (see the module docstring).

    Args:
        cfg: the composed ``hpo`` config (``astrolab hpo``'s primary config).
        overrides: the command's overrides (``astrolab hpo <overrides>``); every trial is
            ``astrolab train <overrides> <sampled params>``.
        sweep_dir: folder of the study's files.
        hpo_choice: the ``hpo=`` group choice (added to the trial overrides when not in ``overrides``).
    """

    def __init__(self, cfg: DictConfig, overrides: list[str], sweep_dir: Path,
                 hpo_choice: str | None = None) -> None:
        self.cfg = cfg
        self.hpo = cfg.hpo
        self.sweep_dir = Path(sweep_dir)
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        self.base_overrides = trial_overrides(overrides, hpo_choice)
        params = OmegaConf.to_container(self.hpo.params, resolve=True) if self.hpo.get("params") else {}
        self.distributions, self.fixed = parse_space(params)
        # as with the sweeper, a key set on the command line is fixed, not searched
        for o in self.base_overrides:
            key = o.lstrip("+~").split("=", 1)[0]
            if key in self.distributions:
                del self.distributions[key]
        if not self.distributions:
            raise ConfigError("the search space is empty; pick one with hpo=<name> (e.g. hpo=gat) or set "
                              "hpo.params")
        self.n_trials = int(self.hpo.n_trials)
        if self.n_trials < 1:
            raise ConfigError(f"hpo.n_trials={self.n_trials}; use a positive number")
        self.timeout = float(self.hpo.timeout) if self.hpo.get("timeout") else None
        self.data = DataCache()
        self.pool = ModelPool(enabled=bool(self.hpo.get("recycle", True)),
                              max_models=_recycle_max_models(self.hpo.get("recycle_max_models", 8)))
        self.seed = int(cfg.seed)
        self.study = None
        self.storage_url = ""
        self._trial_seconds: list[float] = []
        self.last_info: dict[str, Any] = {}

    # -- study ---------------------------------------------------------------------------------
    def open_study(self):
        import optuna

        from astrolab.hpo.pruning import make_pruner

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage, self.storage_url = open_storage(self.hpo.get("storage"), self.sweep_dir, self.hpo)
        name = self.hpo.get("study_name") or f"hpo-{self.hpo.name}"
        factory, seed = _make_sampler(self.hpo.get("sampler"))
        pruner = make_pruner(self.hpo.get("pruner"), int(self.hpo.get("pruner_startup_trials", 3)),
                             int(self.hpo.get("pruner_warmup_epochs", 1)),
                             int(self.cfg.trainer.get("max_epochs") or 0) or None)
        direction = str(self.hpo.direction)
        try:
            self.study = optuna.create_study(storage=storage, study_name=name, direction=direction,
                                             sampler=seeded_sampler(factory, seed), pruner=pruner,
                                             load_if_exists=True)
        except ValueError as exc:  # e.g. direction differs from the stored study
            raise ConfigError(f"cannot continue study '{name}' in {self.storage_url}: {exc}") from exc
        self.study.set_user_attr("direction_metric", self.monitor_name())
        return self.study

    def monitor_name(self) -> str:
        metric = self.hpo.get("metric")
        if metric:
            return str(metric)
        from hydra.utils import get_class

        return str(getattr(get_class(self.cfg.task._target_), "monitor", "val/loss"))

    def budget_used(self) -> int:
        return sum(1 for t in self.study.get_trials(deepcopy=False) if counts_toward_budget(t))

    # -- one trial -----------------------------------------------------------------------------
    def trial_config(self, params: dict[str, Any], run_dir: Path) -> DictConfig:
        return compose("train", [*self.base_overrides, *self.fixed, *to_overrides(params),
                                 f"paths.run_dir={run_dir}"])

    def fit(self, cfg: DictConfig, trial: Any = None) -> tuple[float, Any, dict[str, Any]]:
        """Train one config on the shared data; ``(monitored value, model, info)``."""
        from lightning.pytorch.callbacks import ModelSummary, ProgressBar

        from astrolab.training.build import (
            build_callbacks,
            build_loggers,
            build_task,
            check_compatible,
            model_inputs,
            prepare_config,
        )
        from astrolab.training.session import (
            _quiet_lightning,
            checkpoint_meta,
            make_trainer,
            read_pretrained,
            use_pretrained,
        )

        _quiet_lightning()
        prepare_config(cfg)
        run_dir = Path(cfg.paths.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        _, _, task_cls = check_compatible(cfg)
        key, dm = self.data.get(cfg, task_cls)
        task = build_task(cfg, dm)
        model, recycled = self.pool.get(cfg, task, dm.num_features, key, int(cfg.seed), model_inputs(dm))
        encoder = read_pretrained(cfg)  # model.pretrained: every trial starts from the pretrained encoder
        if encoder is not None:
            use_pretrained(encoder, cfg, model, dm)
        model.astrolab_meta = checkpoint_meta(cfg, {"model": str(cfg.model._target_).rsplit(".", 1)[-1]}, dm,
                                              model.task)
        monitor = str(self.hpo.get("metric") or model.monitor) if self.cfg is not None else model.monitor
        # a trial keeps its best checkpoint only (no per-epoch last.ckpt: trials are not continued)
        callbacks = [cb for cb in build_callbacks(cfg, model) if not isinstance(cb, (ProgressBar, ModelSummary))
                     and getattr(cb, "filename", None) != "last"]
        if trial is not None:
            from astrolab.hpo.pruning import pruning_callback

            callbacks.append(pruning_callback(trial, monitor))
        # no sanity validation: the first epoch's validation runs the same code a moment later, and a trial
        # that cannot validate fails there (one validation pass less per trial)
        trainer = make_trainer(cfg, run_dir, callbacks, build_loggers(cfg), enable_progress_bar=False,
                               enable_model_summary=False, num_sanity_val_steps=0)
        info = {"recycled": recycled, "model_id": id(model), "run_dir": str(run_dir)}
        self.last_info = info
        try:
            trainer.fit(model, datamodule=dm)
        finally:
            info["epochs"] = int(trainer.current_epoch)
        ckpt = trainer.checkpoint_callback
        value = None
        if ckpt is not None and ckpt.best_model_score is not None and ckpt.monitor == monitor:
            value = float(ckpt.best_model_score)
            info["checkpoint"] = ckpt.best_model_path
        elif monitor in trainer.callback_metrics:
            value = float(trainer.callback_metrics[monitor])
        if value is None:
            raise TrialFailed(f"the monitored metric {monitor} was never logged")
        if not math.isfinite(value):
            raise TrialFailed(f"{monitor} is {value} (the loss diverged; lower model.optimizer.lr)")
        return value, model, info

    def objective(self, trial: Any) -> float:
        import optuna

        trial.set_user_attr("host", HOST)
        trial.set_user_attr("pid", os.getpid())
        before = [t for t in self.study.get_trials(deepcopy=False)
                  if t.number < trial.number and counts_toward_budget(t)]
        if len(before) >= self.n_trials:
            trial.set_user_attr("surplus", True)
            raise _Surplus("the study already has its trials")
        params = suggest(trial, self.distributions)
        self.last_info = {}
        run_dir = self.sweep_dir / "trials" / f"{trial.number:04d}"
        overrides = [*self.base_overrides, *self.fixed, *to_overrides(params)]
        trial.set_user_attr("overrides", overrides)
        t0 = time.perf_counter()
        try:
            cfg = self.trial_config(params, run_dir)
            value, _, info = self.fit(cfg, trial)
            trial.set_user_attr("recycled", bool(info["recycled"]))
            trial.set_user_attr("epochs", info["epochs"])
            if info.get("checkpoint"):
                trial.set_user_attr("checkpoint", str(Path(info["checkpoint"]).resolve()))
            return value
        except optuna.TrialPruned:
            trial.set_user_attr("recycled", bool(self.last_info.get("recycled")))
            raise
        except Exception as exc:
            reason = _reason(exc)
            trial.set_user_attr("fail_reason", reason)
            log.warning("trial %d failed: %s", trial.number, reason)
            raise
        finally:
            self._trial_seconds.append(time.perf_counter() - t0)
            if "out of memory" in str(getattr(trial, "user_attrs", {}).get("fail_reason", "")).lower():
                self.pool.release()
            release_memory()

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> HPOResult:
        import optuna

        from astrolab.hpo.progress import StudyProgress

        if self.study is None:
            self.open_study()
        requeue_dead_trials(self.study)
        t_start = time.perf_counter()
        done_before = self.budget_used()
        log.info("study '%s' in %s: %d/%d trials already counted", self.study.study_name, self.storage_url,
                 done_before, self.n_trials)
        with StudyProgress(self.study, self.n_trials) as progress, warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            while self.budget_used() < self.n_trials:
                if self.timeout and time.perf_counter() - t_start > self.timeout:
                    log.warning("hpo.timeout=%s s reached; re-run the command to continue", self.timeout)
                    break
                self.study.optimize(self.objective, n_trials=1, catch=(Exception,),
                                    callbacks=[progress.callback])
        return finish(self, time.perf_counter() - t_start)


def _recycle_max_models(value: Any) -> int:
    """``hpo.recycle_max_models``: a whole number >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        shown = f"'{value}'" if isinstance(value, str) else value
        raise ConfigError(f"hpo.recycle_max_models={shown} must be a whole number >= 1 (built models kept for "
                          "recycling); e.g. hpo.recycle_max_models=8")
    return int(value)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}".rstrip(": ")


def finish(runner: NativeRunner, seconds: float) -> HPOResult:
    """Write the study's outputs; raise when no trial completed."""
    from optuna.trial import TrialState

    from astrolab.hpo.outputs import write_outputs

    study = runner.study
    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("surplus")]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    result = write_outputs(runner, trials, seconds)
    if not complete:
        failed = [t for t in trials if t.state == TrialState.FAIL]
        first = failed[0].user_attrs.get("fail_reason", "unknown") if failed else "none completed"
        raise AstrolabError(f"all {len(trials)} trials of study '{study.study_name}' failed or were pruned "
                            f"(first reason: {first}); see {runner.sweep_dir / 'trials.csv'}")
    return result


def run_native(cfg: DictConfig, overrides: list[str], sweep_dir: Path, hpo_choice: str | None = None
               ) -> HPOResult:
    """Run (or continue) the study described by a composed ``hpo`` config."""
    return NativeRunner(cfg, overrides, sweep_dir, hpo_choice).run()
