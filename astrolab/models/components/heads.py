"""Output heads: ``ClassificationHead``, ``RegressionHead`` and ``create_output_head``."""

from __future__ import annotations

from torch import Tensor, nn

from astrolab.models.components.utils import make_activation, reset_all


class ClassificationHead(nn.Module):
    """Hidden layer + linear layer giving one logit per class."""

    def __init__(self, in_dim: int, num_classes: int, hidden_dim: int | None = None,
                 dropout: float = 0.0, activation: str = "gelu") -> None:
        super().__init__()
        hidden_dim = hidden_dim or in_dim
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim), make_activation(activation),
                                 nn.Dropout(dropout), nn.Linear(hidden_dim, num_classes))
        self.num_classes = num_classes

    def reset_parameters(self) -> None:
        reset_all(self.net)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class RegressionHead(nn.Module):
    """Hidden layer + linear layer giving ``out_dim`` values (default one)."""

    def __init__(self, in_dim: int, out_dim: int = 1, hidden_dim: int | None = None,
                 dropout: float = 0.0, activation: str = "gelu") -> None:
        super().__init__()
        hidden_dim = hidden_dim or in_dim
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim), make_activation(activation),
                                 nn.Dropout(dropout), nn.Linear(hidden_dim, out_dim))
        self.out_dim = out_dim

    def reset_parameters(self) -> None:
        reset_all(self.net)

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x)
        return out.squeeze(-1) if self.out_dim == 1 else out


def create_output_head(task, in_dim: int, num_classes: int | None = None, **kwargs) -> nn.Module:
    """The head a task needs: ``task`` is a :class:`~astrolab.tasks.Task`, or a task name / kind
    (anything containing ``regression``, ``forecast``, ``photo_z`` or ``registration`` is regression)."""
    if hasattr(task, "kind"):
        kind, out = task.kind, task.output_dim()
    else:
        name = str(task)
        regression = any(w in name for w in ("regression", "forecast", "photo_z", "registration"))
        kind = "regression" if regression else "classification"
        out = (num_classes or 1) if kind == "regression" else (num_classes or 2)
    if kind == "regression":
        return RegressionHead(in_dim, out_dim=out, **kwargs)
    return ClassificationHead(in_dim, out, **kwargs)
