"""``AstroMultiModalModel`` (``model=multimodal``) and the design's TensorDict factory functions.

The model is a pipeline of ``tensordict.nn`` components on the batch of an ``objects`` data module
(:class:`~astrolab.data.datamodules.sdss.SDSSDataModule`): :class:`PhotometricEncoder` on
``("photometry", "features")``, :class:`SpectralEncoder` on ``("spectrum", "flux"/"mask")`` when the
batch has spectra, optionally :class:`SpatialAttention` over sky neighbours within the batch, then
:class:`MultiModalFusion` (``concat`` / ``gated`` / ``cross_attention``) using ``has_spectrum`` so objects
without a spectrum are predicted from photometry alone, and the task's head.

Factories (re-exported by ``astrolab.models.factory``):

* :func:`create_multimodal_model` — the Lightning model from keyword arguments;
* :func:`create_tensordict_model` — a bare ``tensordict.nn`` module for given keys
  (``graph``, ``attention``, ``photometric``/``mlp``, ``spectral``, ``multimodal``);
* :func:`create_survey_specific_model` — a ready model for a survey's batch keys
  (``sdss``, ``gaia``, ``lightcurves``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from astrolab.errors import ConfigError
from astrolab.models.components.fusion import MultiModalFusion
from astrolab.models.components.graph_encoder import ModernGraphEncoder
from astrolab.models.components.heads import create_output_head
from astrolab.models.components.photometric import PhotometricEncoder
from astrolab.models.components.spatial_attention import SpatialAttention
from astrolab.models.components.spectral import SpectralEncoder
from astrolab.models.components.tensordict_module import (
    AstroTensorDictModule,
    HeadModule,
    TensorDictPipeline,
    as_keys,
)
from astrolab.models.core import AstroBaseModel


class AstroMultiModalModel(AstroBaseModel):
    """Photometry (+ spectra) → fused embedding → per-object class or redshift.

    Args:
        hidden_dim: embedding width of every encoder and the fusion.
        photometric_layers: MLP depth of the photometric encoder.
        spectral_channels / kernel_size: the spectral CNN.
        fusion: ``concat``, ``gated`` or ``cross_attention``.
        heads: attention heads (fusion and spatial attention).
        use_spectra: read spectra when the batch has them (``false``: photometry only).
        spatial: add attention over the ``spatial_k`` nearest objects on the sky within a batch.
        dropout: dropout everywhere.
        (see :class:`AstroBaseModel` for task, sizes and optimisation)
    """

    default_task = "classification"
    supported_tasks = ("classification", "photo_z")
    data_kinds = ("objects",)

    def __init__(self, task: Any = None, num_features: int | None = None, num_classes: int | None = None,
                 hidden_dim: int = 64, photometric_layers: int = 3, spectral_channels: Sequence[int] = (8, 16, 32),
                 kernel_size: int = 5, fusion: str = "gated", heads: int = 4, use_spectra: bool = True,
                 spatial: bool = False, spatial_k: int = 8, dropout: float = 0.1, **kwargs: Any) -> None:
        spectral_channels = [int(c) for c in spectral_channels]  # plain list in checkpoints (weights_only)
        super().__init__(task=task, num_features=num_features, num_classes=num_classes, hidden_dim=hidden_dim,
                         photometric_layers=photometric_layers, spectral_channels=list(spectral_channels),
                         kernel_size=kernel_size, fusion=fusion, heads=heads, use_spectra=use_spectra,
                         spatial=spatial, spatial_k=spatial_k, dropout=dropout, **kwargs)

    def configure_models(self) -> None:
        hp = self.hparams
        d = int(hp.hidden_dim)
        self.photometric = PhotometricEncoder(self.num_features, d, int(hp.photometric_layers), hp.dropout)
        self.spatial_attention = SpatialAttention(
            d, heads=hp.heads, k=hp.spatial_k, in_keys=[("photometry", "embedding"), "coordinates"],
            out_keys=[("photometry", "embedding")]) if hp.spatial else None
        dims = {"photometry": d}
        if hp.use_spectra:
            self.spectral = SpectralEncoder(d, hp.spectral_channels, hp.kernel_size, hp.dropout)
            dims["spectrum"] = d
        else:
            self.spectral = None
        self.fusion = MultiModalFusion(dims, d, hp.fusion, hp.heads, hp.dropout)
        self.head = create_output_head(self.task, d, dropout=hp.dropout)

    def encode(self, batch) -> Any:
        """The fused embedding (and the per-modality ones) as a new TensorDict; ``batch`` is not changed."""
        keys = [k for k in ("photometry", "spectrum", "has_spectrum", "coordinates") if k in batch.keys()]
        td = batch.select(*keys).flatten_keys(".").unflatten_keys(".")  # new structure, same tensors
        td = self.photometric(td)
        if self.spatial_attention is not None:
            td = self.spatial_attention(td)
        if self.spectral is not None and ("spectrum", "flux") in td.keys(include_nested=True):
            has = td.get("has_spectrum", None)
            if has is None:
                td = self.spectral(td)
            else:  # encode only the objects that have a spectrum (the others are masked in the fusion)
                idx = has.nonzero().squeeze(-1)
                emb = td["photometry", "embedding"].new_zeros(td.batch_size[0], self.spectral.out_dim)
                if len(idx):
                    rows = self.spectral(td.select("spectrum")[idx])
                    emb = emb.index_copy(0, idx, rows["spectrum", "embedding"].to(emb.dtype))
                td["spectrum", "embedding"] = emb
        return self.fusion(td)

    def forward(self, batch) -> Tensor:
        return self.head(self.encode(batch)["fusion", "embedding"])


def create_multimodal_model(num_features: int, num_classes: int | None = None, task: Any = "classification",
                            fusion: str = "gated", use_spectra: bool = True, **kwargs: Any) -> AstroMultiModalModel:
    """The ``model=multimodal`` Lightning model (``task``: ``classification`` or ``photo_z``, a config
    node or a :class:`~astrolab.tasks.Task`)."""
    return AstroMultiModalModel(task=task, num_features=num_features, num_classes=num_classes, fusion=fusion,
                                use_spectra=use_spectra, **kwargs)


class GraphTensorDictModel(AstroTensorDictModule):
    """kNN graph over ``coordinates`` (brute force in the batch) + :class:`ModernGraphEncoder` + head.

    ``in_keys = [coordinates, features]``, ``out_keys = [predictions]`` (one row per object).
    """

    def __init__(self, in_keys: Sequence[Any], out_keys: Sequence[Any], num_features: int, num_classes: int,
                 hidden_dim: int = 64, num_layers: int = 3, conv_type: str = "gat", heads: int = 4, k: int = 8,
                 dropout: float = 0.1, task: str = "classification") -> None:
        super().__init__(in_keys, out_keys)
        if len(self.in_keys) != 2:
            raise ConfigError("a graph tensordict model reads two keys: [coordinates, features]")
        self.k = int(k)
        self.encoder = ModernGraphEncoder(num_features, hidden_dim, num_layers, conv_type, heads, dropout)
        self.head = create_output_head(task, hidden_dim, num_classes=num_classes, dropout=dropout)

    def compute(self, coordinates: Tensor, features: Tensor) -> Tensor:
        n = coordinates.shape[0]
        k = min(self.k + 1, n)
        idx = torch.cdist(coordinates.float(), coordinates.float()).topk(k, largest=False).indices[:, 1:]
        src = idx.reshape(-1)
        dst = torch.arange(n, device=coordinates.device).repeat_interleave(k - 1)
        edge_index = torch.unique(torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], 1), dim=1)
        return self.head(self.encoder(features.float(), edge_index))


class AttentionTensorDictModel(AstroTensorDictModule):
    """Linear embedding + :class:`SpatialAttention` over neighbours + head; keys [coordinates, features]."""

    def __init__(self, in_keys: Sequence[Any], out_keys: Sequence[Any], num_features: int, num_classes: int,
                 hidden_dim: int = 64, heads: int = 4, k: int = 8, dropout: float = 0.1,
                 task: str = "classification") -> None:
        super().__init__(in_keys, out_keys)
        self.embed = nn.Linear(num_features, hidden_dim)
        self.attention = SpatialAttention(hidden_dim, heads, k, dropout=dropout)
        self.head = create_output_head(task, hidden_dim, num_classes=num_classes, dropout=dropout)

    def compute(self, coordinates: Tensor, features: Tensor) -> Tensor:
        pos_dim = coordinates.shape[-1]
        if self.attention.pos[0].in_features != pos_dim + 1:
            raise ValueError(f"coordinates have {pos_dim} columns; SpatialAttention was built for "
                             f"{self.attention.pos[0].in_features - 1}")
        return self.head(self.attention.compute(self.embed(features.float()), coordinates))


def create_tensordict_model(model_type: str, in_keys: Sequence[Any], out_keys: Sequence[Any], num_features: int,
                            num_classes: int, hidden_dim: int = 64, task: str = "classification",
                            **kwargs: Any) -> AstroTensorDictModule:
    """A ``tensordict.nn`` model that reads ``in_keys`` and writes its predictions to ``out_keys[0]``.

    model_type:
        ``graph``: in_keys ``[coordinates, features]``; kNN graph + graph encoder (``conv_type``, ``k``).
        ``attention``: in_keys ``[coordinates, features]``; spatial attention over neighbours.
        ``photometric`` / ``mlp``: in_keys ``[features]`` (or raw ``[mag, mag_err[, extra]]``).
        ``spectral``: in_keys ``[flux, mask]``.
        ``multimodal``: in_keys ``[photometric features, flux, mask, has_spectrum]``.
    ``task`` (a name; ``photo_z``/``regression`` give ``num_classes`` outputs as values) picks the head.
    """
    keys, outs = as_keys(in_keys), as_keys(out_keys)
    if not outs:
        raise ConfigError("create_tensordict_model needs at least one out_key")
    kind = str(model_type).lower()
    if kind == "graph":
        return GraphTensorDictModel(keys, outs[:1], num_features, num_classes, hidden_dim, task=task, **kwargs)
    if kind in ("attention", "spatial"):
        return AttentionTensorDictModel(keys, outs[:1], num_features, num_classes, hidden_dim, task=task, **kwargs)
    head = create_output_head(task, hidden_dim, num_classes=num_classes)
    if kind in ("photometric", "mlp"):
        enc = PhotometricEncoder(num_features, hidden_dim, in_keys=keys, out_keys=["_embedding"], **kwargs)
        return TensorDictPipeline(enc, HeadModule(head, "_embedding", outs[0]))
    if kind == "spectral":
        enc = SpectralEncoder(hidden_dim, in_keys=keys, out_keys=["_embedding"], **kwargs)
        return TensorDictPipeline(enc, HeadModule(head, "_embedding", outs[0]))
    if kind == "multimodal":
        if len(keys) != 4:
            raise ConfigError("a multimodal tensordict model reads [features, flux, mask, has_spectrum]")
        fusion_mode = kwargs.pop("fusion", "gated")
        phot = PhotometricEncoder(num_features, hidden_dim, in_keys=keys[:1], out_keys=["_phot"])
        spec = SpectralEncoder(hidden_dim, in_keys=keys[1:3], out_keys=["_spec"])
        fusion = MultiModalFusion({"photometry": hidden_dim, "spectrum": hidden_dim}, hidden_dim, fusion_mode,
                                  embedding_keys={"photometry": "_phot", "spectrum": "_spec"},
                                  presence_keys={"spectrum": keys[3]}, out_keys=["_fused"])
        return TensorDictPipeline(phot, spec, fusion, HeadModule(head, "_fused", outs[0]))
    raise ConfigError(f"unknown model_type '{model_type}'; use graph, attention, photometric, spectral or "
                      "multimodal")


SURVEYS = ("sdss", "gaia", "lightcurves")
#: Default input sizes of the embedded samples, duplicated here as model defaults (models never import
#: data/): SDSS 5 magnitudes + 4 colours + 5 psf-model differences + 5 log errors + petroRad = 20 features
#: (``astrolab.data.surveys.sdss``), Gaia 7 features (``astrolab.data.surveys.gaia.FEATURES``), light
#: curves 4 inputs per epoch. A data module's real feature count reaches the model through the build step.
DEFAULT_NUM_FEATURES = {"sdss": 20, "gaia": 7, "lightcurves": 4}


def create_survey_specific_model(survey: str, task: Any = None, num_features: int | None = None,
                                 num_classes: int | None = None, **kwargs: Any):
    """A ready Lightning model for a survey's batch keys.

    * ``sdss``: :class:`AstroMultiModalModel` (photometry + spectra; 20 SDSS features, 3 classes);
    * ``gaia``: :class:`~astrolab.models.node_gnn.AstroNodeGNN` (kNN star graph; 7 Gaia features);
    * ``lightcurves``: ``astrolab.models.temporal_gnn.AstroTemporalGNN`` (4 inputs per epoch: time delta,
      magnitude, error, band; 8 variability classes).
    Sizes default to the embedded samples'; pass ``num_features``/``num_classes`` for your data.
    """
    name = str(survey).lower()
    if name == "sdss":
        n_feat = num_features or DEFAULT_NUM_FEATURES["sdss"]
        return AstroMultiModalModel(task=task or "classification", num_features=n_feat,
                                    num_classes=num_classes or 3, **kwargs)
    if name == "gaia":
        from astrolab.models.node_gnn import AstroNodeGNN

        return AstroNodeGNN(task=task or "node_classification",
                            num_features=num_features or DEFAULT_NUM_FEATURES["gaia"],
                            num_classes=num_classes or 7, **kwargs)
    if name in ("lightcurves", "light_curves", "ztf", "ogle", "asassn"):
        try:
            from astrolab.models.temporal_gnn import AstroTemporalGNN
        except ImportError as exc:
            raise ConfigError("the light-curve family (astrolab.models.temporal_gnn) is not available in this "
                              f"installation ({exc})") from exc
        kw = {"num_features": num_features or DEFAULT_NUM_FEATURES["lightcurves"], "num_classes": num_classes or 8,
              **kwargs}
        if task is not None:
            kw["task"] = task
        return AstroTemporalGNN(**kw)
    raise ConfigError(f"unknown survey '{survey}'; use one of {', '.join(SURVEYS)}")
