"""Models: components (plain ``nn.Module``s), ``AstroBaseModel`` and the model families."""

from astrolab.models.components import (
    ClassificationHead,
    EnhancedMLPBlock,
    ModernGraphEncoder,
    RegressionHead,
    create_output_head,
)
from astrolab.models.core import AstroBaseModel
from astrolab.models.node_gnn import AstroNodeGNN
from astrolab.models.temporal_gnn import AstroTemporalGNN

__all__ = [
    "AstroBaseModel",
    "AstroNodeGNN",
    "AstroTemporalGNN",
    "ClassificationHead",
    "EnhancedMLPBlock",
    "ModernGraphEncoder",
    "RegressionHead",
    "create_output_head",
]
