"""Point-cloud tasks: one label per point (segmentation) and rigid registration of a cloud. (One label
per cloud, ``point_classification``, is :class:`~astrolab.tasks.ClassificationTask` with ``level: graph``.)

Batch layout of ``dataset=galaxies`` (one ``TensorDict`` per step, one split only; the data module
declares the keys, see ``GalaxyCloudDataModule.batch_keys``)::

    points  batch [B, N]: pos [B, N, 3], x [B, N, F], y [B, N] int64 (per-point component label)
    clouds  batch [B]:    y [B] int64 (per-cloud class), pose [B, 12] (registration target: the
                          row-major 3x3 rotation R and translation t with ``ref = R @ src + t``)

Registration outputs 9 numbers per cloud: a 6-D rotation code (two 3-vectors turned into an
orthonormal frame by Gram–Schmidt, Zhou et al. 2019, "On the Continuity of Rotation Representations in
Neural Networks") followed by the translation. ``rot_err_deg`` is the geodesic angle between predicted
and true rotation, ``trans_err`` the Euclidean translation error in the data's length unit (kpc for
``dataset=galaxies``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from astrolab.tasks.base import Task
from astrolab.tasks.classification import ClassificationTask


class PointSegmentation(ClassificationTask):
    """One class per point (e.g. bulge / disk / halo / stream membership of each star particle).

    Metrics: ``acc`` (over points), ``miou`` (mean intersection-over-union over classes),
    ``f1_macro``; monitor ``val/miou``.
    """

    name = "point_segmentation"
    level = "point"
    monitor = "val/miou"

    def configure_metrics(self):
        from torchmetrics import MetricCollection
        from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score, MulticlassJaccardIndex

        n = self.num_classes
        return MetricCollection({
            "acc": MulticlassAccuracy(num_classes=n, average="micro"),
            "miou": MulticlassJaccardIndex(num_classes=n, average="macro"),
            "f1_macro": MulticlassF1Score(num_classes=n, average="macro"),
        })

    def select(self, batch, output: Tensor, stage: str) -> tuple[Tensor, Tensor]:
        target = batch.get(self._keys()[0])
        return output.reshape(-1, output.shape[-1]), target.reshape(-1)

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        prob = torch.softmax(output.float(), dim=-1)
        return {"label": prob.argmax(-1), "prob": prob}


# -- rotations ---------------------------------------------------------------------------------------
def rotation_from_6d(code: Tensor) -> Tensor:
    """``[..., 6]`` → ``[..., 3, 3]`` rotation matrices (Gram–Schmidt on two vectors; rows = frame)."""
    a, b = code[..., :3], code[..., 3:6]
    e1 = nn.functional.normalize(a, dim=-1, eps=1e-8)
    b = b - (e1 * b).sum(-1, keepdim=True) * e1
    e2 = nn.functional.normalize(b, dim=-1, eps=1e-8)
    e3 = torch.cross(e1, e2, dim=-1)
    return torch.stack([e1, e2, e3], dim=-2)


def rotation_angle_deg(r_pred: Tensor, r_true: Tensor) -> Tensor:
    """Geodesic angle (degrees) between rotation matrices ``[..., 3, 3]``."""
    rel = r_pred @ r_true.transpose(-1, -2)
    cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0) / 2.0).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.arccos(cos))


def pose_from_output(output: Tensor) -> Tensor:
    """Raw ``[B, 9]`` network output → ``[B, 12]`` pose (row-major rotation, then translation)."""
    rot = rotation_from_6d(output[..., :6])
    return torch.cat([rot.reshape(*rot.shape[:-2], 9), output[..., 6:9]], dim=-1)


class RegistrationLoss(nn.Module):
    """Squared Frobenius distance of rotations + weighted squared translation error."""

    def __init__(self, translation_weight: float = 1.0) -> None:
        super().__init__()
        self.translation_weight = float(translation_weight)

    def reset_parameters(self) -> None:
        """No parameters."""

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        pose = pose_from_output(output)
        rot = ((pose[:, :9] - target[:, :9]) ** 2).sum(-1)
        trans = ((pose[:, 9:] - target[:, 9:]) ** 2).sum(-1)
        return (rot + self.translation_weight * trans).mean()


def _mean_metric(fn, scale: float = 1.0):
    from torchmetrics import Metric

    class _Mean(Metric):
        higher_is_better = False
        full_state_update = False

        def __init__(self) -> None:
            super().__init__()
            self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

        def update(self, pose: Tensor, target: Tensor) -> None:
            err = fn(pose.float(), target.float())
            self.total += err.double().sum() * scale
            self.count += err.numel()

        def compute(self) -> Tensor:
            return (self.total / self.count.clamp(min=1)).float()

    return _Mean()


def _rot_err(pose: Tensor, target: Tensor) -> Tensor:
    return rotation_angle_deg(pose[:, :9].reshape(-1, 3, 3), target[:, :9].reshape(-1, 3, 3))


def _trans_err(pose: Tensor, target: Tensor) -> Tensor:
    return (pose[:, 9:] - target[:, 9:]).norm(dim=-1)


class PointRegistration(Task):
    """Rigid registration: the rotation and translation that map a cloud onto its reference.

    Args:
        translation_weight: weight of the squared translation error in the loss (data units).
        length_scale: data length unit per network unit (the data module normalises positions; the
            translation metric is reported in the data's physical unit, e.g. kpc).
        length_unit: name of that unit for reports.
    """

    name = "point_registration"
    level = "graph"
    kind = "regression"
    monitor = "val/rot_err_deg"
    mode = "min"

    def __init__(self, translation_weight: float = 1.0, length_scale: float = 1.0, length_unit: str = "",
                 num_classes: int | None = None, class_names=None, class_weights=None, **contract: Any) -> None:
        super().__init__(**contract)
        self.options.update(translation_weight=translation_weight, length_scale=length_scale)
        self.translation_weight = float(translation_weight)
        self.length_scale = float(length_scale)
        self.length_unit = length_unit
        self.num_classes = 9
        self.class_names = ["pose"]

    def output_dim(self) -> int:
        return 9

    def configure_losses(self) -> nn.Module:
        return RegistrationLoss(self.translation_weight)

    def configure_metrics(self):
        from torchmetrics import MetricCollection

        return MetricCollection({"rot_err_deg": _mean_metric(_rot_err),
                                 "trans_err": _mean_metric(_trans_err, self.length_scale)})

    def metric_output(self, output: Tensor) -> Tensor:
        return pose_from_output(output)

    def baseline_output(self, train_targets: Tensor, n: int) -> Tensor:
        """The identity transform (no rotation, no translation)."""
        out = torch.zeros(n, 9)
        out[:, 0] = 1.0
        out[:, 4] = 1.0
        return out

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        pose = pose_from_output(output.float())
        return {"rotation": pose[:, :9].reshape(-1, 3, 3), "translation": pose[:, 9:] * self.length_scale}

    def finish_table(self, table) -> None:
        """Errors against the true motion the index table carries (``true_pose``, data units): ``rot_err_deg``,
        ``trans_err_<unit>``, ``true_angle_deg``; the raw pose columns are dropped (one scalar per column)."""
        import numpy as np

        if "true_pose" not in table.colnames or "predicted_rotation" not in table.colnames:
            return
        true = torch.as_tensor(np.asarray(table["true_pose"], dtype=np.float64))
        r_true = true[:, :9].reshape(-1, 3, 3)
        r_pred = torch.as_tensor(np.asarray(table["predicted_rotation"], dtype=np.float64)).reshape(-1, 3, 3)
        t_pred = torch.as_tensor(np.asarray(table["predicted_translation"], dtype=np.float64))
        unit = self.length_unit or "units"
        table["rot_err_deg"] = rotation_angle_deg(r_pred, r_true).numpy().astype(np.float32)
        table[f"trans_err_{unit}"] = (t_pred - true[:, 9:] * self.length_scale).norm(dim=-1).numpy().astype(np.float32)
        table["true_angle_deg"] = rotation_angle_deg(r_true, torch.eye(3, dtype=r_true.dtype).expand_as(r_true)).numpy()
        table["predicted_angle_deg"] = rotation_angle_deg(r_pred, torch.eye(3, dtype=r_pred.dtype).expand_as(r_pred)).numpy()
        table.remove_columns(["true_pose", "predicted_rotation", "predicted_translation"])
