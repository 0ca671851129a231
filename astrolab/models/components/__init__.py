"""Building blocks: plain ``nn.Module``s (and ``tensordict.nn`` modules) with ``reset_parameters()``."""

from astrolab.models.components.cosmic_web import CosmicWebEncoder
from astrolab.models.components.graph_encoder import CONV_TYPES, ModernGraphEncoder
from astrolab.models.components.heads import ClassificationHead, RegressionHead, create_output_head
from astrolab.models.components.mlp import EnhancedMLPBlock
from astrolab.models.components.pointnet import ModernPointNetEncoder

__all__ = [
    "CONV_TYPES",
    "ClassificationHead",
    "CosmicWebEncoder",
    "EnhancedMLPBlock",
    "ModernGraphEncoder",
    "ModernPointNetEncoder",
    "RegressionHead",
    "create_output_head",
]
