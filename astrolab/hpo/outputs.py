"""What a study leaves in its sweep folder: ``trials.csv``, ``best_config.yaml`` (runnable with
``astrolab train --config-path <sweep dir> --config-name best_config``), ``best.ckpt``, the parameter
importance table (``importance.csv`` / ``importance.md``), ``history.png`` and ``summary.json``."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from astrolab.utils.runs import write_json

log = logging.getLogger(__name__)


def trials_table(trials: list[Any]):
    """One row per trial: number, state, value, duration, params, recycled, epochs, fail reason."""
    import pandas as pd

    rows = []
    for t in trials:
        row = {"number": t.number, "state": t.state.name, "value": t.value,
               "duration_s": round(t.duration.total_seconds(), 3) if t.duration is not None else None}
        row.update({f"params_{k}": v for k, v in t.params.items()})
        row["recycled"] = t.user_attrs.get("recycled")
        row["epochs"] = t.user_attrs.get("epochs", t.last_step + 1 if t.last_step is not None else None)
        row["fail_reason"] = t.user_attrs.get("fail_reason", "")
        rows.append(row)
    return pd.DataFrame(rows)


def write_best_config(overrides: list[str], path: Path, label: str) -> Path:
    """The best trial's composed config as a primary config ``astrolab train`` can run."""
    from astrolab.hpo.runner import compose

    cfg = compose("train", [*overrides, "paths.run_dir=unused"])
    data = OmegaConf.to_container(cfg, resolve=False)
    data.pop("hpo", None)
    data["paths"]["run_dir"] = "${hydra:runtime.output_dir}"
    data["hydra"] = {
        "run": {"dir": "${paths.output_dir}/train/${now:%Y-%m-%d}/${now:%H-%M-%S-%f}_best_" + label},
        "sweep": {"dir": "${paths.output_dir}/multirun/${now:%Y-%m-%d}/${now:%H-%M-%S-%f}_best_" + label,
                  "subdir": "${hydra:job.num}"},
        "job": {"name": "train", "chdir": False},
    }
    header = (f"# best trial of study {label}: astrolab train --config-path {path.parent.resolve()} "
              f"--config-name {path.stem}\n# overrides: {' '.join(overrides)}\n")
    path.write_text(header + OmegaConf.to_yaml(OmegaConf.create(data)))
    return path


def importance_table(study: Any):
    """Parameter importances (fANOVA) of the completed trials, or ``None`` when there are too few."""
    import warnings

    import optuna
    import pandas as pd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imp = optuna.importance.get_param_importances(study)
    except Exception as exc:  # fewer than two completed trials, or a single-valued space
        log.info("no parameter importance: %s", str(exc).splitlines()[0] if str(exc) else exc)
        return None
    return pd.DataFrame({"param": list(imp), "importance": [round(float(v), 4) for v in imp.values()]})


