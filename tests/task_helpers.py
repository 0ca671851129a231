"""Tasks as ``task=<name>`` builds them, bound to the batch keys the matching data module declares
(the data owns the batch contract; tests that step a model by hand need the keys up front)."""

from __future__ import annotations

from typing import Any

from astrolab.data.datamodules import LightCurveDataModule, NodeGraphDataModule
from astrolab.tasks import ClassificationTask, RegressionTask


def node_classification(**kw: Any) -> ClassificationTask:
    return ClassificationTask(name="node_classification", level="node", **kw).use_batch_keys(
        NodeGraphDataModule.batch_keys)


def node_regression(**kw: Any) -> RegressionTask:
    return RegressionTask(name="node_regression", level="node", **kw).use_batch_keys(NodeGraphDataModule.batch_keys)


def time_series_classification(**kw: Any) -> ClassificationTask:
    return ClassificationTask(name="time_series_classification", level="sequence", **kw).use_batch_keys(
        LightCurveDataModule.batch_keys)
