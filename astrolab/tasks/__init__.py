"""Tasks: what is predicted. A task owns the loss, the torchmetrics metrics, the head's output size,
where the targets live in a batch, and the metric a run monitors (``monitor``/``mode``)."""

from astrolab.tasks.base import Task
from astrolab.tasks.classification import ClassificationTask, NodeClassification
from astrolab.tasks.cosmic_web import CosmicWebClassification, FilamentDetection
from astrolab.tasks.graph import AnomalyDetection, GraphClassification, GraphRegression
from astrolab.tasks.objects import ObjectClassification, PhotoZ
from astrolab.tasks.point import PointClassification, PointRegistration, PointSegmentation
from astrolab.tasks.regression import NodeRegression, RegressionTask
from astrolab.tasks.temporal import Forecasting, TimeSeriesClassification

__all__ = ["Task", "ClassificationTask", "RegressionTask", "NodeClassification", "NodeRegression",
           "GraphClassification", "GraphRegression", "AnomalyDetection", "TimeSeriesClassification",
           "Forecasting", "ObjectClassification", "PhotoZ", "PointClassification", "PointSegmentation",
           "PointRegistration", "CosmicWebClassification", "FilamentDetection"]
