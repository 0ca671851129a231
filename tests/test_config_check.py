"""Config validation: every user mistake ends in one line naming the key and a fix, before anything is
built (no traceback, no Hydra "Error executing job" line)."""

from __future__ import annotations

import warnings

import pytest

from astrolab.errors import ConfigError


@pytest.fixture(scope="module")
def compose_cfg():
    from hydra import compose, initialize_config_dir

    from astrolab.config import conf_dir
    from astrolab.hpo.space import register_resolvers as register_hpo
    from astrolab.utils.runs import register_resolvers

    register_resolvers()
    register_hpo()

    def make(command: str, *overrides: str):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
                return compose(config_name=command, overrides=list(overrides))

    return make


def _check(cfg, command="train"):
    from astrolab.config_check import check_config

    check_config(cfg, command)


@pytest.mark.parametrize("override, expected", [
    ("model.hidden_dim=abc", "model.hidden_dim='abc' is not a positive integer"),
    ("model.hidden_dim=-4", "model.hidden_dim=-4 is not a positive integer"),
    ("model.num_layers=0", "model.num_layers=0"),
    ("model.dropout=1.5", "model.dropout=1.5 must be a number in [0, 1)"),
    ("model.optimizer.lr=0", "model.optimizer.lr=0 must be a number > 0"),
    ("model.optimizer.lr=fast", "model.optimizer.lr='fast'"),
    ("trainer.max_epochs=two", "trainer.max_epochs='two'"),
    ("trainer.max_epochs=1.5", "trainer.max_epochs=1.5"),
    ("trainer.precision=17", "trainer.precision '17'"),
    ("trainer.accelerator=gpuu", "did you mean trainer.accelerator=gpu?"),
    ("dataset.split.val=0.6", "leave no training data"),
    ("dataset.graph.k=0", "dataset.graph.k=0"),
    ("dataset.path=/", "dataset.path='/' is a folder, not a HATS catalog"),
    ("+trainer.strategy=dpp", "did you mean trainer.strategy=ddp?"),
])
def test_bad_values_name_the_key(compose_cfg, override, expected):
    with pytest.raises(ConfigError) as err:
        _check(compose_cfg("train", override, *(["dataset.split.test=0.5"] if "split" in override else [])))
    msg = str(err.value)
    assert expected in msg and "\n" not in msg


@pytest.mark.parametrize("override, expected", [
    ("hpo.n_trials=0", "hpo.n_trials=0"),
    ("hpo.timeout=-5", "hpo.timeout=-5 must be a number of seconds > 0"),
    ("hpo.storage=mysqll:/x", "hpo.storage='mysqll:/x' is not an Optuna storage URL"),
    ("hpo.storage=sqlite:////nonexistent_dir/x.db",
     "hpo.storage=sqlite:////nonexistent_dir/x.db: the folder /nonexistent_dir does not exist; create it"),
    ("hpo.storage=journal:/nonexistent_dir/j.log", "the folder /nonexistent_dir does not exist"),
    ("hpo.params.model.heads=chioce(1,2)", "hpo.params.model.heads: unknown distribution 'chioce' (did you mean choice?)"),
])
def test_hpo_settings(compose_cfg, override, expected):
    from omegaconf import OmegaConf

    key, value = override.split("=", 1)
    cfg = compose_cfg("hpo", "hpo=gat")
    if key.startswith("hpo.params."):  # search-space keys are dotted config paths (model.heads)
        cfg.hpo.params[key[len("hpo.params."):]] = value
    else:
        OmegaConf.update(cfg, key, OmegaConf.create({"v": value}).v if value.startswith("m") else yaml_value(value))
    with pytest.raises(ConfigError) as err:
        _check(cfg, "hpo")
    assert expected in str(err.value)


def yaml_value(text: str):
    import yaml

    return yaml.safe_load(text)


def test_shipped_configs_pass(compose_cfg):
    from astrolab import config_check

    for command, overrides in [("train", []), ("train", ["debug=fast", "dataset=lightcurves", "model=temporal_gnn"]),
                               ("train", ["model=cosmic_web_gnn", "dataset=cosmic_web"]),
                               ("train", ["model=pointnet", "dataset=galaxies"]),
                               ("train", ["model=graph_gnn", "dataset=clusters", "debug=fast"]),
                               ("train", ["model=multimodal", "dataset=sdss", "task=photo_z"]),
                               ("hpo", ["hpo=gat"])]:
        cfg = compose_cfg(command, *overrides)
        _check(cfg, command)


def test_a_key_nothing_reads_is_refused_with_the_nearest_key(compose_cfg):
    from omegaconf import OmegaConf

    from astrolab.config_check import _check_targets

    cfg = compose_cfg("train")
    OmegaConf.set_struct(cfg, False)
    cfg.model.hidden_dimm = 8  # a user config with a typo
    with pytest.raises(ConfigError, match=r"did you mean model.hidden_dim\?"):
        _check_targets(cfg)


