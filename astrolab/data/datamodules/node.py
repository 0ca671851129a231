"""``NodeGraphDataModule``: one catalog → one kNN graph whose nodes are the catalog rows.

Batch layout (one ``TensorDict`` per step, the whole graph; train/val/test are node masks)::

    nodes   batch [N]:  x [N, F] float32 (standardised with train-split statistics),
                        y [N] (int64 class or float32 value), train_mask / val_mask / test_mask [N] bool,
                        id [N] int64 (e.g. Gaia source_id, exact), row [N] int64 (row in the file)
    edges   batch [E]:  index [E, 2] int64 (source, target); ``edge_index = index.t()`` for PyG

Subclasses (one per survey) implement :meth:`load_table`; this class owns splitting, class weights,
standardisation, graph building and caching.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tensordict import TensorDict

from astrolab.data.datamodules.base import AstroDataModule
from astrolab.data.cache import cache_key, default_cache_dir
from astrolab.data.graphs import knn_graph
from astrolab.data.splits import split_masks
from astrolab.data.surveys.common import encode_labels
from astrolab.errors import DataError

log = logging.getLogger(__name__)


@dataclass
class NodeTable:
    """What a survey hands to the data module."""

    features: np.ndarray          # [N, F] float64, unscaled
    feature_names: list[str]
    target: np.ndarray | None     # raw target column (str / int / float), None for prediction only
    ids: np.ndarray               # int64
    rows: np.ndarray              # int64 row numbers in the file
    graph_points: np.ndarray      # [N, D] coordinates for the kNN graph
    info: dict[str, Any]


def _identity(x):
    return x


class NodeGraphDataModule(AstroDataModule):
    """Base of catalog → node-graph data modules.

    Args:
        path: catalog file (``None``: the survey's embedded sample).
        target: label / value column.
        columns: ``{canonical: file column}`` mapping.
        graph: ``{"k": int, "space": str}``.
        split: ``{"val": float, "test": float, "seed": int}``.
        class_weights: ``auto`` (inverse class frequency on the training split) or ``none``.
        task_kind: ``classification`` or ``regression`` (set by the run from the task config).
        cache_dir: where prepared graphs are cached (``None``: ``$ASTROLAB_CACHE`` or ``~/.cache/astrolab``).
        use_cache: read/write the cache.
        fixed: preprocessing saved with a trained model (:meth:`preprocessing`: scaler, class names,
            target statistics) for evaluation and prediction; when given, nothing is refitted.
        evaluate_all: put every labelled row in the test split (evaluating a model on another file).
    """

    data_kind = "node_graph"
    batch_keys = {"target": ("nodes", "y"), "mask": ("nodes", "{stage}_mask"), "id": ("nodes", "id")}

    def __init__(self, path: str | None = None, target: str | None = None,
                 columns: dict[str, str | None] | None = None, graph: dict[str, Any] | None = None,
                 split: dict[str, Any] | None = None, class_weights: str = "auto",
                 task_kind: str = "classification", cache_dir: str | None = None, use_cache: bool = True,
                 fixed: dict[str, Any] | None = None, evaluate_all: bool = False) -> None:
        super().__init__()
        self.path = None if path in (None, "", "null") else str(path)
        self.target = target
        self.columns = {k: v for k, v in dict(columns or {}).items() if v}
        self.graph_cfg = {"k": 16, "space": "astrometry", **dict(graph or {})}
        self.split_cfg = {"val": 0.15, "test": 0.15, "seed": 0, **dict(split or {})}
        self.class_weights_mode = class_weights
        self.task_kind = task_kind
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.use_cache = use_cache
        self.use_fixed(fixed, evaluate_all)
        self.graph: TensorDict | None = None
        self.timings: dict[str, float] = {}

    # -- survey hook -------------------------------------------------------------------------------
    def load_table(self) -> NodeTable:
        raise NotImplementedError

    def source_path(self) -> Path:
        raise NotImplementedError

    def data_config(self) -> dict[str, Any]:
        """Everything that changes the prepared graph (the cache key)."""
        return {"target": self.target, "columns": self.columns, "graph": self.graph_cfg,
                "split": self.split_cfg, "task_kind": self.task_kind, "class_names": self.fixed_class_names,
                "evaluate_all": self.evaluate_all, "version": 2}

    # -- preparation -------------------------------------------------------------------------------
    def _build(self) -> tuple[TensorDict, dict[str, Any]]:
        t0 = time.perf_counter()
        table = self.load_table()
        n = len(table.ids)
        meta: dict[str, Any] = {"feature_names": table.feature_names, "info": table.info}
        if table.target is None:
            y = torch.zeros(n)
            eligible = np.zeros(n, bool)
        elif self.task_kind == "classification":
            codes, names, eligible = encode_labels(table.target, self.fixed_class_names, self.target)
            present = np.unique(codes[eligible])
            if len(present) < 2 and not self.fixed_class_names:
                raise DataError(f"target '{self.target}' has {len(present)} class(es) after cuts; "
                                "classification needs at least two (pick another dataset.target=)")
            meta["class_names"] = names
            y = torch.from_numpy(codes)
        else:
            vals = table.target.astype(np.float64) if table.target.dtype.kind in "fiu" else None
            if vals is None:
                raise DataError(f"target '{self.target}' is not numeric; a regression task needs numbers "
                                "(use task=node_classification for labels)")
            eligible = np.isfinite(vals)
            y = torch.from_numpy(np.where(eligible, vals, np.nan)).float()
        if self.evaluate_all:
            masks = {"train": np.zeros(n, bool), "val": np.zeros(n, bool), "test": eligible.copy()}
        else:
            strat = y.numpy() if self.task_kind == "classification" and table.target is not None else None
            masks = split_masks(n, strat, self.split_cfg["val"], self.split_cfg["test"],
                                int(self.split_cfg["seed"]), eligible)
        t1 = time.perf_counter()
        train = masks["train"] if masks["train"].any() else np.ones(n, bool)
        pts = table.graph_points
        if self.graph_cfg["space"] != "xyz":
            mean, std = pts[train].mean(0), pts[train].std(0)
            std[std == 0] = 1.0
            pts = (pts - mean) / std
        edge_index = knn_graph(pts, k=int(self.graph_cfg["k"]))
        meta["graph_seconds"] = time.perf_counter() - t1
        log.info("kNN graph (k=%d, space=%s): %d nodes, %d edges in %.2f s", self.graph_cfg["k"],
                 self.graph_cfg["space"], n, edge_index.shape[1], meta["graph_seconds"])
        nodes = TensorDict({
            "x_raw": torch.from_numpy(table.features),
            "y": y,
            "train_mask": torch.from_numpy(masks["train"]),
            "val_mask": torch.from_numpy(masks["val"]),
            "test_mask": torch.from_numpy(masks["test"]),
            "id": torch.from_numpy(table.ids.astype(np.int64)),
            "row": torch.from_numpy(table.rows.astype(np.int64)),
        }, batch_size=[n])
        edges = TensorDict({"index": edge_index.t().contiguous()}, batch_size=[edge_index.shape[1]])
        meta["prepare_seconds"] = time.perf_counter() - t0
        return TensorDict({"nodes": nodes, "edges": edges}, batch_size=[]), meta

    def prepare_data(self) -> None:
        """Write the embedded sample when no file is given (subclasses)."""

    def setup(self, stage: str | None = None) -> None:
        if self.graph is not None:
            return
        t0 = time.perf_counter()
        path = self.source_path()
        from astrolab.data.io import file_checksum

        if not Path(path).exists():
            from astrolab.errors import CatalogNotFoundError

            raise CatalogNotFoundError(f"catalog file not found: '{path}'; check dataset.path=")
        key = cache_key(file_checksum(path), self.data_config())
        td, meta = self.cached_build("node_graph", key)
        self.meta = meta
        self.feature_names = list(meta["feature_names"])
        self.class_names = meta.get("class_names")
        nodes = td["nodes"]
        train = nodes["train_mask"]
        x_raw = nodes["x_raw"]
        self.scaler = self.fit_scaler(x_raw[train] if train.any() else x_raw, self.feature_names, ddof=1)
        mean = torch.tensor(self.scaler["mean"], dtype=torch.float64)
        std = torch.tensor(self.scaler["std"], dtype=torch.float64)
        nodes["x"] = ((x_raw - mean) / std).float()
        del nodes["x_raw"]
        if self.task_kind == "classification" and self.class_names is not None:
            y = nodes["y"]
            counts = torch.bincount(y[train], minlength=len(self.class_names)).double()
            weights = counts.sum() / (len(counts) * counts.clamp(min=1))
            self.class_weights = weights.tolist() if self.class_weights_mode == "auto" else None
            self.class_counts = {n: int(c) for n, c in zip(self.class_names, torch.bincount(
                y[y >= 0], minlength=len(self.class_names)).tolist())}
        else:
            self.class_weights = None
            self.target_stats = self.fit_target_stats(nodes["y"][train])
        self.graph = td
        self.timings["setup"] = time.perf_counter() - t0

    def preprocessing(self) -> dict[str, Any]:
        """Saved in checkpoints: what evaluation and prediction must apply identically."""
        out: dict[str, Any] = {"scaler": self.scaler, "feature_names": self.feature_names,
                               "class_names": self.class_names, "target": self.target,
                               "task_kind": self.task_kind}
        if self.task_kind != "classification":
            out["target_stats"] = self.target_stats
        return out

    def targets(self, split: str):
        """Targets of one split (trivial baselines are computed from these)."""
        nodes = self.graph["nodes"]
        return nodes["y"][nodes[f"{split}_mask"]]

    def describe(self) -> dict[str, Any]:
        """What summary.json says about the data."""
        return {"n_nodes": int(self.graph["nodes"].batch_size[0]),
                "n_edges": int(self.graph["edges"].batch_size[0]), "features": self.feature_names,
                "classes": self.class_names, "cache": self.meta.get("cache"),
                "source": self.meta["info"].get("path"), "checksum": self.meta["info"].get("checksum"),
                "split_sizes": {s: int(self.graph["nodes", f"{s}_mask"].sum()) for s in ("train", "val", "test")}}

    def predictions_table(self, model, task, split: str = "test"):
        """An astropy Table of per-node predictions for one split (ids exact)."""
        from astropy.table import Table

        out, nodes, mask = self.whole_graph_outputs(model, split)
        pred = task.predict(out)
        table = Table()
        table["id"] = nodes["id"][mask].numpy().astype(np.int64)
        table["row"] = nodes["row"][mask].numpy()
        self.add_prediction_columns(table, task, nodes["y"][mask], pred)
        return table

    # -- loaders -----------------------------------------------------------------------------------
    def _loader(self, split: str = "train", shuffle: bool = False):
        """The whole graph every step (splits are node masks)."""
        from torch.utils.data import DataLoader

        if self.graph is None:
            self.setup()
        return DataLoader([self.graph], batch_size=None, collate_fn=_identity, shuffle=False)
