"""The native runner in-process: pruning, model recycling, resume after a kill, failing trials."""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest
import torch
from optuna.trial import TrialState

from hpo_helpers import LR_SPACE, make_runner


def test_pruning_stops_a_trial_with_a_bad_learning_rate(tmp_path):
    runner = make_runner(tmp_path, "trainer.max_epochs=5", "hpo.pruner_startup_trials=2",
                         "hpo.pruner_warmup_epochs=1", "hpo.test_best=false",
                         params={"model.optimizer.lr": "tag(log, interval(1e-8, 1e-1))"}, n_trials=3)
    study = runner.open_study()
    study.enqueue_trial({"model.optimizer.lr": 2e-2})
    study.enqueue_trial({"model.optimizer.lr": 3e-2})
    study.enqueue_trial({"model.optimizer.lr": 1e-8})  # learns nothing
    result = runner.run()
    trials = sorted(study.get_trials(), key=lambda t: t.number)
    assert [t.state for t in trials[:2]] == [TrialState.COMPLETE, TrialState.COMPLETE]
    bad = trials[2]
    assert bad.state == TrialState.PRUNED  # recorded as PRUNED, not FAIL
    assert bad.last_step < 4  # stopped before the last epoch
    assert result.summary["trials"]["PRUNED"] == 1
    table = pd.read_csv(tmp_path / "trials.csv")
    assert list(table["state"]) == ["COMPLETE", "COMPLETE", "PRUNED"]


def test_recycling_reuses_the_model_and_matches_a_fresh_build(tmp_path):
    from astrolab.hpo.recycling import ModelPool
    from astrolab.training.build import build_task

    runner = make_runner(tmp_path, params=LR_SPACE)
    cfg = runner.trial_config({"model.optimizer.lr": 1e-2}, tmp_path / "a")
    v1, m1, info1 = runner.fit(cfg)
    cfg2 = runner.trial_config({"model.optimizer.lr": 1e-2}, tmp_path / "b")
    v2, m2, info2 = runner.fit(cfg2)
    assert not info1["recycled"] and info2["recycled"]
    assert m2 is m1 and runner.pool.builds == 1 and runner.pool.reuses == 1
    assert v2 == pytest.approx(v1, abs=1e-5)  # same seed: same result as the fresh build
    assert runner.data.builds == 1  # data prepared once

    # a different architecture builds a new model; re-initialised weights equal a fresh build's
    cfg3 = runner.trial_config({"model.optimizer.lr": 1e-2}, tmp_path / "c")
    cfg3.model.hidden_dim = 16
    _, dm = runner.data.get(cfg3, type(m1.task))
    pool = ModelPool()
    a, rec_a = pool.get(cfg3, build_task(cfg3, dm), dm.num_features, "k", seed=7)
    assert a is not m1 and not rec_a
    with torch.no_grad():
        for p in a.parameters():
            p.add_(1.0)  # "trained"
    b, rec_b = pool.get(cfg3, build_task(cfg3, dm), dm.num_features, "k", seed=7)
    fresh, _ = ModelPool(enabled=False).get(cfg3, build_task(cfg3, dm), dm.num_features, "k", seed=7)
    assert rec_b and b is a
    for (name, x), (_, y) in zip(b.state_dict().items(), fresh.state_dict().items(), strict=True):
        assert torch.equal(x, y), name


@pytest.mark.slow  # 3 trials; recycling itself is covered by the test above
def test_native_study_recycles_models_across_trials(tmp_path):
    runner = make_runner(tmp_path, "hpo.test_best=false", params=LR_SPACE, n_trials=3)
    result = runner.run()
    assert result.summary["recycling"] == {"models_built": 1, "models_recycled": 2, "data_prepared": 1,
                                         "hit_rate": 0.667}
    trials = sorted(result.study.get_trials(), key=lambda t: t.number)
    assert [t.user_attrs["recycled"] for t in trials] == [False, True, True]
    assert len({t.params["model.optimizer.lr"] for t in trials}) == 3


def test_resume_after_a_kill_reaches_exactly_n_trials(tmp_path):
    import optuna

    from astrolab.hpo.runner import HOST

    first = make_runner(tmp_path, "hpo.test_best=false", params=LR_SPACE, n_trials=2)
    first.run()
    # a process killed mid-trial leaves a RUNNING trial behind
    dead = subprocess.Popen(["true"])
    dead.wait()
    study = first.study
    t = study.ask({"model.optimizer.lr": optuna.distributions.FloatDistribution(1e-3, 3e-2, log=True)})
    study._storage.set_trial_user_attr(t._trial_id, "host", HOST)
    study._storage.set_trial_user_attr(t._trial_id, "pid", dead.pid)
    killed_lr = t.params["model.optimizer.lr"]

    # re-running the same command (now asking for 4 in total) continues the same study file
    again = make_runner(tmp_path, "hpo.test_best=false", params=LR_SPACE, n_trials=4)
    result = again.run()
    trials = result.study.get_trials()
    finished = [x for x in trials if x.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 4
    killed = [x for x in trials if x.number == t.number][0]
    assert killed.state == TrialState.FAIL and killed.user_attrs["stale"]
    retried = [x for x in finished if x.user_attrs.get("retry_of") == t.number]
    assert len(retried) == 1 and retried[0].params["model.optimizer.lr"] == killed_lr
    assert len(pd.read_csv(tmp_path / "trials.csv")) == 5  # 4 finished + the killed one, listed as FAIL


def test_failing_trials_are_recorded_and_all_failed_is_an_error(tmp_path):
    from astrolab.errors import AstrolabError

    # GAT needs hidden_dim divisible by heads: every trial is an invalid combination
    runner = make_runner(tmp_path, "model=gat", params={"model.heads": "choice(3, 5)"}, n_trials=2)  # width 32
    with pytest.raises(AstrolabError, match="all 2 trials"):
        runner.run()
    table = pd.read_csv(tmp_path / "trials.csv")
    assert list(table["state"]) == ["FAIL", "FAIL"]  # the study went on after the first failure
    assert table["fail_reason"].str.contains("divisible").all()
