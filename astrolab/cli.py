"""The ``astrolab`` command: ``astrolab <command> [hydra overrides]``.

Dispatches to the runs and imports nothing heavy before it knows the command, so ``astrolab --help``
stays fast (no torch). User errors end in one line on stderr and a non-zero exit; set
``ASTROLAB_DEBUG=1`` for the full traceback.
"""

from __future__ import annotations

import os
import re
import sys

from astrolab import __version__
from astrolab.config import COMMANDS, GROUPS, conf_dir, group_choices, unknown_choice_message, user_config_dirs

DESCRIPTIONS = {
    "train": "fit a model, test the best checkpoint, write metrics/checkpoints/predictions",
    "pretrain": "pretrain a light-curve encoder without labels (masked reconstruction): writes encoder.ckpt",
    "evaluate": "test a trained model: astrolab evaluate ckpt_path=PATH [dataset.path=FILE]",
    "predict": "apply a trained model to a catalog: astrolab predict ckpt_path=PATH dataset.path=FILE",
    "hpo": "tune a model with Optuna (pruning, recycled models, resumable): astrolab hpo hpo=gat",
    "aggregate": "mean ± std of the test metrics of a multirun over seeds: astrolab aggregate DIR",
    "data": "download a catalog: astrolab data fetch gaia --ra 56.75 --dec 24.12 --radius 1 -o pleiades.fits",
}


def available_commands() -> list[str]:
    return [c for c in COMMANDS if (conf_dir() / f"{c}.yaml").exists() and c in JOBS] + list(DIRECT)


def help_text() -> str:
    lines = [
        f"astrolab {__version__} — train, evaluate and tune neural networks on astronomical catalogs",
        "",
        "usage: astrolab <command> [key=value ...] [-m] [--help] [--cfg job]",
        "",
        "commands:",
    ]
    for c in available_commands():
        lines.append(f"  {c:<10} {DESCRIPTIONS.get(c, '')}")
    lines += ["", "config groups (pick with group=choice):"]
    for g in GROUPS:
        choices = group_choices(g)
        if choices:
            lines.append(f"  {g:<13} {', '.join(choices)}")
    lines += [
        "",
        "examples:",
        "  astrolab train model=gat dataset=gaia",
        "  astrolab train model=gat dataset=gaia dataset.path=my_query.fits trainer.max_epochs=50",
        "  astrolab train -m model=gcn,gat,sage seed=1,2,3",
        "  astrolab pretrain model=temporal_gnn dataset=lightcurves      # writes checkpoints/encoder.ckpt",
        "  astrolab train model=temporal_gnn dataset=lightcurves model.pretrained=outputs/pretrain/.../"
        "checkpoints/encoder.ckpt dataset.label_fraction=0.1",
        "  astrolab evaluate ckpt_path=outputs/train/.../checkpoints/best.ckpt",
        "  astrolab predict ckpt_path=outputs/train/.../checkpoints/best.ckpt dataset.path=new_field.fits",
        "  astrolab train hydra.run.dir=outputs/train/... ckpt_path=last      # continue a killed run",
        "  astrolab hpo hpo=gat dataset=gaia hpo.n_trials=50",
        "  astrolab train -m hpo=gat dataset=gaia",
        "  astrolab aggregate outputs/multirun/2026-01-01/12-00-00-000000",
        "  astrolab data fetch gaia --ra 56.75 --dec 24.12 --radius 1.0 -o pleiades.fits",
        "",
        "Any config value can be overridden (Hydra syntax); `astrolab <command> --help` shows the full config.",
        "ASTROLAB_DEBUG=1 shows full tracebacks.",
    ]
    return "\n".join(lines)


_GROUP_ARG = re.compile(r"^[+~]?(?P<group>[a-z_]+)=(?P<value>[^=]*)$")


def validate_choices(args: list[str]) -> None:
    """Catch ``model=gatt`` before Hydra does, with a one-line message listing the choices (the options
    of user config folders given with ``--config-dir`` or ``hydra.searchpath`` included)."""
    from astrolab.errors import ConfigError

    extra = user_config_dirs(args)
    for d in extra:
        if not d.is_dir():
            flag = "--config-dir" if any(a in ("--config-dir", "-cd") or a.startswith("--config-dir=")
                                         for a in args) else "hydra.searchpath"
            raise ConfigError(f"config folder '{d}' does not exist; fix {flag}")
    for arg in args:
        m = _GROUP_ARG.match(arg)
        if not m or m.group("group") not in GROUPS:
            continue
        value = m.group("value")
        if value in ("null", "") or "(" in value or value.startswith("~"):
            continue
        for v in value.split(","):
            if v and v not in group_choices(m.group("group"), extra):
                raise ConfigError(unknown_choice_message(m.group("group"), v, extra))


