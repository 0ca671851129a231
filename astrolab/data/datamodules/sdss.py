"""``SDSSDataModule``: SDSS objects (photometry, optional spectra) in mini-batches of one TensorDict.

Batch layout (``data_kind = "objects"``; one split per batch, batch size ``[B]``)::

    photometry   [B]:  features [B, F] float32 (standardised with train-split statistics;
                       magnitudes, colours, psf - model, log errors, log Petrosian radius)
    spectrum     [B]:  flux [B, L] float32 (median-normalised, 0 at bad pixels), mask [B, L] bool
                       (True = good pixel); only when spectra are used
    has_spectrum [B]   bool, False for objects without a spectrum (their flux/mask slots are zeros)
    coordinates  [B, 3] float32 unit vectors on the sky (ICRS)
    y            [B]   int64 class code or float32 redshift
    id           [B]   int64 objid (exact), row [B] int64 row in the photometry file

The embedded default is written by :mod:`astrolab.data.synthetic.sdss` (CSV + spectra FITS) and read back
through :func:`astrolab.data.io.read_catalog`, like a user's SkyServer query (``dataset.path=q.csv``,
optionally ``dataset.spectra_path=spectra.fits``; ``dataset.spectra=false`` trains on photometry only).
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
from astrolab.data.io import read_catalog
from astrolab.data.splits import check_constant_features, check_fractions, given_split, split_masks
from astrolab.data.surveys.common import encode_labels
from astrolab.data.surveys.sdss import BANDS, apply_sdss_schema, prepare_spectra
from astrolab.errors import CatalogNotFoundError, ConfigError, DataError

log = logging.getLogger(__name__)


class _Slicer:
    """collate_fn: a list of row indices → the TensorDict rows (picklable, no per-item work)."""

    def __init__(self, td: TensorDict) -> None:
        self.td = td

    def __call__(self, idx: list[int]) -> TensorDict:
        return self.td[torch.as_tensor(idx, dtype=torch.long)]


class SDSSDataModule(AstroDataModule):
    """SDSS photometry (+ spectra) → per-object classification (``class``) or photo-z (``z``).

    Args:
        path: photometry file (CSV/FITS/…, SkyServer column names); ``None``: the embedded sample.
        spectra: use spectra when a spectra file exists (``false``: photometry only).
        spectra_path: FITS table with ``objid``, ``flux``, ``ivar`` (+ ``and_mask``); ``None``: the
            embedded sample's, or ``<stem>_spectra.fits`` next to ``path`` when it exists.
        target: label column; ``None``: ``class`` for classification, ``z`` for regression (``redshift``
            when the file has it and ``z`` is a magnitude, as in the SkyServer shorthand export).
        classes: keep only these classes (e.g. ``[GALAXY]`` for a galaxy photo-z), ``None``: all.
        n_objects / seed / spectra_fraction: the embedded sample.
        spectrum_rebin: integer rebinning of the 69 km/s SDSS pixels (8 → 3841 pixels become 480).
        batch_size: objects per batch. columns: ``{SkyServer name: your column}``.
        n_stars: alias of ``n_objects`` (``debug=fast`` sets ``dataset.n_stars`` for every dataset).
        split / class_weights / task_kind / cache_dir / fixed / evaluate_all: as for every data module
            (``split.column``: keep the file's train/val/test column).
        duplicates: rows sharing an objid: ``first`` | ``drop`` | ``keep`` (twins kept in one split).
    """

    data_kind = "objects"
    batch_keys = {"target": ("y",), "mask": None, "id": ("id",)}

    def __init__(self, path: str | None = None, spectra: bool = True, spectra_path: str | None = None,
                 target: str | None = None, classes: list[str] | None = None, n_objects: int = 6000,
                 seed: int = 0, spectra_fraction: float = 0.3, spectrum_rebin: int = 8,
                 batch_size: int = 512, columns: dict[str, str | None] | None = None,
                 split: dict[str, Any] | None = None, class_weights: str = "auto",
                 task_kind: str = "classification", cache_dir: str | None = None, use_cache: bool = True,
                 fixed: dict[str, Any] | None = None, evaluate_all: bool = False, predict_all: bool = False,
                 n_stars: int | None = None, duplicates: str = "first") -> None:
        super().__init__()
        from astrolab.data.cache import default_cache_dir

        if n_stars is not None:  # the global debug configs size samples with dataset.n_stars
            n_objects = n_stars

        self.path = None if path in (None, "", "null") else str(path)
        self.use_spectra = bool(spectra)
        self.spectra_path = None if spectra_path in (None, "", "null") else str(spectra_path)
        self.task_kind = task_kind
        self.target_given = target is not None
        self.target = target or ("class" if task_kind == "classification" else "z")
        if duplicates not in ("first", "drop", "keep"):
            raise ConfigError(f"dataset.duplicates={duplicates} is not one of first, drop, keep")
        self.duplicates = duplicates
        self.classes = [str(c) for c in classes] if classes else None
        self.n_objects, self.seed, self.spectra_fraction = int(n_objects), int(seed), float(spectra_fraction)
        self.spectrum_rebin = int(spectrum_rebin)
        if self.spectrum_rebin < 1:
            raise ConfigError("dataset.spectrum_rebin must be a positive integer")
        self.batch_size = int(batch_size)
        self.columns = {k: v for k, v in dict(columns or {}).items() if v}
        self.split_cfg = {"val": 0.15, "test": 0.15, "seed": 0, "column": None, **dict(split or {})}
        self.class_weights_mode = class_weights
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.use_cache = use_cache
        self.use_fixed(fixed, evaluate_all, predict_all)
        self.data: TensorDict | None = None
        if self.target in ("zErr",):
            raise ConfigError("dataset.target=zErr is an error column; use class or z")

    # -- files -------------------------------------------------------------------------------------
    def embedded_path(self) -> Path:
        frac = f"{self.spectra_fraction:g}".replace(".", "p")
        return self.cache_dir / "embedded" / f"sdss_n{self.n_objects}_seed{self.seed}_spec{frac}.csv"

    def source_path(self) -> Path:
        return Path(self.path).expanduser() if self.path else self.embedded_path()

    def spectra_file(self) -> Path | None:
        if not self.use_spectra:
            return None
        if self.spectra_path:
            p = Path(self.spectra_path).expanduser()
            if not p.exists():
                raise CatalogNotFoundError(f"spectra file not found: '{p}'; check dataset.spectra_path= "
                                           "or train on photometry alone with dataset.spectra=false")
            return p
        from astrolab.data.synthetic.sdss import default_spectra_path

        p = default_spectra_path(self.source_path())
        return p if p.exists() else None

    def prepare_data(self) -> None:
        if self.path is None and not self.embedded_path().exists():
            from astrolab.data.synthetic.sdss import generate_sdss_catalog

            log.info("writing the embedded SDSS sample (%d objects, seed %d) to %s", self.n_objects, self.seed,
                     self.embedded_path())
            generate_sdss_catalog(self.embedded_path(), n_objects=self.n_objects, seed=self.seed,
                                  spectra_fraction=self.spectra_fraction)

    # -- preparation -------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.data is not None:
            return
        self.prepare_data()
        t0 = time.perf_counter()
        path = self.source_path()
        catalog = read_catalog(path)
        if (not self.target_given and self.task_kind != "classification" and "redshift" in catalog
                and ("z" not in catalog or "modelMag_z" not in catalog)):
            self.target = "redshift"  # the SkyServer shorthand export: z is a magnitude there
            log.info("photo-z target: column 'redshift' (dataset.target= to choose another)")
        has_target = self.target in catalog
        if not has_target and self.predict_all:
            log.info("no label column '%s' in %s: predicting without it", self.target, path.name)
        else:
            from astrolab.data.surveys.common import require_target

            require_target(catalog, self.target)
        mapped = {v for v in self.columns.values()}
        if self.target in mapped:
            raise ConfigError(f"dataset.target={self.target} is also mapped to an input column; a label "
                              "must come from an independent column")
        split_col = self.split_cfg.get("column")
        if split_col and split_col not in catalog:
            raise ConfigError(f"dataset.split.column={split_col}: no such column in {path.name}; name the column "
                              "holding train/val/test")
        table = apply_sdss_schema(catalog, self.columns, BANDS, exclude=[c for c in (self.target, split_col) if c],
                                  features=self.fixed.get("feature_names") if self.fixed else None)
        rows = table.rows
        keep = np.ones(len(rows), bool)
        if self.classes:
            if "class" not in catalog:
                raise DataError(f"dataset.classes needs a 'class' column in {path.name}")
            cls = np.char.strip(catalog.column("class")[rows].astype(str))
            keep &= np.isin(cls, self.classes)
            if not keep.any():
                raise DataError(f"no row of class {self.classes} in {path.name}; classes present: "
                                f"{sorted(set(cls.tolist()))}")
        from astrolab.data.splits import duplicate_policy

        dup_keep, groups = duplicate_policy(table.ids[keep], self.duplicates, "objid")
        n_dup = int(dup_keep.size - np.unique(groups).size)
        idx = np.flatnonzero(keep)
        keep[idx[~dup_keep]] = False
        groups = groups[dup_keep]
        feats, ids, rows, coords = table.features[keep], table.ids[keep], rows[keep], table.coordinates[keep]
        n = len(ids)
        # photo-z: the object's class (GALAXY / QSO / STAR) rides along in the index table, never an input
        self.object_class = (np.char.strip(catalog.column("class")[rows].astype(str))
                             if self.task_kind != "classification" and self.target != "class" and "class" in catalog
                             else None)
        unseen = 0
        self.has_target = has_target
        if has_target:
            raw_target = catalog.column(self.target)[rows]
        if not has_target:  # applying a model to a catalog without labels
            self.class_names = self.fixed_class_names
            y = (torch.full((n,), -1, dtype=torch.long) if self.task_kind == "classification"
                 else torch.full((n,), float("nan")))
            eligible = np.zeros(n, bool)
        elif self.task_kind == "classification":
            codes, names, eligible = encode_labels(raw_target, self.fixed_class_names, self.target)
            if len(np.unique(codes[eligible])) < 2 and not self.fixed_class_names:
                raise DataError(f"target '{self.target}' has fewer than two classes; pick another "
                                "dataset.target= or task=photo_z")
            self.class_names = names
            y = torch.from_numpy(codes)
            if self.fixed_class_names:
                unseen = int((encode_labels(raw_target, None, self.target)[2] & ~eligible).sum())
                if unseen:
                    log.warning("%d rows have a class the model never saw (not one of %s): not scored", unseen,
                                ", ".join(self.fixed_class_names))
        else:
            if raw_target.dtype.kind not in "fiu":
                raise DataError(f"target '{self.target}' is not numeric; photo-z needs dataset.target=z")
            vals = raw_target.astype(np.float64)
            eligible = np.isfinite(vals)
            self.class_names = None
            y = torch.from_numpy(np.where(eligible, vals, np.nan)).float()
        if self.predict_all:
            masks = {"train": np.zeros(n, bool), "val": np.zeros(n, bool), "test": np.ones(n, bool)}
        elif self.evaluate_all:
            masks = {"train": np.zeros(n, bool), "val": np.zeros(n, bool), "test": eligible.copy()}
        else:
            strat = y.numpy() if self.task_kind == "classification" else None
            val, test = check_fractions(self.split_cfg["val"], self.split_cfg["test"])
            seed = int(self.split_cfg["seed"])
            if split_col:
                masks = given_split(catalog.column(split_col)[rows], split_col, strat, val, seed, eligible,
                                    self.class_names)
            elif n_dup and self.duplicates == "keep":  # whole groups of twins in one split
                uniq, first = np.unique(groups, return_index=True)
                sub = split_masks(len(first), None if strat is None else strat[first], val, test, seed,
                                  eligible[first], self.class_names)
                pos = np.searchsorted(uniq, groups)
                masks = {k: m[pos] & eligible for k, m in sub.items()}
            else:
                masks = split_masks(n, strat, val, test, seed, eligible, self.class_names)
        train = masks["train"]
        if not self.fixed.get("scaler") and train.any():
            check_constant_features(feats[train], table.feature_names)
        self.feature_names = table.feature_names
        self.scaler = self.fit_scaler(feats[train] if train.any() else feats, self.feature_names)
        mean, std = np.asarray(self.scaler["mean"]), np.asarray(self.scaler["std"])
        x = ((feats - mean) / std).astype(np.float32)
        td = TensorDict({
            "photometry": TensorDict({"features": torch.from_numpy(x)}, batch_size=[n]),
            "coordinates": torch.from_numpy(coords.astype(np.float32)),
            "y": y, "id": torch.from_numpy(ids), "row": torch.from_numpy(rows.astype(np.int64)),
            "index": torch.arange(n),
            "has_spectrum": torch.zeros(n, dtype=torch.bool),
        }, batch_size=[n])
        self.spectra_info: dict[str, Any] = {"used": False}
        spath = self.spectra_file()
        if spath is not None:
            spec = read_catalog(spath, multidim=True)
            for col in ("objid", "flux", "ivar"):
                if col not in spec.data.keys():
                    raise DataError(f"spectra file {spath.name} lacks column '{col}' (needs objid, flux, ivar"
                                    "[, and_mask]); or use dataset.spectra=false")
            sid = spec.data["objid"].numpy()
            order = np.argsort(sid)
            pos = np.searchsorted(sid[order], ids)
            pos = np.clip(pos, 0, max(len(sid) - 1, 0))
            found = (len(sid) > 0) & (sid[order][pos] == ids)
            src = order[pos[found]]
            flux, good = prepare_spectra(spec.data["flux"].numpy()[src], spec.data["ivar"].numpy()[src],
                                         spec.data["and_mask"].numpy()[src] if "and_mask" in spec.data.keys()
                                         else None, self.spectrum_rebin)
            length = flux.shape[1]
            full_flux = torch.zeros(n, length)
            full_mask = torch.zeros(n, length, dtype=torch.bool)
            idx = torch.from_numpy(np.flatnonzero(found))
            full_flux[idx] = torch.from_numpy(flux)
            full_mask[idx] = torch.from_numpy(good)
            has = torch.from_numpy(found) & full_mask.any(1)
            td["spectrum"] = TensorDict({"flux": full_flux, "mask": full_mask}, batch_size=[n])
            td["has_spectrum"] = has
            self.spectra_info = {"used": True, "path": str(spath), "checksum": spec.checksum,
                                 "n_with_spectrum": int(has.sum()), "pixels": int(length),
                                 "rebin": self.spectrum_rebin, "coeff0": spec.meta.get("COEFF0"),
                                 "coeff1": spec.meta.get("COEFF1")}
            log.info("%d of %d objects have a spectrum (%d pixels after rebinning by %d)", int(has.sum()), n,
                     length, self.spectrum_rebin)
        self.masks = {k: torch.from_numpy(v) for k, v in masks.items()}
        if self.task_kind == "classification":
            counts = torch.bincount(y[self.masks["train"]].clamp(min=0), minlength=len(self.class_names)).double()
            weights = counts.sum() / (len(counts) * counts.clamp(min=1))
            self.class_weights = weights.tolist() if self.class_weights_mode == "auto" else None
        else:
            self.class_weights = None
            self.target_stats = self.fit_target_stats(y[self.masks["train"]])
        self.info = {"path": str(path), "checksum": catalog.checksum, "n_input": table.n_input,
                     "n_dropped_missing": table.n_dropped, "file_columns": table.file_columns,
                     "n_duplicate_rows": n_dup, "split_column": split_col, "n_unseen_class": unseen}
        self.data = td
        self.setup_seconds = time.perf_counter() - t0

    # -- protocol ----------------------------------------------------------------------------------

    def preprocessing(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scaler": self.scaler, "feature_names": self.feature_names,
                               "class_names": self.class_names, "target": self.target,
                               "task_kind": self.task_kind, "spectrum_rebin": self.spectrum_rebin}
        if self.task_kind != "classification":
            out["target_stats"] = self.target_stats
        return out

    def split(self, name: str) -> TensorDict:
        if self.data is None:
            self.setup()
        return self.data[self.masks[name]]

    def targets(self, split: str):
        return self.split(split)["y"]

    def describe(self) -> dict[str, Any]:
        return {"n_objects": int(self.data.batch_size[0]), "features": self.feature_names,
                "classes": self.class_names, "target": self.target, "source": self.info["path"],
                "checksum": self.info["checksum"], "n_dropped_missing": self.info["n_dropped_missing"],
                "spectra": self.spectra_info, "cache": "none", "file_columns": self.info["file_columns"],
                "n_duplicate_rows": self.info["n_duplicate_rows"], "split_column": self.info["split_column"],
                "n_unseen_class": self.info["n_unseen_class"],
                "split_sizes": {s: int(m.sum()) for s, m in self.masks.items()}}

    def index_table(self):
        """One row per object (``index`` order): ``id`` (objid, exact), ``row`` in the file, spectrum flag,
        split, the label or value as read (``true``) and, for photo-z, the file's ``class`` when it has one."""
        from astropy.table import Table

        td = self.data
        table = Table()
        table["id"] = td["id"].numpy().astype(np.int64)
        survey_id = (self.info.get("file_columns") or {}).get("objid", "objid")
        if survey_id not in ("id", "row"):
            table[survey_id] = table["id"]  # the survey's own id column, as spelled in the file
        table["row"] = td["row"].numpy()
        table["has_spectrum"] = td["has_spectrum"].numpy()
        split = np.full(len(table), "", dtype="<U5")
        for s, m in self.masks.items():
            split[m.numpy()] = s
        table["split"] = split
        if getattr(self, "has_target", True):
            self.add_true_column(table, td["y"])
        if getattr(self, "object_class", None) is not None:
            table["class"] = self.object_class  # photo-z plots colour by it
        return table

    # -- loaders -----------------------------------------------------------------------------------
    def _loader(self, name: str, shuffle: bool = False):
        from torch.utils.data import DataLoader

        td = self.split(name)
        gen = torch.Generator().manual_seed(int(self.split_cfg["seed"]))
        return DataLoader(range(td.batch_size[0]), batch_size=self.batch_size, shuffle=shuffle,
                          collate_fn=_Slicer(td), generator=gen if shuffle else None)
