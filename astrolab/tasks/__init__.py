"""Tasks: what is predicted, per kind (classification, regression, segmentation, forecasting, anomaly,
registration, photo-z). A task owns the loss (:mod:`astrolab.tasks.losses`), the torchmetrics metrics, the
head's output size, turning outputs into predictions, and the metric a run monitors (``monitor``/``mode``).

Where the targets sit in a batch belongs to the data module (its ``batch_keys``): the build step passes
them to the task as ``target_key`` / ``mask_key``. One class serves several config names:
``conf/task/<name>.yaml`` points ``_target_`` at the kind and sets ``name`` and ``level`` (e.g.
``node_classification``, ``graph_classification``, ``time_series_classification`` are all
:class:`ClassificationTask`).
"""

from astrolab.tasks.base import Task
from astrolab.tasks.classification import ClassificationTask
from astrolab.tasks.cosmic_web import FilamentDetection
from astrolab.tasks.graph import AnomalyDetection
from astrolab.tasks.objects import ObjectClassification, PhotoZ
from astrolab.tasks.pretraining import MaskedReconstruction
from astrolab.tasks.point import PointRegistration, PointSegmentation
from astrolab.tasks.regression import RegressionTask
from astrolab.tasks.temporal import Forecasting

__all__ = ["Task", "ClassificationTask", "RegressionTask", "AnomalyDetection", "Forecasting",
           "ObjectClassification", "PhotoZ", "MaskedReconstruction", "PointSegmentation", "PointRegistration", "FilamentDetection"]
