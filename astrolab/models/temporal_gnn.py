"""``AstroTemporalGNN``: a sequence encoder per object (light curve), optionally followed by message
passing over a kNN graph of objects, then a classification head or a forecasting head."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from astrolab.errors import ConfigError
from astrolab.models.components.graph_encoder import ModernGraphEncoder
from astrolab.models.components.heads import create_output_head
from astrolab.models.components.temporal import AdvancedTemporalEncoder, ContinuousTimeEncoding
from astrolab.models.components.utils import reset_all
from astrolab.models.core import AstroBaseModel


class ForecastHead(nn.Module):
    """Magnitude at a query epoch from the object embedding, the query's time (continuous-time
    encoding of the time since the first epoch), band and query features."""

    def __init__(self, hidden_dim: int, query_dim: int = 3, num_bands: int = 16, dropout: float = 0.1) -> None:
        super().__init__()
        self.time_encoding = ContinuousTimeEncoding(hidden_dim)
        self.band_embedding = nn.Embedding(num_bands, hidden_dim)
        self.query_proj = nn.Linear(query_dim + hidden_dim, hidden_dim)
        self.net = nn.Sequential(nn.Linear(2 * hidden_dim, hidden_dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, 1))

    def reset_parameters(self) -> None:
        reset_all(self)

    def forward(self, z: Tensor, qx: Tensor, qtime: Tensor, qband: Tensor) -> Tensor:
        q = self.query_proj(torch.cat([qx, self.time_encoding(qtime)], -1)) + self.band_embedding(qband.clamp(min=0))
        h = torch.cat([z.unsqueeze(1).expand(-1, q.shape[1], -1), q], -1)
        return self.net(h).squeeze(-1)


class ObjectFeatureBranch(nn.Module):
    """Per-object feature vector (``batch["objects", "features"]``, scaled by the data module) → a
    ``hidden_dim`` embedding (an MLP of ``layers`` layers, GELU), concatenated to the sequence embedding
    before the head."""

    def __init__(self, num_object_features: int, hidden_dim: int, dropout: float = 0.1, layers: int = 2) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        width = num_object_features
        for i in range(max(int(layers), 1)):
            if i:
                mods.append(nn.Dropout(dropout))
            mods += [nn.Linear(width, hidden_dim), nn.GELU()]
            width = hidden_dim
        self.net = nn.Sequential(*mods)

    def reset_parameters(self) -> None:
        reset_all(self)

    def forward(self, features: Tensor) -> Tensor:
        return self.net(features)


class EnsembleMember(nn.Module):
    """One more member of a ``model.ensemble``: its own encoder, graph part, feature branch and head
    (member 0 is the model's own ``encoder`` / ``graph_encoder`` / ``feature_branch`` / ``head``)."""

    def __init__(self, encoder: nn.Module, graph_encoder: nn.Module | None, feature_branch: nn.Module | None,
                 head: nn.Module, unimodal_heads: nn.Module | None = None) -> None:
        super().__init__()
        self.encoder, self.graph_encoder, self.feature_branch, self.head = encoder, graph_encoder, feature_branch, head
        self.unimodal_heads = unimodal_heads

    def reset_parameters(self) -> None:
        reset_all(self)


class AstroTemporalGNN(AstroBaseModel):
    """Light-curve encoder (+ optional object graph) + head.

    Reads ``batch["sequence", …]`` (``x``, ``time``, ``band``, ``mask``), with ``graph=knn`` also
    ``batch["edges", "index"]`` (``[E, 2]``, neighbour → object), and for forecasting
    ``batch["queries", …]``. Returns one row of logits per predicted object (``objects.seed``) for
    classification, or ``[B, Q]`` standardised magnitude offsets at the queries for forecasting.

    Args:
        cell: ``lstm``, ``gru`` or ``transformer`` (:class:`AdvancedTemporalEncoder`).
        hidden_dim, num_layers, heads, dropout, bidirectional: encoder architecture.
        graph: ``none`` or ``knn`` (message passing over the data module's kNN graph of objects).
        conv_type, graph_layers: the graph part (:class:`ModernGraphEncoder`).
        num_bands: band embedding table size (the data module allows at most 16 bands).
        pretrained: an encoder checkpoint of ``astrolab pretrain`` (``checkpoints/encoder.ckpt``); the run
            session loads it into ``encoder`` before fine-tuning (:meth:`load_encoder_state`).
        freeze_encoder: keep the pretrained encoder's weights fixed (only the head and graph part train).
        num_object_features: length of the per-object feature vector ``batch["objects", "features"]``
            (from the data module's ``dataset.features``; 0: none).
        object_features: use that vector (a small MLP branch concatenated before the head); ``False``
            ignores it (sequence only).
        feature_layers: depth of that MLP branch.
        feature_dim: width of that MLP branch (``None``: ``hidden_dim``).
        feature_skip: late fusion — the scaled feature vector itself is concatenated to the head's input
            too (next to the sequence embedding and the branch's output), so the head sees exactly what the
            feature baseline sees; the head's input grows by ``num_object_features``.
        sequence_dropout: while training, the probability that an object's sequence embedding is zeroed
            (modality dropout: the head must also classify from the features alone, and cannot ignore them).
        unimodal_weight: weight of the unimodal losses while training (gradient blending, Wang, Tran & Feiszli
            2020): each member gets two extra heads, one on the sequence embedding alone and one on the feature
            branch alone, and training adds ``unimodal_weight`` × the mean of their cross-entropies to the
            fused head's, so neither part can lean on the other (the sequence encoder cannot memorise the
            training curves while the features go unused). Only the fused head predicts; 0: off.
            Classification with the feature branch only.
        ensemble: members of a deep ensemble trained side by side in the run (1: a single network; ``None``:
            :attr:`default_ensemble` members for classification, one network for the other tasks). Each
            member has its own initialisation, dropout masks and loss (training minimises the mean of the
            members' cross-entropies: they learn independently); the model's output is the log of the members'
            mean class probabilities, so validation, early stopping, ``best.ckpt``, calibration and
            ``astrolab predict`` all see the ensemble. Classification only; costs ``ensemble``× the time.
        ema_decay: keep an exponential moving average of the weights (decay per optimizer step, e.g.
            0.99; 0: off); validation — hence early stopping and ``best.ckpt``, which holds the averaged
            weights — uses the average. ``ckpt_path=last`` restarts the average from the saved weights.
        num_threads (via ``**kwargs``, :meth:`AstroBaseModel.setup`): ``torch.set_num_threads`` for the run
            — process-wide, it stays set after the run.
    """

    default_task = "time_series_classification"
    supported_tasks = ("time_series_classification", "forecasting", "masked_reconstruction")
    data_kinds = ("sequence",)
    #: members of ``ensemble=None`` for classification (5: level with or ahead of the run's random forest in
    #: every measured split of docs/light-curves.md, where 1 and 3 trail it by an object in some)
    default_ensemble = 5

    def __init__(self, task: Any = None, num_features: int | None = None, num_classes: int | None = None,
                 cell: str = "gru", hidden_dim: int = 64, num_layers: int = 2, heads: int = 4,
                 dropout: float = 0.1, bidirectional: bool = False, graph: str = "none", conv_type: str = "sage",
                 graph_layers: int = 1, num_bands: int = 16, num_object_features: int = 0,
                 object_features: bool = True, feature_layers: int = 2, feature_dim: int | None = None,
                 feature_skip: bool = False,
                 sequence_dropout: float = 0.0, unimodal_weight: float = 0.0, ema_decay: float = 0.0,
                 ensemble: int | None = 1,
                 pretrained: str | None = None, freeze_encoder: bool = False, **kwargs: Any) -> None:
        if graph not in ("none", "knn"):
            raise ConfigError(f"unknown model.graph '{graph}'; use none or knn")
        if not 0.0 <= float(sequence_dropout) < 1.0:
            raise ConfigError(f"model.sequence_dropout must be in [0, 1), not {sequence_dropout}")
        if not float(unimodal_weight) >= 0.0:
            raise ConfigError(f"model.unimodal_weight must be >= 0 (0: off), not {unimodal_weight}")
        if int(feature_layers) < 1:
            raise ConfigError(f"model.feature_layers must be at least 1, not {feature_layers}")
        if not 0.0 <= float(ema_decay) < 1.0:
            raise ConfigError(f"model.ema_decay must be in [0, 1) (0: off), not {ema_decay}")
        if ensemble in ("null", "None"):
            ensemble = None
        if ensemble is not None and int(ensemble) < 1:
            raise ConfigError(f"model.ensemble must be at least 1 (1: a single network), not {ensemble}")
        super().__init__(task=task, num_features=num_features, num_classes=num_classes, cell=cell,
                         hidden_dim=hidden_dim, num_layers=num_layers, heads=heads, dropout=dropout,
                         bidirectional=bidirectional, graph=graph, conv_type=conv_type,
                         graph_layers=graph_layers, num_bands=num_bands,
                         num_object_features=int(num_object_features or 0), object_features=bool(object_features),
                         feature_layers=int(feature_layers),
                         feature_dim=None if feature_dim in (None, "null", "None") else int(feature_dim),
                         feature_skip=bool(feature_skip),
                         sequence_dropout=float(sequence_dropout), unimodal_weight=float(unimodal_weight),
                         ema_decay=float(ema_decay),
                         ensemble=None if ensemble is None else int(ensemble), pretrained=pretrained,
                         freeze_encoder=freeze_encoder, **kwargs)

    def configure_models(self) -> None:
        hp = self.hparams
        self.encoder = self._build_encoder()
        self.graph_encoder = self._build_graph_encoder()
        self.configure_feature_branch()
        width = hp.hidden_dim
        if self.feature_branch is not None:
            width += self.feature_dim + (int(hp.num_object_features) if self.feature_skip else 0)
        if self.task.name == "forecasting":
            self.head = ForecastHead(width, 3, hp.num_bands, hp.dropout)
        elif self.task.kind == "reconstruction":
            self._configure_reconstruction()
        else:
            self.head = create_output_head(self.task, width, dropout=hp.dropout)
        self.unimodal_heads = self._build_unimodal_heads(width)
        k = hp.get("ensemble", 1)
        if k is None:  # auto; the checkpoint's hparams record the number
            k = self.default_ensemble if self.task.kind == "classification" else 1
            self.hparams["ensemble"] = k
        k = int(k)
        if k > 1 and self.task.kind != "classification":
            raise ConfigError(f"model.ensemble={k} averages class probabilities: it is for "
                              f"time_series_classification; use model.ensemble=1 with task {self.task.name}")
        # members 1..k-1 (member 0 is this model's own parts; a single network keeps its checkpoint keys)
        self.members = (nn.ModuleList(
            EnsembleMember(self._build_encoder(), self._build_graph_encoder(), self._build_feature_branch(),
                           create_output_head(self.task, width, dropout=hp.dropout),
                           self._build_unimodal_heads(width)) for _ in range(k - 1))
            if k > 1 else None)
        self._member_outputs: Tensor | None = None
        self._unimodal_outputs: Tensor | None = None

    def _build_unimodal_heads(self, width: int) -> nn.Module | None:
        """``model.unimodal_weight`` > 0: a head on the sequence embedding and one on the feature part of the
        head's input (the branch's output, and with ``feature_skip`` the features)."""
        hp = self.hparams
        if not float(hp.get("unimodal_weight", 0.0) or 0.0) > 0:
            return None
        if self.task.kind != "classification" or self.feature_branch is None:
            raise ConfigError("model.unimodal_weight > 0 adds heads on the sequence alone and on the per-object "
                              "features alone: it needs time_series_classification and the feature branch "
                              "(dataset.features and model.object_features=true); else model.unimodal_weight=0")
        return nn.ModuleDict({"sequence": create_output_head(self.task, hp.hidden_dim, dropout=hp.dropout),
                              "features": create_output_head(self.task, width - hp.hidden_dim, dropout=hp.dropout)})

    def _build_encoder(self) -> nn.Module:
        hp = self.hparams
        return AdvancedTemporalEncoder(self.num_features, hp.hidden_dim, hp.cell, hp.num_layers, hp.heads,
                                       hp.dropout, hp.num_bands, hp.bidirectional)

    def _build_graph_encoder(self) -> nn.Module | None:
        hp = self.hparams
        return (ModernGraphEncoder(hp.hidden_dim, hp.hidden_dim, hp.graph_layers, hp.conv_type, hp.heads,
                                   hp.dropout, "layer", True) if hp.graph == "knn" else None)

    def configure_feature_branch(self) -> None:
        hp = self.hparams
        self.feature_dim = int(hp.get("feature_dim") or hp.hidden_dim)
        self.feature_branch = self._build_feature_branch()
        self.feature_skip = bool(hp.get("feature_skip", False)) and self.feature_branch is not None

    def _build_feature_branch(self) -> nn.Module | None:
        hp = self.hparams
        n = int(hp.get("num_object_features") or 0)
        return (ObjectFeatureBranch(n, int(hp.get("feature_dim") or hp.hidden_dim), hp.dropout,
                                    int(hp.get("feature_layers", 2)))
                if n > 0 and hp.get("object_features", True) else None)

    def with_object_features(self, z: Tensor, batch, member: nn.Module | None = None) -> Tensor:
        """``[z, branch(features)]`` when the feature branch is on (the batch must then carry them), with
        ``feature_skip`` ``[z, branch(features), features]``; ``sequence_dropout`` zeroes ``z`` of random
        objects while training. ``member``: whose feature branch (default: this model's own)."""
        branch = (member or self).feature_branch
        if branch is None:
            return z
        if ("objects", "features") not in batch.keys(include_nested=True):
            raise ConfigError("this model was built with a per-object feature branch but the batch has no "
                              "objects.features: use the same dataset.features= as in training")
        f = batch["objects", "features"].to(z.dtype)
        p = float(self.hparams.get("sequence_dropout", 0.0) or 0.0)
        if self.training and p > 0:
            keep = torch.rand(z.shape[0], 1, device=z.device) >= p
            z = z * keep.to(z.dtype)
        parts = [z, branch(f)] + ([f] if self.feature_skip else [])
        return torch.cat(parts, -1)

    def encode(self, batch, member: nn.Module | None = None) -> Tensor:
        """The object embeddings ``[N, hidden_dim]`` (``member``: whose encoder; default this model's)."""
        m = member or self
        seq = batch["sequence"]
        z = m.encoder(seq["x"], seq["time"], seq["band"], seq["mask"])
        if m.graph_encoder is not None:
            if "edges" not in batch.keys():
                raise ConfigError("model.graph=knn needs a kNN graph of objects from the data module; set "
                                  "dataset.graph.type=knn (dataset=lightcurves does it from model.graph)")
            z = m.graph_encoder(z, batch["edges", "index"].t())
        return z

    def _batch_size(self, target: Tensor) -> int:
        return max(int(target.shape[0]), 1)

    def forward(self, batch) -> Tensor:
        if self.task.kind == "reconstruction":
            return self._reconstruct(batch)
        if self.task.name == "forecasting":
            z = self.with_object_features(self.encode(batch), batch)
            q = batch["queries"]
            return self.head(z, q["x"], q["time"], q["band"])
        if self.members is None and self.unimodal_heads is None:
            return self.head(self.with_object_features(self.encode(batch), batch))
        fused, unimodal = [], []
        for m in (self, *(self.members or ())):
            z = self.encode(batch, m)
            h = self.with_object_features(z, batch, m)
            fused.append(m.head(h))
            if self.training and m.unimodal_heads is not None:
                unimodal += [m.unimodal_heads["sequence"](z), m.unimodal_heads["features"](h[:, z.shape[-1]:])]
        self._unimodal_outputs = torch.stack(unimodal) if unimodal else None
        outs = torch.stack(fused)
        self._member_outputs = outs if self.training and len(fused) > 1 else None
        if len(fused) == 1:
            return outs[0]
        # log of the members' mean class probabilities: softmax of it is the ensemble's probability
        return torch.logsumexp(torch.log_softmax(outs, -1), 0) - math.log(outs.shape[0])

    def step_loss(self, output: Tensor, target: Tensor, batch, stage: str) -> Tensor:
        """With ``ensemble`` > 1, a training step's loss is the mean of the members' own losses (each member
        learns on its own, as in a deep ensemble); validation and test score the ensemble's output."""
        if self.task.kind == "reconstruction":
            loss = super().step_loss(output, target, batch, stage)
            extra, self._feature_loss = getattr(self, "_feature_loss", None), None
            if extra is None:
                return loss
            self.log(f"{stage}/feature_loss", extra.detach(), on_step=False, on_epoch=True,
                     batch_size=self._batch_size(target))
            return loss + float(self.task.feature_weight) * extra
        outs, self._member_outputs = self._member_outputs, None
        unimodal, self._unimodal_outputs = self._unimodal_outputs, None
        if stage != "train" or (outs is None and unimodal is None):
            return super().step_loss(output, target, batch, stage)
        member_loss = super().step_loss
        loss = (super().step_loss(output, target, batch, stage) if outs is None else
                torch.stack([member_loss(self.task.select(batch, o, stage)[0], target, batch, stage)
                             for o in outs]).mean())
        if unimodal is None:
            return loss
        extra = torch.stack([member_loss(self.task.select(batch, o, stage)[0], target, batch, stage)
                             for o in unimodal]).mean()
        self.log(f"{stage}/unimodal_loss", extra.detach(), on_step=False, on_epoch=True,
                 batch_size=self._batch_size(target))
        return loss + float(self.hparams.unimodal_weight) * extra

    # -- weight averaging (model.ema_decay) ------------------------------------------------------------
    _ema: dict[str, Tensor] | None = None
    _ema_swapped: bool = False

    def on_fit_start(self) -> None:
        decay = float(self.hparams.get("ema_decay", 0.0) or 0.0)
        self._ema = ({n: p.detach().clone() for n, p in self.named_parameters() if p.requires_grad}
                     if decay > 0 else None)
        self._ema_swapped = False

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if self._ema is None:
            return
        w = 1.0 - float(self.hparams.ema_decay)
        with torch.no_grad():
            for n, p in self.named_parameters():
                if n in self._ema:
                    self._ema[n].lerp_(p.detach(), w)

    def _swap_ema(self) -> None:
        """Exchange the live weights and their average (validation runs on the average)."""
        with torch.no_grad():
            for n, p in self.named_parameters():
                if n in self._ema:
                    live = p.detach().clone()
                    p.copy_(self._ema[n])
                    self._ema[n].copy_(live)
        self._ema_swapped = not self._ema_swapped

    def on_validation_epoch_start(self) -> None:
        if self._ema is not None and not self._ema_swapped:
            self._swap_ema()

    def on_validation_end(self) -> None:
        # after the callbacks' on_validation_end: ModelCheckpoint has saved the averaged weights
        if self._ema is not None and self._ema_swapped:
            self._swap_ema()

    def on_fit_end(self) -> None:
        if self._ema is not None:  # the model left in memory carries the averaged weights too
            if not self._ema_swapped:
                self._swap_ema()
            self._ema, self._ema_swapped = None, False

    # -- self-supervised pretraining (astrolab pretrain) and fine-tuning from it ------------------------
    #: the part of the network an encoder checkpoint holds
    pretrained_module = "encoder"

    def _configure_reconstruction(self) -> None:
        """Masked reconstruction: the head predicts a hidden epoch's magnitude from the object embedding
        and the epoch's time, band and (magnitude-free) features."""
        if self.hparams.graph != "none":
            raise ConfigError("astrolab pretrain trains the light-curve encoder alone: use model.graph=none "
                              "(fine-tune with model.graph=knn model.pretrained=<encoder.ckpt>)")
        self.head = ForecastHead(self.hparams.hidden_dim, self.num_features, self.hparams.num_bands,
                                 self.hparams.dropout)
        self.feature_decoder = None
        if float(getattr(self.task, "feature_weight", 0.0) or 0.0) > 0:
            n = int(self.hparams.get("num_object_features") or 0)
            if n == 0:
                raise ConfigError("task.feature_weight > 0 uses the per-object features, but this data has "
                                  "none: set dataset.features (e.g. dataset.features=[periods,fourier]) or "
                                  "task.feature_weight=0")
            h = self.hparams.hidden_dim
            if self.task.feature_objective == "predict":  # encoder vector of the masked curve -> features
                self.feature_decoder = nn.Sequential(nn.Linear(h, h), nn.GELU(), nn.Linear(h, n))
            else:  # contrast: projections of the two views into one space (CLIP-style)
                if self.feature_branch is None:
                    raise ConfigError("task.feature_objective=contrast pretrains the feature branch: use "
                                      "model.object_features=true")
                self.feature_decoder = nn.ModuleDict({"sequence": nn.Linear(h, h),
                                                      "features": nn.Linear(self.feature_dim, h)})
        self._feature_loss: Tensor | None = None

    def _reconstruct(self, batch) -> Tensor:
        """``[B, L]`` predicted (standardised) magnitude feature at every original epoch (the task scores
        the hidden ones); the encoder sees only the visible epochs."""
        view = self.task.mask_batch(batch, "train" if self.training else "eval")
        z = self.encoder(view["x"], view["time"], view["band"], view["mask"])
        if self.feature_decoder is not None:  # task.feature_weight: the same vector predicts the features
            if ("objects", "features") not in batch.keys(include_nested=True):
                raise ConfigError("task.feature_weight > 0 needs the per-object features in the batch: set "
                                  "dataset.features or task.feature_weight=0")
            f = batch["objects", "features"].to(z.dtype)
            self._feature_loss = (nn.functional.mse_loss(self.feature_decoder(z), f)
                                  if self.task.feature_objective == "predict" else self._contrast(z, f))
        bi, li = view["hidden"].nonzero(as_tuple=True)  # the head runs on the hidden epochs only
        pred = self.head(z[bi], view["query_x"][bi, li].unsqueeze(1), view["query_time"][bi, li].unsqueeze(1),
                         view["query_band"][bi, li].unsqueeze(1)).reshape(-1)
        return torch.zeros(view["hidden"].shape, dtype=pred.dtype, device=pred.device).index_put((bi, li), pred)

    def _contrast(self, z: Tensor, f: Tensor) -> Tensor:
        """Symmetric InfoNCE between the masked curves' vectors and the feature branch's vectors: each
        object's pair is the positive, the batch's other objects the negatives."""
        a = nn.functional.normalize(self.feature_decoder["sequence"](z), dim=-1)
        b = nn.functional.normalize(self.feature_decoder["features"](self.feature_branch(f)), dim=-1)
        logits = a @ b.t() / self.task.temperature
        target = torch.arange(len(z), device=z.device)
        return 0.5 * (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.t(), target))

    @property
    def pretrains_feature_branch(self) -> bool:
        """Whether this pretraining run trains the feature branch too (``task.feature_objective=contrast``)."""
        return (self.task.kind == "reconstruction" and getattr(self, "feature_decoder", None) is not None
                and self.task.feature_objective == "contrast")

    def encoder_state_dict(self) -> dict[str, Tensor]:
        """The encoder's weights (what ``checkpoints/encoder.ckpt`` of a pretraining run holds), and with
        :attr:`pretrains_feature_branch` the feature branch's under ``feature_branch.``."""
        out = {k: v.detach().cpu() for k, v in self.encoder.state_dict().items()}
        if self.pretrains_feature_branch:
            out.update({f"feature_branch.{k}": v.detach().cpu() for k, v in self.feature_branch.state_dict().items()})
        return out

    def encoder_signature(self) -> dict[str, Any]:
        """What an encoder checkpoint must match to load into this model."""
        hp = self.hparams
        return {"family": type(self).__name__, "num_features": int(self.num_features), "cell": hp.cell,
                "hidden_dim": int(hp.hidden_dim), "num_layers": int(hp.num_layers),
                "heads": int(hp.heads) if hp.cell == "transformer" else None,  # no weight shape otherwise
                "bidirectional": bool(hp.bidirectional) if hp.cell != "transformer" else None,
                "num_bands": int(hp.num_bands)}

    def load_encoder_state(self, state: dict[str, Tensor], freeze: bool = False) -> None:
        """Load pretrained encoder weights (strict: every key and shape must match); ``freeze`` turns their
        gradients off (the optimizer only gets trainable parameters)."""
        pre = "feature_branch."
        branch = {k[len(pre):]: v for k, v in state.items() if k.startswith(pre)}
        encoder = {k: v for k, v in state.items() if not k.startswith(pre)}
        for m in (self, *(self.members or ())):  # every ensemble member starts from the pretrained encoder
            m.encoder.load_state_dict(encoder, strict=True)
            parts = [m.encoder]
            if branch and m.feature_branch is not None:  # pretrained with task.feature_objective=contrast
                m.feature_branch.load_state_dict(branch, strict=True)
                parts.append(m.feature_branch)
            if freeze:
                for part in parts:
                    for p in part.parameters():
                        p.requires_grad_(False)
