"""Building blocks: plain ``nn.Module``s (and ``tensordict.nn`` modules) with ``reset_parameters()``."""

from astrolab.models.components.graph_encoder import CONV_TYPES, ModernGraphEncoder
from astrolab.models.components.heads import ClassificationHead, RegressionHead, create_output_head
from astrolab.models.components.fusion import FUSION_MODES, MultiModalFusion
from astrolab.models.components.mlp import EnhancedMLPBlock
from astrolab.models.components.photometric import PhotometricEncoder
from astrolab.models.components.spatial_attention import SpatialAttention
from astrolab.models.components.spectral import SpectralEncoder
from astrolab.models.components.tensordict_module import AstroTensorDictModule

__all__ = [
    "AstroTensorDictModule",
    "FUSION_MODES",
    "MultiModalFusion",
    "PhotometricEncoder",
    "SpatialAttention",
    "SpectralEncoder",
    "CONV_TYPES",
    "ClassificationHead",
    "EnhancedMLPBlock",
    "ModernGraphEncoder",
    "RegressionHead",
    "create_output_head",
]
