"""The rich progress display of a study: trial n/N, best value so far, pruned and failed counts."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class StudyProgress:
    """Context manager; pass :attr:`callback` to ``study.optimize(callbacks=[...])``."""

    def __init__(self, study: Any, n_trials: int) -> None:
        self.study = study
        self.n_trials = n_trials
        self._progress = None
        self._task = None

    def __enter__(self) -> StudyProgress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("[bold]hpo[/bold]"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.description}"), TimeElapsedColumn())
        self._progress.start()
        self._task = self._progress.add_task(self._describe(), total=self.n_trials,
                                             completed=self._done())
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=self._done(), description=self._describe())
            self._progress.stop()

    def _done(self) -> int:
        from astrolab.hpo.runner import counts_toward_budget
        from optuna.trial import TrialState

        return sum(1 for t in self.study.get_trials(deepcopy=False)
                   if counts_toward_budget(t) and t.state != TrialState.RUNNING)

    def _describe(self) -> str:
        from optuna.trial import TrialState

        trials = self.study.get_trials(deepcopy=False)
        pruned = sum(t.state == TrialState.PRUNED for t in trials)
        failed = sum(t.state == TrialState.FAIL and not t.user_attrs.get("surplus")
                     and not t.user_attrs.get("stale") for t in trials)
        try:
            best = f"best {self.study.best_value:.4f}"
        except ValueError:
            best = "best —"
        return f"{best} · pruned {pruned} · failed {failed}"

    def callback(self, study: Any, trial: Any) -> None:
        if trial.user_attrs.get("surplus"):
            return
        value = f"{trial.value:.4f}" if trial.value is not None else "—"
        extra = " (recycled model)" if trial.user_attrs.get("recycled") else ""
        reason = f": {trial.user_attrs['fail_reason']}" if "fail_reason" in trial.user_attrs else ""
        dur = trial.duration.total_seconds() if trial.duration is not None else float("nan")
        log.info("trial %d %s value=%s in %.1f s%s%s", trial.number, trial.state.name, value, dur, extra,
                 reason)
        if self._progress is not None:
            self._progress.update(self._task, completed=self._done(), description=self._describe())
