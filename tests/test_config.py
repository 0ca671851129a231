"""Config composition with Hydra's compose API: every model x dataset x task choice composes, and
each pair either builds or fails at start with a one-line IncompatibleError."""

from __future__ import annotations

import itertools

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from astrolab.config import conf_dir, group_choices
from astrolab.errors import IncompatibleError
from astrolab.training.build import check_compatible
from astrolab.utils.instantiate import instantiate
from astrolab.utils.runs import register_resolvers

register_resolvers()


def _compose(overrides):
    with initialize_config_dir(config_dir=str(conf_dir())):
        return compose(config_name="train", overrides=overrides)


@pytest.mark.parametrize("model,dataset,task", list(itertools.product(
    group_choices("model"), group_choices("dataset"), group_choices("task"))))
def test_every_combination_composes_and_is_checked(model, dataset, task, tmp_path):
    cfg = _compose([f"model={model}", f"dataset={dataset}", f"task={task}", f"paths.run_dir={tmp_path}"])
    assert cfg.model._target_ and cfg.dataset._target_ and cfg.task._target_
    assert "num_features" not in cfg.model  # sizes flow from the data module
    try:
        model_cls, data_cls, task_cls = check_compatible(cfg)
    except IncompatibleError as exc:
        msg = str(exc)
        assert "\n" not in msg and ("model=" in msg)
        return
    assert data_cls.data_kind in model_cls.data_kinds
    assert task_cls.name in model_cls.supported_tasks


@pytest.mark.parametrize("model", group_choices("model"))
def test_gaia_models_build_with_sizes_from_data(model, tmp_path):
    cfg = _compose([f"model={model}", "dataset=gaia", f"paths.run_dir={tmp_path}"])
    try:
        check_compatible(cfg)
    except IncompatibleError:
        pytest.skip(f"model={model} is not a Gaia node model")
    task = instantiate(cfg.task, num_classes=7, class_names=list("ABCDEFG"), class_weights=None)
    net = instantiate(cfg.model, task=task, num_features=7)
    assert net.num_features == 7 and net.num_outputs == 7
    opt = net.configure_optimizers()
    assert type(opt).__name__ == "AdamW"


def test_dataset_columns_override_without_plus(tmp_path):
    cfg = _compose(["dataset.columns.ra=RA_ICRS", "dataset.target=member", f"paths.run_dir={tmp_path}"])
    assert cfg.dataset.columns.ra == "RA_ICRS" and cfg.dataset.target == "member"


def test_experiment_and_debug_configs_compose(tmp_path):
    for extra in (["experiment=gaia_clusters"], ["debug=fast"], ["debug=overfit"], ["trainer=cpu"]):
        cfg = _compose([*extra, f"paths.run_dir={tmp_path}"])
        OmegaConf.to_container(cfg, resolve=True)
    cfg = _compose(["debug=fast", f"paths.run_dir={tmp_path}"])
    assert cfg.trainer.max_epochs <= 3 and cfg.callbacks.early_stopping is None


def test_whitelist_refuses_foreign_targets():
    from astrolab.errors import ConfigError

    with pytest.raises(ConfigError):
        instantiate({"_target_": "os.system", "command": "true"})
