"""Where the shipped Hydra configs live, and light-weight queries on them (no torch imported).

The ``conf/`` tree at the repository top level is installed as the package ``astrolab.conf``, so an
installed ``astrolab`` finds its configs without the source tree.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

#: config groups a user picks from on the command line
GROUPS = ("model", "dataset", "task", "trainer", "hpo", "callbacks", "logger", "paths", "debug", "experiment",
          "optimizer", "scheduler", "augmentation")
#: primary configs, one per command
COMMANDS = ("train", "pretrain", "evaluate", "hpo", "predict")


@lru_cache(maxsize=1)
def conf_dir() -> Path:
    """Absolute path of the shipped config tree."""
    import importlib.util

    spec = importlib.util.find_spec("astrolab.conf")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            if (Path(loc) / "train.yaml").exists():
                return Path(loc)
    here = Path(__file__).resolve().parent.parent / "conf"  # running from a source checkout
    return here


def group_choices(group: str, extra_dirs: tuple[Path, ...] | list[Path] = ()) -> list[str]:
    """Option names of a config group (``model`` → ``['gat', 'gcn', …]``), with the options of user
    config folders (``--config-dir``, ``hydra.searchpath``) in ``extra_dirs``."""
    names: set[str] = set()
    for root in (conf_dir(), *extra_dirs):
        folder = Path(root) / group
        if folder.is_dir():
            names |= {p.relative_to(folder).with_suffix("").as_posix() for p in folder.rglob("*.yaml")
                      if not any(part.startswith("_") for part in p.relative_to(folder).parts)}
    return sorted(names)


def user_config_dirs(args: list[str]) -> list[Path]:
    """Config folders a command line adds: ``--config-dir DIR`` / ``-cd DIR`` and
    ``hydra.searchpath=[file://DIR,pkg://module]`` (the folders Hydra searches for group options)."""
    import importlib.util

    dirs: list[str] = []
    for i, a in enumerate(args):
        if a in ("--config-dir", "-cd") and i + 1 < len(args):
            dirs.append(args[i + 1])
        elif a.startswith("--config-dir="):
            dirs.append(a.split("=", 1)[1])
        elif a.lstrip("+").startswith("hydra.searchpath="):
            value = a.split("=", 1)[1].strip().strip("[]")
            dirs += [v.strip().strip("'\"") for v in value.split(",") if v.strip()]
    out: list[Path] = []
    for d in dirs:
        if d.startswith("pkg://"):
            spec = importlib.util.find_spec(d[len("pkg://"):].replace("/", "."))
            if spec is not None and spec.submodule_search_locations:
                out += [Path(loc) for loc in spec.submodule_search_locations]
            continue
        d = d[len("file://"):] if d.startswith("file://") else d
        out.append(Path(d).expanduser())
    return out


def load_group_option(group: str, name: str):
    """The ``DictConfig`` of ``conf/<group>/<name>.yaml`` (raises ConfigError for unknown names)."""
    from omegaconf import OmegaConf

    path = conf_dir() / group / f"{name}.yaml"
    if not path.exists():
        from astrolab.errors import ConfigError

        raise ConfigError(unknown_choice_message(group, name))
    cfg = OmegaConf.load(path)
    cfg.pop("defaults", None)
    return cfg


def unknown_choice_message(group: str, name: str, extra_dirs: tuple[Path, ...] | list[Path] = ()) -> str:
    import difflib

    choices = group_choices(group, extra_dirs)
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f" (did you mean {group}={close[0]}?)" if close else ""
    return f"unknown {group} '{name}'{hint}; choose one of: {', '.join(choices)}"
