"""Two worker processes on one JournalStorage file share a study without duplicated or lost trials."""

from __future__ import annotations

import os
import subprocess

import optuna
import pytest
from optuna.trial import TrialState

from conftest import astrolab_exe


@pytest.mark.slow  # two console-script processes, 4 trials
def test_two_workers_on_one_journal_file(tmp_path):
    journal = tmp_path / "study.log"
    args = [astrolab_exe(), "hpo", "hpo=gcn", "debug=fast", "trainer.max_epochs=2", "model.hidden_dim=32",
            "hpo.n_trials=4", "hpo.study_name=shared", f"hpo.storage=journal:{journal}", "hpo.test_best=false",
            "callbacks.model_checkpoint.save_last=false"]
    env = {**os.environ, "COLUMNS": "200"}
    procs = [subprocess.Popen([*args, f"hydra.run.dir={tmp_path / f'worker{i}'}"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="shared",
                              storage=optuna.storages.JournalStorage(JournalFileBackend(str(journal))))
    done = [t for t in study.get_trials() if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(done) == 4
    assert len({tuple(sorted(t.params.items())) for t in done}) == 4  # distinct parameters
    assert {t.user_attrs["pid"] for t in done} == {p.pid for p in procs}  # both workers took trials
