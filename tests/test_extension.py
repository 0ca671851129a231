"""Extension the Hydra way: a user config folder (``--config-dir`` / ``hydra.searchpath``) adds a model and
a logger that the CLI accepts; every model family has a default task; ``debug=fast`` composes for every
dataset; loggers beyond CSV name their extra when missing; run figures reach loggers that take images."""

from __future__ import annotations

import warnings

import pytest
import torch  # noqa: F401  (imported at collection: the first test does not pay for them)

import astrolab.data.datamodules  # noqa: F401
import astrolab.models  # noqa: F401


@pytest.fixture
def user_conf(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "tiny_gat.yaml").write_text("defaults:\n  - gat\n  - _self_\n\nhidden_dim: 8\nheads: 2\n")
    (tmp_path / "logger").mkdir()
    (tmp_path / "logger" / "mine.yaml").write_text(
        "defaults:\n  - csv\n  - _self_\n\nsecond:\n  _target_: lightning.pytorch.loggers.CSVLogger\n"
        "  save_dir: ${paths.run_dir}\n  name: second\n  version: ''\n")
    return tmp_path


@pytest.mark.parametrize("how", ["config-dir", "searchpath"])
def test_command_help_lists_the_user_folder_options(monkeypatch, user_conf, how):
    """``astrolab train --config-dir DIR --help`` lists DIR's options next to the shipped ones."""
    import sys

    from astrolab.utils.runs import group_listing

    where = ["--config-dir", str(user_conf)] if how == "config-dir" else [f"hydra.searchpath=[file://{user_conf}]"]
    monkeypatch.setattr(sys, "argv", ["astrolab train", *where, "--help"])
    lines = dict(ln.split(": ", 1) for ln in group_listing().splitlines())
    assert "tiny_gat" in lines["model"].split(", ") and "gat" in lines["model"].split(", ")
    assert "mine" in lines["logger"].split(", ")
    monkeypatch.setattr(sys, "argv", ["astrolab train", "--help"])
    assert "tiny_gat" not in group_listing()


@pytest.mark.parametrize("how", ["config-dir", "searchpath"])
def test_user_folder_adds_a_model_and_a_logger(run_cli, user_conf, how):
    where = ["--config-dir", str(user_conf)] if how == "config-dir" else [f"hydra.searchpath=[file://{user_conf}]"]
    proc = run_cli("train", "model=tiny_gat", "logger=mine", *where, "--cfg", "job")
    assert proc.returncode == 0, proc.stderr
    assert "hidden_dim: 8" in proc.stdout and "name: second" in proc.stdout
    assert "EpochCSVLogger" in proc.stdout  # the shipped csv logger composed in by the user's defaults


def _compose(*overrides: str):
    from hydra import compose, initialize_config_dir

    from astrolab.config import conf_dir
    from astrolab.hpo.space import register_resolvers as register_hpo
    from astrolab.utils.runs import register_resolvers

    register_resolvers()
    register_hpo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
            return compose(config_name="train", overrides=list(overrides))


@pytest.mark.parametrize("model, dataset, task", [
    ("cosmic_web_gnn", "cosmic_web", "cosmic_web_classification"),
    ("graph_gnn", "clusters", "graph_classification"),
    ("pointnet", "galaxies", "point_classification"),
    ("temporal_gnn", "lightcurves", "time_series_classification"),
    ("multimodal", "sdss", "classification"),
    ("gat", "gaia", "node_classification"),
])
def test_every_family_has_a_default_task(model, dataset, task):
    from hydra.utils import get_class

    from astrolab.config_check import check_config

    cfg = _compose(f"model={model}", f"dataset={dataset}")
    # tasks are kind-level classes; the task config names which one a family picks by default
    assert (cfg.task.get("name") or get_class(cfg.task._target_).name) == task
    check_config(cfg, "train")  # compatible, every key read


@pytest.mark.parametrize("dataset, size_key", [("gaia", "n_stars"), ("lightcurves", "n_objects"),
                                               ("sdss", "n_stars"), ("cosmic_web", "n_stars"),
                                               ("galaxies", "n_stars"), ("clusters", "n_stars")])
def test_debug_fast_sizes_every_dataset(dataset, size_key):
    from astrolab.config_check import _check_targets

    cfg = _compose("debug=fast", f"dataset={dataset}")
    assert cfg.trainer.max_epochs == 3 and cfg.dataset[size_key] <= 3000
    _check_targets(cfg)  # lightcurves used to get n_stars, which it does not take


def test_a_missing_logger_package_names_the_extra(monkeypatch):
    import importlib.util

    from astrolab.config_check import check_config
    from astrolab.errors import ConfigError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(ConfigError, match=r'logger.mlflow \(MLFlowLogger\) needs the mlflow package: '
                                          r'pip install "astrolab\[mlflow\]"'):
        check_config(_compose("logger=mlflow"), "train")


def test_figures_reach_tensorboard(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    import numpy as np
    from lightning.pytorch.loggers import TensorBoardLogger

    from astrolab.plots import log_figures
    from astrolab.plots.common import figure, save

    fig = figure(figsize=(2, 2))
    fig.add_subplot(1, 1, 1).plot(np.arange(3))
    png = save(fig, tmp_path / "f.png")
    logger = TensorBoardLogger(save_dir=str(tmp_path), name="tb", version="")
    assert log_figures([logger], [png]) == 1
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
