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
COMMANDS = ("train", "evaluate", "hpo", "predict")


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


def group_choices(group: str) -> list[str]:
    """Option names of a config group (``model`` → ``['gat', 'gcn', …]``)."""
    folder = conf_dir() / group
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.rglob("*.yaml") if not p.name.startswith("_"))


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


def unknown_choice_message(group: str, name: str) -> str:
    import difflib

    choices = group_choices(group)
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f" (did you mean {group}={close[0]}?)" if close else ""
    return f"unknown {group} '{name}'{hint}; choose one of: {', '.join(choices)}"
