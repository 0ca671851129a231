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


@pytest.mark.parametrize("model,dataset", list(itertools.product(group_choices("model"), group_choices("dataset"))))
def test_every_combination_composes_and_is_checked(model, dataset, tmp_path):
    """Every model x dataset composes; with every task the pair either passes the start-up check or
    fails with a one-line IncompatibleError (never anything else)."""
    from astrolab.config import load_group_option

    cfg = _compose([f"model={model}", f"dataset={dataset}", f"paths.run_dir={tmp_path}"])
    assert cfg.model._target_ and cfg.dataset._target_ and cfg.task._target_
    assert "num_features" not in cfg.model  # sizes flow from the data module
    OmegaConf.set_struct(cfg, False)
    n_ok = 0
    for task in group_choices("task"):
        cfg.task = load_group_option("task", task)
        try:
            model_cls, data_cls, task_cls = check_compatible(cfg)
        except IncompatibleError as exc:
            msg = str(exc)
            assert "\n" not in msg and "model=" in msg
            continue
        n_ok += 1
        assert data_cls.data_kind in model_cls.data_kinds
        assert cfg.task.get("name", task_cls.name) in model_cls.supported_tasks
    assert n_ok == 0 or n_ok <= len(group_choices("task"))


def test_every_model_has_a_compatible_dataset_and_task(tmp_path):
    from astrolab.config import load_group_option

    datasets = {d: load_group_option("dataset", d) for d in group_choices("dataset")}
    tasks = {t: load_group_option("task", t) for t in group_choices("task")}
    for model in group_choices("model"):
        found = False
        cfg = _compose([f"model={model}", f"paths.run_dir={tmp_path}"])
        OmegaConf.set_struct(cfg, False)
        for dataset in datasets.values():
            cfg.dataset = dataset
            for task in tasks.values():
                cfg.task = task
                try:
                    check_compatible(cfg)
                    found = True
                except IncompatibleError:
                    pass
        assert found, f"model={model} fits no dataset/task"


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


def test_every_model_argument_is_a_config_key(tmp_path):
    """Each constructor argument of a model family is in its config, so `model.<arg>=` works without `+`."""
    import importlib
    import inspect

    for model in group_choices("model"):
        cfg = _compose([f"model={model}", f"paths.run_dir={tmp_path}"])
        module, name = cfg.model._target_.rsplit(".", 1)
        cls = getattr(importlib.import_module(module), name)
        args = [p.name for p in inspect.signature(cls.__init__).parameters.values()
                if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
                and p.name not in ("self", "task", "num_features", "num_classes", "num_object_features")]
        assert args, model
        missing = [a for a in args if a not in cfg.model]
        assert not missing, f"conf/model/{model}.yaml lacks {missing}"