#: errors raised inside Hydra jobs, reported by main() after Hydra returns (Hydra would otherwise print
#: its own "Error executing job with overrides" line, and a multirun would stop at the first failure)
_JOB_ERRORS: list[BaseException] = []
#: set once Hydra hands over to a job (an OSError before it: the run directory could not be made)
_JOB_STARTED: list[bool] = []


def _guarded(run, cfg=None, command: str | None = None):
    """Run one job: validate its config (:func:`astrolab.config_check.check_config`), then ``run()``;
    errors are kept for main() (re-raised at once with ``ASTROLAB_DEBUG=1``)."""
    _JOB_STARTED.append(True)
    try:
        if cfg is not None and command is not None:
            from astrolab.config_check import check_config

            check_config(cfg, command)
        return run()
    except Exception as exc:  # noqa: BLE001 - reported by main() in one line
        _discard_unstarted_run_dir()
        if os.environ.get("ASTROLAB_DEBUG", "") not in ("", "0"):
            raise
        _JOB_ERRORS.append(exc)
        return None


def _discard_unstarted_run_dir() -> None:
    """A job that stopped before writing any result leaves no run directory behind."""
    try:
        from hydra.core.hydra_config import HydraConfig

        from astrolab.training.rundir import discard_if_empty

        if HydraConfig.initialized():
            discard_if_empty(HydraConfig.get().runtime.output_dir)
    except Exception:  # pragma: no cover - clean-up must never hide the user's error
        pass


