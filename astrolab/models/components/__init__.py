"""Building blocks: plain ``nn.Module``s (and ``tensordict.nn`` modules) with ``reset_parameters()``.

Imported lazily (module-level ``__getattr__``), one file per component; components whose file is not part
of this installation raise ImportError naming the module.
"""

from __future__ import annotations

import importlib
from typing import Any

_PKG = "astrolab.models.components"
#: public name → module (relative to this package)
_LAZY: dict[str, str] = {
    "CONV_TYPES": "graph_encoder",
    "ModernGraphEncoder": "graph_encoder",
    "ClassificationHead": "heads",
    "RegressionHead": "heads",
    "create_output_head": "heads",
    "EnhancedMLPBlock": "mlp",
    "GraphPooling": "pooling",
    "POOLINGS": "pooling",
    "ModernPointNetEncoder": "pointnet",
    "CosmicWebEncoder": "cosmic_web",
    "AdvancedTemporalEncoder": "temporal",
    "AstroTensorDictModule": "tensordict_module",
    "PhotometricEncoder": "photometric",
    "SpectralEncoder": "spectral",
    "SpatialAttention": "spatial_attention",
    "MultiModalFusion": "fusion",
    "FUSION_MODES": "fusion",
    # losses, augmentation, mixins
    "FocalLoss": "losses",
    "HeteroscedasticGaussianNLL": "losses",
    "PhotoZLoss": "losses",
    "class_balanced_weights": "losses",
    "apply_augmentations": "augmentation",
}
for _n in ("MetricsMixin", "OptimizationMixin", "VisualizationMixin", "HPOResetMixin", "HPOMemoryMixin",
           "EfficientTrainingMixin", "ArchitectureSearchMixin", "AstronomicalAugmentationMixin",
           "AstronomicalLossMixin", "StandardModelMixin", "HPOModelMixin", "AstronomicalModelMixin",
           "default_precision"):
    _LAZY[_n] = "mixins"

__all__ = sorted(_LAZY)


def _find(name: str) -> Any:
    """The module defining ``name``: the listed one, else any component module that defines it
    (so a component whose file name differs from the list still imports once it exists)."""
    mod = importlib.import_module(f"{_PKG}.{_LAZY[name]}") if _LAZY.get(name) else None
    if mod is not None and hasattr(mod, name):
        return getattr(mod, name)
    raise AttributeError(name)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        value = _find(name)
    except (ModuleNotFoundError, AttributeError):
        value = _scan(name)
    globals()[name] = value
    return value


def _scan(name: str) -> Any:
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if info.name in ("mixins", "utils"):
            continue
        try:
            mod = importlib.import_module(f"{_PKG}.{info.name}")
        except ImportError:
            continue
        if hasattr(mod, name):
            return getattr(mod, name)
    raise ImportError(f"{name} is not available in this astrolab installation "
                      f"(expected in {_PKG}.{_LAZY[name]})")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
