"""Building blocks: plain ``nn.Module``s (and ``tensordict.nn`` modules) with ``reset_parameters()``."""

from astrolab.models.components.graph_encoder import CONV_TYPES, ModernGraphEncoder
from astrolab.models.components.heads import ClassificationHead, RegressionHead, create_output_head
from astrolab.models.components.mlp import EnhancedMLPBlock
from astrolab.models.components.pooling import POOLINGS, GraphPooling

__all__ = [
    "CONV_TYPES",
    "ClassificationHead",
    "EnhancedMLPBlock",
    "GraphPooling",
    "ModernGraphEncoder",
    "POOLINGS",
    "RegressionHead",
    "create_output_head",
]
