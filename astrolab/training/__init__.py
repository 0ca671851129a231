"""The runs: one run session (:mod:`astrolab.training.session`) behind ``train``, ``evaluate``, ``predict``,
every HPO trial and the design's Python API (``train_model``, ``run_hpo``, ``predict``,
``create_analysis_pipeline``)."""

from astrolab.training.api import predict, run_hpo, train_model
from astrolab.training.pipeline import AnalysisPipeline, create_analysis_pipeline

__all__ = ["AnalysisPipeline", "create_analysis_pipeline", "predict", "run_hpo", "train_model"]
