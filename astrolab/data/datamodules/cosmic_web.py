"""``CosmicWebDataModule``: particles (or galaxies) in 3-D with several neighbour graphs, for the
cosmic-web tasks.

Input: the embedded Zel'dovich box of :mod:`astrolab.data.synthetic.cosmic_web` (Parquet), or your own
catalog with ``x, y, z`` in Mpc/h (comoving; give ``dataset.boxsize`` when it is a periodic simulation
box) or ``ra, dec`` (deg) and ``redshift``, converted to comoving Cartesian coordinates in Mpc/h with the
astropy cosmology ``dataset.cosmology`` (comoving distance, never luminosity distance; the redshift column
is read, never overwritten). Labels: ``dataset.target`` (web types 0–3 or the names void / sheet /
filament / knot), the embedded sample's ``web_type``, or — when a user catalog has no label column — the
T-web computed from the catalog itself (CIC density on a ``grid³`` mesh; a non-periodic catalog is placed
in a zero-padded box twice its extent).

Features: positions only enter through geometry. Per scale, a kNN scale gives ``log`` of the distance to
the k-th neighbour (a density estimate), a radius scale ``log(1 + neighbour count)``; standardised with
training-split statistics. Labels never enter the features.

Splits (one large box, so they are **spatially separated**): slabs along x — train is the first
``1 - val - test`` of the box, then val, then test — and particles within ``split.buffer / 2`` Mpc/h of a
slab boundary (the periodic seam included) belong to no split. Message passing still uses every
particle's position (features, not labels), as a survey would.

Batch layout (the whole box each step; splits are masks)::

    nodes          batch [N]: x [N, F], pos [N, 3] (Mpc/h), y [N] int64, train/val/test_mask, id int64
    edges_k<k>     batch [E]: index [E, 2] (kNN graph, periodic minimum-image neighbours)
    edges_r<r>     batch [E]: index [E, 2] (radius graph)
    box            0-d float: box side (Mpc/h), 0 when not periodic
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tensordict import TensorDict

from astrolab.data.datamodules.base import AstroDataModule
from astrolab.errors import ConfigError, DataError, MissingColumnError

log = logging.getLogger(__name__)

WEB_CLASSES = ("void", "sheet", "filament", "knot")


def _identity(x):
    return x


def comoving_xyz(ra_deg: np.ndarray, dec_deg: np.ndarray, redshift: np.ndarray, cosmology: str = "Planck18"
                 ) -> np.ndarray:
    """Comoving Cartesian coordinates ``[N, 3]`` in Mpc/h from sky position and redshift."""
    import astropy.cosmology as acosmo
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    cosmo = getattr(acosmo, str(cosmology), None)
    if cosmo is None or not hasattr(cosmo, "comoving_distance"):
        names = ", ".join(acosmo.realizations.available)
        raise ConfigError(f"unknown cosmology '{cosmology}'; use dataset.cosmology= one of {names}")
    dist = cosmo.comoving_distance(np.asarray(redshift, dtype=np.float64)).to(u.Mpc) * cosmo.h
    c = SkyCoord(ra=np.asarray(ra_deg) * u.deg, dec=np.asarray(dec_deg) * u.deg, distance=dist)
    return np.stack([c.cartesian.x.value, c.cartesian.y.value, c.cartesian.z.value], 1)


def slab_masks(x: np.ndarray, val: float, test: float, buffer: float, boxsize: float | None
               ) -> dict[str, np.ndarray]:
    """Train / val / test slabs along one axis with a buffer between them (periodic seam included)."""
    if boxsize:
        lo, length = 0.0, float(boxsize)
        u = np.mod(x, boxsize) / length
    else:
        lo, length = float(x.min()), float(np.ptp(x)) or 1.0
        u = (x - lo) / length
    edges = [0.0, 1 - val - test, 1 - test, 1.0]
    half = buffer / 2 / length
    masks = {}
    for name, a, b in zip(("train", "val", "test"), edges[:-1], edges[1:]):
        a_pad = a + half if (a > 0 or boxsize) else a
        b_pad = b - half if (b < 1 or boxsize) else b
        masks[name] = (u >= a_pad) & (u < b_pad)
    return masks


class CosmicWebDataModule(AstroDataModule):
    """Particles → multi-scale neighbour graphs → cosmic-web classification / filament detection.

    Args:
        path: catalog (``None``: the embedded Zel'dovich box).
        boxsize, grid, n_particles, spectral_index, sigma_8, seed: the embedded simulation.
        user_boxsize: periodic box side (Mpc/h) of a user's x, y, z catalog (``null``: not periodic,
            unless the file's metadata has ``BOXSIZE``).
        smoothing, lambda_th: T-web parameters (embedded sample, and user catalogs without labels).
        target: label column of a user catalog.
        cosmology: astropy cosmology for ``ra, dec, redshift`` input.
        columns: ``{id, x, y, z, ra, dec, redshift}`` → column in your file.
        scales: neighbour graphs to build (ints: k; floats: radius in Mpc/h).
        split: ``{val, test, buffer}`` (slab fractions along x and the buffer in Mpc/h).
        task_kind / fixed / evaluate_all: the data-module protocol. The labels are the four T-web classes
            for every task (``filament_detection`` binarises them itself).
        n_stars: set by ``debug=fast``: at most ``n_stars`` tracers from a 32³ grid in a 40 Mpc/h box.
    """

    data_kind = "particles"
    batch_keys = {"target": ("nodes", "y"), "mask": ("nodes", "{stage}_mask"), "id": ("nodes", "id")}

    def __init__(self, path: str | None = None, boxsize: float | None = 80.0, grid: int = 64,
                 n_particles: int = 8000, spectral_index: float = -1.5, sigma_8: float = 0.9, seed: int = 0,
                 smoothing: float = 2.5, lambda_th: float = 0.3, target: str | None = None,
                 cosmology: str = "Planck18", columns: dict[str, str | None] | None = None,
                 scales: list[int | float] | tuple = (8, 16, 32), split: dict[str, Any] | None = None,
                 task_kind: str = "classification",
                 cache_dir: str | None = None, use_cache: bool = True, fixed: dict[str, Any] | None = None,
                 evaluate_all: bool = False, user_boxsize: float | None = None, n_stars: int | None = None, predict_all: bool = False) -> None:
        super().__init__()
        from astrolab.data.cache import default_cache_dir

        if task_kind != "classification":
            raise ConfigError(f"dataset=cosmic_web gives class labels, not a {task_kind} target; use "
                              "task=cosmic_web_classification or task=filament_detection")
        self.path = None if path in (None, "", "null") else str(path)
        self.boxsize = float(boxsize) if boxsize not in (None, "null", 0) else None
        self.grid, self.n_particles = int(grid), int(n_particles)
        self.spectral_index, self.sigma_8, self.seed = float(spectral_index), float(sigma_8), int(seed)
        self.smoothing, self.lambda_th = float(smoothing), float(lambda_th)
        if n_stars is not None and self.path is None:  # debug=fast: a small box
            self.n_particles = min(self.n_particles, int(n_stars))
            self.grid = min(self.grid, 32)
            self.boxsize = min(self.boxsize or 40.0, 40.0)
        self.user_boxsize = float(user_boxsize) if user_boxsize not in (None, "null", 0) else None
        self.target = target
        self.cosmology = cosmology
        self.columns = {k: v for k, v in dict(columns or {}).items() if v}
        self.scales = list(scales)
        self.split_cfg = {"val": 0.15, "test": 0.15, "buffer": 4.0, **dict(split or {})}
        self.task_kind = task_kind
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.use_fixed(fixed, evaluate_all, predict_all)
        self.graph: TensorDict | None = None

    def embedded_path(self) -> Path:
        name = (f"cosmic_web_L{self.boxsize:g}_g{self.grid}_n{self.n_particles}_ns{self.spectral_index:g}"
                f"_s8{self.sigma_8:g}_R{self.smoothing:g}_th{self.lambda_th:g}_seed{self.seed}.parquet")
        return self.cache_dir / "embedded" / name

    def source_path(self) -> Path:
        return Path(self.path).expanduser() if self.path else self.embedded_path()

    def prepare_data(self) -> None:
        if self.path is None and not self.embedded_path().exists():
            from astrolab.data.synthetic.cosmic_web import generate_cosmic_web

            if self.boxsize is None:
                raise ConfigError("the embedded cosmic-web box needs dataset.boxsize (Mpc/h)")
            generate_cosmic_web(self.embedded_path(), boxsize=self.boxsize, grid=self.grid,
                                n_particles=self.n_particles, spectral_index=self.spectral_index,
                                sigma_8=self.sigma_8, smoothing=self.smoothing, lambda_th=self.lambda_th,
                                seed=self.seed)

    def _col(self, name: str) -> str:
        return self.columns.get(name, name)

    # -- reading ---------------------------------------------------------------------------------------
    def _positions(self, cat) -> tuple[np.ndarray, float | None, str]:
        if all(self._col(c) in cat for c in "xyz"):
            pos = np.stack([cat.column(self._col(c)).astype(np.float64) for c in "xyz"], 1)
            if "BOXSIZE" in cat.meta:
                box = float(cat.meta["BOXSIZE"])
            else:
                box = self.user_boxsize if self.path else self.boxsize
            return pos, box, "x, y, z (Mpc/h)"
        sky = [self._col(c) for c in ("ra", "dec", "redshift")]
        if all(c in cat for c in sky):
            pos = comoving_xyz(cat.column(sky[0]), cat.column(sky[1]), cat.column(sky[2]), self.cosmology)
            return pos, None, f"ra, dec, redshift → comoving ({self.cosmology})"
        raise MissingColumnError(f"'{self.source_path().name}' has neither x, y, z nor ra, dec, redshift columns; "
                                 "map yours with dataset.columns.x=<column> (or .ra/.dec/.redshift)")

    def _labels(self, cat, pos: np.ndarray, box: float | None) -> tuple[np.ndarray, str]:
        col = self.target or ("web_type" if "web_type" in cat else None)
        if col is not None:
            if col not in cat:
                raise MissingColumnError(f"no label column '{col}' in '{self.source_path().name}'; "
                                         "set dataset.target=<column> or null (T-web from the catalog)")
            raw = cat.column(col)
            if raw.dtype.kind in "iuf":
                y = np.asarray(raw, dtype=np.float64)
                if not np.isin(y, [0, 1, 2, 3]).all():
                    raise DataError(f"label column '{col}' must hold web types 0-3 (void, sheet, filament, knot)")
                return y.astype(np.int64), col
            lookup = {n: i for i, n in enumerate(WEB_CLASSES)}
            bad = sorted({str(v) for v in raw} - set(lookup))
            if bad:
                raise DataError(f"labels {bad[:5]} in '{col}' are not void, sheet, filament or knot")
            return np.array([lookup[str(v)] for v in raw], dtype=np.int64), col
        from astrolab.data.synthetic.cosmic_web import tweb_labels

        if box is None:  # non-periodic: zero-padded box twice the extent
            lo = pos.min(0)
            extent = float(np.ptp(pos, axis=0).max()) or 1.0
            shifted = pos - lo + extent / 2
            return tweb_labels(shifted, 2 * extent, self.grid, self.smoothing, self.lambda_th), "T-web (padded box)"
        return tweb_labels(pos, box, self.grid, self.smoothing, self.lambda_th), "T-web (periodic box)"

    def setup(self, stage: str | None = None) -> None:
        if self.graph is not None:
            return
        from scipy.spatial import cKDTree

        from astrolab.data.graphs import knn_graph, radius_graph
        from astrolab.data.io import read_catalog
        from astrolab.keys import scale_key

        self.prepare_data()
        cat = read_catalog(self.source_path())
        pos, box, coords = self._positions(cat)
        good = np.isfinite(pos).all(1)
        if not good.all():
            log.warning("dropping %d rows with non-finite positions", int((~good).sum()))
        rows = np.flatnonzero(good)
        pos = pos[good]
        if box:
            pos = np.mod(pos, box)
        y, label_source = self._labels(cat, pos, box)
        ids = cat.column(self._col("id")).astype(np.int64)[rows] if self._col("id") in cat else rows.astype(np.int64)
        n = len(pos)
        tree = cKDTree(pos, boxsize=box)
        feats, names, graphs = [], [], {}
        for s in self.scales:
            key = scale_key(s)
            if key.startswith("edges_k"):
                k = int(s)
                dist, _ = tree.query(pos, k=k + 1, workers=-1)
                feats.append(np.log(dist[:, -1] + 1e-6))
                names.append(f"log_d{k}")
                ei = knn_graph(pos, k=k, boxsize=box)
            else:
                r = float(s)
                cnt = np.array([len(v) for v in tree.query_ball_point(pos, r, workers=-1)]) - 1
                feats.append(np.log1p(cnt))
                names.append(f"log1p_n{r:g}")
                ei = radius_graph(pos, r, boxsize=box)
            graphs[key] = TensorDict({"index": ei.t().contiguous()}, batch_size=[ei.shape[1]])
        x_raw = np.stack(feats, 1)
        if self.evaluate_all or self.predict_all:
            masks = {"train": np.zeros(n, bool), "val": np.zeros(n, bool), "test": np.ones(n, bool)}
        else:
            masks = slab_masks(pos[:, 0], float(self.split_cfg["val"]), float(self.split_cfg["test"]),
                               float(self.split_cfg["buffer"]), box)
        scaler = self.fixed.get("scaler")
        if scaler is not None:
            if list(scaler["feature_names"]) != names:
                raise DataError(f"the checkpoint's features {scaler['feature_names']} differ from {names}; "
                                "use the same dataset.scales as in training")
            mean, std = np.asarray(scaler["mean"]), np.asarray(scaler["std"])
        else:
            ref = x_raw[masks["train"]] if masks["train"].any() else x_raw
            mean, std = ref.mean(0), ref.std(0)
            std = np.where(std > 0, std, 1.0)
        self.scaler = {"feature_names": names, "mean": mean.tolist(), "std": std.tolist()}
        self.feature_names = names
        nodes = TensorDict({
            "x": torch.from_numpy((x_raw - mean) / std).float(),
            "pos": torch.from_numpy(pos).float(),
            "y": torch.from_numpy(y),
            **{f"{s}_mask": torch.from_numpy(m) for s, m in masks.items()},
            "id": torch.from_numpy(ids),
            "row": torch.from_numpy(rows.astype(np.int64)),
            "index": torch.arange(n),
            "predict_mask": torch.from_numpy(masks["test"].copy()),
        }, batch_size=[n])
        self.graph = TensorDict({"nodes": nodes, **graphs, "box": torch.tensor(float(box or 0.0))}, batch_size=[])
        self.class_names = list(WEB_CLASSES)
        counts = np.bincount(y[masks["train"]], minlength=4).astype(float)
        self.class_counts = dict(zip(self.class_names, counts.astype(int).tolist()))
        self.class_weights = (counts.sum() / (4 * np.maximum(counts, 1))).tolist()
        self.info = {"path": str(self.source_path()), "checksum": cat.checksum, "coordinates": coords,
                     "boxsize": box, "labels": label_source}
        log.info("cosmic web: %d particles, graphs %s, split sizes %s", n,
                 {k: v.batch_size[0] for k, v in graphs.items()}, {k: int(v.sum()) for k, v in masks.items()})

    # -- protocol -------------------------------------------------------------------------------------
    def task_kwargs(self) -> dict[str, Any]:
        return {"num_classes": len(WEB_CLASSES), "class_names": self.class_names,
                "class_weights": self.class_weights,
                "class_counts": [self.class_counts[c] for c in self.class_names]}

    def preprocessing(self) -> dict[str, Any]:
        return {"scaler": self.scaler, "feature_names": self.feature_names, "class_names": self.class_names,
                "scales": list(self.scales)}

    def targets(self, split: str) -> torch.Tensor:
        nodes = self.graph["nodes"]
        return nodes["y"][nodes[f"{split}_mask"]]

    def describe(self) -> dict[str, Any]:
        nodes = self.graph["nodes"]
        return {"n_particles": int(nodes.batch_size[0]), "features": self.feature_names,
                "classes": self.class_names, "class_counts_train": self.class_counts,
                "graphs": {k: int(self.graph[k].batch_size[0]) for k in self.graph.keys() if k.startswith("edges_")},
                "source": self.info["path"], "checksum": self.info["checksum"],
                "coordinates": self.info["coordinates"], "boxsize_mpc_h": self.info["boxsize"],
                "labels": self.info["labels"], "split": "slabs along x with buffer",
                "split_sizes": {s: int(nodes[f"{s}_mask"].sum()) for s in ("train", "val", "test")}}

    def index_table(self):
        """One row per particle (``index`` order): exact ``id``, ``row`` in the file, comoving position
        ``x, y, z`` [Mpc/h], split, and the T-web class (``true``, ``true_code``)."""
        from astropy.table import Table

        nodes = self.graph["nodes"]
        t = Table()
        t["id"] = nodes["id"].numpy().astype(np.int64)
        t["row"] = nodes["row"].numpy()
        for i, c in enumerate("xyz"):
            t[c] = nodes["pos"][:, i].numpy()
        split = np.full(len(t), "", dtype="<U5")
        for s in ("train", "val", "test"):
            split[nodes[f"{s}_mask"].numpy()] = s
        t["split"] = split
        y = nodes["y"].numpy()
        t["true"] = np.asarray(self.class_names)[y]
        t["true_code"] = y
        return t

    def predict_dataloader(self):
        return self._loader("predict", False)

    def _loader(self, split: str = "train", shuffle: bool = False):
        """The whole graph every step (splits are node masks)."""
        from torch.utils.data import DataLoader

        if self.graph is None:
            self.setup()
        if split == "predict":
            self.graph["nodes", "predict_mask"] = self.graph["nodes", f"{self.predict_split}_mask"].clone()
        return DataLoader([self.graph], batch_size=None, collate_fn=_identity, shuffle=False)
