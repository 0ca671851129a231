"""Models: components (plain ``nn.Module``s), ``AstroBaseModel`` and the model families."""

from astrolab.models.components import (
    ClassificationHead,
    EnhancedMLPBlock,
    ModernGraphEncoder,
    RegressionHead,
    create_output_head,
)
from astrolab.models.core import AstroBaseModel
from astrolab.models.multimodal import AstroMultiModalModel
from astrolab.models.node_gnn import AstroNodeGNN

__all__ = [
    "AstroBaseModel",
    "AstroMultiModalModel",
    "AstroNodeGNN",
    "ClassificationHead",
    "EnhancedMLPBlock",
    "ModernGraphEncoder",
    "RegressionHead",
    "create_output_head",
]
