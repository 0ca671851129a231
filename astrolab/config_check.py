"""Validation of a composed config before anything is built.

:func:`check_config` is called at the start of every job (train, evaluate, hpo, predict). It turns what
would otherwise surface as a raw library exception deep inside a run (a string where a number belongs, a
negative width, ``dropout=1.5``, a GPU that is not there, a key nothing reads) into one
:class:`~astrolab.errors.ConfigError` line that names the key and a value that works.

:func:`unknown_key_message` builds the "did you mean model.hidden_dim?" line for a key Hydra refused to
override (the CLI calls it when composition fails).
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
from collections.abc import Iterator
from typing import Any

from astrolab.errors import ConfigError

#: ``_target_`` keys that are Hydra's, not the callable's
_HYDRA_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}
#: options every AstroBaseModel family accepts through ``**hparams`` (mixins) or the CLI composes in
_MODEL_OPTIONS = {"compile", "compile_backend", "gradient_checkpointing", "num_threads", "augmentation",
                  "optimizer", "scheduler"}

#: keys (last path element) that must be positive integers (lists: every element)
_POSITIVE_INT = {
    "hidden_dim", "num_layers", "heads", "code_dim", "kernel_size", "spatial_k", "graph_layers", "num_bands",
    "photometric_layers", "k", "batch_size", "grid", "n_stars", "n_objects", "n_particles", "n_clouds",
    "n_points", "n_points_generated", "n_clusters", "min_size", "max_size", "max_length", "min_good_epochs",
    "min_nodes", "max_queries", "min_context", "num_centroids", "spectral_channels", "spectrum_rebin",
    "n_trials", "patience", "accumulate_grad_batches", "log_every_n_steps",
}
#: keys that must be non-negative integers
_NON_NEGATIVE_INT = {"num_workers", "n_asterisms", "n_field", "seed", "min_epochs", "n_startup_trials",
                     "pruner_startup_trials", "pruner_warmup_epochs", "max_retry"}
#: keys that must be a fraction in [0, 1)
_FRACTION = {"dropout", "mask_rate", "label_smoothing", "anomaly_fraction", "spectra_fraction", "val", "test",
             "fraction"}
#: keys that must be a positive number
_POSITIVE = {"lr", "learning_rate", "max_lr", "boxsize", "smoothing", "scale_kpc", "timeout",
             "heartbeat_interval", "grace_period", "huber_delta", "min_period", "max_period", "samples_per_peak",
             "scales", "radius", "user_boxsize"}
#: keys that must be a non-negative number
_NON_NEGATIVE = {"weight_decay", "gradient_clip_val", "min_delta", "focal_gamma", "buffer",
                 "sigma_8", "outlier_threshold", "max_translation_kpc", "max_angle_deg"}

_ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu", "xla", "hpu")
_PRECISIONS = ("64", "64-true", "32", "32-true", "16", "16-mixed", "16-true", "bf16", "bf16-mixed", "bf16-true",
               "transformer-engine", "auto")


def check_config(cfg: Any, command: str) -> None:
    """Validate the composed config of one job before anything is built; raises one ConfigError line
    naming the key. ``command``: train | evaluate | hpo | predict."""
    _check_added_keys(cfg, command)
    for path, value in _leaves(cfg):
        _check_value(path, value)
    _check_trainer(cfg)
    _check_hpo(cfg, command)
    _check_split(cfg)
    _check_paths(cfg)
    _check_targets(cfg)
    _check_optional_packages(cfg)
    if command in ("train", "hpo"):
        _check_compatible(cfg)
    _check_hardware(cfg)


#: targets that need an optional extra: class name -> (modules, any one of which works; the extra)
_OPTIONAL = {
    "TensorBoardLogger": (("tensorboard", "tensorboardX"), "tensorboard"),
    "MLFlowLogger": (("mlflow",), "mlflow"),
    "WandbLogger": (("wandb",), "wandb"),
}


def _check_optional_packages(cfg: Any) -> None:
    """A logger whose package is not installed: one line with the pip command (not Lightning's error)."""
    import importlib.util

    for group in ("logger", "callbacks"):
        node = cfg.get(group)
        if not node or not hasattr(node, "items"):
            continue
        for name, sub in node.items():
            if sub is None or not hasattr(sub, "get") or not sub.get("_target_"):
                continue
            cls = str(sub.get("_target_")).rsplit(".", 1)[-1]
            if cls in _OPTIONAL:
                modules, extra = _OPTIONAL[cls]
                if not any(importlib.util.find_spec(m) is not None for m in modules):
                    raise ConfigError(f"{group}.{name} ({cls}) needs the {modules[0]} package: "
                                      f"pip install \"astrolab[{extra}]\" (or choose another {group}, e.g. "
                                      f"{group}=csv)" if group == "logger" else
                                      f"{group}.{name} ({cls}) needs the {modules[0]} package: "
                                      f"pip install \"astrolab[{extra}]\"")


def _check_compatible(cfg: Any) -> None:
    """An incompatible model/dataset/task stops before the first trial (one line naming both choices)."""
    if not all(cfg.get(g) is not None and "_target_" in cfg.get(g) for g in ("model", "dataset", "task")):
        return
    from astrolab.training.build import check_compatible
    from astrolab.utils.runs import hydra_choices

    check_compatible(cfg, hydra_choices())


# -- walking the config ---------------------------------------------------------------------------------
def _leaves(cfg: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        keys = list(cfg.keys())
        for k in keys:
            path = f"{prefix}{k}"
            if path == "hydra" or str(k).startswith("_"):
                continue
            if OmegaConf.is_missing(cfg, k):
                continue
            try:
                child = cfg[k]
            except Exception:  # an interpolation resolved later (${hydra:...}) or reported where it is used
                continue
            if isinstance(child, (DictConfig, ListConfig)) and not _numeric_list(child):
                yield from _leaves(child, f"{path}.")
            else:
                try:
                    yield path, OmegaConf.to_container(child, resolve=True) if isinstance(child, ListConfig) else child
                except Exception:
                    continue


def _numeric_list(node: Any) -> bool:
    from omegaconf import ListConfig

    return isinstance(node, ListConfig) and all(not hasattr(v, "keys") for v in node)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def _example(key: str) -> str:
    return {"dropout": "0.1", "lr": "0.001", "hidden_dim": "64", "val": "0.15", "test": "0.15", "n_trials": "20",
            "timeout": "3600", "batch_size": "64", "num_layers": "2", "heads": "4", "k": "16"}.get(key, "")


def _fix(path: str, want: str) -> str:
    key = path.rsplit(".", 1)[-1]
    ex = _example(key)
    return f"give {want}" + (f", e.g. {path}={ex}" if ex else "")


#: arguments that flow from the data module, never set in a config
_FROM_DATA = {"task", "num_features", "num_classes", "task_kind", "fixed", "evaluate_all", "task_name"}


# -- value rules ---------------------------------------------------------------------------------------
def _check_value(path: str, value: Any) -> None:
    key = path.rsplit(".", 1)[-1]
    if path.startswith(("trainer.", "hpo.", "hydra.")):
        return  # trainer and hpo keys have their own rules (_check_trainer, _check_hpo)
    if value is None:
        return
    items = value if isinstance(value, list) else [value]
    if key in _POSITIVE_INT:
        for v in items:
            if not _is_int(v) or v < 1:
                raise ConfigError(f"{path}={_show(value)} is not a positive integer; {_fix(path, 'a whole number >= 1')}")
    elif key in _NON_NEGATIVE_INT:
        for v in items:
            if not _is_int(v) or v < 0:
                raise ConfigError(f"{path}={_show(value)} is not a non-negative integer; "
                                  f"{_fix(path, 'a whole number >= 0')}")
    elif key in _FRACTION and not isinstance(value, list):
        if not _is_number(value) or not 0 <= float(value) < 1:
            raise ConfigError(f"{path}={_show(value)} must be a number in [0, 1); {_fix(path, 'a fraction')}")
    elif key in _POSITIVE:
        for v in items:
            if not _is_number(v) or float(v) <= 0:
                raise ConfigError(f"{path}={_show(value)} must be a number > 0; {_fix(path, 'a positive number')}")
    elif key in _NON_NEGATIVE:
        for v in items:
            if not _is_number(v) or float(v) < 0:
                raise ConfigError(f"{path}={_show(value)} must be a number >= 0; {_fix(path, 'a number >= 0')}")


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def _check_trainer(cfg: Any) -> None:
    tr = cfg.get("trainer")
    if tr is None:
        return
    me = tr.get("max_epochs")
    if me is not None and (not _is_int(me) or (me < 1 and me != -1)):
        raise ConfigError(f"trainer.max_epochs={_show(me)} must be a whole number >= 1 (or -1: no limit); "
                          "e.g. trainer.max_epochs=50")
    mi = tr.get("min_epochs")
    if mi is not None and (not _is_int(mi) or mi < 0):
        raise ConfigError(f"trainer.min_epochs={_show(mi)} must be a whole number >= 0; e.g. trainer.min_epochs=1")
    if _is_int(me) and _is_int(mi) and me != -1 and mi > me:
        raise ConfigError(f"trainer.min_epochs={mi} is larger than trainer.max_epochs={me}; lower trainer.min_epochs")
    for key in ("accumulate_grad_batches", "log_every_n_steps", "check_val_every_n_epoch"):
        v = tr.get(key)
        if v is not None and (not _is_int(v) or v < 1):
            raise ConfigError(f"trainer.{key}={_show(v)} must be a whole number >= 1")
    gc = tr.get("gradient_clip_val")
    if gc is not None and (not _is_number(gc) or gc < 0):
        raise ConfigError(f"trainer.gradient_clip_val={_show(gc)} must be a number >= 0 (or null: no clipping)")
    acc = tr.get("accelerator")
    if acc is not None and str(acc) not in _ACCELERATORS:
        close = difflib.get_close_matches(str(acc), _ACCELERATORS, n=1)
        hint = f" (did you mean trainer.accelerator={close[0]}?)" if close else ""
        raise ConfigError(f"unknown trainer.accelerator '{acc}'{hint}; choose one of: {', '.join(_ACCELERATORS)}")
    prec = tr.get("precision")
    if prec is not None and str(prec) not in _PRECISIONS:
        raise ConfigError(f"unknown trainer.precision '{prec}'; choose one of: 32-true, bf16-mixed, 16-mixed, "
                          "64-true, auto")
    strategy = tr.get("strategy")
    if isinstance(strategy, str) and strategy != "auto":
        try:
            from lightning.pytorch.strategies import StrategyRegistry

            known = sorted(set(StrategyRegistry.available_strategies()) | {"auto", "ddp", "ddp_spawn", "fsdp"})
        except Exception:  # pragma: no cover - Lightning always has its registry
            known = []
        if known and strategy not in known:
            close = difflib.get_close_matches(strategy, known, n=1)
            hint = f" (did you mean trainer.strategy={close[0]}?)" if close else ""
            raise ConfigError(f"unknown trainer.strategy '{strategy}'{hint}; use auto, ddp, ddp_spawn, fsdp or "
                              "another Lightning strategy name")
    dev = tr.get("devices")
    if dev is not None and not (_is_int(dev) and (dev >= 1 or dev == -1)) and str(dev) != "auto" \
            and not (isinstance(dev, str) and re.fullmatch(r"\d+(,\d+)*,?", dev)) and not _is_int_list(dev):
        raise ConfigError(f"trainer.devices={_show(dev)} must be a number of devices >= 1, -1 (all), auto or a "
                          "list of device indices; e.g. trainer.devices=1")


def _is_int_list(v: Any) -> bool:
    from omegaconf import ListConfig

    return isinstance(v, (list, ListConfig)) and all(_is_int(x) and x >= 0 for x in v)


def _check_hpo(cfg: Any, command: str) -> None:
    hpo = cfg.get("hpo")
    if not hpo or not hasattr(hpo, "get"):
        return
    n = hpo.get("n_trials")
    if n is not None and (not _is_int(n) or n < 1):
        raise ConfigError(f"hpo.n_trials={_show(n)} must be a whole number >= 1; e.g. hpo.n_trials=20")
    t = hpo.get("timeout")
    if t is not None and (not _is_number(t) or t <= 0):
        raise ConfigError(f"hpo.timeout={_show(t)} must be a number of seconds > 0 (or null: no limit); "
                          "e.g. hpo.timeout=3600")
    storage = hpo.get("storage")
    if storage is not None and not (isinstance(storage, str) and (_RDB_URL.match(storage)
                                                                  or storage.startswith("journal:"))):
        raise ConfigError(f"hpo.storage={_show(storage)} is not an Optuna storage URL; use sqlite:///study.db, "
                          "postgresql://user:password@host/db or journal:/path/study.log (null: study.db in the "
                          "study folder)")
    missing = storage_folder_error(storage) if storage is not None else None
    if missing:
        raise ConfigError(missing)
    params = hpo.get("params")
    if params is not None and hasattr(params, "items"):
        for name, spec in _flat_items(params):
            for fn in re.findall(r"([A-Za-z_][A-Za-z_0-9]*)\s*\(", str(spec)):
                if fn not in _SWEEP_FUNCTIONS:
                    close = difflib.get_close_matches(fn, sorted(_SWEEP_FUNCTIONS), n=1)
                    hint = f" (did you mean {close[0]}?)" if close else ""
                    raise ConfigError(f"hpo.params.{name}: unknown distribution '{fn}'{hint}; use choice(a, b), "
                                      "range(lo, hi, step), interval(lo, hi), int(interval(lo, hi)) or "
                                      "tag(log, interval(lo, hi))")


def storage_file(url: str):
    """The file of a SQLite or journal storage URL (``None`` for a server URL or an in-memory SQLite),
    as SQLAlchemy reads a SQLite URL (``sqlite:///rel.db`` relative, ``sqlite:////abs.db`` absolute)."""
    from pathlib import Path

    if url.startswith("journal:"):
        return Path(url[len("journal:"):]).expanduser()
    if not re.match(r"^sqlite(\+\w+)?://", url):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def storage_folder_error(url: str) -> str | None:
    """The one-line refusal of a SQLite or journal file in a folder that does not exist (astrolab never
    creates a folder a storage URL names: a typo would otherwise start a new study in a new folder)."""
    path = storage_file(str(url))
    if path is None or path.parent.is_dir():
        return None
    parent = path.parent.resolve()
    return (f"hpo.storage={url}: the folder {parent} does not exist; create it (mkdir -p {parent}) or name a "
            "file in an existing folder (null: study.db in the study folder)")


_RDB_URL = re.compile(r"^(sqlite|postgresql|postgres|mysql|mariadb|oracle|mssql|cockroachdb)(\+\w+)?://")
#: functions of Hydra's sweep grammar (https://hydra.cc/docs/advanced/override_grammar/extended/)
_SWEEP_FUNCTIONS = {"choice", "range", "interval", "int", "float", "str", "bool", "tag", "log", "glob", "sort",
                    "shuffle", "json_str", "extend_list"}


def _flat_items(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in node.items():
        if hasattr(v, "items"):
            yield from _flat_items(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _check_split(cfg: Any) -> None:
    ds = cfg.get("dataset")
    split = ds.get("split") if ds is not None and hasattr(ds, "get") else None
    if split is None or not hasattr(split, "get"):
        return
    val, test = split.get("val"), split.get("test")
    if _is_number(val) and _is_number(test) and float(val) + float(test) >= 1:
        raise ConfigError(f"dataset.split.val={val} + dataset.split.test={test} leave no training data; "
                          "keep their sum below 1, e.g. dataset.split.val=0.15 dataset.split.test=0.15")


#: data modules that read a folder of files as ``dataset.path``
_FOLDER_READERS = ("LightCurveDataModule",)
#: data modules that read a HATS catalog directory as ``dataset.path``
_HATS_READERS = ("GaiaDataModule",)


def _check_paths(cfg: Any) -> None:
    """A catalog path that is a folder (where a file is expected) names the key, not IsADirectoryError."""
    from pathlib import Path

    ds = cfg.get("dataset")
    if ds is None or not hasattr(ds, "get"):
        return
    target = str(ds.get("_target_", "") or "").rsplit(".", 1)[-1]
    if not target:
        return  # evaluate/predict: the checkpoint's data module decides (some read folders)
    for key in ("path", "objects", "spectra_path"):
        try:
            value = ds.get(key)
        except Exception:
            continue
        if not isinstance(value, str) or not value:
            continue
        p = Path(value).expanduser()
        if p.is_dir() and key == "path" and target in _HATS_READERS:
            from astrolab.data.hats import is_hats_catalog, not_hats_error

            if not is_hats_catalog(p):
                raise ConfigError(str(not_hats_error(p)))
            continue
        if p.is_dir() and not (key == "path" and target in _FOLDER_READERS):
            raise ConfigError(f"dataset.{key}='{value}' is a folder; give a catalog file (CSV, ECSV, FITS, VOTable "
                              f"or Parquet), e.g. dataset.{key}={p / 'catalog.fits'}")


# -- keys a target takes -----------------------------------------------------------------------------------
def _target_nodes(cfg: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    from omegaconf import DictConfig

    if not isinstance(cfg, DictConfig):
        return
    if "_target_" in cfg:
        yield prefix.rstrip("."), cfg
    for k in cfg.keys():
        if prefix == "" and k in ("hydra", "hpo"):
            continue
        try:
            child = cfg._get_node(k)
        except Exception:
            continue
        if isinstance(child, DictConfig) and not child._is_none() and not child._is_missing():
            yield from _target_nodes(child, f"{prefix}{k}.")


def accepted_keys(target: str) -> set[str] | None:
    """Keyword arguments the callable ``target`` takes (``None``: it takes any keyword)."""
    from hydra.utils import get_object

    try:
        obj = get_object(target)
    except Exception:
        return None
    accepted: set[str] = set()
    classes = inspect.getmro(obj) if inspect.isclass(obj) else (obj,)
    for cls in classes:
        init = cls.__dict__.get("__init__") if inspect.isclass(obj) else cls
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters
        except (TypeError, ValueError):
            return None
        accepted |= {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            return accepted - {"self"}
        if getattr(cls, "__module__", "") == "astrolab.models.core" and cls.__name__ == "AstroBaseModel":
            return (accepted | _MODEL_OPTIONS) - {"self"}
        if getattr(cls, "__module__", "").startswith("astrolab.tasks"):
            return None  # tasks keep unknown options (Task.options)
    return None


def _trusted(target: str, patterns: tuple[str, ...]) -> bool:
    """``target`` matches the execution whitelist (``pkg.*``: anything below ``pkg``; else exact), the
    same rule Hydra's instantiate applies."""
    return any(target.startswith(p[:-1]) if p.endswith(".*") else target == p for p in patterns)


def _check_targets(cfg: Any) -> None:
    from astrolab.utils.instantiate import whitelist

    extra = cfg.get("extra_targets") if hasattr(cfg, "get") else None
    patterns = whitelist() + tuple(str(p) for p in (extra or ()))
    for path, node in _target_nodes(cfg):
        target = str(node.get("_target_"))
        # before anything is imported or built: a config cannot run code the whitelist does not allow
        if not _trusted(target, patterns):
            where = f"{path}._target_" if path else "_target_"
            raise ConfigError(f"{where}={target} is not a target astrolab configs may build (allowed: astrolab.*, "
                              "torch.optim.*, torch.nn.*, Lightning callbacks/loggers, torchmetrics.*, optuna "
                              "samplers/pruners); if it is your own code, trust its package with "
                              "extra_targets=[mypackage.*]")
        keys = accepted_keys(target)
        if keys is None:
            continue
        for k in node.keys():
            if k in _HYDRA_KEYS or k in keys:
                continue
            where = f"{path}.{k}" if path else str(k)
            close = difflib.get_close_matches(str(k), sorted(keys), n=1)
            hint = f"did you mean {path}.{close[0]}? " if close else ""
            raise ConfigError(f"{where}: {target.rsplit('.', 1)[-1]} takes no argument '{k}'; {hint}"
                              f"remove it (its arguments: {', '.join(sorted(keys - _FROM_DATA)[:20])})")


def _added_overrides() -> list[tuple[str, str]]:
    """``(key, value)`` of the ``+key=value`` / ``++key=value`` overrides of the running Hydra job."""
    try:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():
            return []
        task = list(HydraConfig.get().overrides.task)
        choices = dict(HydraConfig.get().runtime.choices)
    except Exception:  # pragma: no cover - outside Hydra
        return []
    out = []
    for o in task:
        m = re.match(r"^\+\+?([^=~]+)=(.*)$", str(o))
        if not m:
            continue
        key = m.group(1)
        if key in choices or key.split("@", 1)[0] in choices or key.startswith("hydra."):
            continue  # a config group choice (+experiment=x), Hydra's own settings
        out.append((key, m.group(2)))
    return out


def _check_added_keys(cfg: Any, command: str = "train") -> None:
    from omegaconf import DictConfig, OmegaConf

    for key, _value in _added_overrides():
        parent_path, _, leaf = key.rpartition(".")
        parent = OmegaConf.select(cfg, parent_path) if parent_path else cfg
        if isinstance(parent, DictConfig) and "_target_" in parent:
            keys = accepted_keys(str(parent._target_))
            if keys is None or leaf in keys:
                continue
            close = difflib.get_close_matches(leaf, sorted(keys), n=1)
            hint = f"did you mean {parent_path}.{close[0]}?" if close else \
                f"{parent_path} takes: {', '.join(sorted(keys - _FROM_DATA)[:20])}"
            raise ConfigError(f"+{key}: nothing reads {key}; {hint}")
        child = OmegaConf.select(cfg, key)
        if parent_path in ("callbacks", "logger") and isinstance(child, DictConfig) and "_target_" in child:
            continue  # a whole callback / logger added on the command line
        siblings = [f"{parent_path}.{k}" if parent_path else str(k) for k in
                    (parent.keys() if isinstance(parent, DictConfig) else []) if str(k) not in (leaf, "hydra")]
        close = difflib.get_close_matches(key, siblings, n=1)
        hint = f"did you mean {close[0]}?" if close else f"see `astrolab {command} --cfg job` for the keys"
        raise ConfigError(f"+{key}: nothing reads {key}; {hint}")


# -- hardware -------------------------------------------------------------------------------------------
def _check_hardware(cfg: Any) -> None:
    tr = cfg.get("trainer")
    if tr is None:
        return
    acc = str(tr.get("accelerator") or "auto")
    dev = tr.get("devices")
    if acc not in ("gpu", "cuda", "auto") and not (acc == "mps"):
        return
    import torch

    n_gpu = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if acc == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConfigError("trainer.accelerator=mps but no Apple GPU is available; use trainer.accelerator=auto")
        return
    if acc in ("gpu", "cuda") and n_gpu == 0:
        raise ConfigError(f"trainer.accelerator={acc} but no CUDA GPU is visible to this process "
                          f"(torch {torch.__version__}); use trainer.accelerator=cpu (or auto), or install a "
                          "CUDA build of torch")
    wanted = _n_devices(dev)
    if wanted is None or wanted <= 1:
        return
    if n_gpu == 0 and acc == "auto":
        raise ConfigError(f"trainer.devices={_show(dev)} but no GPU is visible; use trainer.devices=1 "
                          f"(several CPU processes: trainer.accelerator=cpu trainer.devices={wanted})")
    if n_gpu and wanted > n_gpu:
        raise ConfigError(f"trainer.devices={_show(dev)} but this machine has {n_gpu} GPU"
                          f"{'s' if n_gpu > 1 else ''}; use trainer.devices={n_gpu} (or -1: all of them)")


def _n_devices(dev: Any) -> int | None:
    if _is_int(dev):
        return None if dev == -1 else dev
    if isinstance(dev, str) and re.fullmatch(r"\d+(,\d+)*,?", dev):
        parts = [p for p in dev.split(",") if p]
        return len(parts) if len(parts) > 1 or dev.endswith(",") else int(parts[0])
    try:
        return len(list(dev))
    except TypeError:
        return None


# -- keys Hydra refused ----------------------------------------------------------------------------------
_NOT_IN_STRUCT = re.compile(r"Could not override '([^']+)'|Key '([^']+)' (?:is not in struct|not in)")


def refused_key(message: str) -> str | None:
    """The dotted key of Hydra's "Could not override 'model.hidden_dimm'" message, else ``None``."""
    m = _NOT_IN_STRUCT.search(message)
    if not m:
        return None
    return m.group(1) or m.group(2)


def known_keys(command: str, overrides: list[str], config_dir: str | None = None) -> list[str]:
    """Every dotted key of the composed ``command`` config (with the given group overrides)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import DictConfig, ListConfig

    from astrolab.config import conf_dir

    import warnings

    GlobalHydra.instance().clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
                cfg = compose(config_name=command, overrides=overrides)
    finally:
        GlobalHydra.instance().clear()

    out: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        for k in node.keys():
            if prefix == "" and k == "hydra":
                continue
            path = f"{prefix}{k}"
            out.append(path)
            try:
                child = node._get_node(k)
            except Exception:
                continue
            if isinstance(child, DictConfig) and not child._is_none() and not child._is_missing():
                walk(child, f"{path}.")
            elif isinstance(child, ListConfig):
                continue

    walk(cfg, "")
    return out


_UNKNOWN_FUNCTION = re.compile(r"Error parsing override '([^=']+)=[^']*'.*Unknown function '(\w+)'", re.S)


_SEARCH_PARAM = re.compile(r"'\+*(hpo\.params\.([^=' ]+))=([^']*)'")


_APPEND_EXISTING = re.compile(r"Could not append to config\. An item is already at '([^']+)'")
_APPEND_FIX = re.compile(r"remove \+ prefix: '([^']+)'")
_ADD_CHOSEN_GROUP = re.compile(r"Multiple values for ([\w/.]+)\. To override a value use 'override [\w/.]+: ([^']+)'"
                               r".*?Conflicting choices: '[^']*' from 'command line' and '([^']+)'", re.S)


def override_error_message(message: str) -> str | None:
    """One line for an override Hydra could not parse or apply: a misspelt sweep function, one
    parameter of a search space written as a dotted path (its keys are config paths themselves), or a ``+``
    in front of a key or config group that exists already."""
    p = _SEARCH_PARAM.search(message)
    if p and ("requires --multirun" in message or "Could not override" in message):
        return (f"{p.group(1)}: the keys of hpo.params are config paths; override one parameter of the search "
                f"space as 'hpo.params={{{p.group(2)}:\"{p.group(3)}\"}}' (quoted; the other parameters stay)")
    a = _APPEND_EXISTING.search(message)
    if a:  # +key=value for a key the config has
        fix = _APPEND_FIX.search(message)
        value = fix.group(1) if fix else f"{a.group(1)}=..."
        return f"{a.group(1)} exists already: set it with {value} (without +)"
    g = _ADD_CHOSEN_GROUP.search(message)
    if g:  # +group=choice for a group the defaults already choose
        return (f"{g.group(1)} is chosen already ({g.group(1)}={g.group(3)}): choose another with "
                f"{g.group(1)}={g.group(2)} (without +)")
    m = _UNKNOWN_FUNCTION.search(message)
    if not m:
        return None
    key, fn = m.group(1).lstrip("+~"), m.group(2)
    close = difflib.get_close_matches(fn, sorted(_SWEEP_FUNCTIONS), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return (f"{key}: unknown distribution '{fn}'{hint}; use choice(a, b), range(lo, hi, step), interval(lo, hi), "
            "int(interval(lo, hi)) or tag(log, interval(lo, hi))")


def unknown_key_message(key: str, command: str, args: list[str]) -> str:
    """``unknown key 'model.hidden_dimm' (did you mean model.hidden_dim?)`` with the keys of its node."""
    from astrolab.config import GROUPS

    group_args = [a for a in args if re.match(r"^[a-z_/]+=[^,]*$", a) and "." not in a.split("=", 1)[0]]
    try:
        keys = known_keys(command, group_args)
    except Exception:
        try:
            keys = known_keys(command, [])
        except Exception:
            keys = []
    parent, _, leaf = key.rpartition(".")
    top = key.split(".", 1)[0]
    if top in GROUPS and top not in keys:
        nested = [k for k in keys if k.endswith("." + key)]  # optimizer.lr -> model.optimizer.lr
        if nested:
            return (f"unknown key '{key}' (did you mean {nested[0]}?); see `astrolab {command} --cfg job` "
                    "for every key")
        return (f"unknown key '{key}': no {top} is chosen for `astrolab {command}`; pick one first "
                f"({top}=NAME {key}=...)")
    siblings = [k.rpartition(".")[2] for k in keys if k.rpartition(".")[0] == parent
                and not k.rpartition(".")[2].startswith("_")]
    cutoff = 0.6 if len(leaf) > 3 else 0.75  # a short name is "close" to too many others
    close = [f"{parent}.{c}" if parent else c for c in difflib.get_close_matches(leaf, siblings, n=1, cutoff=cutoff)]
    if not close:  # the same name elsewhere (dataset.hidden_dim -> model.hidden_dim), or a near path
        close = [k for k in keys if k.rsplit(".", 1)[-1] == leaf][:1] or \
            difflib.get_close_matches(key, [k for k in keys if k.count(".") == key.count(".")
                                            and k.rpartition(".")[0] != parent], n=1, cutoff=0.8)
    if close:
        return f"unknown key '{key}' (did you mean {close[0]}?); see `astrolab {command} --cfg job` for every key"
    if siblings:
        return f"unknown key '{key}'; {parent or 'the top level'} has: {', '.join(siblings[:25])}"
    return f"unknown key '{key}'; see `astrolab {command} --cfg job` for every key"
