"""``astrolab train`` / ``evaluate`` / ``predict``: thin names for the run session
(:mod:`astrolab.training.session`), kept for scripts that import them from here."""

from astrolab.training.session import (  # noqa: F401
    CHECKPOINT_FORMAT,
    _quiet_lightning,
    _scalar_metrics,
    baseline_metrics,
    evaluate,
    load_checkpoint,
    predict,
    saved_task_kwargs,
    train,
)
