"""``AstroGraphGNN``: one prediction per graph (a star group, a sky tile) of a block-diagonal batch.

Batch layout read (``data_kind = "graph_batch"``)::

    nodes   [N]: x [N, F] float32, graph [N] int64 (index of the node's graph in the batch)
    edges   [E]: index [E, 2] int64 (source, target), already offset into the batch's node numbering
    graphs  [B]: y [B] (targets), num_nodes [B]

Classification / regression: :class:`~astrolab.models.components.ModernGraphEncoder` → graph pooling
(``mean``, ``max``, ``sum`` or ``attention``) → output head; one row per graph.

Anomaly detection (``task=anomaly_detection``): a graph autoencoder with a masked-feature decoder. The
encoder and pooling summarise the whole graph into a small code z (``code_dim``); a decoder must then
predict hidden feature entries of every node (a fraction ``mask_rate``, set to 0 with a mask-indicator
feature per entry) from the node's visible entries and z alone, without seeing its neighbours (in the
spirit of GraphMAE, Hou et al. 2022, with a graph-level bottleneck). Trained on normal graphs only, z learns
what a normal group has in common (one bulk motion and distance, one age-dependent colour–magnitude
sequence), so members of an injected second population, which one code cannot describe, are
reconstructed badly. Training loss: the mean over hidden entries of log(squared error + 1e-3) per graph
(the logarithm keeps the large errors of field interlopers, present in every group, from drowning the
small but systematic errors of an inconsistent sub-population). Anomaly score: the per-feature mean log
error of the graph, standardised by the running mean and spread of that feature's error over the normal
training graphs, maximised over features (an inconsistency usually shows in a few features, e.g. the two
velocities; averaging over all features would dilute it).
Training hides random
entries; evaluation is deterministic: ``round(1 / mask_rate)`` passes, entry (i, f) of the i-th node of
its graph hidden in pass (i + f) mod K, so every entry is hidden exactly once and a graph's score does not
depend on the other graphs in its batch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from astrolab.models.components.graph_encoder import ModernGraphEncoder
from astrolab.models.components.heads import create_output_head
from astrolab.models.components.pooling import GraphPooling
from astrolab.models.components.utils import make_activation, reset_all
from astrolab.models.core import AstroBaseModel


LOG_EPS = 1.0e-3
ANOMALY_OBJECTIVES = ("reconstruction", "svdd")
CALIBRATION_MOMENTUM = 0.05


class FeatureDecoder(nn.Module):
    """(visible node features, mask, graph code) → reconstructed node features (two hidden layers)."""

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 64, activation: str = "gelu") -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim), make_activation(activation),
                                 nn.Linear(hidden_dim, hidden_dim), make_activation(activation),
                                 nn.Linear(hidden_dim, out_dim))

    def reset_parameters(self) -> None:
        reset_all(self.net)

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h)


def local_index(graph: Tensor, num_graphs: int) -> Tensor:
    """Position of every node within its own graph (nodes of a graph are contiguous in a batch)."""
    counts = torch.bincount(graph, minlength=num_graphs)
    start = torch.cumsum(counts, 0) - counts
    return torch.arange(len(graph), device=graph.device) - start[graph]


class AstroGraphGNN(AstroBaseModel):
    """Graph encoder + pooling + per-graph head (or a masked-feature autoencoder for anomaly detection).

    Args:
        num_features: node feature width (from the data module).
        num_classes: classes (classification), from the data module.
        hidden_dim, num_layers, heads, dropout, norm, residual: encoder architecture.
        conv_type: ``gcn``, ``gat``, ``sage``, ``gin`` (or ``none``: no message passing, a DeepSets baseline).
        pooling: ``mean``, ``max``, ``sum`` or ``attention`` (learned gate, global attention pooling).
        anomaly_objective: ``reconstruction`` (masked-feature graph autoencoder) or ``svdd`` (Deep SVDD
            distance of the graph code to a fixed centre).
        mask_rate: fraction of node-feature entries hidden per pass (anomaly detection).
        code_dim: width of the graph code z (anomaly detection).
        task: a task, task name or ``None`` (``graph_classification``).
    """

    default_task = "graph_classification"
    supported_tasks = ("graph_classification", "graph_regression", "anomaly_detection")
    data_kinds = ("graph_batch",)

    def __init__(self, num_features: int | None = None, num_classes: int | None = None, hidden_dim: int = 64,
                 num_layers: int = 3, conv_type: str = "gat", heads: int = 4, pooling: str = "mean",
                 dropout: float = 0.1, norm: str = "layer", residual: bool = True, mask_rate: float = 0.3,
                 code_dim: int = 8, anomaly_objective: str = "reconstruction", task: Any = None, **kwargs: Any) -> None:
        if not 0.0 < float(mask_rate) < 1.0:
            from astrolab.errors import ConfigError

            raise ConfigError(f"model.mask_rate={mask_rate} must be in (0, 1)")
        if anomaly_objective not in ANOMALY_OBJECTIVES:
            from astrolab.errors import ConfigError

            raise ConfigError(f"unknown model.anomaly_objective '{anomaly_objective}'; use one of "
                              f"{', '.join(ANOMALY_OBJECTIVES)}")
        super().__init__(task=task, num_features=num_features, num_classes=num_classes,
                         hidden_dim=hidden_dim, num_layers=num_layers, conv_type=conv_type, heads=heads,
                         pooling=pooling, dropout=dropout, norm=norm, residual=residual, mask_rate=mask_rate,
                         code_dim=code_dim, anomaly_objective=anomaly_objective, **kwargs)

    @property
    def is_anomaly(self) -> bool:
        return self.task.kind == "anomaly"

    def configure_models(self) -> None:
        hp = self.hparams
        self.encoder = ModernGraphEncoder(self.num_features, hp.hidden_dim, hp.num_layers, hp.conv_type,
                                          hp.heads, hp.dropout, hp.norm, hp.residual)
        self.pool = GraphPooling(hp.hidden_dim, hp.pooling)
        if self.is_anomaly and hp.anomaly_objective == "svdd":
            # bias-free projection and a fixed centre (Ruff et al. 2018) against the trivial solution
            self.code = nn.Linear(hp.hidden_dim, hp.code_dim, bias=False)
            self.register_buffer("center", torch.zeros(hp.code_dim))
            self.register_buffer("center_set", torch.tensor(False))
        elif self.is_anomaly:
            self.register_buffer("err_mean", torch.zeros(self.num_features))
            self.register_buffer("err_var", torch.ones(self.num_features))
            self.code = nn.Linear(hp.hidden_dim, hp.code_dim)
            self.decoder = FeatureDecoder(2 * self.num_features + hp.code_dim, self.num_features,
                                          hidden_dim=hp.hidden_dim)
        else:
            self.head = create_output_head(self.task, hp.hidden_dim, dropout=hp.dropout)

    # -- forward -----------------------------------------------------------------------------------
    def _encode(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.encoder(x, None if self.hparams.conv_type == "none" else edge_index)

    def embed(self, batch) -> Tensor:
        """Pooled graph embeddings ``[B, hidden_dim]`` (classification / regression)."""
        x, graph = batch["nodes", "x"], batch["nodes", "graph"]
        h = self._encode(x, batch["edges", "index"].t())
        return self.pool(h, graph, int(batch["graphs"].batch_size[0]))

    def forward(self, batch) -> Tensor:
        if self.is_anomaly:
            return self.anomaly_score(batch)
        return self.head(self.embed(batch))

    def anomaly_score(self, batch) -> Tensor:
        """Anomaly score per graph ``[B]`` (see the module docstring)."""
        x, graph = batch["nodes", "x"], batch["nodes", "graph"]
        b = int(batch["graphs"].batch_size[0])
        code = self.code(self.pool(self._encode(x, batch["edges", "index"].t()), graph, b))
        if self.hparams.anomaly_objective == "svdd":
            if self.training and not bool(self.center_set):
                with torch.no_grad():
                    c = code.mean(0)
                    c = torch.where(c.abs() < 0.1, torch.where(c < 0, -0.1, 0.1), c)
                    self.center.copy_(c)
                    self.center_set.fill_(True)
            return (code - self.center).pow(2).sum(-1)
        code = code[graph]
        rate = float(self.hparams.mask_rate)
        if self.training:
            masks = [torch.rand_like(x) < rate]
        else:
            k = max(int(round(1.0 / rate)), 2)
            pos = local_index(graph, b)[:, None] + torch.arange(x.shape[1], device=x.device)[None, :]
            masks = [(pos % k) == r for r in range(k)]
        num = x.new_zeros(b, x.shape[1])
        den = x.new_zeros(b, x.shape[1])
        for mask in masks:
            rec = self.decoder(torch.cat([x.masked_fill(mask, 0.0), mask.to(x.dtype), code], dim=-1))
            err = torch.log((rec - x).pow(2) + LOG_EPS) * mask
            num = num.index_add(0, graph, err)
            den = den.index_add(0, graph, mask.to(x.dtype))
        per_feature = num / den.clamp(min=1.0)  # [B, F] mean log error of each feature of each graph
        if self.training:
            with torch.no_grad():  # calibration of each feature's error on normal graphs
                seen = den > 0
                m = torch.where(seen, per_feature, 0.0).sum(0) / seen.sum(0).clamp(min=1)
                v = torch.where(seen, (per_feature - m).pow(2), 0.0).sum(0) / seen.sum(0).clamp(min=1)
                self.err_mean.lerp_(m, CALIBRATION_MOMENTUM)
                self.err_var.lerp_(v, CALIBRATION_MOMENTUM)
            return per_feature.mean(-1)
        z = (per_feature - self.err_mean) / self.err_var.clamp(min=1e-6).sqrt()
        return z.max(-1).values

    # -- steps -------------------------------------------------------------------------------------
    def _step(self, batch, stage: str) -> Tensor:
        if self.is_anomaly and stage == "train":
            # unsupervised: the training graphs are all normal; ranking metrics need both classes
            score, target = self.task.select(batch, self(batch), stage)
            loss = self.criterion(score, target)
            self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=self._batch_size(target),
                     prog_bar=True)
            return loss
        return super()._step(batch, stage)
