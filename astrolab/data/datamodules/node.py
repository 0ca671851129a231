"""``NodeGraphDataModule``: one catalog → one kNN graph whose nodes are the catalog rows.

Batch layout (one ``TensorDict`` per step, the whole graph; train/val/test are node masks)::

    nodes   batch [N]:  x [N, F] float32 (standardised with train-split statistics),
                        y [N] (int64 class or float32 value), train_mask / val_mask / test_mask [N] bool,
                        id [N] int64 (e.g. Gaia source_id, exact), row [N] int64 (row in the file),
                        index [N] int64 (row of :meth:`index_table`), predict_mask [N] bool (the split
                        ``predict_dataloader`` scores)
    edges   batch [E]:  index [E, 2] int64 (source, target); ``edge_index = index.t()`` for PyG

With ``dataset.batching=tiles`` a batch is one sky tile (:mod:`astrolab.data.tiles`) in the same layout:
its nodes are ordered core first, then by hop distance from the core (``nodes.hop`` [N] int64, 0 for
core nodes), ``index`` is the node's global index and the split masks and ``predict_mask`` hold core
nodes only. A model may use ``hop`` to skip outputs nobody reads (a layer's outputs are needed only
``num_layers - layer - 1`` hops from the core).

Subclasses (one per survey) implement :meth:`load_table`; this class owns the row policies
(``dataset.duplicates``, probability labels with ``dataset.target_threshold`` / ``dataset.target_ignore``),
splitting (seeded and stratified, or kept from ``dataset.split.column``), the checks made before anything
trains (graph size, rows and classes per split, constant features), class weights, standardisation,
graph building and caching.
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
from astrolab.data.splits import (
    check_constant_features, check_fractions, duplicate_policy, given_split, split_masks, threshold_labels,
)
from astrolab.data.surveys.common import encode_labels
from astrolab.errors import ConfigError, DataCheckError, DataError

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
    info: dict[str, Any]          # "id_column": None when ids are row numbers (duplicates then compare rows)
    given_split: np.ndarray | None = None  # raw values of dataset.split.column (train/val/test)
    sky: np.ndarray | None = None  # [N, 2] ra, dec in degrees (sky tiles); None: tiles unavailable


def _identity(x):
    return x


class _Tiles:
    """Map-style dataset of a data module's tiles. Index ``len(self)`` is the *padding tile*: the smallest
    tile with every split mask cleared (a DDP rank with one tile fewer than the others steps on it, so
    every rank takes the same number of steps and no core node is scored twice; see :class:`TileShards`)."""

    def __init__(self, dm, tiles: list[int], split: str) -> None:
        self.dm, self.tiles, self.split = dm, tiles, split

    def __len__(self) -> int:
        return len(self.tiles)

    def __getitem__(self, i: int):
        split = self.split if self.split in ("train", "val", "test") else "test"
        if i != len(self.tiles):
            return self.dm.tile_batch(self.tiles[i], split)
        core = self.dm.tile_plan.core
        batch = self.dm.tile_batch(min(self.tiles, key=lambda t: len(core[t])), split)
        nodes = batch["nodes"]
        for key in ("train_mask", "val_mask", "test_mask", "predict_mask"):
            nodes[key] = torch.zeros_like(nodes[key])
        return batch


class TileShards(torch.utils.data.distributed.DistributedSampler):
    """Tiles dealt out over DDP ranks, each tile to one rank once per epoch (reshuffled every epoch with
    ``seed + epoch`` when ``shuffle``). torch's ``DistributedSampler`` evens the ranks out by repeating
    tiles, which scores their core nodes twice; here a rank left one tile short steps on the padding tile
    (index ``len(dataset)``, no node scored) instead. With fewer tiles than ranks some rank would score
    nothing at all (and wait forever on the others' metric synchronisation), so tiles are then repeated
    and the log says so. A ``DistributedSampler`` subclass, so Lightning does not replace it."""

    def __init__(self, dataset, num_replicas: int, rank: int, shuffle: bool = False, seed: int = 0) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        n = len(dataset)
        self.num_samples = -(-n // num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.repeat = n < num_replicas
        if self.repeat and rank == 0:
            log.warning("%d tiles for %d DDP ranks: tiles are repeated across ranks, so some core nodes are "
                        "scored more than once per epoch (use a smaller dataset.tiles.nside or fewer ranks)",
                        n, num_replicas)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=g).tolist()
        else:
            order = list(range(n))
        if self.repeat:
            return iter([order[(self.rank + j * self.num_replicas) % n] for j in range(self.num_samples)])
        mine = order[self.rank::self.num_replicas]
        return iter(mine + [n] * (self.num_samples - len(mine)))


def _ddp_world() -> tuple[int, int] | None:
    """``(world_size, rank)`` inside an initialised process group of more than one rank, else ``None``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist.get_world_size(), dist.get_rank()
    return None


class NodeGraphDataModule(AstroDataModule):
    """Base of catalog → node-graph data modules.

    Args:
        path: catalog file (``None``: the survey's embedded sample).
        target: label / value column.
        columns: ``{canonical: file column}`` mapping.
        graph: ``{"k": int, "space": str}``.
        split: ``{"val": float, "test": float, "seed": int, "column": str | None}`` (``column``: keep the
            file's split, see :func:`astrolab.data.splits.given_split`).
        duplicates: rows sharing an id (or whole rows when there is no id): ``first`` (keep the first),
            ``drop`` (drop them all) or ``keep`` (keep all, twins always in the same split).
        target_threshold: binarise a probability target (label ``1`` when ``value >= threshold``).
        target_ignore: ``[lo, hi]``: rows with ``lo < value < hi`` are neither trained nor scored.
        class_weights: ``auto`` (inverse class frequency on the training split) or ``none``.
        task_kind: ``classification`` or ``regression`` (set by the run from the task config).
        cache_dir: where prepared graphs are cached (``None``: ``$ASTROLAB_CACHE`` or ``~/.cache/astrolab``).
        use_cache: read/write the cache.
        fixed: preprocessing saved with a trained model (:meth:`preprocessing`: scaler, class names,
            target statistics) for evaluation and prediction; when given, nothing is refitted.
        evaluate_all: put every labelled row in the test split (evaluating a model on another file).
        batching: ``full`` (the whole graph every step), ``tiles`` (HEALPix sky tiles with a k-hop margin,
            :mod:`astrolab.data.tiles`) or ``auto`` (full when the graph and a full-batch pass fit
            ``memory_budget_gb``, tiles above it).
        memory_budget_gb: the peak resident memory the run aims at (``None``: a sixth of the memory available
            at start). Above half of it the graph arrays stay memory-mapped in the cache folder.
        tiles: ``{"nside": "auto" | int}`` (auto: HEALPix pixels of mixed orders, a pixel split into its four
            children while its tile needs more than 80 % of what the budget leaves above the memory resident
            when the tiles are planned; an int: one order everywhere).
        num_hops / activation_floats: set by the run from the model (hops a node's output depends on;
            float32 activations per node and per edge of a training pass); the data module never sees the model.
    """

    data_kind = "node_graph"
    takes_model_hints = True
    batch_keys = {"target": ("nodes", "y"), "mask": ("nodes", "{stage}_mask"), "id": ("nodes", "id")}

    def __init__(self, path: str | None = None, target: str | None = None,
                 columns: dict[str, str | None] | None = None, graph: dict[str, Any] | None = None,
                 split: dict[str, Any] | None = None, class_weights: str = "auto",
                 task_kind: str = "classification", cache_dir: str | None = None, use_cache: bool = True,
                 fixed: dict[str, Any] | None = None, evaluate_all: bool = False, duplicates: str = "first",
                 target_threshold: float | None = None, target_ignore: list[float] | None = None,
                 predict_all: bool = False, batching: str = "auto", memory_budget_gb: float | None = None,
                 tiles: dict[str, Any] | None = None, num_hops: int | None = None,
                 activation_floats: dict[str, float] | None = None) -> None:
        super().__init__()
        self.batching = str(batching)
        if self.batching not in ("auto", "full", "tiles"):
            raise ConfigError(f"dataset.batching={batching} is not one of auto, full, tiles")
        try:
            self.memory_budget_gb = None if memory_budget_gb in (None, "auto") else float(memory_budget_gb)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"dataset.memory_budget_gb={memory_budget_gb} must be a number of GiB, e.g. 4") from exc
        if self.memory_budget_gb is not None and self.memory_budget_gb <= 0:
            raise ConfigError(f"dataset.memory_budget_gb={memory_budget_gb} must be positive, e.g. 4")
        self.tiles_cfg = {"nside": "auto", **dict(tiles or {})}
        nside = self.tiles_cfg["nside"]
        if nside not in (None, "auto"):
            try:
                ok = int(nside) >= 1 and int(nside) & (int(nside) - 1) == 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ConfigError(f"dataset.tiles.nside={nside} must be auto or a power of two (1, 2, 4, ... 8192)")
        self.num_hops = None if num_hops is None else int(num_hops)
        self.activation_floats = dict(activation_floats or {})
        self.tile_plan = None
        self.path = None if path in (None, "", "null") else str(path)
        self.target = target
        self.columns = {k: v for k, v in dict(columns or {}).items() if v}
        self.graph_cfg = {"k": 16, "space": "astrometry", **dict(graph or {})}
        try:
            k = int(self.graph_cfg["k"])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"dataset.graph.k={self.graph_cfg['k']} must be an integer, e.g. 16") from exc
        if k < 1:
            raise ConfigError(f"dataset.graph.k={k} must be at least 1 (neighbours per node), e.g. dataset.graph.k=16")
        self.split_cfg = {"val": 0.15, "test": 0.15, "seed": 0, "column": None, **dict(split or {})}
        self.duplicates = str(duplicates)
        if self.duplicates not in ("first", "drop", "keep"):
            raise ConfigError(f"dataset.duplicates={duplicates} is not one of first, drop, keep")
        self.target_threshold = None if target_threshold is None else float(target_threshold)
        self.target_ignore = None if target_ignore is None else [float(v) for v in target_ignore]
        if self.target_ignore is not None and (self.target_threshold is None or len(self.target_ignore) != 2):
            raise ConfigError("dataset.target_ignore=[lo,hi] needs dataset.target_threshold= inside it")
        self.class_weights_mode = class_weights
        self.task_kind = task_kind
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.use_cache = use_cache
        self.use_fixed(fixed, evaluate_all, predict_all)
        self.graph: TensorDict | None = None
        self.timings: dict[str, float] = {}

    # -- survey hook -------------------------------------------------------------------------------
    def load_table(self) -> NodeTable:
        raise NotImplementedError

    def source_path(self) -> Path:
        raise NotImplementedError

    def source_checksum(self, path: Path) -> str:
        """The cache key's checksum of the input (a file's bytes; a survey reading catalog folders, e.g.
        HATS, overrides it); refuses a missing path or a plain folder."""
        from astrolab.data.io import file_checksum
        from astrolab.errors import CatalogNotFoundError, EmptyCatalogError

        if not Path(path).exists():
            raise CatalogNotFoundError(f"catalog file not found: '{path}'; check dataset.path=")
        if Path(path).is_dir():
            raise EmptyCatalogError(f"'{path}' is a folder; dataset.path= must name one catalog file in it")
        return file_checksum(path)

    def graph_edges(self, pts: np.ndarray, table: NodeTable, scale: np.ndarray | None) -> torch.Tensor:
        """``edge_index`` of the kNN graph on ``pts`` (the graph points divided by ``scale``, ``None``
        when unscaled); a survey reading a partitioned catalog builds it per partition."""
        return knn_graph(pts, k=int(self.graph_cfg["k"]))

    def data_config(self) -> dict[str, Any]:
        """Everything that changes the prepared graph (the cache key)."""
        return {"target": self.target, "columns": self.columns, "graph": self.graph_cfg,
                "split": self.split_cfg, "task_kind": self.task_kind, "class_names": self.fixed_class_names,
                "evaluate_all": self.evaluate_all, "predict_all": self.predict_all, "duplicates": self.duplicates,
                "threshold": [self.target_threshold, self.target_ignore],
                "features": (self.fixed or {}).get("feature_names"), "version": 4}

    # -- preparation -------------------------------------------------------------------------------
    def _build(self) -> tuple[TensorDict, dict[str, Any]]:
        t0 = time.perf_counter()
        table = self._apply_row_policies(self.load_table())
        n = len(table.ids)
        meta: dict[str, Any] = {"feature_names": table.feature_names, "info": table.info}
        target = table.target
        meta["has_target"] = target is not None
        if target is not None and self.target_threshold is not None:
            target, n_band = threshold_labels(target, self.target, self.target_threshold, self.target_ignore)
            meta["info"]["n_ignore_band"] = n_band
        if target is None:
            y = torch.full((n,), -1, dtype=torch.long) if self.task_kind == "classification" else torch.full(
                (n,), float("nan"))
            eligible = np.zeros(n, bool)
        elif self.task_kind == "classification":
            if target.dtype.kind == "f" and self.target_threshold is None:
                finite = target[np.isfinite(target)]
                if len(finite) and np.any(np.mod(finite, 1) != 0):
                    raise DataCheckError(f"target '{self.target}' has non-integer values ({finite.min():g} to "
                                         f"{finite.max():g}); a probability is binarised with "
                                         "dataset.target_threshold=0.5, a continuous value needs "
                                         "task=node_regression")
            codes, names, eligible = encode_labels(target, self.fixed_class_names, self.target)
            present = np.unique(codes[eligible])
            if len(present) < 2 and not self.fixed_class_names:
                raise DataError(f"target '{self.target}' has {len(present)} class(es) after cuts; "
                                "classification needs at least two (pick another dataset.target=)")
            if self.fixed_class_names:
                unseen = int((encode_labels(target, None, self.target)[2] & ~eligible).sum())
                if unseen:
                    log.warning("%d rows have a class the model never saw (not one of %s): not scored", unseen,
                                ", ".join(self.fixed_class_names))
                meta["info"]["n_unseen_class"] = unseen
            meta["class_names"] = names
            y = torch.from_numpy(codes)
        else:
            vals = target.astype(np.float64) if target.dtype.kind in "fiu" else None
            if vals is None:
                raise DataError(f"target '{self.target}' is not numeric; a regression task needs numbers "
                                "(use task=node_classification for labels)")
            eligible = np.isfinite(vals)
            y = torch.from_numpy(np.where(eligible, vals, np.nan)).float()
        if self.predict_all:  # applying a trained model: every row that passed the cuts is scored
            masks = {"train": np.zeros(n, bool), "val": np.zeros(n, bool), "test": np.ones(n, bool)}
        elif self.evaluate_all:
            masks = {"train": np.zeros(n, bool), "val": np.zeros(n, bool), "test": eligible.copy()}
        else:
            strat = y.numpy() if self.task_kind == "classification" and target is not None else None
            masks = self._split(table, strat, eligible, meta.get("class_names"))
        k = int(self.graph_cfg["k"])
        if k >= n:
            raise DataCheckError(f"dataset.graph.k={k} is not below the {n} rows left: every node would link "
                                 f"every other; use dataset.graph.k={max(1, min(16, n // 4))}")
        t1 = time.perf_counter()
        train = masks["train"] if masks["train"].any() else np.ones(n, bool)
        pts, std = table.graph_points, None
        if self.graph_cfg["space"] != "xyz":
            mean, std = pts[train].mean(0), pts[train].std(0)
            std[std == 0] = 1.0
            pts = (pts - mean) / std
        edge_index = self.graph_edges(pts, table, std)
        meta["graph_seconds"] = time.perf_counter() - t1
        log.info("kNN graph (k=%d, space=%s): %d nodes, %d edges in %.2f s", self.graph_cfg["k"],
                 self.graph_cfg["space"], n, edge_index.shape[1], meta["graph_seconds"])
        sky = {} if table.sky is None else {"sky": torch.from_numpy(np.ascontiguousarray(table.sky, np.float64))}
        nodes = TensorDict({
            **sky,
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

    def _apply_row_policies(self, table: NodeTable) -> NodeTable:
        """``dataset.duplicates`` on ids (or whole feature rows when the file has no id column)."""
        has_ids = table.info.get("id_column", "source_id") is not None
        keys = table.ids if has_ids else table.features
        if has_ids and len(table.ids) > 1 and (table.ids == table.ids[0]).all():
            col = table.info.get("id_column")
            raise DataCheckError(f"id column '{col}' holds the same value ({table.ids[0]}) in all {len(table.ids)} "
                                 "rows; map the real id with dataset.columns.source_id=<column> (or remove the "
                                 "column: rows are then keyed by number)")
        keep, groups = duplicate_policy(keys, self.duplicates, "id" if has_ids else "row")
        self._groups = groups[keep]
        table.info["n_duplicate_rows"] = int(len(keep) - len(np.unique(groups)))
        if keep.all():
            return table
        return NodeTable(features=table.features[keep], feature_names=table.feature_names,
                         target=None if table.target is None else table.target[keep], ids=table.ids[keep],
                         rows=table.rows[keep], graph_points=table.graph_points[keep], info=table.info,
                         given_split=None if table.given_split is None else table.given_split[keep],
                         sky=None if table.sky is None else table.sky[keep])

    def _split(self, table: NodeTable, strat, eligible: np.ndarray, class_names) -> dict[str, np.ndarray]:
        """The split column's split, or a seeded (stratified) one over whole duplicate groups."""
        seed = int(self.split_cfg["seed"])
        val, test = check_fractions(self.split_cfg["val"], self.split_cfg["test"])
        if table.given_split is not None:
            return given_split(table.given_split, str(self.split_cfg["column"]), strat, val, seed, eligible,
                               class_names)
        n = len(table.ids)
        groups = getattr(self, "_groups", np.arange(n))
        uniq, first = np.unique(groups, return_index=True)
        if len(uniq) == n:
            return split_masks(n, strat, val, test, seed, eligible, class_names)
        sub = split_masks(len(first), None if strat is None else strat[first], val, test, seed, eligible[first],
                          class_names)
        pos = np.searchsorted(uniq, groups)
        return {s: m[pos] & eligible for s, m in sub.items()}

    def prepare_data(self) -> None:
        """Write the embedded sample when no file is given (subclasses)."""

    def setup(self, stage: str | None = None) -> None:
        if self.graph is not None:
            return
        t0 = time.perf_counter()
        path = self.source_path()
        checksum = self.source_checksum(path)
        key = cache_key(checksum, self.data_config())
        sizes = self._entry_sizes(key)
        mmap = sizes is not None and self._choose_batching(*sizes)[1] and self.use_cache
        td, meta = self.cached_build("node_graph", key, source=str(path), checksum=checksum, mmap=mmap)
        n, e = int(td["nodes"].batch_size[0]), int(td["edges"].batch_size[0])
        mode, out_of_core, why = self._choose_batching(n, e, int(td["nodes", "x_raw"].shape[1]))
        if out_of_core and not mmap and self.use_cache:  # just built: read it back memory-mapped
            from astrolab.data.cache import load_cached

            del td
            td, _ = load_cached(self.cache_dir, "node_graph", key, verify=False, mmap=True)
        self.batching_info = {"mode": mode, "why": why, "out_of_core": bool(out_of_core and self.use_cache)}
        log.info("batching=%s (dataset.batching=%s): %s%s", mode, self.batching, why,
                 "; graph arrays memory-mapped from the cache" if self.batching_info["out_of_core"] else "")
        self.meta = meta
        self.feature_names = list(meta["feature_names"])
        self.class_names = meta.get("class_names") or self.fixed_class_names
        nodes = td["nodes"]
        train = nodes["train_mask"]
        x_raw = nodes["x_raw"]
        if not self.fixed.get("scaler") and train.any():
            check_constant_features(x_raw[train].numpy(), self.feature_names)
        self.scaler = self.fit_scaler(x_raw[train] if train.any() else x_raw, self.feature_names, ddof=1)
        mean = torch.tensor(self.scaler["mean"], dtype=torch.float64)
        std = torch.tensor(self.scaler["std"], dtype=torch.float64)
        if mode == "full":
            nodes["x"] = ((x_raw - mean) / std).float()
            del nodes["x_raw"]
            nodes["index"] = torch.arange(nodes.batch_size[0])
            nodes["predict_mask"] = nodes["test_mask"].clone()
        else:  # tiles standardise their own rows (x_raw may be a memory-mapped file)
            self._scale = (mean.numpy(), std.numpy())
            self._plan_tiles(td)
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

    # -- batching: full graph or sky tiles ----------------------------------------------------------
    def _entry_sizes(self, key: str) -> tuple[int, int, int] | None:
        """``(nodes, edges, features)`` of a cache entry from its manifest (before reading any array)."""
        import json

        from astrolab.data.cache import entry_path

        if not self.use_cache:
            return None
        try:
            arrays = json.loads((entry_path(self.cache_dir, "node_graph", key) / "manifest.json").read_text())["arrays"]
            n, f = arrays["nodes/x_raw"]["shape"]
            return int(n), int(arrays["edges/index"]["shape"][0]), int(f)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def budget_bytes(self) -> float:
        """``dataset.memory_budget_gb`` (default: a sixth of the memory available when first asked), in
        bytes: the peak resident memory the run aims at. Read once, so every decision uses the same figure."""
        from astrolab.data.tiles import default_memory_budget_gb, resident_bytes

        if getattr(self, "_budget", None) is None:
            gb = self.memory_budget_gb if self.memory_budget_gb is not None else default_memory_budget_gb()
            self._budget = gb * 2**30
            self._resident_at_start = resident_bytes()
        return self._budget

    def _budget_source(self) -> str:
        from astrolab.data.tiles import DEFAULT_BUDGET_FRACTION

        return ("dataset.memory_budget_gb" if self.memory_budget_gb is not None
                else f"default: 1/{round(1 / DEFAULT_BUDGET_FRACTION)} of available memory")

    def _choose_batching(self, n: int, e: int, f: int) -> tuple[str, bool, str]:
        """``(mode, out_of_core, why)`` for a graph of ``n`` nodes, ``e`` edges and ``f`` features: full-batch
        when what the process held at start + the graph arrays + a full-batch pass fit the budget."""
        from astrolab.data.tiles import activation_bytes, graph_bytes

        budget = self.budget_bytes()
        base = self._resident_at_start
        data = graph_bytes(n, e, f)
        need = base + data + activation_bytes(n, e, self.activation_floats)
        fits = (f"resident {base / 2**30:.2f} GiB + graph {data / 2**30:.2f} GiB + full-batch activations "
                f"{(need - data - base) / 2**30:.2f} GiB {'<=' if need <= budget else '>'} budget "
                f"{budget / 2**30:.2f} GiB ({self._budget_source()})")
        if self.batching == "full" or (self.batching == "auto" and need <= budget):
            return "full", False, fits if self.batching == "auto" else "dataset.batching=full"
        out_of_core = data > budget / 2
        why = fits if self.batching == "auto" else "dataset.batching=tiles"
        if out_of_core:
            why += f"; graph arrays {data / 2**30:.2f} GiB > half the budget"
        return "tiles", out_of_core, why

    def tile_target_bytes(self) -> float:
        """Activations one tile may need: a share of what the budget leaves above the memory resident now
        (libraries, the graph arrays), at least a tenth of the budget (with a warning when that is all)."""
        from astrolab.data.tiles import TILE_SHARE, resident_bytes

        budget, resident = self.budget_bytes(), resident_bytes()
        target = TILE_SHARE * (budget - resident)
        if target < 0.1 * budget:
            log.warning("dataset.memory_budget_gb: %.2f GiB is resident already, close to the budget of %.2f GiB; "
                        "tiles get a tenth of the budget and the run will exceed it (raise "
                        "dataset.memory_budget_gb)", resident / 2**30, budget / 2**30)
            target = 0.1 * budget
        self._tile_target = target
        return target

    def _plan_tiles(self, td: TensorDict) -> None:
        from astrolab.data.tiles import csr, plan_adaptive, plan_tiles

        nodes = td["nodes"]
        if "sky" not in nodes.keys():
            raise ConfigError("dataset.batching=tiles needs sky positions (ra, dec) in the catalog; "
                              "use dataset.batching=full")
        if self.num_hops is None:
            raise ConfigError("dataset.batching=tiles needs the model's number of hops: pass num_hops=<message-"
                              "passing layers> to the data module (astrolab runs set it from the model)")
        t0 = time.perf_counter()
        n = int(nodes.batch_size[0])
        rowptr, col, _ = csr(td["edges", "index"].numpy(), n)
        sky = nodes["sky"].numpy()
        ra, dec = np.asarray(sky[:, 0]), np.asarray(sky[:, 1])
        nside = self.tiles_cfg["nside"]
        if nside in (None, "auto"):  # pixels of mixed orders, each tile within what the budget leaves
            plan = plan_adaptive(ra, dec, rowptr, col, self.num_hops, self.tile_target_bytes(),
                                 self.activation_floats)
        else:
            plan = plan_tiles(ra, dec, rowptr, col, self.num_hops, int(nside))
        self.tile_plan, self._csr = plan, (rowptr, col)
        self._plan_seconds = round(time.perf_counter() - t0, 3)
        log.info("tiles: %s (planned in %.1f s)", plan.summary(), self._plan_seconds)

    def tile_batch(self, t: int, predict_split: str = "test") -> TensorDict:
        """Tile ``t`` as a batch (layout of the whole-graph batch; split masks and ``predict_mask`` hold
        the tile's core nodes only, ``index`` is the node's global index)."""
        from astrolab.data.tiles import induced_edges, tile_activation_bytes

        plan = self.tile_plan
        sorted_ids, hop = plan.tile_nodes(t, return_hops=True)
        order = np.argsort(hop, kind="stable")  # core first, then ring by ring (models may trim per layer)
        ids, hop = sorted_ids[order], hop[order]
        core = hop == 0
        src = self.graph["nodes"]
        mean, std = self._scale
        x = (np.asarray(src["x_raw"].numpy()[ids], np.float64) - mean) / std
        core_t = torch.from_numpy(core)
        idx = torch.from_numpy(ids)
        out = {"x": torch.from_numpy(x.astype(np.float32)), "index": idx, "hop": torch.from_numpy(hop)}
        for k in ("y", "id", "row"):
            out[k] = src[k][idx]
        for s in ("train", "val", "test"):
            out[f"{s}_mask"] = src[f"{s}_mask"][idx] & core_t
        out["predict_mask"] = out[f"{predict_split}_mask"].clone()
        local = np.empty(len(ids), np.int64)
        local[order] = np.arange(len(ids))  # position in the sorted ids -> position in the tile
        edges = local[induced_edges(*self._csr, sorted_ids)]
        rowptr = self._csr[0]
        plan.sizes[t] = (len(ids), len(edges), tile_activation_bytes(hop, rowptr[ids + 1] - rowptr[ids],
                                                                     self.activation_floats))
        return TensorDict({"nodes": TensorDict(out, batch_size=[len(ids)]),
                           "edges": TensorDict({"index": torch.from_numpy(edges)}, batch_size=[len(edges)])},
                          batch_size=[])

    def tiles_of(self, split: str) -> list[int]:
        """Tiles with at least one core node of ``split``."""
        mask = self.graph["nodes", f"{split}_mask"].numpy()
        return [t for t, c in enumerate(self.tile_plan.core) if mask[c].any()]

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
                "file_columns": self.meta["info"].get("file_columns"),
                "n_duplicate_rows": self.meta["info"].get("n_duplicate_rows"),
                "n_unseen_class": self.meta["info"].get("n_unseen_class"),
                "n_ignore_band": self.meta["info"].get("n_ignore_band"),
                "split_column": self.split_cfg.get("column"),
                "batching": None if not hasattr(self, "batching_info") else {
                    **self.batching_info, **({"tiles": {**self.tile_plan.summary(), "plan_seconds": self._plan_seconds,
                                   "tile_target_gib": round(getattr(self, "_tile_target", 0) / 2**30, 3)}}
                                             if self.tile_plan is not None else {})},
                "split_sizes": {s: int(self.graph["nodes", f"{s}_mask"].sum()) for s in ("train", "val", "test")}}

    def row_status(self) -> dict[int, str]:
        """Why input rows were not scored (row → reason), where the survey schema recorded it."""
        return {int(r): str(why) for r, why in self.meta["info"].get("removed_rows", [])}

    def index_table(self):
        """One row per node (``index`` order): exact ``id``, ``row`` in the file, ``split`` and the
        label or value as read (``true``; empty when the file has none)."""
        from astropy.table import Table

        nodes = self.graph["nodes"]
        table = Table()
        table["id"] = nodes["id"].numpy().astype(np.int64)
        survey_id = self.meta["info"].get("id_column")
        if survey_id and survey_id not in ("id", "row"):
            table[survey_id] = table["id"]  # the survey's own id column, as spelled in the file
        table["row"] = nodes["row"].numpy()
        split = np.full(len(table), "", dtype="<U5")
        for s in ("train", "val", "test"):
            split[nodes[f"{s}_mask"].numpy()] = s
        table["split"] = split
        if self.target is not None and self.meta.get("has_target", True):
            self.add_true_column(table, nodes["y"])
        return table

    def predict_dataloader(self):
        return self._loader("predict", False)

    # -- loaders -----------------------------------------------------------------------------------
    def _loader(self, split: str = "train", shuffle: bool = False):
        """The whole graph every step (splits are node masks)."""
        from torch.utils.data import DataLoader

        if self.graph is None:
            self.setup()
        if self.tile_plan is not None:
            target = self.predict_split if split == "predict" else split
            tiles = _Tiles(self, self.tiles_of(target), target)
            world = _ddp_world() if split != "predict" else None
            if world is not None:  # each tile on one rank (Lightning keeps a DistributedSampler it is given)
                import os

                sampler = TileShards(tiles, world[0], world[1], shuffle=shuffle,
                                     seed=int(os.environ.get("PL_GLOBAL_SEED", 0)))
                return DataLoader(tiles, batch_size=None, sampler=sampler, collate_fn=_identity)
            return DataLoader(tiles, batch_size=None, shuffle=shuffle, collate_fn=_identity)
        if split == "predict":
            self.graph["nodes", "predict_mask"] = self.graph["nodes", f"{self.predict_split}_mask"].clone()
        return DataLoader([self.graph], batch_size=None, collate_fn=_identity, shuffle=False)
