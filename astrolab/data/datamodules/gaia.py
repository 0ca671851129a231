"""``GaiaDataModule``: a Gaia catalog (user file or the embedded generated sample) as a star graph."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from astrolab.data.datamodules.node import NodeGraphDataModule, NodeTable
from astrolab.data.io import read_catalog
from astrolab.data.surveys.gaia import ALIASES, CANONICAL, FEATURE_INPUTS, apply_gaia_schema, graph_space
from astrolab.errors import ConfigError, DataCheckError

log = logging.getLogger(__name__)


class GaiaDataModule(NodeGraphDataModule):
    """Gaia stars → kNN graph → node classification / regression.

    ``path`` may name a HATS catalog directory: it is then read with LSDB and prepared one partition at a
    time as Dask tasks (:mod:`astrolab.data.hats`), into the same graph as the single file of its rows.

    Args (beyond :class:`NodeGraphDataModule`):
        n_stars / seed: size and seed of the embedded generated sample (used when ``path`` is None).
        min_parallax_over_error / max_ruwe: quality cuts (``null`` disables).
        dask: for a HATS catalog, ``{"scheduler": None | "threads" | "processes" | "synchronous" | address,
            "workers": int | None}`` (default: local threads on every core).
        margin_cache: for a HATS catalog, a margin cache directory of its own (a HATS collection brings its
            default margin; ``None``: that one, if any).
    """

    def __init__(self, path: str | None = None, target: str | None = "cluster_label", n_stars: int = 20_000,
                 seed: int = 0, min_parallax_over_error: float | None = 5.0, max_ruwe: float | None = 1.4,
                 dask: dict[str, Any] | None = None, margin_cache: str | None = None, **kwargs: Any) -> None:
        super().__init__(path=path, target=target, **kwargs)
        self.n_stars = int(n_stars)
        self.seed = int(seed)
        self.min_poe = min_parallax_over_error
        self.max_ruwe = max_ruwe
        self.dask_cfg = dict(dask or {})
        self.margin_cache = None if margin_cache in (None, "", "null") else str(margin_cache)
        self._hats_layout = None
        if self.graph_cfg["space"] not in ("astrometry", "xyz_pm", "features", "xyz"):
            raise ConfigError(f"unknown dataset.graph.space '{self.graph_cfg['space']}'; use astrometry, "
                              "xyz_pm, features or xyz")

    def embedded_path(self) -> Path:
        return self.cache_dir / "embedded" / f"gaia_dr3_clusters_n{self.n_stars}_seed{self.seed}.fits"

    def source_path(self) -> Path:
        return Path(self.path).expanduser() if self.path else self.embedded_path()

    def prepare_data(self) -> None:
        if self.path is None and not self.embedded_path().exists():
            from astrolab.data.synthetic.gaia_clusters import generate_gaia_catalog

            log.info("writing the embedded Gaia sample (%d stars, seed %d) to %s", self.n_stars, self.seed,
                     self.embedded_path())
            generate_gaia_catalog(self.embedded_path(), n_stars=self.n_stars, seed=self.seed)

    def setup(self, stage: str | None = None) -> None:
        self.prepare_data()
        super().setup(stage)

    def data_config(self) -> dict[str, Any]:
        return {**super().data_config(), "min_poe": self.min_poe, "max_ruwe": self.max_ruwe, "survey": "gaia"}

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.meta["info"].get("hats"):  # partitions, rows, margin, scheduler, nodes the margin could not settle
            out["hats"] = self.meta["info"]["hats"]
        return out

    def source_checksum(self, path: Path) -> str:
        if Path(path).is_dir():
            from astrolab.data.hats import hats_checksum, is_hats_catalog, not_hats_error

            if not is_hats_catalog(path):
                raise not_hats_error(path)
            return hats_checksum(path)
        return super().source_checksum(path)

    def graph_edges(self, pts: np.ndarray, table: NodeTable, scale: np.ndarray | None):
        if self._hats_layout is None:
            return super().graph_edges(pts, table, scale)
        from astrolab.data.hats import dask_scheduler, partitioned_knn, sky_reach

        reach, aux = sky_reach(self.graph_cfg["space"], table.graph_points, scale)
        with dask_scheduler(self.dask_cfg):
            edge_index, n_redo = partitioned_knn(pts, table.rows, self._hats_layout, int(self.graph_cfg["k"]),
                                                 reach, aux)
        table.info.setdefault("hats", {})["n_knn_whole_catalog"] = n_redo
        return edge_index

    def load_table(self) -> NodeTable:
        from astrolab.data.hats import is_hats_catalog

        if is_hats_catalog(self.source_path()):
            return self._load_hats_table()
        return self._table_from(read_catalog(self.source_path()))

    def _check_columns(self, catalog) -> tuple[str | None, list[str]]:
        """The label column (``None`` when predicting without one) and the columns never used as inputs."""
        from astrolab.data.surveys.common import require_target

        target = self.target
        if target is not None and self.predict_all and target not in catalog and not self.columns.get(target):
            log.info("no label column '%s' in %s: predicting without it", target, self.source_path().name)
            target = None
        if target is not None:
            mapped_inputs = {self.columns.get(c) or c for c in FEATURE_INPUTS}
            mapped_inputs |= {a for c in FEATURE_INPUTS if c not in self.columns for a in ALIASES.get(c, ())}
            if target in mapped_inputs:
                raise ConfigError(f"dataset.target={target} is also an input feature column; a label must come "
                                  "from an independent column")
            require_target(catalog, target)
        split_col = self.split_cfg.get("column")
        if split_col:
            if split_col not in catalog:
                raise ConfigError(f"dataset.split.column={split_col}: no such column in "
                                  f"{self.source_path().name}; name the column holding train/val/test")
        return target, [c for c in (target, split_col) if c]

    def _table_from(self, catalog) -> NodeTable:
        target, exclude = self._check_columns(catalog)
        split_col = self.split_cfg.get("column")
        fixed_features = self.fixed.get("feature_names") if self.fixed else None
        table = apply_gaia_schema(catalog, self.columns, self.min_poe, self.max_ruwe, exclude=exclude,
                                  features=fixed_features)
        raw_target = None if target is None else catalog.column(target)[table.rows]
        given = None if not split_col else catalog.column(split_col)[table.rows]
        return self._node_table(table, raw_target, given, catalog.checksum, catalog.absurd)

    def _node_table(self, table, raw_target, given_split, checksum: str, absurd: dict[str, int],
                    **info_extra: Any) -> NodeTable:
        points = graph_space(table, self.graph_cfg["space"])
        info = {"path": str(self.source_path()), "checksum": checksum, "n_input": table.n_input,
                "n_kept": int(len(table.ids)), "cuts": table.cut_counts, "file_columns": table.file_columns,
                "id_column": table.file_columns.get("source_id"), "n_absurd": absurd, **info_extra}
        if self.predict_all:  # why each unscored row was removed, for the predictions' status column
            info["removed_rows"] = [[r, why] for r, why in sorted(table.removed.items())]
        return NodeTable(features=table.features, feature_names=table.feature_names, target=raw_target,
                         ids=table.ids, rows=table.rows.astype(np.int64), graph_points=points, info=info,
                         given_split=given_split,
                         sky=np.column_stack([table.columns["ra"], table.columns["dec"]]))

    def _load_hats_table(self) -> NodeTable:
        """A HATS catalog: columns checked on its schema, then cuts and features per partition as Dask tasks
        (rows numbered in partition order), gathered into the table a single file gives."""
        import dask

        from astrolab.data.hats import (
            PartitionLayout, captured_logs, dask_scheduler, frame_catalog, hats_checksum, open_hats, partition_frames,
        )
        from astrolab.data.surveys.gaia import GaiaTable

        t0 = time.perf_counter()
        path = self.source_path()
        checksum = hats_checksum(path)
        hc = open_hats(path, columns="all", margin_cache=self.margin_cache)
        schema = frame_catalog(hc.meta, path, checksum)  # no rows: names and types only
        schema.path = path
        target, exclude = self._check_columns(schema)
        split_col = self.split_cfg.get("column")
        fixed_features = self.fixed.get("feature_names") if self.fixed else None
        with captured_logs() as schema_logs:  # the schema's lines (spellings recognised), said once below
            found = apply_gaia_schema(schema, self.columns, self.min_poe, self.max_ruwe, exclude=exclude,
                                      features=fixed_features, present=CANONICAL, allow_empty=True).file_columns
        for level, msg in schema_logs:
            log.log(level, "%s", msg)
        present = [c for c in found if c != "source_id"]
        key_cols = [found["ra"], found["dec"]] + ([found["source_id"]] if "source_id" in found else [])
        extra_cols = [c for c in (target, split_col) if c]
        # the partitions are read with the columns used only, their margins with the matching keys only
        used = list(dict.fromkeys([*found.values(), *extra_cols]))
        frames = partition_frames(open_hats(path, columns=used, margin_cache=self.margin_cache, quiet=True),
                                  open_hats(path, columns=key_cols, margin_cache=self.margin_cache, quiet=True))
        settings = {"found": found, "min_poe": self.min_poe, "max_ruwe": self.max_ruwe, "exclude": exclude,
                    "features": fixed_features, "extra": extra_cols,
                    "keys": key_cols, "path": path, "checksum": checksum}
        with dask_scheduler(self.dask_cfg) as where:
            log.info("preparing %d partitions on %s", len(frames), where)
            for _attempt in range(2):
                tasks = [dask.delayed(_gaia_partition, pure=False)(main, margin, present=present, **settings)
                         for main, margin in frames]
                parts = dask.compute(*tasks)
                finite = {c: sum(pt["finite"].get(c, 0) for pt in parts) for c in present}
                empty = [c for c in present if finite[c] == 0]
                if not empty:
                    break
                for c in empty:  # as for a file: a column without a value anywhere is absent
                    if c in ("ra", "dec", "parallax", "pmra", "pmdec"):
                        raise DataCheckError(f"{path.name}: column '{found[c]}' is all NaN in every partition; "
                                             f"map a filled column with dataset.columns.{c}=")
                    log.warning("column '%s' (%s) is all NaN: treated as absent", found[c], c)
                present = [c for c in present if c not in empty]
        said = {m for _, m in schema_logs}
        for msg in dict.fromkeys(m for pt in parts for level, m in pt["logs"] if level >= logging.WARNING):
            if msg not in said:
                log.warning("%s", msg)
        n_in = np.array([pt["n_input"] for pt in parts], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(n_in)])
        tables = [pt["table"] for pt in parts]
        names = tables[0].feature_names
        counts: dict[str, int] = {}
        for t in tables:
            for reason, c in t.cut_counts.items():
                counts[reason] = counts.get(reason, 0) + int(c)
        for reason, c in counts.items():
            if c and reason != "nan_in_required_feature":
                log.info("dropped %d rows: %s", c, reason)
        absurd: dict[str, int] = {}
        for pt in parts:
            for col, c in pt["absurd"].items():
                absurd[col] = absurd.get(col, 0) + c
        if absurd:
            log.warning("treated %d non-finite or |v| > 1e30 values as missing: %s", sum(absurd.values()),
                        ", ".join(f"{k} ({v})" for k, v in absurd.items()))
        rows = np.concatenate([t.rows + s for t, s in zip(tables, starts)])
        if not len(rows):
            worst = max(counts.items(), key=lambda kv: kv[1] if kv[0] != "nan_in_required_feature" else -1)
            raise DataCheckError(f"{path.name}: no row is left: {worst[0]} removes {worst[1]} of {int(n_in.sum())} "
                                 "rows; lower dataset.min_parallax_over_error= or raise dataset.max_ruwe= "
                                 "(null disables a cut)")
        table = GaiaTable(  # without a source_id column rows are keyed by their number in the catalog
            ids=np.concatenate([t.ids for t in tables]) if "source_id" in found else rows.copy(),
            features=np.concatenate([t.features for t in tables]).reshape(len(rows), len(names)),
            feature_names=names,
            columns={c: np.concatenate([t.columns[c] for t in tables]) for c in tables[0].columns},
            rows=rows, file_columns=found, n_input=int(n_in.sum()), cut_counts=counts,
            removed={int(r) + int(s): why for t, s in zip(tables, starts) for r, why in t.removed.items()})
        extra = {c: np.concatenate([pt["extra"][c] for pt in parts]) for c in settings["extra"]}
        self._hats_layout = PartitionLayout(
            starts=starts, pixels=[(int(px.order), int(px.pixel)) for px in hc.pixels],
            margin_rows=_margin_rows(parts, rows, key_cols), margin_arcsec=hc.margin_arcsec,
            ra=table.columns["ra"], dec=table.columns["dec"], node_rows=rows)
        log.info("HATS catalog prepared: %d of %d rows kept in %.2f s", len(rows), int(n_in.sum()),
                 time.perf_counter() - t0)
        return self._node_table(
            table, None if target is None else extra[target], None if not split_col else extra[split_col],
            checksum, absurd, hats={"partitions": len(frames), "rows": int(n_in.sum()),
                                    "margin_arcsec": hc.margin_arcsec, "scheduler": where,
                                    "rows_numbered": "in partition order"})


def _gaia_partition(main, margin, *, found, present, min_poe, max_ruwe, exclude, features, extra, keys, path,
                    checksum) -> dict[str, Any]:
    """One HATS partition (a Dask task): the file reader's conversion, the Gaia cuts and features on its
    rows, its label/split columns and the keys of its rows and of its margin rows."""
    from astrolab.data.hats import captured_logs, frame_catalog
    from astrolab.data.surveys.common import column_in_unit

    with captured_logs() as logs:
        cat = frame_catalog(main, path, checksum)
        finite = {c: int(np.isfinite(column_in_unit(cat, found[c], None)).sum()) for c in present}
        table = apply_gaia_schema(cat, found, min_poe, max_ruwe, exclude=exclude, features=features,
                                  present=present, allow_empty=True)
        out_extra = {c: cat.column(c)[table.rows] for c in extra}
        key = {c: cat.column(c)[table.rows] for c in keys}
        mkey = {c: np.empty(0) for c in keys}
        if margin is not None and len(margin):
            mcat = frame_catalog(margin[keys], path, checksum)
            mkey = {c: mcat.column(c) for c in keys}
    return {"table": table, "n_input": len(cat), "finite": finite, "extra": out_extra, "keys": key,
            "margin_keys": mkey, "absurd": dict(cat.absurd), "logs": logs}


def _margin_rows(parts, rows: np.ndarray, keys: list[str]) -> list[np.ndarray]:
    """Per partition, the catalog rows (of kept nodes) its margin cache holds, matched on the key columns
    (position, and source_id when there is one) in one merge over all partitions."""
    import pandas as pd

    nodes = pd.DataFrame({c: np.concatenate([pt["keys"][c] for pt in parts]) for c in keys})
    nodes["_row"] = rows
    margins = pd.DataFrame({c: np.concatenate([np.asarray(pt["margin_keys"][c]) for pt in parts]).astype(
        nodes[c].dtype) for c in keys})
    margins["_part"] = np.repeat(np.arange(len(parts)), [len(pt["margin_keys"][keys[0]]) for pt in parts])
    hit = margins.merge(nodes, on=keys, how="inner")
    part, row = hit["_part"].to_numpy(np.int64), hit["_row"].to_numpy(np.int64)
    order = np.lexsort((row, part))
    part, row = part[order], row[order]
    bounds = np.searchsorted(part, np.arange(len(parts) + 1))
    return [np.unique(row[bounds[i]:bounds[i + 1]]) for i in range(len(parts))]