def test_incompatible_pair_stops_hpo_at_start(compose_cfg):
    with pytest.raises(ConfigError, match="model=AstroPointNet cannot read dataset=GaiaDataModule|cannot read"):
        _check(compose_cfg("hpo", "hpo=gat", "model=pointnet"), "hpo")


def test_missing_gpu(compose_cfg, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(ConfigError, match="trainer.accelerator=gpu but no CUDA GPU.*use trainer.accelerator=cpu"):
        _check(compose_cfg("train", "trainer.accelerator=gpu"))
    with pytest.raises(ConfigError, match="trainer.devices=4 but no GPU is visible; use trainer.devices=1"):
        _check(compose_cfg("train", "trainer.devices=4"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(ConfigError, match="trainer.devices=4 but this machine has 2 GPUs; use trainer.devices=2"):
        _check(compose_cfg("train", "trainer.accelerator=gpu", "trainer.devices=4"))


def test_unknown_key_message_suggests_the_nearest_key():
    from astrolab.config_check import refused_key, unknown_key_message

    text = "Could not override 'model.hidden_dimm'.\nTo append to your config use +model.hidden_dimm=3"
    assert refused_key(text) == "model.hidden_dimm"
    assert "did you mean model.hidden_dim?" in unknown_key_message("model.hidden_dimm", "train", [])
    assert "did you mean model.hidden_dim?" in unknown_key_message("dataset.hidden_dim", "train", [])
    assert "pick one first" in unknown_key_message("hpo.n_trials", "train", [])


def test_whitelist_message_is_complete():
    from astrolab.utils.instantiate import instantiate

    with pytest.raises(ConfigError) as err:
        instantiate({"_target_": "builtins.getattr", "_args_": [1, "real"]})
    msg = str(err.value)
    assert "cannot be authorized by the Hydra execution whitelist because" in msg
    assert msg.rstrip().endswith("extra_targets=[mypackage.*]") and "\n" not in msg


def test_untrusted_target_is_refused_before_it_is_imported(compose_cfg, monkeypatch):
    """A ``_target_`` outside the execution whitelist stops at the config check: no data is prepared, and
    its module is never imported (importing runs the module's code)."""
    import sys

    from omegaconf import OmegaConf

    from astrolab.config_check import _check_targets

    cfg = compose_cfg("train")
    OmegaConf.set_struct(cfg, False)
    cfg.callbacks.evil = {"_target_": "subprocess.run", "args": "true"}
    with pytest.raises(ConfigError, match=r"^callbacks.evil._target_=subprocess.run is not a target .*"
                                          r"extra_targets=\[mypackage.\*\]$"):
        _check_targets(cfg)
    cfg = compose_cfg("train")
    OmegaConf.set_struct(cfg, False)
    cfg.model.optimizer._target_ = "astrolab_audit_untrusted_pkg.Optimizer"
    monkeypatch.delitem(sys.modules, "astrolab_audit_untrusted_pkg", raising=False)
    with pytest.raises(ConfigError, match=r"^model.optimizer._target_=astrolab_audit_untrusted_pkg.Optimizer"):
        _check_targets(cfg)
    assert "astrolab_audit_untrusted_pkg" not in sys.modules
    # the user's own package, once trusted, is checked like any other target (here: it does not exist)
    cfg.extra_targets = ["astrolab_audit_untrusted_pkg.*"]
    _check_targets(cfg)


# -- through the real command ------------------------------------------------------------------------------
def _one_line(proc) -> str:
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "[INFO]" not in ln]
    assert "Traceback" not in proc.stderr and "Error executing job" not in proc.stderr + proc.stdout
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_cli_unknown_key(run_cli, tmp_path):
    line = _one_line(run_cli("train", "model.hidden_dimm=8", f"hydra.run.dir={tmp_path}/a"))
    assert "did you mean model.hidden_dim?" in line and "+model" not in line


def test_cli_plus_on_an_existing_key_is_one_line(run_cli, tmp_path):
    proc = run_cli("train", "+model.hidden_dim=32", f"hydra.run.dir={tmp_path}/p")
    assert _one_line(proc) == "astrolab: error: model.hidden_dim exists already: set it with model.hidden_dim=32 " \
                              "(without +)"
    assert proc.returncode == 2  # as every config error (ConfigError.exit_code, unknown keys)
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("override, expected", [
    ("+model.optimizer.lr=0.1", "model.optimizer.lr exists already: set it with model.optimizer.lr=0.1 (without +)"),
    ("+model=gcn", "model is chosen already (model=gat): choose another with model=gcn (without +)"),
])
def test_plus_on_what_exists_is_explained(override, expected):
    """The messages Hydra raises for these overrides become one astrolab line."""
    from astrolab.config_check import override_error_message
    from astrolab.hpo.runner import compose

    with pytest.raises(Exception) as err:
        compose("train", [override])
    assert override_error_message(str(err.value)) == expected


def test_added_key_nothing_reads(compose_cfg, monkeypatch):
    from astrolab import config_check

    cfg = compose_cfg("train", "+model.hiden_dim=8", "+trainer.limit_train_batches=2")
    monkeypatch.setattr(config_check, "_added_overrides", lambda: [("model.hiden_dim", "8"),
                                                                   ("trainer.limit_train_batches", "2")])
    with pytest.raises(ConfigError, match=r"^\+model.hiden_dim: nothing reads model.hiden_dim; "
                                          r"did you mean model.hidden_dim\?$"):
        config_check._check_added_keys(cfg)
    cfg = compose_cfg("train", "+trainer.limit_train_batches=2", "+foo=1")
    monkeypatch.setattr(config_check, "_added_overrides", lambda: [("trainer.limit_train_batches", "2")])
    config_check._check_added_keys(cfg)  # a Trainer argument: accepted
    monkeypatch.setattr(config_check, "_added_overrides", lambda: [("foo", "1")])
    with pytest.raises(ConfigError, match=r"^\+foo: nothing reads foo"):
        config_check._check_added_keys(cfg)


@pytest.mark.slow
def test_cli_added_key_nothing_reads(run_cli, tmp_path):
    line = _one_line(run_cli("train", "+model.hiden_dim=8", f"hydra.run.dir={tmp_path}/b"))
    assert line.startswith("astrolab: error: +model.hiden_dim: nothing reads model.hiden_dim")
    assert "did you mean model.hidden_dim?" in line


def test_cli_bad_value(run_cli, tmp_path):
    line = _one_line(run_cli("train", "model.dropout=2", f"hydra.run.dir={tmp_path}/c"))
    assert "model.dropout=2" in line


def test_cli_run_dir_that_cannot_be_made(run_cli, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    line = _one_line(run_cli("train", f"hydra.run.dir={blocker}/run"))
    assert "hydra.run.dir=" in line and str(blocker) in line


def test_cli_user_config_folder_choices_pass(run_cli, tmp_path):
    """Options of --config-dir folders are known to the early group check (they used to be refused)."""
    (tmp_path / "logger").mkdir()
    (tmp_path / "logger" / "mine.yaml").write_text("csv:\n  _target_: lightning.pytorch.loggers.CSVLogger\n"
                                                   "  save_dir: ${paths.run_dir}\n")
    from astrolab.cli import validate_choices

    validate_choices(["logger=mine", "--config-dir", str(tmp_path)])
    validate_choices(["logger=mine", f"hydra.searchpath=[file://{tmp_path}]"])
    with pytest.raises(ConfigError, match="unknown logger 'mine'"):
        validate_choices(["logger=mine"])
    with pytest.raises(ConfigError, match="does not exist; fix --config-dir"):
        validate_choices(["logger=mine", "--config-dir", str(tmp_path / "nope")])


def test_one_search_space_parameter_override_is_explained():
    from astrolab.config_check import override_error_message

    line = override_error_message("Sweep parameters 'hpo.params.model.heads=choice(1,2)' requires --multirun")
    assert line == ("hpo.params.model.heads: the keys of hpo.params are config paths; override one parameter of "
                    "the search space as 'hpo.params={model.heads:\"choice(1,2)\"}' (quoted; the other "
                    "parameters stay)")


def test_documented_search_space_override_composes(compose_cfg):
    cfg = compose_cfg("hpo", "hpo=gat", 'hpo.params={model.heads:"choice(1,2)"}')
    assert cfg.hpo.params["model.heads"] == "choice(1,2)"
    assert "model.optimizer.lr" in cfg.hpo.params  # the other parameters stay
    _check(cfg, "hpo")


def test_storage_in_a_missing_folder_is_refused_and_not_created(tmp_path):
    """The runner never creates the folder a storage URL names (the Python API reaches it without the
    config check): one line naming hpo.storage, nothing created."""
    from astrolab.hpo.runner import open_storage

    missing = tmp_path / "no_such_dir"
    for url in (f"sqlite:///{missing}/x.db", f"journal:{missing}/j.log"):
        with pytest.raises(ConfigError, match=r"^hpo.storage=.*the folder .*no_such_dir does not exist; create it"):
            open_storage(url, tmp_path / "sweep", {})
    assert not missing.exists()
    storage, url = open_storage(f"sqlite:///{tmp_path}/ok.db", tmp_path / "sweep", {})  # an existing folder works
    assert url.endswith("ok.db") and storage is not None