def plot_history(trials: list[Any], direction: str, path: Path) -> Path | None:
    """Trial values (completed: dots, pruned: crosses at their last value) and the best so far."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.trial import TrialState

    done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and t.value is not None]
    if not done:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    comp = [t for t in done if t.state == TrialState.COMPLETE]
    pruned = [t for t in done if t.state == TrialState.PRUNED]
    ax.scatter([t.number for t in comp], [t.value for t in comp], s=18, label="complete")
    if pruned:
        ax.scatter([t.number for t in pruned], [t.value for t in pruned], marker="x", c="0.6",
                   label="pruned (last value)")
    best, xs, ys = None, [], []
    for t in sorted(comp, key=lambda t: t.number):
        if best is None or (t.value > best if direction == "maximize" else t.value < best):
            best = t.value
        xs.append(t.number)
        ys.append(best)
    if xs:
        ax.step(xs, ys, where="post", c="C3", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("objective")
    ax.set_title("optimisation history")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_outputs(runner: Any, trials: list[Any], seconds: float):
    """Write every output of the study and return an :class:`~astrolab.hpo.runner.HPOResult`."""
    from optuna.trial import TrialState

    from astrolab.hpo.runner import HPOResult

    study, out = runner.study, runner.sweep_dir
    table = trials_table(trials)
    table.to_csv(out / "trials.csv", index=False)
    direction = study.direction.name.lower()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    counts = {s.name: sum(t.state == s for t in trials) for s in (TrialState.COMPLETE, TrialState.PRUNED,
                                                                   TrialState.FAIL, TrialState.RUNNING)}
    summary: dict[str, Any] = {
        "command": "hpo", "study_name": study.study_name, "storage": runner.storage_url,
        "direction": direction, "metric": runner.monitor_name(), "n_trials": runner.n_trials,
        "trials": counts, "seconds_this_process": round(seconds, 3),
        "recycling": {"models_built": runner.pool.builds, "models_recycled": runner.pool.reuses,
                      "data_prepared": runner.data.builds,
                      "hit_rate": round(runner.pool.reuses / max(runner.pool.builds + runner.pool.reuses, 1), 3)},
    }
    result = HPOResult(study=study, sweep_dir=out, best_value=None, best_params={}, best_config=None,
                       best_checkpoint=None)
    if complete:
        best = study.best_trial
        result.best_value, result.best_params = float(best.value), dict(best.params)
        label = f"{study.study_name}-trial{best.number}"
        result.best_config = write_best_config(list(best.user_attrs.get("overrides", [])),
                                               out / "best_config.yaml", label)
        ckpt = best.user_attrs.get("checkpoint")
        if ckpt and Path(ckpt).exists():
            shutil.copy2(ckpt, out / "best.ckpt")
            result.best_checkpoint = out / "best.ckpt"
        summary.update(best_value=result.best_value, best_params=result.best_params,
                       best_trial=best.number, best_config=str(result.best_config),
                       best_checkpoint=str(result.best_checkpoint) if result.best_checkpoint else None)
        if runner.hpo.get("test_best", True) and result.best_checkpoint is not None:
            try:
                result.best_model, result.test_metrics = test_best(runner, best)
                summary["best_test_metrics"] = result.test_metrics
            except Exception as exc:  # the study's results are kept whatever happens here
                log.warning("testing the best model failed: %s", exc)
                summary["best_test_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    imp = importance_table(study)
    if imp is not None:
        imp.to_csv(out / "importance.csv", index=False)
        (out / "importance.md").write_text(_markdown(imp))
        summary["importance"] = dict(zip(imp["param"], imp["importance"], strict=True))
    plot = plot_history(trials, direction, out / "history.png")
    summary["history_plot"] = str(plot) if plot else None
    write_json(out / "summary.json", summary)
    result.summary = summary
    _report(summary, out)
    return result


def test_best(runner: Any, best: Any) -> tuple[Any, dict[str, float]]:
    """Rebuild the best trial's model from its checkpoint and test it on the shared data."""
    from astrolab.training.build import build_model, build_task, check_compatible, model_inputs
    from astrolab.training.session import _quiet_lightning, _scalar_metrics, load_checkpoint, make_trainer

    _quiet_lightning()
    cfg = runner.trial_config(dict(best.params), runner.sweep_dir / "best_test")
    _, _, task_cls = check_compatible(cfg)
    _, dm = runner.data.get(cfg, task_cls)
    task = build_task(cfg, dm)
    model = build_model(cfg, task, dm.num_features, **model_inputs(dm))
    state = load_checkpoint(runner.sweep_dir / "best.ckpt")
    model.load_state_dict(state["state_dict"])
    model.astrolab_meta = state["astrolab"]
    trainer = make_trainer(None, runner.sweep_dir / "best_test", accelerator=cfg.trainer.get("accelerator", "auto"),
                           devices=1, enable_progress_bar=False, enable_model_summary=False)
    return model, _scalar_metrics(trainer.test(model, datamodule=dm, verbose=False))


def _markdown(df) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(row[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def _report(summary: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"study {summary['study_name']} ({summary['direction']} {summary['metric']})")
    t.add_column("")
    t.add_column("value", justify="right")
    for k, v in summary["trials"].items():
        t.add_row(f"trials {k.lower()}", str(v))
    if summary.get("best_value") is not None:
        t.add_row("best value", f"{summary['best_value']:.4f}")
        for k, v in summary["best_params"].items():
            t.add_row(f"  {k}", f"{v:.4g}" if isinstance(v, float) else str(v))
    for k, v in (summary.get("best_test_metrics") or {}).items():
        t.add_row(f"best model {k}", f"{v:.4f}")
    rec = summary["recycling"]
    t.add_row("models built / recycled", f"{rec['models_built']} / {rec['models_recycled']}"
              + (f" (hit rate {rec['hit_rate']:.0%})" if 'hit_rate' in rec else ""))
    console = Console()
    console.print(t)
    console.print(f"sweep folder: [bold]{out}[/bold]")
