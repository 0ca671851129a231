"""``GalaxyCloudDataModule``: point clouds of star particles (one cloud per galaxy) for PointNet++.

Input: a table with one row per particle and a cloud-id column (the embedded sample of
:mod:`astrolab.data.synthetic.galaxies`, Parquet, or your own file in any format ``read_catalog``
reads). Positions are galaxy-centred ``x, y, z`` in kpc and divided by ``scale_kpc`` for the network.
Clouds with more particles than ``n_points`` are subsampled, smaller ones resampled with replacement
(seeded, so a run is reproducible). Splits are by cloud (stratified by morphology when known).

Batch layout (one ``TensorDict`` per step, one split)::

    points  batch [B, N]: pos [B, N, 3] float32 (normalised), x [B, N, 3] (the same positions as
                          features), y [B, N] int64 component; registration also ref [B, N, 3], ref_x
    clouds  batch [B]:    y [B] int64 morphology, id [B] int64 cloud id, pose [B, 12]

Targets (``dataset.target``): ``morphology`` → one class per cloud from ``dataset.cloud_target``,
``component`` → one class per particle from ``dataset.point_target``, ``transform`` → a rigid motion
``src = R_s ref + t_s`` with a random axis, angle uniform in ``[0, max_angle_deg]`` and translation
uniform in ``±max_translation_kpc`` per axis; the target is the inverse motion (``ref = R src + t``). ``null``: the task config's ``data_target``
(``point_classification``: morphology, ``point_segmentation``: component, ``point_registration``:
transform), else ``morphology`` for classes and ``transform`` for values.
Training draws fresh motions (and, for the other tasks, fresh random rotations as augmentation) every
batch; validation and test motions are fixed by the split seed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tensordict import TensorDict

from astrolab.data.datamodules.base import AstroDataModule
from astrolab.data.splits import split_masks
from astrolab.errors import ConfigError, DataError, MissingColumnError

log = logging.getLogger(__name__)

#: ``dataset.target`` choices → the target's type (classes or values)
TARGETS = {"morphology": "classification", "component": "classification", "transform": "regression"}


def _random_rotations(gen: torch.Generator, n: int, max_angle_deg: float | None = None) -> torch.Tensor:
    """``n`` rotation matrices: uniform on SO(3) (``max_angle_deg=None``) or random axis with angle
    uniform in ``[0, max_angle_deg]``."""
    if max_angle_deg is None:
        q = torch.randn(n, 4, generator=gen)
        q = q / q.norm(dim=-1, keepdim=True)
        w, x, y, z = q.unbind(-1)
        return torch.stack([
            1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
            2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
            2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1).reshape(n, 3, 3)
    axis = torch.randn(n, 3, generator=gen)
    axis = axis / axis.norm(dim=-1, keepdim=True)
    angle = torch.rand(n, generator=gen) * np.deg2rad(max_angle_deg)
    k = torch.zeros(n, 3, 3)
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k = k - k.transpose(1, 2)
    s, c = angle.sin()[:, None, None], angle.cos()[:, None, None]
    return torch.eye(3) + s * k + (1 - c) * (k @ k)


def _identity(x):
    return x


class GalaxyCloudDataModule(AstroDataModule):
    """Galaxy particle clouds → point classification / segmentation / registration.

    Args:
        path: particle table (``None``: the embedded generated sample).
        n_clouds / n_points_generated / seed: size and seed of the embedded sample.
        n_points: points per cloud fed to the network (default 1024).
        scale_kpc: length unit of the network (positions / scale_kpc).
        columns: ``{cloud_id, x, y, z, component, morphology}`` → column in your file.
        target: ``morphology`` (class per cloud), ``component`` (class per particle) or ``transform``
            (registration); ``None``: ``morphology`` for classes, ``transform`` for values.
        cloud_target / point_target: label columns (per cloud / per point).
        registration: ``{max_angle_deg, max_translation_kpc, n_points}`` (``n_points``: points per cloud for
            registration, default 256; ``None``: ``n_points``).
        augment: random rotation of training clouds (classification and segmentation).
        batch_size: clouds per step.
        split: ``{val, test, seed}`` fractions of clouds.
        task_kind: the target's type, ``classification`` or ``regression`` (set by the run).
        fixed / evaluate_all: see the data-module protocol (evaluation with saved preprocessing).
        cache_dir / use_cache: where the embedded sample is written (nothing else is cached: reading
            and resampling take about a second).
        n_stars: set by ``debug=fast``: shrinks the embedded sample to ``n_stars / 100`` clouds (at least
            20) of 256 points.
    """

    data_kind = "point_cloud"
    batch_keys = {"target": ("clouds", "y"), "mask": None, "id": ("clouds", "id")}
    batch_keys_by_target = {"morphology": {}, "component": {"target": ("points", "y")},
                            "transform": {"target": ("clouds", "pose")}}

    def __init__(self, path: str | None = None, n_clouds: int = 500, n_points_generated: int = 1024,
                 seed: int = 0, n_points: int = 1024, scale_kpc: float = 10.0, target: str | None = None,
                 columns: dict[str, str | None] | None = None, cloud_target: str = "morphology",
                 point_target: str = "component", registration: dict[str, float] | None = None,
                 augment: bool = True, batch_size: int = 32, split: dict[str, Any] | None = None,
                 task_kind: str = "classification",
                 cache_dir: str | None = None, use_cache: bool = True, fixed: dict[str, Any] | None = None,
                 evaluate_all: bool = False, num_workers: int = 0, n_stars: int | None = None,
                 predict_all: bool = False) -> None:
        super().__init__()
        from astrolab.data.cache import default_cache_dir

        target = target or ("transform" if task_kind == "regression" else "morphology")
        if TARGETS.get(target) != task_kind:
            fits = [t for t, k in TARGETS.items() if k == task_kind]
            raise ConfigError(f"dataset.target={target} does not give a {task_kind} target; use dataset.target="
                              + (" or ".join(fits) if fits else "morphology with a classification task"))
        self.target = target
        self.use_target_keys(target)
        self.path = None if path in (None, "", "null") else str(path)
        self.n_clouds, self.n_points_generated, self.seed = int(n_clouds), int(n_points_generated), int(seed)
        self.n_points = int(n_points)
        if n_stars is not None and self.path is None:  # debug=fast: a small embedded sample
            self.n_clouds = max(20, min(self.n_clouds, int(n_stars) // 100))
            self.n_points_generated = self.n_points = min(self.n_points, 256)
        self.scale_kpc = float(scale_kpc)
        self.columns = {k: v for k, v in dict(columns or {}).items() if v}
        self.cloud_target, self.point_target = cloud_target, point_target
        self.reg_cfg = {"max_angle_deg": 45.0, "max_translation_kpc": 5.0, "n_points": None,
                        **dict(registration or {})}
        if target == "transform" and self.reg_cfg["n_points"]:
            # the soft-correspondence matrix is n x n per pair: fewer points keep a CPU epoch in seconds
            self.n_points = min(self.n_points, int(self.reg_cfg["n_points"]))
        self.augment = bool(augment)
        self.batch_size = int(batch_size)
        self.split_cfg = {"val": 0.15, "test": 0.15, "seed": 0, **dict(split or {})}
        self.task_kind = task_kind
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.use_fixed(fixed, evaluate_all, predict_all)
        if self.fixed.get("scale_kpc"):  # evaluation: the trained model's length unit and cloud size
            self.scale_kpc = float(self.fixed["scale_kpc"])
            self.n_points = int(self.fixed.get("n_points", self.n_points))
        self.num_workers = int(num_workers)
        self.data: TensorDict | None = None
        self._epoch_gen = torch.Generator().manual_seed(self.seed + 12345)

    # -- files ---------------------------------------------------------------------------------------
    def embedded_path(self) -> Path:
        return (self.cache_dir / "embedded" /
                f"galaxy_particles_c{self.n_clouds}_n{self.n_points_generated}_seed{self.seed}.parquet")

    def source_path(self) -> Path:
        return Path(self.path).expanduser() if self.path else self.embedded_path()

    def prepare_data(self) -> None:
        if self.path is None and not self.embedded_path().exists():
            from astrolab.data.synthetic.galaxies import generate_galaxies

            generate_galaxies(self.embedded_path(), self.n_clouds, self.n_points_generated, self.seed)

    def _col(self, name: str) -> str:
        return self.columns.get(name, name)

    # -- setup ---------------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.data is not None:
            return
        from astrolab.data.io import read_catalog

        self.prepare_data()
        cat = read_catalog(self.source_path())
        needed = [self._col(c) for c in ("cloud_id", "x", "y", "z")]
        label = {"morphology": self.cloud_target, "component": self.point_target}.get(self.target)
        self.has_target = label is not None and self._col(label) in cat
        if label is not None and not (self.predict_all and not self.has_target):
            needed.append(self._col(label))
        missing = [c for c in needed if c not in cat]
        if missing:
            raise MissingColumnError(f"'{self.source_path().name}' has no column(s) {', '.join(missing)}; "
                                     "map yours with dataset.columns.<name>=<column>")
        cid = cat.column(self._col("cloud_id")).astype(np.int64)
        pos = np.stack([cat.column(self._col(c)).astype(np.float64) for c in "xyz"], 1)
        good = np.isfinite(pos).all(1)
        if not good.all():
            log.warning("dropping %d particles with non-finite positions", int((~good).sum()))
        order = np.lexsort((np.arange(len(cid)), cid))
        order = order[good[order]]
        ids, start, counts = np.unique(cid[order], return_index=True, return_counts=True)
        rng = np.random.default_rng(self.seed)
        n = self.n_points
        sel = np.empty((len(ids), n), dtype=np.int64)
        for i, (s, c) in enumerate(zip(start, counts)):
            pick = rng.choice(c, n, replace=c < n) if c != n else np.arange(c)
            sel[i] = order[s + np.sort(pick)]
        self.cloud_ids = ids
        self.particle_rows = sel
        positions = torch.from_numpy(pos[sel] / self.scale_kpc).float()

        def encode(col: str, per_cloud: bool) -> tuple[torch.Tensor, list[str]]:
            raw = cat.column(self._col(col))
            vals = raw[sel[:, 0]] if per_cloud else raw[sel]
            if per_cloud and not (raw[sel] == vals[:, None]).all():
                raise DataError(f"column '{col}' differs within a cloud; a cloud label must be constant "
                                "per cloud_id")
            names = self.fixed.get("class_names") or sorted({str(v) for v in np.unique(vals)})
            lookup = {k: i for i, k in enumerate(names)}
            unknown = sorted({str(v) for v in np.unique(vals)} - set(lookup))
            if unknown:
                raise DataError(f"labels {unknown[:5]} in '{col}' are not among the model's classes {names}")
            codes = np.vectorize(lambda v: lookup[str(v)], otypes=[np.int64])(vals)
            return torch.from_numpy(codes), list(names)

        b = len(ids)
        clouds = {"id": torch.from_numpy(ids), "index": torch.arange(b)}
        points = {"pos": positions, "index": torch.arange(b * n).reshape(b, n)}
        self.class_names: list[str] | None = None
        strat = None
        if label is not None and not self.has_target:  # applying a model to clouds without labels
            self.class_names = list(self.fixed.get("class_names") or [])
            (clouds if self.target == "morphology" else points)["y"] = torch.full(
                (b,) if self.target == "morphology" else (b, n), -1, dtype=torch.long)
        elif self.target == "morphology":
            clouds["y"], self.class_names = encode(self.cloud_target, True)
            strat = clouds["y"].numpy()
        elif self.target == "component":
            points["y"], self.class_names = encode(self.point_target, False)
        if self.predict_all or self.evaluate_all:
            masks = {"train": np.zeros(b, bool), "val": np.zeros(b, bool), "test": np.ones(b, bool)}
        else:
            masks = split_masks(b, strat, self.split_cfg["val"], self.split_cfg["test"], int(self.split_cfg["seed"]))
        self.data = TensorDict({"points": TensorDict(points, batch_size=[b, n]),
                                "clouds": TensorDict(clouds, batch_size=[b])}, batch_size=[b])
        self.split_index = {s: torch.from_numpy(np.flatnonzero(m)) for s, m in masks.items()}
        # fixed evaluation motions (registration)
        gen = torch.Generator().manual_seed(int(self.split_cfg["seed"]) + 777)
        self.fixed_motion = self._motions(gen, b)
        y_train = None
        if self.class_names is not None:
            y_train = self.data[self.split_index["train"]].get(self.batch_keys["target"]).reshape(-1)
            counts = torch.bincount(y_train.clamp(min=0), minlength=len(self.class_names)).double()
            self.class_weights = (counts.sum() / (len(counts) * counts.clamp(min=1))).tolist()
            self.class_counts = dict(zip(self.class_names, counts.long().tolist()))
        self.info = {"path": str(self.source_path()), "checksum": cat.checksum, "n_rows": len(cat)}
        log.info("galaxy clouds: %d clouds x %d points (target %s)", b, n, self.target)

    def _motions(self, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        rs = _random_rotations(gen, n, float(self.reg_cfg["max_angle_deg"]))
        ts = (torch.rand(n, 3, generator=gen) * 2 - 1) * float(self.reg_cfg["max_translation_kpc"]) / self.scale_kpc
        return rs, ts

    # -- batches -------------------------------------------------------------------------------------
    def _make_batch(self, idx: torch.Tensor, train: bool) -> TensorDict:
        td = self.data[idx].clone()
        pos = td["points", "pos"]
        if self.target == "transform":
            rs, ts = self._motions(self._epoch_gen, len(idx)) if train else (
                self.fixed_motion[0][idx], self.fixed_motion[1][idx])
            src = pos @ rs.transpose(1, 2) + ts[:, None, :]
            rot = rs.transpose(1, 2)           # ref = R src + t
            t = -(rot @ ts[:, :, None]).squeeze(-1)
            td["points", "ref"] = pos
            td["points", "ref_x"] = pos
            td["points", "pos"] = src
            td["clouds", "pose"] = torch.cat([rot.reshape(-1, 9), t], -1)
        elif train and self.augment:
            rot = _random_rotations(self._epoch_gen, len(idx))
            td["points", "pos"] = pos @ rot.transpose(1, 2)
        td["points", "x"] = td["points", "pos"]
        return td

    def _loader(self, split: str, shuffle: bool):
        from torch.utils.data import DataLoader

        if self.data is None:
            self.setup()
        idx = self.split_index[split]
        train = split == "train"
        batches = list(torch.split(idx, self.batch_size))

        class _Batches(torch.utils.data.Dataset):
            def __len__(inner) -> int:
                return len(batches)

            def __getitem__(inner, i: int) -> TensorDict:
                if shuffle and i == 0:
                    perm = idx[torch.randperm(len(idx), generator=self._epoch_gen)]
                    batches[:] = list(torch.split(perm, self.batch_size))
                return self._make_batch(batches[i], train)

        return DataLoader(_Batches(), batch_size=None, collate_fn=_identity, shuffle=False,
                          num_workers=self.num_workers)

    # -- protocol ------------------------------------------------------------------------------------
    @property
    def num_features(self) -> int:
        return 3

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else 9

    def task_kwargs(self) -> dict[str, Any]:
        if self.target == "transform":
            return {"length_scale": self.scale_kpc, "length_unit": "kpc"}
        return {"num_classes": self.num_classes, "class_names": self.class_names,
                "class_weights": self.class_weights}

    def preprocessing(self) -> dict[str, Any]:
        return {"feature_names": ["x", "y", "z"], "scale_kpc": self.scale_kpc, "n_points": self.n_points,
                "class_names": self.class_names, "target": self.target}

    def targets(self, split: str) -> torch.Tensor:
        idx = self.split_index[split]
        if self.target != "transform":
            return self.data.get(self.batch_keys["target"])[idx].reshape(-1)
        if split == "train":  # the identity baseline needs no training targets, only their count
            return torch.zeros(len(idx), 12)
        return self._make_batch(idx, train=False)["clouds", "pose"]

    def describe(self) -> dict[str, Any]:
        out = {"n_clouds": int(self.data.batch_size[0]), "n_points": self.n_points, "scale_kpc": self.scale_kpc,
               "classes": self.class_names, "source": self.info["path"], "checksum": self.info["checksum"],
               "split_sizes": {s: int(len(i)) for s, i in self.split_index.items()}, "split": "by cloud"}
        if self.class_names is not None:
            out["class_counts_train"] = self.class_counts
        if self.target == "transform":
            out["registration"] = self.reg_cfg
        return out

    def index_table(self):
        """Per cloud (``index`` order; morphology and registration) or per particle slot (segmentation,
        ``cloud × n_points``): exact cloud ids, the particle's row in the file and position in kpc, the
        split, and the truth (class name, or the registration's true motion ``true_pose``)."""
        from astropy.table import Table

        split_of = np.full(len(self.cloud_ids), "", dtype="<U5")
        for s, idx in self.split_index.items():
            split_of[idx.numpy()] = s
        table = Table()
        if self.target == "component":
            n = self.n_points
            table["cloud_id"] = np.repeat(self.cloud_ids.astype(np.int64), n)
            table["row"] = self.particle_rows.reshape(-1).astype(np.int64)
            xyz = self.data["points", "pos"].reshape(-1, 3).numpy().astype(np.float64) * self.scale_kpc
            for k, c in enumerate("xyz"):
                table[c] = xyz[:, k]  # kpc, as read (evaluation clouds are not rotated)
            table["split"] = np.repeat(split_of, n)
            if self.has_target:
                self.add_true_column(table, self.data["points", "y"].reshape(-1))
            return table
        table["cloud_id"] = self.cloud_ids.astype(np.int64)
        table["split"] = split_of
        if self.target == "transform":
            rs, ts = self.fixed_motion  # evaluation motions: ref = R src + t with R = rs^T, t = -R ts
            rot = rs.transpose(1, 2)
            t = -(rot @ ts[:, :, None]).squeeze(-1)
            table["true_pose"] = torch.cat([rot.reshape(-1, 9), t], -1).numpy()
        elif self.has_target:
            self.add_true_column(table, self.data["clouds", "y"])
        return table
