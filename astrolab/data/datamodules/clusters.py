"""``StarGroupsDataModule`` (``dataset=clusters``): a Gaia member table with a group-id column → many small
graphs, batched block-diagonally (``data_kind = "graph_batch"``).

Input: ONE table in Gaia DR3 column names (any format :func:`~astrolab.data.io.read_catalog` reads), one
row per (group, star), a group column (``dataset.group``, default ``group_id``) and per-group target
columns repeated on each row of the group (checked constant within a group). Default: the embedded
sample of :mod:`astrolab.data.synthetic.star_groups` (open clusters with ages, field asterisms, anomalous
clusters), written as FITS and read back. Your own membership catalog:
``dataset.path=members.fits dataset.group=cluster_name dataset.target=age_column``.

Per star: the Gaia schema's features (:mod:`astrolab.data.surveys.gaia`: Galactic x, y, z, tangential
velocities, BP-RP, M_G; same quality cuts) plus, with ``relative_features``, position and tangential
velocity relative to the group median (dx, dy, dz, dv_ra, dv_dec), computed from the inputs only
(anomaly detection: the relative ones replace the absolute ones). Labels
are never features: the target and group columns may not be Gaia input columns.

Per group: a symmetrised kNN graph (``graph.k``) in the group's own standardised space ``graph.space``:
``xyz_v`` (x, y, z, v_ra, v_dec), ``xyz`` or ``features``. Groups with fewer than ``min_nodes`` stars after
the cuts are dropped (logged).

Targets (``dataset.target``; ``null`` picks by task): classification ``is_cluster``, regression
``log_age``, anomaly detection ``is_anomaly`` (1 anomaly, 0 normal; other values such as -1 excluded).
Splits are seeded and by group (stratified for classes). Anomaly detection: the normal groups are split
into train/val/test, anomalies go only to val and test (half each), so training sees normal groups only.
Features are standardised with the node statistics of the training groups.

Prediction (``predict_all``, ``astrolab predict``): the label column is not needed (when present it is
copied through as ``true``, never used); every group with at least ``min_nodes`` stars after the cuts is
scored, with the checkpoint's features, scaler, class names, graph settings and ``min_nodes``. The predicted
objects are the groups: :meth:`group_table` has one row per group of the file (first-appearance order) with
its ``status``, :meth:`row_status` says why a star was not used (a quality cut, no group id, a group left
too small), and :meth:`describe` counts stars and groups (``prediction``).

Batch (one nested ``TensorDict`` per step, ``batch_size`` graphs of one split)::

    nodes   [N]: x [N, F] float32, graph [N] int64, id [N] int64 (source_id, exact)
    edges   [E]: index [E, 2] int64, offset into the batch's node numbering (block-diagonal adjacency)
    graphs  [B]: y [B] (int64 class / float32 value), group [B] int64 (index into the group list),
                 num_nodes [B] int64
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tensordict import TensorDict

from astrolab.data.datamodules.base import AstroDataModule
from astrolab.data.graphs import knn_graph
from astrolab.data.io import read_catalog
from astrolab.data.splits import split_masks
from astrolab.data.surveys.common import encode_labels
from astrolab.data.surveys.gaia import FEATURE_INPUTS, FEATURES, apply_gaia_schema
from astrolab.errors import ConfigError, DataError

log = logging.getLogger(__name__)

DEFAULT_TARGETS = {"classification": "is_cluster", "regression": "log_age", "anomaly": "is_anomaly"}
RELATIVE_FEATURES = ("dx_pc", "dy_pc", "dz_pc", "dv_ra_kms", "dv_dec_kms")
GRAPH_SPACES = ("xyz_v", "xyz", "features")
SPLITS = ("train", "val", "test")


def collate_graphs(graphs: list[dict[str, Any]]) -> TensorDict:
    """Block-diagonal batch of several graphs (PyG-style: a graph index per node, edge offsets)."""
    sizes = [int(g["x"].shape[0]) for g in graphs]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    x = torch.cat([g["x"] for g in graphs])
    graph = torch.repeat_interleave(torch.arange(len(graphs)), torch.tensor(sizes))
    index = torch.cat([g["edges"] + int(o) for g, o in zip(graphs, offsets)])
    nodes = TensorDict({"x": x, "graph": graph, "id": torch.cat([g["id"] for g in graphs])},
                       batch_size=[len(x)])
    edges = TensorDict({"index": index}, batch_size=[len(index)])
    meta = TensorDict({"y": torch.stack([g["y"] for g in graphs]),
                       "group": torch.tensor([g["group"] for g in graphs], dtype=torch.int64),
                       "index": torch.tensor([g.get("index", -1) for g in graphs], dtype=torch.int64),
                       "num_nodes": torch.tensor(sizes, dtype=torch.int64)}, batch_size=[len(graphs)])
    return TensorDict({"nodes": nodes, "edges": edges, "graphs": meta}, batch_size=[])


class StarGroupsDataModule(AstroDataModule):
    """Star groups (clusters, asterisms) → block-diagonal batches of kNN graphs.

    Args:
        path: member table (``None``: the embedded generated sample).
        group: group-id column.
        target: per-group target column (``None``: by task, see module docstring).
        n_clusters / n_asterisms / anomaly_fraction / min_size / max_size / n_field / seed: the embedded
            sample (:func:`~astrolab.data.synthetic.star_groups.make_star_groups_table`).
        min_parallax_over_error / max_ruwe: Gaia quality cuts (``null`` disables).
        columns: ``{canonical: file column}`` mapping for the Gaia columns.
        graph: ``{"k": int, "space": xyz_v | xyz | features}``.
        relative_features: ``true`` adds positions/velocities relative to the group median, ``replace``
            uses them instead of the absolute ones, ``auto``: ``replace`` for anomaly detection, else ``true``.
        min_nodes: smallest group kept.
        batch_size: graphs per step.
        split: ``{"val", "test", "seed"}`` fractions of groups.
        class_weights: ``auto`` or ``none``.
        task_kind: ``classification``, ``regression`` or ``anomaly`` (set by the run).
        fixed / evaluate_all: see :class:`~astrolab.data.datamodules.node.NodeGraphDataModule`.
        predict_all: apply a trained model (see "Prediction" in the module docstring).
        n_stars: if set (``debug=fast`` does), a small embedded sample: ``n_field = n_stars`` and
            ``max(12, n_stars // 100)`` clusters and asterisms.
    """

    data_kind = "graph_batch"
    batch_keys = {"target": ("graphs", "y"), "mask": None, "id": ("graphs", "group")}

    def __init__(self, path: str | None = None, group: str = "group_id", target: str | None = None,
                 n_clusters: int = 300, n_asterisms: int = 300, anomaly_fraction: float = 0.2,
                 min_size: int = 20, max_size: int = 60, n_field: int = 40_000, seed: int = 0,
                 min_parallax_over_error: float | None = 5.0, max_ruwe: float | None = 1.4,
                 columns: dict[str, str | None] | None = None, graph: dict[str, Any] | None = None,
                 relative_features: bool | str = "auto", min_nodes: int = 5, batch_size: int = 32,
                 split: dict[str, Any] | None = None, class_weights: str = "auto",
                 task_kind: str = "classification", cache_dir: str | None = None, use_cache: bool = True,
                 fixed: dict[str, Any] | None = None, evaluate_all: bool = False, num_workers: int = 0,
                 n_stars: int | None = None, predict_all: bool = False) -> None:
        super().__init__()
        if n_stars is not None:  # debug=fast sets a catalog size: a small embedded sample of about that size
            n_field = int(n_stars)
            n_clusters = n_asterisms = max(12, int(n_stars) // 100)
        if task_kind not in DEFAULT_TARGETS:
            raise ConfigError(f"dataset=clusters cannot serve a '{task_kind}' task; use task="
                              "graph_classification, graph_regression or anomaly_detection")
        self.path = None if path in (None, "", "null") else str(path)
        self.group = str(group)
        self.task_kind = task_kind
        self.target = target or DEFAULT_TARGETS[task_kind]
        self.sample = {"n_clusters": int(n_clusters), "n_asterisms": int(n_asterisms),
                       "anomaly_fraction": float(anomaly_fraction), "min_size": int(min_size),
                       "max_size": int(max_size), "n_field": int(n_field), "seed": int(seed)}
        self.min_poe = min_parallax_over_error
        self.max_ruwe = max_ruwe
        self.columns = {k: v for k, v in dict(columns or {}).items() if v}
        self.graph_cfg = {"k": 8, "space": "xyz_v", **dict(graph or {})}
        if self.graph_cfg["space"] not in GRAPH_SPACES:
            raise ConfigError(f"unknown dataset.graph.space '{self.graph_cfg['space']}'; use one of "
                              f"{', '.join(GRAPH_SPACES)}")
        # auto: added for classification / regression; for anomaly detection they REPLACE the absolute
        # positions and velocities (a group's internal consistency does not depend on where it is, and a
        # masked absolute value would be trivially recoverable from its relative twin)
        if relative_features == "auto":
            relative_features = "replace" if task_kind == "anomaly" else True
        if relative_features not in (True, False, "replace"):
            raise ConfigError(f"dataset.relative_features={relative_features!r}; use auto, true, false or replace")
        self.relative_features = relative_features
        self.min_nodes = int(min_nodes)
        self.batch_size = int(batch_size)
        self.split_cfg = {"val": 0.15, "test": 0.15, "seed": 0, **dict(split or {})}
        self.class_weights_mode = class_weights
        from astrolab.data.cache import default_cache_dir

        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.use_fixed(fixed, evaluate_all, predict_all)
        self.num_workers = int(num_workers)
        self.graphs: list[dict[str, Any]] | None = None

    # -- files -------------------------------------------------------------------------------------
    def embedded_path(self) -> Path:
        s = self.sample
        name = (f"gaia_star_groups_c{s['n_clusters']}_a{s['n_asterisms']}_f{s['anomaly_fraction']:g}"
                f"_n{s['min_size']}-{s['max_size']}_field{s['n_field']}_seed{s['seed']}.fits")
        return self.cache_dir / "embedded" / name

    def source_path(self) -> Path:
        return Path(self.path).expanduser() if self.path else self.embedded_path()

    def prepare_data(self) -> None:
        if self.path is None and not self.embedded_path().exists():
            from astrolab.data.synthetic.star_groups import generate_star_groups

            log.info("writing the embedded star-group sample to %s", self.embedded_path())
            generate_star_groups(self.embedded_path(), **self.sample)

    # -- building ----------------------------------------------------------------------------------
    def _group_targets(self, raw: np.ndarray, inverse: np.ndarray, n_groups: int,
                       strict: bool = True) -> np.ndarray | None:
        """One target per group: the group's value, which must be the same on all its rows (``strict=False``,
        prediction: ``None`` and a warning when it is not; the label is only copied through then)."""
        first = np.full(n_groups, -1)
        first[inverse[::-1]] = np.arange(len(inverse))[::-1]
        values = raw[first]
        same = raw == values[inverse]
        if raw.dtype.kind == "f":
            same |= np.isnan(raw) & np.isnan(values[inverse])
        if not same.all():
            bad = np.unique(inverse[~same])[:3]
            if not strict:
                log.warning("label column '%s' differs between rows of the same %s: not copied to the predictions",
                            self.target, self.group)
                return None
            raise DataError(f"target '{self.target}' differs between rows of the same {self.group} "
                            f"(e.g. groups {bad.tolist()}); a graph-level target must be constant per group")
        return values

    def _labels(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
        """(y, eligible, class_names) per group for the task kind."""
        if self.task_kind == "classification":
            codes, names, eligible = encode_labels(values, self.fixed_class_names, self.target)
            if len(np.unique(codes[eligible])) < 2 and not self.fixed_class_names:
                raise DataError(f"target '{self.target}' has fewer than two classes among the groups; pick "
                                "another dataset.target=")
            return codes, eligible, names
        if values.dtype.kind not in "fiu":
            raise DataError(f"target '{self.target}' is not numeric; task={self.task_kind} needs numbers "
                            "(use task=graph_classification for labels)")
        vals = values.astype(np.float64)
        if self.task_kind == "regression":
            return vals, np.isfinite(vals), None
        eligible = (vals == 0) | (vals == 1)
        if not (vals == 1).any() or not (vals == 0).any():
            raise DataError(f"anomaly target '{self.target}' needs groups marked 1 (anomaly) and 0 (normal)")
        return np.where(eligible, vals, -1).astype(np.int64), eligible, None

    def _copied_labels(self, values: np.ndarray | None, n_groups: int) -> np.ndarray:
        """Prediction: the label as read, per group, only to be copied through as ``true`` (code -1 / NaN
        where there is none or it is not one the model knows); never used to select or score groups."""
        as_float = self.task_kind == "regression"
        empty = np.full(n_groups, np.nan) if as_float else np.full(n_groups, -1, dtype=np.int64)
        if values is None:
            return empty
        if self.task_kind == "classification":
            try:
                codes, _, valid = encode_labels(values, self.fixed_class_names, self.target)
            except DataError:
                return empty
            return np.where(valid, codes, -1)
        if values.dtype.kind not in "fiu":
            return empty
        vals = values.astype(np.float64)
        if as_float:
            return vals
        return np.where((vals == 0) | (vals == 1), vals, -1).astype(np.int64)

    def _group_ids(self, catalog) -> tuple[np.ndarray, np.ndarray]:
        """The group column of every input row and whether the row has a group id (not empty, not NaN);
        integral float ids (an integer column with masked values) become int64 again."""
        raw = catalog.column(self.group)
        if raw.dtype.kind == "f":
            valid = np.isfinite(raw)
            if valid.any() and np.all(np.mod(raw[valid], 1) == 0) and np.abs(raw[valid]).max() < 2**53:
                raw = np.where(valid, raw, -1).astype(np.int64)
        elif raw.dtype.kind in "US":
            stripped = np.char.strip(raw.astype(str))
            valid = (stripped != "") & (np.char.lower(stripped) != "nan")
        else:
            valid = np.ones(len(raw), bool)
        return raw, valid

    def _split(self, y: np.ndarray, eligible: np.ndarray) -> dict[str, np.ndarray]:
        n = len(y)
        if self.predict_all:  # applying a trained model: every group with enough stars is scored
            return {"train": np.zeros(n, bool), "val": np.zeros(n, bool), "test": eligible.copy()}
        if self.evaluate_all:
            return {"train": np.zeros(n, bool), "val": np.zeros(n, bool), "test": eligible.copy()}
        val, test, seed = self.split_cfg["val"], self.split_cfg["test"], int(self.split_cfg["seed"])
        if self.task_kind == "anomaly":
            masks = split_masks(n, None, val, test, seed, eligible & (y == 0))
            anomalies = np.random.default_rng(seed + 1).permutation(np.flatnonzero(eligible & (y == 1)))
            half = len(anomalies) // 2
            masks["val"][anomalies[:half]] = True
            masks["test"][anomalies[half:]] = True
            return masks
        strat = y if self.task_kind == "classification" else None
        return split_masks(n, strat, val, test, seed, eligible)

    def _fixed_star_features(self) -> list[str] | None:
        """The checkpoint's per-star Gaia features (without the relative ones), when evaluating."""
        names = (self.fixed or {}).get("feature_names")
        if not names:
            return None
        return list(FEATURES[:5]) + [f for f in FEATURES[5:] if f in names]  # positions/velocities always

    def _build(self) -> None:
        t0 = time.perf_counter()
        path = self.source_path()
        if not path.exists():
            from astrolab.errors import CatalogNotFoundError

            raise CatalogNotFoundError(f"member table not found: '{path}'; check dataset.path=")
        catalog = read_catalog(path)
        inputs = {self.columns.get(c) or c for c in FEATURE_INPUTS}
        self.has_target = self.target in catalog
        if self.predict_all and not self.has_target:
            log.info("no label column '%s' in %s: predicting without it", self.target, path.name)
        for what, col in (("dataset.group", self.group), ("dataset.target", self.target)):
            if col in inputs:
                raise ConfigError(f"{what}={col} is a Gaia input column used for features; name an "
                                  "independent column")
            if what == "dataset.target" and self.predict_all and not self.has_target:
                continue
            if col not in catalog:
                from astrolab.errors import MissingColumnError

                shown = ", ".join(catalog.names[:25]) + (" …" if len(catalog.names) > 25 else "")
                raise MissingColumnError(f"{path.name} has no column '{col}'; name it with {what}=<column> "
                                         f"(the file has: {shown})")
        gid_all, has_gid = self._group_ids(catalog)
        if not has_gid.all():
            log.info("dropped %d rows without a group id in '%s'", int((~has_gid).sum()), self.group)
        table = apply_gaia_schema(catalog, self.columns, self.min_poe, self.max_ruwe,
                                  keep_rows=None if has_gid.all() else has_gid,
                                  exclude=[c for c in (self.group, self.target) if c],
                                  features=self._fixed_star_features())
        gid_raw = gid_all[table.rows]
        groups, inverse = np.unique(gid_raw, return_inverse=True)
        counts = np.bincount(inverse, minlength=len(groups))
        if self.predict_all:
            values = (self._group_targets(catalog.column(self.target)[table.rows], inverse, len(groups), strict=False)
                      if self.has_target else None)
            y, eligible, names = self._copied_labels(values, len(groups)), counts >= self.min_nodes, \
                self.fixed_class_names
        else:
            values = self._group_targets(catalog.column(self.target)[table.rows], inverse, len(groups))
            y, eligible, names = self._labels(values)
            eligible &= counts >= self.min_nodes
        if not eligible.any():
            from astrolab.errors import DataCheckError

            fix = (f"the model was trained on groups of at least {self.min_nodes} stars; check dataset.group="
                   if self.predict_all else "lower dataset.min_nodes= or check dataset.group=")
            raise DataCheckError(f"{path.name}: no group in '{self.group}' has {self.min_nodes} or more stars after "
                                 f"the quality cuts ({len(groups)} groups, the largest {int(counts.max())} stars); {fix}")
        if (counts < self.min_nodes).any():
            log.info("dropped %d groups with fewer than %d stars after the cuts",
                     int((counts < self.min_nodes).sum()), self.min_nodes)
        masks = self._split(y, eligible)
        feats = table.features
        names_f = list(table.feature_names)
        replace = self.relative_features == "replace"
        if replace:
            names_f = list(RELATIVE_FEATURES) + names_f[len(RELATIVE_FEATURES):]
        elif self.relative_features:
            names_f += list(RELATIVE_FEATURES)
            feats = np.concatenate([feats, np.zeros((len(feats), len(RELATIVE_FEATURES)))], axis=1)
        order = np.argsort(inverse, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)])
        graphs = []
        for gi in np.flatnonzero(eligible):
            rows = order[starts[gi]:starts[gi + 1]]
            f = feats[rows].copy()
            core = f[:, [0, 1, 2, 3, 4]].copy()
            if replace:
                f[:, :5] = core - np.median(core, axis=0)
            elif self.relative_features:
                f[:, len(table.feature_names):] = core - np.median(core, axis=0)
            space = self.graph_cfg["space"]
            pts = f[:, :3] if space == "xyz" else (core if space == "xyz_v" else f)
            std = pts.std(0)
            pts = (pts - pts.mean(0)) / np.where(std > 0, std, 1.0)
            ei = knn_graph(pts, k=int(self.graph_cfg["k"]))
            split = next(s for s in SPLITS if masks[s][gi])
            graphs.append({"x_raw": f, "edges": ei.t().contiguous(), "id": torch.from_numpy(table.ids[rows]),
                           "y": torch.tensor(y[gi], dtype=torch.float32 if self.task_kind == "regression"
                                             else torch.int64),
                           "group": int(gi), "split": split})
        self.group_values = groups
        self.class_names = names
        self.feature_names = names_f
        self.info = {"path": str(path), "checksum": catalog.checksum, "n_input": table.n_input,
                     "n_stars_kept": int(len(table.ids)), "n_groups": int(len(groups)),
                     "file_columns": dict(table.file_columns), "cuts": table.cut_counts,
                     "seconds": round(time.perf_counter() - t0, 3)}
        if self.predict_all:
            self._prediction_status(gid_all, has_gid, table, groups, counts, eligible, inverse)
        return graphs

    def _prediction_status(self, gid_all, has_gid, table, groups, counts, eligible, inverse) -> None:
        """Prediction: the status of every group of the file and of every input row, and their counts
        (logged, and in :meth:`describe`): no row and no group is left out without a reason."""
        n = int(table.n_input)
        valid_rows = np.flatnonzero(has_gid)
        values, first, inv = np.unique(gid_all[valid_rows], return_index=True, return_inverse=True)
        n_in = np.bincount(inv, minlength=len(values))
        pos = np.searchsorted(values, groups)  # the kept groups among all groups (both sorted)
        n_used = np.zeros(len(values), dtype=np.int64)
        n_used[pos] = counts
        graph_of = np.full(len(values), -1, dtype=np.int64)
        graph_of[pos[np.flatnonzero(eligible)]] = np.arange(int(eligible.sum()))
        status = np.full(len(values), "ok", dtype=object)
        status[n_used == 0] = "not scored: no star left after the quality cuts"
        small = (n_used > 0) & (graph_of < 0)
        for g in np.flatnonzero(small):
            status[g] = (f"not scored: {n_used[g]} of {n_in[g]} stars left after the quality cuts, fewer than "
                         f"dataset.min_nodes={self.min_nodes}")
        order = np.argsort(first, kind="stable")  # groups in order of first appearance in the file
        self.groups_in_file = {"values": values[order], "n_stars": n_in[order], "n_stars_used": n_used[order],
                               "index": graph_of[order], "status": status[order].astype(str)}
        rows = np.full(n, "ok", dtype=object)
        rows[~has_gid] = f"not scored: no group id in '{self.group}'"
        cut = np.ones(n, bool)
        cut[table.rows] = False
        cut &= has_gid
        rows[cut] = "not scored: removed by the quality cuts"
        for r, why in table.removed.items():
            if cut[r]:
                rows[r] = why
        kept_group = pos[inverse]  # per kept row: its group among all groups
        in_small = graph_of[kept_group] < 0
        for r, g in zip(table.rows[in_small], kept_group[in_small]):
            rows[r] = (f"not scored: its group kept {n_used[g]} stars after the quality cuts, fewer than "
                       f"dataset.min_nodes={self.min_nodes}")
        self.row_reasons = rows.astype(str)
        stars = {"input": n, "without_group_id": int((~has_gid).sum()), "removed_by_cuts": int(cut.sum()),
                 "in_groups_not_scored": int(in_small.sum()), "scored": int((~in_small).sum())}
        grp = {"input": int(len(values)), "scored": int((graph_of >= 0).sum()),
               "not_scored": int((graph_of < 0).sum())}
        self.prediction_counts = {"stars": stars, "groups": grp}
        log.info("%d input stars in %d groups (%s): %d removed by the quality cuts%s%s; %d groups scored (%d stars)%s",
                 n, grp["input"], self.group, stars["removed_by_cuts"],
                 f", {stars['without_group_id']} without a group id" if stars["without_group_id"] else "",
                 f", {stars['in_groups_not_scored']} in {int(small.sum())} groups left with fewer than "
                 f"{self.min_nodes} stars" if small.any() else "", grp["scored"], stars["scored"],
                 f", {grp['not_scored']} groups not scored (status says why)" if grp["not_scored"] else "")

    def setup(self, stage: str | None = None) -> None:
        if self.graphs is not None:
            return
        self.prepare_data()
        graphs = self._build()
        train = [g for g in graphs if g["split"] == "train"]
        self.scaler = self.fit_scaler(np.concatenate([g["x_raw"] for g in (train or graphs)]), self.feature_names)
        mean, std = np.array(self.scaler["mean"]), np.array(self.scaler["std"])
        for i, g in enumerate(graphs):
            g["x"] = torch.from_numpy((g.pop("x_raw") - mean) / std).float()
            g["index"] = i  # row of index_table()
        self.graphs = graphs
        self.by_split = {s: [g for g in graphs if g["split"] == s] for s in SPLITS}
        y_train = self.targets("train")
        self.class_weights = None
        if self.task_kind == "classification":
            c = torch.bincount(y_train, minlength=len(self.class_names)).double()
            if self.class_weights_mode == "auto":
                self.class_weights = (c.sum() / (len(c) * c.clamp(min=1))).tolist()
        elif self.task_kind == "regression":
            self.target_stats = self.fit_target_stats(y_train)
        log.info("star groups: %s graphs (train/val/test), %d features, target '%s'",
                 "/".join(str(len(self.by_split[s])) for s in SPLITS), self.num_features, self.target)

    # -- protocol ----------------------------------------------------------------------------------

    def task_kwargs(self) -> dict[str, Any]:
        if self.task_kind == "classification":
            return {"num_classes": self.num_classes, "class_names": self.class_names,
                    "class_weights": self.class_weights}
        if self.task_kind == "regression":
            return {"target_mean": self.target_stats["mean"], "target_std": self.target_stats["std"],
                    "target_name": self.target}
        return {}

    def preprocessing(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scaler": self.scaler, "feature_names": self.feature_names,
                               "class_names": self.class_names, "target": self.target, "group": self.group,
                               "task_kind": self.task_kind}
        if self.task_kind == "regression":
            out["target_stats"] = self.target_stats
        return out

    def targets(self, split: str) -> torch.Tensor:
        ys = [g["y"] for g in self.by_split[split]]
        if not ys:
            return torch.zeros(0, dtype=torch.float32 if self.task_kind == "regression" else torch.int64)
        return torch.stack(ys)

    def describe(self) -> dict[str, Any]:
        sizes = [int(g["x"].shape[0]) for g in self.graphs]
        return {"n_graphs": len(self.graphs), "n_nodes": int(sum(sizes)),
                "nodes_per_graph": {"min": min(sizes), "median": float(np.median(sizes)), "max": max(sizes)},
                "n_edges": int(sum(int(g["edges"].shape[0]) for g in self.graphs)),
                "features": self.feature_names, "target": self.target, "group": self.group,
                "classes": self.class_names, "source": self.info["path"], "checksum": self.info["checksum"],
                "split_sizes": {s: len(self.by_split[s]) for s in SPLITS},
                **({"prediction": self.prediction_counts} if self.predict_all else {})}

    def group_table(self):
        """Prediction: one row per group of the file, in order of first appearance: the group id as in the
        file, ``n_stars`` (its rows in the file), ``n_stars_used`` (left after the quality cuts: the graph's
        nodes), ``index`` (row of :meth:`index_table`, -1 when not scored) and ``status``."""
        from astropy.table import Table

        g = self.groups_in_file
        return Table({self.group: g["values"], "n_stars": g["n_stars"], "n_stars_used": g["n_stars_used"],
                      "index": g["index"], "status": g["status"]})

    def row_status(self) -> dict[int, str]:
        """Prediction: why input rows were not used (row → reason)."""
        return {int(r): str(self.row_reasons[r]) for r in np.flatnonzero(self.row_reasons != "ok")}

    def index_table(self):
        """One row per group (``index`` order): the group id as in the file, its number of stars, split
        and the target as read (``true``)."""
        from astropy.table import Table

        table = Table()
        table[self.group] = self.group_values[[g["group"] for g in self.graphs]]
        table["n_stars"] = np.array([int(g["x"].shape[0]) for g in self.graphs], dtype=np.int64)
        table["split"] = np.array([g["split"] for g in self.graphs])
        if getattr(self, "has_target", True):
            self.add_true_column(table, torch.stack([g["y"] for g in self.graphs]))
        return table

    # -- loaders -----------------------------------------------------------------------------------
    def _loader(self, split: str, shuffle: bool):
        from torch.utils.data import DataLoader

        if self.graphs is None:
            self.setup()
        return DataLoader(self.by_split[split], batch_size=self.batch_size, shuffle=shuffle,
                          collate_fn=collate_graphs, num_workers=self.num_workers)
