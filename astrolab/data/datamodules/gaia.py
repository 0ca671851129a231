"""``GaiaDataModule``: a Gaia catalog (user file or the embedded generated sample) as a star graph."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from astrolab.data.datamodules.node import NodeGraphDataModule, NodeTable
from astrolab.data.io import read_catalog
from astrolab.data.surveys.gaia import ALIASES, FEATURE_INPUTS, apply_gaia_schema, graph_space
from astrolab.errors import ConfigError

log = logging.getLogger(__name__)


class GaiaDataModule(NodeGraphDataModule):
    """Gaia stars → kNN graph → node classification / regression.

    Args (beyond :class:`NodeGraphDataModule`):
        n_stars / seed: size and seed of the embedded generated sample (used when ``path`` is None).
        min_parallax_over_error / max_ruwe: quality cuts (``null`` disables).
    """

    def __init__(self, path: str | None = None, target: str | None = "cluster_label", n_stars: int = 20_000,
                 seed: int = 0, min_parallax_over_error: float | None = 5.0, max_ruwe: float | None = 1.4,
                 **kwargs: Any) -> None:
        super().__init__(path=path, target=target, **kwargs)
        self.n_stars = int(n_stars)
        self.seed = int(seed)
        self.min_poe = min_parallax_over_error
        self.max_ruwe = max_ruwe
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

    def load_table(self) -> NodeTable:
        from astrolab.data.surveys.common import require_target

        catalog = read_catalog(self.source_path())
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
        exclude = [c for c in (target, split_col) if c]
        fixed_features = self.fixed.get("feature_names") if self.fixed else None
        table = apply_gaia_schema(catalog, self.columns, self.min_poe, self.max_ruwe, exclude=exclude,
                                  features=fixed_features)
        raw_target = None if target is None else catalog.column(target)[table.rows]
        points = graph_space(table, self.graph_cfg["space"])
        info = {"path": str(self.source_path()), "checksum": catalog.checksum, "n_input": table.n_input,
                "n_kept": int(len(table.ids)), "cuts": table.cut_counts, "file_columns": table.file_columns,
                "id_column": table.file_columns.get("source_id"), "n_absurd": catalog.absurd}
        if self.predict_all:  # why each unscored row was removed, for the predictions' status column
            info["removed_rows"] = [[r, why] for r, why in sorted(table.removed.items())]
        return NodeTable(features=table.features, feature_names=table.feature_names, target=raw_target,
                         ids=table.ids, rows=table.rows.astype(np.int64), graph_points=points, info=info,
                         given_split=None if not split_col else catalog.column(split_col)[table.rows],
                         sky=np.column_stack([table.columns["ra"], table.columns["dec"]]))
