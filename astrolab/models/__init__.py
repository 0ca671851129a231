"""Models: components (plain ``nn.Module``s), ``AstroBaseModel``, the model families and the design's
factories.

Names are imported lazily (module-level ``__getattr__``): ``from astrolab.models import AstroGraphGNN``
imports only that family, and a family that is not part of this installation raises ImportError with
its module name.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name → module that defines it
_LAZY: dict[str, str] = {
    # base and families
    "AstroBaseModel": "astrolab.models.core",
    "AstroNodeGNN": "astrolab.models.node_gnn",
    "AstroGraphGNN": "astrolab.models.graph_gnn",
    "AstroPointNet": "astrolab.models.point_net",
    "AstroCosmicWebGNN": "astrolab.models.cosmic_web_gnn",
    "AstroTemporalGNN": "astrolab.models.temporal_gnn",
    "AstroMultiModalModel": "astrolab.models.multimodal",
    # factories
    "create_model": "astrolab.models.factory",
    "create_model_for_task": "astrolab.models.factory",
    "create_tensordict_model": "astrolab.models.multimodal",
    "create_multimodal_model": "astrolab.models.multimodal",
    "create_survey_specific_model": "astrolab.models.multimodal",
    "create_cosmic_web_model": "astrolab.models.cosmic_web_gnn",
}
#: components are re-exported from astrolab.models.components
_COMPONENTS = (
    "EnhancedMLPBlock", "ModernGraphEncoder", "AdvancedTemporalEncoder", "ModernPointNetEncoder",
    "AstroTensorDictModule", "PhotometricEncoder", "SpectralEncoder", "SpatialAttention", "MultiModalFusion",
    "CosmicWebEncoder", "ClassificationHead", "RegressionHead", "create_output_head",
)

__all__ = sorted([*_LAZY, *_COMPONENTS])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _COMPONENTS:
        value = getattr(importlib.import_module("astrolab.models.components"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
