"""Models: components (plain ``nn.Module``s), ``AstroBaseModel`` and the model families."""

from astrolab.models.components import (
    ClassificationHead,
    EnhancedMLPBlock,
    ModernGraphEncoder,
    RegressionHead,
    create_output_head,
)
from astrolab.models.core import AstroBaseModel
from astrolab.models.cosmic_web_gnn import AstroCosmicWebGNN, create_cosmic_web_model
from astrolab.models.node_gnn import AstroNodeGNN
from astrolab.models.point_net import AstroPointNet

__all__ = [
    "AstroBaseModel",
    "AstroCosmicWebGNN",
    "AstroNodeGNN",
    "AstroPointNet",
    "ClassificationHead",
    "EnhancedMLPBlock",
    "ModernGraphEncoder",
    "RegressionHead",
    "create_cosmic_web_model",
    "create_output_head",
]
