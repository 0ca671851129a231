"""The runs: ``train`` and ``evaluate`` (compose config → build data, model, trainer → fit/test → write
outputs), and the design's Python API."""

from astrolab.training.api import run_hpo, train_model

__all__ = ["run_hpo", "train_model"]