def _sweeper_value(summary):
    """Under hydra-optuna-sweeper a train job returns its monitored validation metric (a float)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized() or "optuna" not in str(HydraConfig.get().sweeper.get("_target_", "")):
            return summary
        from hydra.types import RunMode

        if HydraConfig.get().mode != RunMode.MULTIRUN:
            return summary
    except Exception:  # pragma: no cover - defensive
        return summary
    if not summary:
        return None  # recorded as FAIL by the sweeper; the error is reported at the end
    best = (summary.get("monitor") or {}).get("best")
    return float(best) if best is not None else float("nan")


#: ``[console script, command, args...]`` as the user ran it (``run_hydra`` rewrites ``sys.argv`` for Hydra)
_COMMAND_LINE: list[str] = []


def _argv_for_ddp_children(command: str) -> None:
    """Inside a job: make ``sys.argv`` the command Lightning's DDP launcher re-runs for ranks > 0 — the real
    console script (or ``python -m astrolab.cli``), the command, the user's config folders and this job's
    own overrides (never ``-m``: in a multirun each job's ranks run that one job) — and point
    ``hydra.run.dir``, which the launcher passes on, at this job's directory."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import read_write

    if not _COMMAND_LINE or not HydraConfig.initialized():
        return
    hc = HydraConfig.get()
    orig = _COMMAND_LINE[2:]
    keep: list[str] = []
    for i, a in enumerate(orig):
        if a.startswith(("--config-dir=", "-cd=")):
            keep.append(a)
        elif a in ("--config-dir", "-cd") and i + 1 < len(orig):
            keep += [a, orig[i + 1]]
    keep += [a for a in hc.overrides.hydra if a.startswith("hydra.searchpath")]
    sys.argv = [_COMMAND_LINE[0], command, *keep, *hc.overrides.task]
    with read_write(hc):
        hc.run.dir = hc.runtime.output_dir


def _train_job(cfg):
    from astrolab.training.run import train

    _argv_for_ddp_children("train")
    return _sweeper_value(_guarded(lambda: train(cfg), cfg, "train"))


def _pretrain_job(cfg):
    from astrolab.training.session import pretrain

    return _guarded(lambda: pretrain(cfg), cfg, "pretrain")


def _hpo_job(cfg):
    from astrolab.training.api import hpo_from_hydra

    return _guarded(lambda: hpo_from_hydra(cfg), cfg, "hpo")


def _evaluate_job(cfg):
    from astrolab.training.run import evaluate

    return _guarded(lambda: evaluate(cfg), cfg, "evaluate")


def _predict_job(cfg):
    from astrolab.training.session import predict

    return _guarded(lambda: predict(cfg), cfg, "predict")


JOBS = {"train": _train_job, "pretrain": _pretrain_job, "evaluate": _evaluate_job, "hpo": _hpo_job, "predict": _predict_job}


def _arg_value(args: list[str], key: str) -> str | None:
    for a in args:
        k, sep, v = a.lstrip("+").partition("=")
        if sep and k == key:
            return v
    return None


def prepare_run_dir(command: str, args: list[str]) -> list[str]:
    """Before Hydra writes anything: a run into a named ``hydra.run.dir`` must find it free (no results,
    no live process); ``ckpt_path=<dir>/checkpoints/x.ckpt`` continues in ``<dir>``. Returns the args
    (with ``hydra.run.dir`` added for a continued run, whose Hydra files go to a new subfolder)."""
    from pathlib import Path

    from astrolab.errors import ConfigError
    from astrolab.training import rundir

    if "-m" in args or "--multirun" in args or any(a in ("--cfg", "--help", "-h", "--info") for a in args) \
            or any(a.startswith("--cfg") for a in args):
        return args
    run_dir = _arg_value(args, "hydra.run.dir")
    ckpt = _arg_value(args, "ckpt_path") if command == "train" else None
    resume = bool(ckpt) and ckpt not in ("null", "None")
    if resume and ckpt != "last" and run_dir is None:
        p = Path(ckpt).expanduser()
        if p.parent.name == "checkpoints":
            run_dir = str(p.parent.parent)
            args = [*args, f"hydra.run.dir={run_dir}"]
    if resume and run_dir is None:
        raise ConfigError("ckpt_path=last continues a run in its own directory: add hydra.run.dir=<that run's "
                          "directory>")
    if run_dir is None:
        _note_default_run_folders(command, args)
        return args
    if resume:
        _refuse_finished_run(Path(run_dir).expanduser(), _arg_value(args, "trainer.max_epochs"))
    # a study folder holds a study that the same command continues (astrolab.hpo.runner): not a result to guard
    _PREPARED.append(rundir.acquire(run_dir, allow_results=resume or command == "hpo", what=command))
    if resume:
        import time

        args = [*args, f"hydra.output_subdir=.hydra-continued-{time.strftime('%Y%m%d-%H%M%S')}"]
    return args


#: run directories prepare_run_dir made before Hydra started (removed again when Hydra stops before a job)
_PREPARED: list = []


def _discard_prepared_run_dirs() -> None:
    """Hydra stopped before any job ran (e.g. an override it refused): the named run directory made for
    it, and its new parent folders, go again when empty."""
    from astrolab.training.rundir import discard_if_empty

    while _PREPARED:
        try:
            discard_if_empty(_PREPARED.pop())
        except OSError:  # pragma: no cover - clean-up must never hide the user's error
            pass


def _note_default_run_folders(command: str, args: list[str]) -> None:
    """Before Hydra makes the default run directory (``<paths.output_dir>/<command>/<date>/<time>_…``;
    ``hpo``: ``<paths.output_dir>/hpo/<study>``): note the folders above it that do not exist yet, so that a
    refused run removes them again when they are empty (:func:`astrolab.training.rundir.discard_if_empty`)."""
    import time
    from pathlib import Path

    from astrolab.training import rundir

    output_dir = _arg_value(args, "paths.output_dir") or os.environ.get("ASTROLAB_OUTPUT") or "outputs"
    rundir.note_new_folders(Path(output_dir) / command / time.strftime("%Y-%m-%d"))


def _refuse_finished_run(run_dir, max_epochs_arg: str | None) -> None:
    """``ckpt_path=last`` continues a run that stopped before it finished. A finished run (its
    ``summary.json`` written) is only continued when the command line asks for more epochs than it ran;
    otherwise continuing would test it again and write over its results."""
    import json

    from astrolab.errors import RunDirError

    summary, last = run_dir / "summary.json", run_dir / "checkpoints" / "last.ckpt"
    if not summary.is_file():
        return
    if last.is_file() and last.stat().st_mtime > summary.stat().st_mtime:
        return  # the finished run was continued for more epochs and stopped again: continue that
    try:
        epochs = int(json.loads(summary.read_text()).get("epochs") or 0)
    except (OSError, ValueError, TypeError):
        return
    try:
        more = max_epochs_arg is not None and (int(max_epochs_arg) == -1 or int(max_epochs_arg) > epochs)
    except ValueError:
        return  # a non-numeric value is named by the config check
    if not more:
        raise RunDirError(f"run directory {run_dir} holds a finished run ({epochs} epochs, summary.json written); "
                          f"ckpt_path=last continues a run that was stopped: to train this one longer add "
                          f"trainer.max_epochs=<more than {epochs}>, or start a new run with another hydra.run.dir=")


def _aggregate_command(args: list[str]) -> None:
    from astrolab.hpo.aggregate import aggregate_command

    aggregate_command(args)


def _data_command(args: list[str]) -> None:
    import logging

    from astrolab.data.fetch import data_command

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data_command(args)


#: commands that take plain arguments instead of Hydra overrides
DIRECT = {"aggregate": _aggregate_command, "data": _data_command}


def run_hydra(command: str, args: list[str]) -> None:
    import hydra

    from astrolab.utils.instantiate import whitelist
    from astrolab.utils.runs import register_resolvers

    register_resolvers()
    from astrolab.hpo.space import register_resolvers as register_hpo_resolvers

    register_hpo_resolvers()
    import __main__

    # keep the real script (DDP ranks > 0 re-run it); ``python -m astrolab.cli`` has no file to re-run
    script = sys.argv[0] if getattr(__main__, "__spec__", None) is None and os.path.isfile(sys.argv[0]) else ""
    _COMMAND_LINE[:] = [os.path.abspath(script) if script else "", command, *args]
    sys.argv = [f"astrolab {command}", *args]
    hydra.main(config_path=str(conf_dir()), config_name=command,
               execution_whitelist=list(whitelist()))(JOBS[command])()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " ".join(lines[:3]) if len(" ".join(lines[:3])) < 400 else lines[0]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(help_text() + "\n")
        return 0
    if args[0] in ("-V", "--version"):
        sys.stdout.write(f"astrolab {__version__}\n")
        return 0
    command, rest = args[0], args[1:]
    debug = os.environ.get("ASTROLAB_DEBUG", "") not in ("", "0")
    if command in DIRECT:
        from astrolab.errors import AstrolabError

        try:
            DIRECT[command](rest)
        except AstrolabError as exc:
            if debug:
                raise
            sys.stderr.write(f"astrolab: error: {_one_line(exc)}\n")
            return exc.exit_code
        return 0
    if command not in JOBS:
        sys.stderr.write(f"astrolab: unknown command '{command}'; choose one of: "
                         f"{', '.join(available_commands())} (astrolab --help)\n")
        return 2
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises; astrolab formats the message
    from astrolab.errors import AstrolabError

    _JOB_ERRORS.clear()
    _JOB_STARTED.clear()
    _PREPARED.clear()
    try:
        validate_choices(rest)
        from astrolab.training.rundir import is_ddp_child

        if not is_ddp_child():  # a DDP rank > 0 runs in the directory rank 0 prepared and holds
            rest = prepare_run_dir(command, rest)
        try:
            run_hydra(command, rest)
        except Exception:
            if not _JOB_STARTED:
                _discard_prepared_run_dirs()
            raise
        if _JOB_ERRORS:
            if len(_JOB_ERRORS) > 1:
                sys.stderr.write(f"astrolab: {len(_JOB_ERRORS)} jobs failed; the others finished\n")
            raise _JOB_ERRORS[0]
    except AstrolabError as exc:
        if debug:
            raise
        sys.stderr.write(f"astrolab: error: {_one_line(exc)}\n")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        text = str(exc).strip() or "interrupted; finished checkpoints and results were kept"
        sys.stderr.write(f"astrolab: {text}\n")
        return 130
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except Exception as exc:  # noqa: BLE001 - the CLI boundary
        if debug:
            raise
        line = _known_error(exc, command, rest)
        if line is not None:
            sys.stderr.write(f"astrolab: error: {line}\n")
            return 2
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        kind = "config error" if isinstance(exc, (HydraException, OmegaConfBaseException)) else type(exc).__name__
        sys.stderr.write(f"astrolab: {kind}: {_one_line(exc)} (ASTROLAB_DEBUG=1 for the traceback)\n")
        return 1
    return 0


def _failed_override(text: str, args: list[str]) -> str:
    """The command-line argument a Hydra message is about (the ``hpo.params.…`` one), else ``''``."""
    m = re.search(r"Could not override '([^']+)'", text)
    key = m.group(1) if m else None
    for a in args:
        if (key and a.lstrip("+").startswith(key + "=")) or (not key and a.startswith("hpo.params.")):
            return a
    return ""


def _known_error(exc: BaseException, command: str, args: list[str]) -> str | None:
    """One actionable line for the errors Hydra raises before a job starts (unknown key, a run directory
    that cannot be made), else ``None``."""
    from astrolab.config_check import override_error_message, refused_key, unknown_key_message

    if isinstance(exc, OSError) and not _JOB_STARTED:
        multirun = any(a in ("-m", "--multirun") for a in args)
        key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
        what = exc.strerror or type(exc).__name__
        where = exc.filename or "the run directory"
        return f"cannot create the run directory '{where}' ({what}); set {key}=<a writable folder>"
    text = str(exc)
    if type(exc).__name__ == "MissingMandatoryValue" and "ckpt_path" in text:
        return (f"`astrolab {command}` needs the checkpoint of a trained model: "
                f"astrolab {command} ckpt_path=<run dir>/checkpoints/best.ckpt")
    line = override_error_message(text) or override_error_message(f"'{_failed_override(text, args)}' {text}")
    if line is not None:
        return line
    key = refused_key(text)
    if key is not None:
        return unknown_key_message(key, command, args)
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
