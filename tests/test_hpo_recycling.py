"""Model recycling across architectures: the LRU pool of built models (hpo.recycle_max_models) and the
gat_tune space that revisits a few architectures while it tunes the training parameters."""

from __future__ import annotations

import math

import pytest

from hpo_helpers import LR_SPACE, make_runner


def _cfg(runner, tmp_path, name: str, hidden: int, lr: float):
    cfg = runner.trial_config({"model.optimizer.lr": lr}, tmp_path / name)
    cfg.model.hidden_dim = hidden
    return cfg


def test_a_b_a_recycles_the_first_model_and_reproduces_a_fresh_build(tmp_path):
    runner = make_runner(tmp_path, "trainer.max_epochs=2", params=LR_SPACE)
    v_a, m_a, info_a = runner.fit(_cfg(runner, tmp_path, "a", 32, 1e-2))
    _, m_b, info_b = runner.fit(_cfg(runner, tmp_path, "b", 16, 3e-3))
    v_a2, m_a2, info_a2 = runner.fit(_cfg(runner, tmp_path, "a2", 32, 1e-2))
    assert not info_a["recycled"] and not info_b["recycled"] and m_b is not m_a
    assert info_a2["recycled"] and m_a2 is m_a  # A came back after B: the first model, not a new one
    assert (runner.pool.builds, runner.pool.reuses, len(runner.pool)) == (2, 1, 2)
    assert v_a2 == pytest.approx(v_a, abs=1e-5)
    # a fresh build of A (recycling off) gives the same value: recycling changes the time, not the result
    fresh = make_runner(tmp_path / "fresh", "trainer.max_epochs=2", "hpo.recycle=false", params=LR_SPACE)
    v_fresh, m_fresh, info_fresh = fresh.fit(_cfg(fresh, tmp_path, "f", 32, 1e-2))
    assert not info_fresh["recycled"] and m_fresh is not m_a
    assert v_fresh == pytest.approx(v_a, abs=1e-5)


def test_the_recycled_model_gets_the_trial_s_optimizer(tmp_path):
    runner = make_runner(tmp_path, params=LR_SPACE)
    _, dm = runner.data.get(_cfg(runner, tmp_path, "a", 16, 1e-2), _task_cls(runner, tmp_path))
    from astrolab.training.build import build_task

    cfg1, cfg2 = _cfg(runner, tmp_path, "a", 16, 1e-2), _cfg(runner, tmp_path, "b", 16, 3e-4)
    m1, _ = runner.pool.get(cfg1, build_task(cfg1, dm), dm.num_features, "k", seed=1)
    m2, recycled = runner.pool.get(cfg2, build_task(cfg2, dm), dm.num_features, "k", seed=1)
    assert recycled and m2 is m1
    opt = m2.configure_optimizers()
    opt = opt["optimizer"] if isinstance(opt, dict) else opt
    assert math.isclose(opt.param_groups[0]["lr"], 3e-4)
    import pickle

    pickle.dumps(m2.optimizer_factory)  # plain partial, as a fresh build stores it (ddp_spawn pickles it)


def _task_cls(runner, tmp_path):
    from astrolab.training.build import check_compatible

    return check_compatible(_cfg(runner, tmp_path, "x", 16, 1e-2))[2]


def test_pool_keeps_at_most_recycle_max_models_least_recently_used_first(tmp_path):
    runner = make_runner(tmp_path, "hpo.recycle_max_models=2", params=LR_SPACE)
    assert runner.pool.max_models == 2
    from astrolab.training.build import build_task

    cfgs = {h: _cfg(runner, tmp_path, str(h), h, 1e-2) for h in (8, 16, 24)}
    _, dm = runner.data.get(cfgs[8], _task_cls(runner, tmp_path))

    def get(h):
        return runner.pool.get(cfgs[h], build_task(cfgs[h], dm), dm.num_features, "k", seed=0)

    a, _ = get(8)
    get(16)
    assert get(8) == (a, True)  # 8 is now the most recently used
    get(24)  # evicts 16, the least recently used
    assert len(runner.pool) == 2
    assert get(8)[1] is True
    assert get(16)[1] is False
    assert (runner.pool.builds, runner.pool.reuses) == (4, 2)


@pytest.mark.parametrize("value", ["0", "-3", "abc", "2.5"])
def test_bad_recycle_max_models_is_one_line_naming_the_key(tmp_path, value):
    from astrolab.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        make_runner(tmp_path, f"hpo.recycle_max_models={value}", params=LR_SPACE)
    msg = str(err.value)
    assert "hpo.recycle_max_models" in msg and "\n" not in msg


def test_gat_tune_space_revisits_few_architectures():
    from astrolab.hpo.runner import compose
    from astrolab.hpo.space import parse_space
    from omegaconf import OmegaConf

    cfg = compose("hpo", ["hpo=gat_tune"])
    dists, _ = parse_space(OmegaConf.to_container(cfg.hpo.params, resolve=True))
    arch = {k: d for k, d in dists.items() if not k.startswith("model.optimizer.")}
    train = {k: d for k, d in dists.items() if k.startswith("model.optimizer.")}
    assert set(train) == {"model.optimizer.lr", "model.optimizer.weight_decay"}
    assert all(not hasattr(d, "choices") for d in train.values())  # continuous
    n_arch = 1
    for d in arch.values():
        n_arch *= len(d.choices)  # every architecture parameter is categorical
    assert 1 < n_arch <= int(cfg.hpo.recycle_max_models)
    assert cfg.model.conv_type == "gat"
    for d in dists["model.heads"].choices if "model.heads" in dists else []:
        assert all(h % d == 0 for h in dists["model.hidden_dim"].choices)
    assert n_arch == 8
