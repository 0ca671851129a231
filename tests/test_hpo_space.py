"""Search spaces: one grammar, parsed identically for the sweeper and the native runner."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from astrolab.config import conf_dir, group_choices

EXISTING = ("gcn", "gat", "sage", "gin")
FAMILIES = ("gcn", "gat", "sage", "gin", "graph_gnn", "pointnet", "cosmic_web_gnn", "temporal_gnn", "multimodal")


def _compose_train(*overrides):
    from hydra import compose, initialize_config_dir

    from astrolab.hpo.space import register_resolvers
    from astrolab.utils.runs import register_resolvers as run_resolvers

    run_resolvers()
    register_resolvers()
    with initialize_config_dir(config_dir=str(conf_dir())):
        return compose("train", list(overrides), return_hydra_config=True)


def test_every_family_has_a_space_file():
    assert set(FAMILIES) <= set(group_choices("hpo"))
    from astrolab.hpo.space import parse_space

    for name in FAMILIES:
        raw = OmegaConf.load(conf_dir() / "hpo" / f"{name}.yaml")
        params = OmegaConf.to_container(raw.hpo.params) if "params" in raw.hpo else {}
        if name in EXISTING:
            continue  # composed below (node models share _node_gnn.yaml)
        dists, fixed = parse_space(params)
        assert "model.optimizer.lr" in dists and dists["model.optimizer.lr"].log, name
        assert not fixed


@pytest.mark.parametrize("name", EXISTING)
def test_sweeper_and_native_runner_get_the_same_distributions(name):
    from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides
    from optuna.distributions import FloatDistribution, IntDistribution

    from astrolab.hpo.space import parse_space

    cfg = _compose_train(f"hpo={name}", "paths.run_dir=x")
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper")
    assert cfg.hydra.sweeper.direction == "maximize"  # node classification monitors val/f1_macro
    assert cfg.model.conv_type == name  # the space selects its model
    # what the sweeper parses (its own code, its own params node) ...
    sweeper_params = OmegaConf.to_container(cfg.hydra.sweeper.params, resolve=True)
    sweeper_dists, _, _ = create_params_from_overrides([f"{k}={v}" for k, v in sweeper_params.items()])
    # ... equals what the native runner parses from the hpo node
    native_dists, fixed = parse_space(OmegaConf.to_container(cfg.hpo.params, resolve=True))
    assert native_dists == sweeper_dists
    assert not fixed
    assert native_dists["model.optimizer.lr"] == FloatDistribution(1e-4, 3e-2, log=True)
    assert native_dists["model.num_layers"] == IntDistribution(1, 4)
    assert cfg.hydra.sweeper.sampler.seed == cfg.seed


def test_direction_follows_the_task_monitor():
    cfg = _compose_train("hpo=gcn", "task=node_regression", "dataset.target=radial_velocity", "paths.run_dir=x")
    assert cfg.hydra.sweeper.direction == "minimize"
    assert cfg.hpo.direction == "minimize"


def test_grammar_variants_and_errors():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from astrolab.errors import ConfigError
    from astrolab.hpo.space import parse_space, to_overrides

    dists, fixed = parse_space({"a": "range(1, 7, 2)", "b": "interval(0.0, 0.5)", "c": "choice(x, y)",
                                "d": "int(interval(2, 8))", "e": "3"})
    assert dists["a"] == IntDistribution(1, 5, step=2)
    assert dists["b"] == FloatDistribution(0.0, 0.5)
    assert dists["c"] == CategoricalDistribution(["x", "y"])
    assert dists["d"] == IntDistribution(2, 8)
    assert fixed == ["e=3"]
    assert to_overrides({"m.lr": 0.001, "m.norm": "layer", "m.res": True}) == ["m.lr=0.001", "m.norm=layer",
                                                                           "m.res=true"]
    with pytest.raises(ConfigError, match="search space"):
        parse_space({"a": "choice(1,"})


def test_auto_space_uses_the_model_classmethod():
    from astrolab.errors import ConfigError
    from astrolab.hpo.space import auto_space

    class WithSpace:
        @classmethod
        def search_space(cls):
            return {"model.hidden_dim": "choice(32,64,128)"}

    import sys
    import types

    mod = types.ModuleType("astrolab_test_auto_space")
    mod.WithSpace = WithSpace
    sys.modules[mod.__name__] = mod
    try:
        assert auto_space("astrolab_test_auto_space.WithSpace") == {"model.hidden_dim": "choice(32,64,128)"}
    finally:
        del sys.modules[mod.__name__]
    # the Gaia node models declare their searchable dimensions (ArchitectureSearchMixin)
    space = auto_space("astrolab.models.AstroNodeGNN")
    assert "model.hidden_dim" in space and "model.optimizer.lr" in space
    from astrolab.hpo.space import parse_space

    dists, _ = parse_space(space)
    assert dists["model.optimizer.lr"].log
    with pytest.raises(ConfigError, match="search_space"):
        auto_space("astrolab.errors.ConfigError")  # a class without one


@pytest.mark.parametrize("name", [n for n in FAMILIES if (conf_dir() / "model" / f"{n}.yaml").exists()])
def test_every_space_of_an_existing_model_composes_with_its_values(name):
    """Each key of the space exists in the composed config, and a sampled trial composes."""
    import optuna

    from astrolab.hpo.space import parse_space, suggest, to_overrides

    cfg = _compose_train(f"hpo={name}", "paths.run_dir=x")
    assert cfg.hydra.sweeper.params  # the sweeper gets the space
    dists, _ = parse_space(OmegaConf.to_container(cfg.hpo.params, resolve=True))
    for key in dists:
        assert OmegaConf.select(cfg, key, default="__missing__") != "__missing__", key
    trial = optuna.create_study().ask()
    params = suggest(trial, dists)
    trial_cfg = _compose_train(f"hpo={name}", "paths.run_dir=x", *to_overrides(params))
    for key, value in params.items():
        assert OmegaConf.select(trial_cfg, key) == value


@pytest.mark.parametrize("spec", ["choice(1, 2, 4)", "choice(a, b)", "range(1, 9, 2)", "range(0, 1, 0.25)",
                                  "range(0.1, 0.35, 0.05)", "interval(0, 0.5)", "int(interval(1, 4))",
                                  "tag(log, interval(1e-4, 1e-2))", "tag(log, int(interval(8, 256)))",
                                  "5"])
def test_public_parser_matches_the_sweeper(spec):
    """astrolab.hpo.space parses with Hydra's public parser; the sweeper's own code gives the same."""
    impl = pytest.importorskip("hydra_plugins.hydra_optuna_sweeper._impl")
    from astrolab.hpo.space import create_params_from_overrides

    ours = create_params_from_overrides([f"model.x={spec}"])
    assert ours == impl.create_params_from_overrides([f"model.x={spec}"])


def test_a_task_config_monitor_sets_checkpointing_and_the_study_direction():
    """time_series_classification follows val/loss (small light-curve validation splits saturate F1):
    the task instance, and the HPO direction, follow the task config's monitor / mode."""
    from astrolab.errors import ConfigError
    from astrolab.tasks import ClassificationTask
    from astrolab.utils.instantiate import instantiate

    cfg = _compose_train("hpo=temporal_gnn", "dataset=lightcurves", "paths.run_dir=x")
    assert cfg.task.monitor == "val/loss" and cfg.task.mode is None  # a loss: min
    assert cfg.hpo.direction == "minimize" and cfg.hydra.sweeper.direction == "minimize"
    task = instantiate(cfg.task, num_classes=3)
    assert (task.monitor, task.mode) == ("val/loss", "min")
    assert (ClassificationTask.monitor, ClassificationTask.mode) == ("val/f1_macro", "max")  # class untouched
    # another metric must say whether higher is better; the class's own metric keeps its mode
    with pytest.raises(ConfigError, match="task.mode=min or task.mode=max"):
        ClassificationTask(num_classes=3, monitor="val/acc")
    assert ClassificationTask(num_classes=3, monitor="val/acc", mode="max").mode == "max"
    assert ClassificationTask(num_classes=3, monitor="val/f1_macro").mode == "max"
    back = _compose_train("hpo=temporal_gnn", "dataset=lightcurves", "paths.run_dir=x",
                          "task.monitor=val/f1_macro")
    assert back.hpo.direction == "maximize"
