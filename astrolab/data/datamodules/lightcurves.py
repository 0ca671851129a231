"""``LightCurveDataModule``: long-format epoch photometry → padded, masked sequence batches.

One object = one irregularly sampled (multi-band) light curve. Each batch is one ``TensorDict``::

    sequence  batch [B, L]: x [B, L, F] float32 (per-epoch features, standardised with train-split
                            statistics), time [B, L] float32 (days since the object's first epoch),
                            band [B, L] int64 (band code), mask [B, L] bool (True = real epoch)
    objects   batch [B]:    y [B] int64 (class code; -1 = unlabelled), id [B] int64 (exact),
                            index [B] int64 (row in the prepared object list),
                            seed [B] bool (the objects this batch predicts; False = graph neighbours)
    edges     batch [E]:    index [E, 2] int64 (source → target, local rows) — only with a kNN graph
    queries   batch [B, Q]: (task=forecasting) x [B, Q, 3], time [B, Q], band [B, Q], mask [B, Q],
                            target [B, Q, 3] = (Δmag, persistence Δmag, phase-folded Δmag),
                            offset [B, Q] (the band median added back to get magnitudes)

Per-epoch features, in this fixed order: ``log_dt`` (log(1 + days since the previous epoch)), ``dmag``
(magnitude minus the object's median in that band), ``log_err`` (log10 of the error), ``median_mag`` (the
object's median magnitude, repeated), and with ``periodogram: true`` also ``sin_phase``, ``cos_phase``
(phase at the Lomb–Scargle period of the context epochs), ``log_period``, ``ls_power``. Every feature is
computed from the object's own context epochs; labels and truth columns of the object table are never
inputs. Sequences are never truncated unless ``max_length`` is set, and then the log says how many were.

Forecasting: the last ``forecast.fraction`` of each object's epochs (at most ``forecast.max_queries``) are
queries: the model sees the context epochs and the query times and bands, and predicts the query
magnitudes. Baselines computed on the same queries: persistence (the last context magnitude in the same
band) and phase-folded (the context magnitude nearest in phase, same band, at the periodogram period, or
at the object table's ``period_column`` when there is no periodogram; the band median when there is no
period).
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
from astrolab.data.cache import cache_key, default_cache_dir
from astrolab.data.splits import given_split, split_masks
from astrolab.data.surveys.common import encode_labels
from astrolab.errors import ConfigError, DataError

log = logging.getLogger(__name__)

MAX_BANDS = 16
BASE_FEATURES = ["log_dt", "dmag", "log_err", "median_mag"]
PERIOD_FEATURES = ["sin_phase", "cos_phase", "log_period", "ls_power"]
QUERY_FEATURES = ["log_dt_last", "sin_phase", "cos_phase"]


def lomb_scargle_period(t: np.ndarray, y: np.ndarray, dy: np.ndarray, min_period: float,
                        max_period: float | None, samples_per_peak: float, band: np.ndarray | None = None,
                        ) -> tuple[float, float]:
    """Best (multi-band) Lomb–Scargle period and its joint normalised power (:mod:`astrolab.data.periods`)."""
    from astrolab.data.periods import PeriodSearch, search_one

    ps = PeriodSearch(min_period=float(min_period), max_period=max_period,
                      samples_per_peak=float(samples_per_peak), n_peaks=1)
    res = search_one(t, y, dy, np.zeros(len(t), int) if band is None else band, ps)
    return float(res["period"][0]), float(res["power"][0])


FEATURE_SCALINGS = ("robust", "quantile", "standard", "ple")
#: scaled per-object features are clipped to ±this (robust / quantile)
FEATURE_CLIP = 5.0
#: quantile levels kept per feature by ``feature_scaling=quantile``
N_QUANTILES = 101
#: bins per feature of ``feature_scaling=ple`` (training-quantile edges)
PLE_BINS = 16


def fit_object_scaler(ref: np.ndarray, names: list[str], method: str = "robust") -> dict[str, Any]:
    """Scaler of the per-object feature vector fitted on ``ref`` (training rows, NaN where undefined):
    a plain dict (saved in the checkpoint) that :func:`apply_object_scaler` applies.

    ``robust``: ``(x - median) / IQR`` (the 25–75 % range; the std where that is 0, 1 where both are),
    clipped to ±:data:`FEATURE_CLIP`. ``quantile``: each feature through its :data:`N_QUANTILES` training
    quantiles onto normal scores, clipped the same way. ``standard``: ``(x - mean) / std``, unclipped (the
    scaler of earlier checkpoints, which carry no ``method``). NaN → the training median (mean), i.e. 0.
    ``ple``: piecewise-linear encoding (Gorishniy, Rubachev & Babenko 2022) — each feature becomes one
    column per bin between its :data:`PLE_BINS` + 1 training quantiles, 0 below the bin, 1 above it and the
    fraction in between, so a network can cut a feature at any quantile as a tree does; the vector grows to
    about ``PLE_BINS`` columns per feature (fewer where quantiles tie); NaN → the training median."""
    n = len(names)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1, n)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: handled below
            if method == "standard":
                mean = np.nan_to_num(np.nanmean(ref, 0)) if len(ref) else np.zeros(n)
                std = np.nan_to_num(np.nanstd(ref, 0, ddof=1)) if len(ref) > 1 else np.ones(n)
                std = np.where(std > 1e-12, std, 1.0)
                return {"feature_names": list(names), "method": "standard", "mean": mean.tolist(),
                        "std": std.tolist()}
            if method == "robust":
                q25, med, q75 = (np.nan_to_num(np.nanpercentile(ref, q, 0)) if len(ref) else np.zeros(n)
                                 for q in (25, 50, 75))
                iqr = q75 - q25
                std = np.nan_to_num(np.nanstd(ref, 0)) if len(ref) > 1 else np.ones(n)
                scale = np.where(iqr > 1e-12, iqr, np.where(std > 1e-12, std, 1.0))
                return {"feature_names": list(names), "method": "robust", "center": med.tolist(),
                        "scale": scale.tolist(), "clip": FEATURE_CLIP}
            if method == "ple":
                med = np.nan_to_num(np.nanmedian(ref, 0)) if len(ref) else np.zeros(n)
                levels = np.linspace(0.0, 1.0, PLE_BINS + 1)
                edges = [np.unique(np.nanquantile(ref[:, j], levels)).tolist()
                         if len(ref) and np.isfinite(ref[:, j]).any() else [] for j in range(n)]
                return {"feature_names": list(names), "method": "ple", "median": med.tolist(), "edges": edges}
            if method == "quantile":
                levels = np.linspace(0.0, 1.0, N_QUANTILES)
                qs = (np.nan_to_num(np.nanquantile(ref, levels, axis=0)) if len(ref)
                      else np.zeros((N_QUANTILES, n)))
                return {"feature_names": list(names), "method": "quantile", "levels": levels.tolist(),
                        "quantiles": qs.T.tolist(), "clip": FEATURE_CLIP}
    raise ConfigError(f"unknown dataset.feature_scaling '{method}'; use {', '.join(FEATURE_SCALINGS)}")


def apply_object_scaler(raw: np.ndarray, scaler: dict[str, Any]) -> np.ndarray:
    """Scaled per-object features ``[N, F]`` float32 (see :func:`fit_object_scaler`; NaN → 0)."""
    x = np.asarray(raw, dtype=np.float64)
    method = scaler.get("method", "standard")
    if method == "standard":
        out = (x - np.asarray(scaler["mean"])) / np.asarray(scaler["std"])
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
    if method == "ple":
        x = np.where(np.isfinite(x), x, np.asarray(scaler["median"]))
        cols = [np.zeros((len(x), 1)) if len(e) < 2 else
                np.clip((x[:, [j]] - np.asarray(e[:-1])) / np.diff(e), 0.0, 1.0)
                for j, e in enumerate(scaler["edges"])]
        return np.concatenate(cols, 1).astype(np.float32) if cols else np.zeros((len(x), 0), np.float32)
    clip = float(scaler.get("clip", FEATURE_CLIP))
    if method == "robust":
        out = (x - np.asarray(scaler["center"])) / np.asarray(scaler["scale"])
    elif method == "quantile":
        from scipy.special import ndtri

        levels = np.asarray(scaler["levels"])
        eps = 1e-3
        out = np.empty_like(x)
        for j, q in enumerate(np.asarray(scaler["quantiles"])):
            # interpolated from below and from above: a value tied over several quantiles gets their middle
            u = 0.5 * (np.interp(x[:, j], q, levels) + np.interp(-x[:, j], -q[::-1], levels[::-1]))
            out[:, j] = ndtri(np.clip(u, eps, 1 - eps))  # NaN stays NaN
    else:
        raise DataError(f"unknown per-object scaler method '{method}' in the checkpoint")
    out = np.clip(np.nan_to_num(out, nan=0.0, posinf=clip, neginf=-clip), -clip, clip)
    return out.astype(np.float32)


def _identity(x):
    return x


class LightCurveDataModule(AstroDataModule):
    """Light curves (an epochs file or folder + an object table, or the embedded sample) as sequences.

    Args:
        path: long-format epochs file (one row per epoch), or a folder of per-object files (the id is
            the file-name stem when the files have no id column); ``None``: the embedded sample.
        objects: object table with the labels (joined on ``object_id``); ``None`` with the embedded sample.
        target: label column of the object table (classification).
        columns: ``{canonical: column}`` for ``object_id, mjd, mag, mag_err, band`` (``object_id`` applies
            to the epochs and the object table).
        n_objects, bands, min_epochs, max_epochs, seed: the embedded sample.
        max_mag, max_mag_err: sentinel thresholds (epochs at or above are dropped).
        min_good_epochs: objects with fewer good epochs are dropped.
        max_length: keep at most this many (most recent) context epochs per object (``None``: all).
        periodogram: add Lomb–Scargle phase/period features (``period_search`` sets its grid).
        features: per-object feature names (``None``: no per-object vector).
        feature_scaling: how the per-object vector is scaled with training-split statistics (saved in the
            checkpoint as ``object_scaler``): ``robust`` (median / interquartile range, clipped to ±5),
            ``quantile`` (each feature through its training quantiles onto normal scores, ±5) or
            ``standard`` (mean / std, no clip; the Python default — ``conf/dataset/lightcurves.yaml`` says
            ``robust``). NaN → the training median (the mean for ``standard``).
        period_column: object-table column with a catalogue period, used only by the phase-folded
            forecasting baseline when there is no periodogram (never a model input).
        forecast: ``{"fraction": 0.2, "max_queries": 32, "min_context": 20}``.
        graph: ``{"type": none|knn, "k": 8, "space": summary|sky}`` — kNN graph of objects; a batch then
            holds its objects plus their graph neighbours (``objects.seed`` marks the predicted ones).
        batch_size, num_workers: loaders.
        label_fraction: train on this stratified, seeded (``split.seed``) fraction of the training split's
            labelled objects (at least one per class); the other training objects are left out of training
            (their light curves still count in the feature standardisation, which needs no labels); val and
            test are unchanged. ``None``: all training labels.
        split, class_weights, task_kind, cache_dir, use_cache, fixed, evaluate_all: as in the other data
            modules.
    """

    data_kind = "sequence"
    batch_keys = {"target": ("objects", "y"), "mask": ("objects", "seed"), "id": ("objects", "id")}
    batch_keys_by_target = {"classification": {},
                            "forecasting": {"target": ("queries", "target"), "mask": ("queries", "mask")},
                            # masked reconstruction (astrolab pretrain): the per-epoch features themselves
                            "reconstruction": {"target": ("sequence", "x")}}

    def __init__(self, path: str | None = None, objects: str | None = None, target: str | None = "class",
                 columns: dict[str, str | None] | None = None, n_objects: int = 1600,
                 bands: list[str] | tuple[str, ...] = ("g", "r"), min_epochs: int = 50, max_epochs: int = 400,
                 seed: int = 0, max_mag: float = 50.0, max_mag_err: float = 9.0, min_good_epochs: int = 10,
                 max_length: int | None = None, periodogram: bool = False, features: list[str] | None = None,
                 feature_scaling: str = "standard", period_search: dict[str, float] | None = None,
                 period_column: str | None = "period",
                 forecast: dict[str, Any] | None = None, graph: dict[str, Any] | None = None,
                 batch_size: int = 64, num_workers: int = 0, split: dict[str, Any] | None = None,
                 label_fraction: float | None = None,
                 class_weights: str = "auto", task_kind: str = "classification", cache_dir: str | None = None,
                 use_cache: bool = True, fixed: dict[str, Any] | None = None, evaluate_all: bool = False,
                 predict_all: bool = False) -> None:
        super().__init__()
        none = (None, "", "null", "None")
        self.path = None if path in none else str(path)
        self.objects_path = None if objects in none else str(objects)
        self.target = None if target in none else str(target)
        self.columns = {k: v for k, v in dict(columns or {}).items() if v}
        self.n_objects, self.bands, self.seed = int(n_objects), [str(b) for b in bands], int(seed)
        self.min_epochs, self.max_epochs = int(min_epochs), int(max_epochs)
        self.max_mag, self.max_mag_err, self.min_good = float(max_mag), float(max_mag_err), int(min_good_epochs)
        self.max_length = None if max_length in none else int(max_length)
        self.periodogram = bool(periodogram)
        self.features = _feature_list(features)
        if feature_scaling not in FEATURE_SCALINGS:
            raise ConfigError(f"unknown dataset.feature_scaling '{feature_scaling}'; use "
                              f"{', '.join(FEATURE_SCALINGS)}")
        self.feature_scaling = str(feature_scaling)
        from astrolab.data.periods import PeriodSearch

        self.period_search = {**PeriodSearch().__dict__, **dict(period_search or {})}
        PeriodSearch.from_config(self.period_search)  # unknown keys / bad values: one line at start
        self.period_column = None if period_column in none else str(period_column)
        self.forecast_cfg = {"fraction": 0.2, "max_queries": 32, "min_context": 20, **dict(forecast or {})}
        self.graph_cfg = {"type": "none", "k": 8, "space": "summary", **dict(graph or {})}
        if self.graph_cfg["type"] not in ("none", "knn"):
            raise ConfigError(f"unknown graph type '{self.graph_cfg['type']}'; use model.graph=none or knn")
        if self.graph_cfg["space"] not in ("summary", "sky"):
            raise ConfigError(f"unknown dataset.graph.space '{self.graph_cfg['space']}'; use summary or sky")
        self.batch_size, self.num_workers = int(batch_size), int(num_workers)
        self.split_cfg = {"val": 0.15, "test": 0.15, "seed": 0, **dict(split or {})}
        self.class_weights_mode = class_weights
        if task_kind not in ("classification", "forecasting", "reconstruction"):
            raise ConfigError(f"dataset=lightcurves supports task=time_series_classification, "
                              f"task=forecasting or astrolab pretrain, not a '{task_kind}' task")
        self.label_fraction = _label_fraction(label_fraction)
        self.task_kind = task_kind
        self.use_target_keys(task_kind)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.use_cache = use_cache
        self.use_fixed(fixed, evaluate_all, predict_all)
        self.td: TensorDict | None = None
        if self.path is not None and self.objects_path is None and task_kind == "classification" \
                and not self.predict_all:
            raise ConfigError("classification of your light curves needs the labels: pass the object table "
                              "with dataset.objects=<file> (and dataset.target=<label column>)")

    # -- files -------------------------------------------------------------------------------------
    def _embedded_paths(self) -> tuple[Path, Path]:
        stem = (f"lightcurves_n{self.n_objects}_{''.join(self.bands)}_e{self.min_epochs}-{self.max_epochs}"
                f"_seed{self.seed}")
        root = self.cache_dir / "embedded"
        return root / f"{stem}_epochs.csv", root / f"{stem}_objects.csv"

    def source_paths(self) -> tuple[Path, Path | None]:
        if self.path is None:
            return self._embedded_paths()
        return Path(self.path).expanduser(), (Path(self.objects_path).expanduser() if self.objects_path else None)

    def prepare_data(self) -> None:
        if self.path is None:
            ep, ob = self._embedded_paths()
            if not (ep.exists() and ob.exists()):
                from astrolab.data.synthetic.lightcurves import generate_lightcurves

                log.info("writing the embedded light-curve sample (%d objects, bands %s, seed %d) to %s",
                         self.n_objects, ",".join(self.bands), self.seed, ep.parent)
                generate_lightcurves(ep, ob, n_objects=self.n_objects, bands=self.bands,
                                     min_epochs=self.min_epochs, max_epochs=self.max_epochs, seed=self.seed)

    def data_config(self) -> dict[str, Any]:
        return {"target": self.target, "columns": self.columns, "max_mag": self.max_mag,
                "max_mag_err": self.max_mag_err, "min_good": self.min_good, "max_length": self.max_length,
                "periodogram": self.periodogram, "period_search": self.period_search, "features": self.features,
                "period_column": self.period_column, "forecast": self.forecast_cfg
                if self.task_kind == "forecasting" else None, "split": self.split_cfg,
                "task_kind": self.task_kind, "class_names": self.fixed.get("class_names"),
                "bands": self.fixed.get("bands"), "evaluate_all": self.evaluate_all,
                "predict_all": self.predict_all,
                "version": 3}  # 3: the colours features (band-mean colours in wavelength order)

    # -- preparation -------------------------------------------------------------------------------
    def _build(self) -> tuple[TensorDict, dict[str, Any]]:
        from astrolab.data.surveys.lightcurves import read_epochs, read_objects

        t0 = time.perf_counter()
        ep_path, ob_path = self.source_paths()
        ep = read_epochs(ep_path, self.columns, self.max_mag, self.max_mag_err, self.min_good)
        ids, start, counts = np.unique(ep.object_id, return_index=True, return_counts=True)
        n_obj = len(ids)
        meta: dict[str, Any] = {"info": {**ep.info, "checksum": ep.checksum}}
        # labels and truth columns from the object table
        eligible = np.ones(n_obj, bool)
        y = np.full(n_obj, -1, np.int64)
        period_cat = np.full(n_obj, np.nan)
        ra = dec = None
        given_obj = None
        if ob_path is not None:
            labelled = self.task_kind == "classification" or (self.task_kind == "reconstruction"
                                                               and self.target is not None)
            want_target = self.target if labelled else None
            ob = read_objects(ob_path, self.columns, want_target, extra=("ra", "dec")
                              + ((self.period_column,) if self.period_column else ()),
                              split_column=self.split_cfg.get("column"))
            meta["info"]["objects"] = str(ob_path)
            meta["info"]["objects_checksum"] = ob["checksum"]
            if labelled and self.target in {
                    self.columns.get(c) or c for c in ("mjd", "mag", "mag_err", "band")}:
                raise ConfigError(f"dataset.target={self.target} is an input column; pick a label column")
            pos = {int(i): k for k, i in enumerate(ob["ids"])}
            rows = np.array([pos.get(int(i), -1) for i in ids])
            missing = int((rows < 0).sum())
            if missing:
                log.warning("%d light curves have no row in the object table (unlabelled)", missing)
            no_lc = len(ob["ids"]) - int((rows >= 0).sum())
            if no_lc:
                log.info("%d objects of the object table have no usable light curve", no_lc)
            meta["info"]["n_objects_without_table_row"] = missing
            if labelled:
                raw = np.asarray(ob["target"])
                raw_obj = np.where(rows >= 0, raw[np.clip(rows, 0, None)], "" if raw.dtype.kind in "US" else np.nan)
                codes, names, ok = encode_labels(raw_obj, self.fixed.get("class_names"), self.target)
                if len(np.unique(codes[ok])) < 2 and not self.fixed.get("class_names"):
                    raise DataError(f"target '{self.target}' has fewer than two classes; pick another "
                                    "dataset.target=")
                y, eligible = codes, ok
                meta["class_names"] = names
            if "split" in ob:
                given = np.asarray(ob["split"]).astype(str)
                given_obj = np.where(rows >= 0, given[np.clip(rows, 0, None)], "")
            if self.period_column and self.period_column in ob:
                period_cat = np.where(rows >= 0, ob[self.period_column][np.clip(rows, 0, None)], np.nan)
            if "ra" in ob and "dec" in ob:
                ra = np.where(rows >= 0, ob["ra"][np.clip(rows, 0, None)], np.nan)
                dec = np.where(rows >= 0, ob["dec"][np.clip(rows, 0, None)], np.nan)
        elif self.task_kind == "classification" and self.predict_all and self.fixed.get("class_names"):
            meta["class_names"] = list(self.fixed["class_names"])  # applying a model: no labels needed
        elif self.task_kind == "classification":
            raise ConfigError("classification needs labels: pass dataset.objects=<object table>")
        # bands
        bands = self.fixed.get("bands") or sorted(np.unique(ep.band).tolist())
        lookup = {b: i for i, b in enumerate(bands)}
        band = np.array([lookup.get(b, -1) for b in ep.band], dtype=np.int64)
        if (band < 0).any():
            raise DataError(f"bands {sorted(set(ep.band[band < 0]))} were not seen in training "
                            f"(trained on {bands})")
        if len(bands) > MAX_BANDS:
            raise DataError(f"{len(bands)} distinct bands; at most {MAX_BANDS} are supported (check "
                            "dataset.columns.band=)")
        meta["bands"] = bands
        # context / query partition (queries: the last epochs of each object)
        is_query = np.zeros(len(ep.mjd), bool)
        n_ctx = counts.copy()
        if self.task_kind == "forecasting":
            fc = self.forecast_cfg
            nq = np.clip(np.round(counts * float(fc["fraction"])).astype(int), 1, int(fc["max_queries"]))
            nq = np.where(counts - nq >= int(fc["min_context"]), nq, 0)
            if (nq == 0).any():
                log.warning("%d objects have fewer than %d context epochs: no forecasting queries for them",
                            int((nq == 0).sum()), fc["min_context"])
                eligible &= nq > 0
            n_ctx = counts - nq
            for s, c, q in zip(start, counts, nq):
                is_query[s + c - q: s + c] = True
        keep_ctx = ~is_query
        if self.max_length is not None:
            too_long = n_ctx > self.max_length
            if too_long.any():
                log.warning("dataset.max_length=%d: keeping the most recent %d context epochs of %d objects "
                            "(longest had %d)", self.max_length, self.max_length, int(too_long.sum()),
                            int(n_ctx.max()))
                for s, c in zip(start[too_long], n_ctx[too_long]):
                    keep_ctx[s: s + c - self.max_length] = False
            meta["info"]["n_truncated"] = int(too_long.sum())
        obj_of = np.repeat(np.arange(n_obj), counts)
        t_rel = ep.mjd - ep.mjd[start][obj_of]
        # per-object per-band medians of the context epochs
        med = np.full((n_obj, len(bands)), np.nan)
        obj_median = np.zeros(n_obj)
        dmag = np.zeros(len(ep.mjd))
        for k in range(n_obj):
            sl = slice(start[k], start[k] + counts[k])
            c = keep_ctx[sl]
            m, b = ep.mag[sl], band[sl]
            obj_median[k] = np.median(m[c])
            for j in np.unique(b[c]):
                med[k, j] = np.median(m[c & (b == j)])
            off = med[k, b]
            off = np.where(np.isfinite(off), off, obj_median[k])
            dmag[sl] = m - off
        offset = ep.mag - dmag
        # multi-band period search on the context epochs (cached per input checksum)
        period = np.full(n_obj, np.nan)
        power = np.zeros(n_obj)
        peaks = None
        if self.periodogram or self.needs_periods:
            peaks = self._period_peaks(t_rel, ep.mag, ep.mag_err, band, keep_ctx, obj_of, n_obj, meta)
            period, power = peaks["period"][:, 0].copy(), peaks["power"][:, 0].copy()
        fold_period = period if self.periodogram else period_cat
        obj_feats, obj_names = self._object_features(t_rel, ep.mag, ep.mag_err, band, keep_ctx, obj_of, n_obj,
                                                     bands, peaks)
        # epoch features (dt to the previous context epoch)
        ctx_idx = np.flatnonzero(keep_ctx)
        ctx_obj = obj_of[ctx_idx]
        dt = np.diff(t_rel[ctx_idx], prepend=0.0)
        first = np.r_[True, ctx_obj[1:] != ctx_obj[:-1]]
        dt[first] = 0.0
        feats = [np.log1p(np.maximum(dt, 0)), dmag[ctx_idx], np.log10(ep.mag_err[ctx_idx]),
                 obj_median[ctx_obj]]
        names = list(BASE_FEATURES)
        if self.periodogram:
            ph = 2 * np.pi * np.mod(t_rel[ctx_idx] / period[ctx_obj], 1.0)
            feats += [np.sin(ph), np.cos(ph), np.log10(period[ctx_obj]), power[ctx_obj]]
            names += PERIOD_FEATURES
        x_ctx = np.stack(feats, 1)
        ctx_counts = np.bincount(ctx_obj, minlength=n_obj)
        # splits
        if self.predict_all:
            masks = {"train": np.zeros(n_obj, bool), "val": np.zeros(n_obj, bool), "test": np.ones(n_obj, bool)}
        elif self.evaluate_all:
            masks = {"train": np.zeros(n_obj, bool), "val": np.zeros(n_obj, bool), "test": eligible.copy()}
        elif given_obj is not None:  # dataset.split.column: the object table's split is kept
            masks = given_split(given_obj, str(self.split_cfg["column"]),
                                y if self.task_kind == "classification" else None, self.split_cfg["val"],
                                int(self.split_cfg["seed"]), eligible, meta.get("class_names"))
        else:
            strat = y if self.task_kind == "classification" or "class_names" in meta else None
            masks = split_masks(n_obj, strat, self.split_cfg["val"], self.split_cfg["test"],
                                int(self.split_cfg["seed"]), eligible)
        if self.task_kind == "reconstruction":
            masks = _pretraining_masks(masks, eligible)
        objects = {"y": torch.from_numpy(y), "id": torch.from_numpy(ids.astype(np.int64)),
                   "ctx_start": torch.from_numpy(np.r_[0, np.cumsum(ctx_counts)[:-1]].astype(np.int64)),
                   "ctx_len": torch.from_numpy(ctx_counts.astype(np.int64)),
                   "median_mag": torch.from_numpy(obj_median), "period": torch.from_numpy(period),
                   "power": torch.from_numpy(power), "dmag_std": torch.from_numpy(_group_std(dmag[ctx_idx], ctx_obj, n_obj)),
                   "ra": torch.from_numpy(ra if ra is not None else np.full(n_obj, np.nan)),
                   "dec": torch.from_numpy(dec if dec is not None else np.full(n_obj, np.nan)),
                   "period_catalogue": torch.from_numpy(np.asarray(period_cat, dtype=np.float64))}
        if obj_feats is not None:
            objects["features_raw"] = torch.from_numpy(obj_feats)
            meta["object_feature_names"] = obj_names
        for s in ("train", "val", "test"):
            objects[f"{s}_mask"] = torch.from_numpy(masks[s])
        td = TensorDict({
            "objects": TensorDict(objects, batch_size=[n_obj]),
            "context": TensorDict({"x_raw": torch.from_numpy(x_ctx), "time": torch.from_numpy(t_rel[ctx_idx]),
                                   "band": torch.from_numpy(band[ctx_idx])}, batch_size=[len(ctx_idx)]),
        }, batch_size=[])
        if self.task_kind == "forecasting":
            td["queries"] = self._queries(ep, is_query, obj_of, t_rel, dmag, offset, band, keep_ctx, start,
                                          counts, fold_period, n_obj)
        meta["feature_names"] = names
        meta["prepare_seconds"] = time.perf_counter() - t0
        return td, meta

    # -- periods and per-object features (dataset.period_search, dataset.features) --------------------
    def _period_peaks(self, t_rel, mag, err, band, keep_ctx, obj_of, n_obj, meta) -> dict[str, np.ndarray]:
        """Top multi-band Lomb–Scargle peaks of every object's context epochs ``[n_obj, n_peaks]``."""
        from astrolab.data.periods import PeriodSearch, cached_periods

        ctx_idx = np.flatnonzero(keep_ctx)
        obj = obj_of[ctx_idx]
        counts = np.bincount(obj, minlength=n_obj)
        start = np.r_[0, np.cumsum(counts)[:-1]]
        ps = PeriodSearch.from_config(self.period_search)
        res, info = cached_periods(self.cache_dir if self.use_cache else None, t_rel[ctx_idx], mag[ctx_idx],
                                   err[ctx_idx], band[ctx_idx], start, counts, ps, self.use_cache)
        meta["periodogram_seconds"] = info.get("seconds", 0.0) if info.get("cache") == "built" else 0.0
        meta["periodogram"] = {"backend": info.get("backend"), "cache": info.get("cache"),
                               "seconds": info.get("seconds")}
        return res

    def _object_features(self, t_rel, mag, err, band, keep_ctx, obj_of, n_obj, bands, peaks):
        """``(features [n_obj, F] float64 with NaN where undefined, names)`` or ``(None, [])``."""
        if not self.features:
            return None, []
        from astrolab.data.lc_features import object_features

        return object_features(self.features, t_rel, mag, err, band, keep_ctx, obj_of, n_obj, bands, peaks)

    @property
    def needs_periods(self) -> bool:
        """Whether ``dataset.features`` needs the multi-band period search (the Fourier fits and the
        amplitude ratios are made at its best period)."""
        return bool({"periods", "fourier", "colours"} & set(self.features))

    @property
    def object_feature_names(self) -> list[str]:
        return list(self.meta.get("object_feature_names") or []) if getattr(self, "meta", None) else []

    def model_inputs(self) -> dict[str, Any]:
        """Sizes beyond ``num_features`` for the model: the per-object feature vector's length (as scaled:
        ``feature_scaling=ple`` widens it)."""
        n = len(self.object_feature_names)
        if n and self.td is not None and ("objects", "features") in self.td.keys(include_nested=True):
            n = int(self.td["objects", "features"].shape[-1])
        return {"num_object_features": n} if n else {}

    def augmentation_inputs(self) -> dict[str, Any]:
        """For ``subsample_epochs`` (``augmentation=lightcurves``): which per-epoch feature is the time step
        and its training-split standardisation, so the augmentation can recompute it."""
        if "log_dt" not in self.feature_names:
            return {}
        j, sc = self.feature_names.index("log_dt"), self.scaler
        return {"dt_feature": j, "dt_scale": [float(sc["mean"][j]), float(sc["std"][j])]}

    def baseline_features(self, split: str) -> np.ndarray | None:
        """Per-object features of a split (rows as :meth:`targets`; NaN where undefined) for the feature
        baseline, or ``None`` without ``dataset.features``."""
        objs = self.td["objects"]
        if "features_raw" not in objs.keys() or self.task_kind != "classification":
            return None
        return objs["features_raw"][self.split_indices(split)].numpy()

    def _scale_object_features(self, objs, train) -> None:
        names = self.object_feature_names
        raw = objs["features_raw"].numpy()
        fixed = self.fixed.get("object_scaler")
        if fixed is not None:
            if list(fixed["feature_names"]) != names:
                raise DataError(f"the checkpoint's per-object features {fixed['feature_names']} differ from "
                                f"this data's {names} (same dataset.features= as in training?)")
            self.object_scaler = dict(fixed)  # the checkpoint's method, whatever dataset.feature_scaling says
        else:
            ref = raw[train.numpy()] if bool(train.any()) else raw
            self.object_scaler = fit_object_scaler(ref, names, self.feature_scaling)
        objs["features"] = torch.from_numpy(apply_object_scaler(raw, self.object_scaler))

    def _queries(self, ep, is_query, obj_of, t_rel, dmag, offset, band, keep_ctx, start, counts,
                 fold_period, n_obj) -> TensorDict:
        q_idx = np.flatnonzero(is_query)
        persist = np.zeros(len(q_idx))
        folded = np.zeros(len(q_idx))
        dt_last = np.zeros(len(q_idx))
        sinp = np.zeros(len(q_idx))
        cosp = np.zeros(len(q_idx))
        pos = 0
        q_counts = np.bincount(obj_of[q_idx], minlength=n_obj)
        for k in range(n_obj):
            nq = q_counts[k]
            if nq == 0:
                continue
            sl = slice(start[k], start[k] + counts[k])
            c = keep_ctx[sl]
            tc, mc, bc = t_rel[sl][c], dmag[sl][c], band[sl][c]
            qs = slice(pos, pos + nq)
            tq, bq = t_rel[q_idx[qs]], band[q_idx[qs]]
            dt_last[qs] = tq - tc[-1]
            P = fold_period[k]
            for j in range(nq):
                same = bc == bq[j]
                persist[pos + j] = mc[same][-1] if same.any() else mc[-1]
                if np.isfinite(P) and P > 0 and same.any():
                    dphi = np.abs(np.mod((tc[same] - tq[j]) / P + 0.5, 1.0) - 0.5)
                    folded[pos + j] = mc[same][int(np.argmin(dphi))]
                else:
                    folded[pos + j] = 0.0  # the band median
            if self.periodogram and np.isfinite(P):
                ph = 2 * np.pi * np.mod(tq / P, 1.0)
                sinp[qs], cosp[qs] = np.sin(ph), np.cos(ph)
            pos += nq
        x = np.stack([np.log1p(np.maximum(dt_last, 0)), sinp, cosp], 1)
        target = np.stack([dmag[q_idx], persist, folded], 1)
        return TensorDict({"x_raw": torch.from_numpy(x), "time": torch.from_numpy(t_rel[q_idx]),
                           "band": torch.from_numpy(band[q_idx]), "target": torch.from_numpy(target),
                           "offset": torch.from_numpy(offset[q_idx]), "mjd": torch.from_numpy(ep.mjd[q_idx]),
                           "object": torch.from_numpy(obj_of[q_idx].astype(np.int64))},
                          batch_size=[len(q_idx)])

    def setup(self, stage: str | None = None) -> None:
        if self.td is not None:
            return
        self.prepare_data()
        t0 = time.perf_counter()
        ep_path, ob_path = self.source_paths()
        from astrolab.data.io import file_checksum
        from astrolab.errors import CatalogNotFoundError

        if not ep_path.exists():
            raise CatalogNotFoundError(f"light-curve file or folder not found: '{ep_path}'; check dataset.path=")
        if ob_path is not None and not ob_path.exists():
            raise CatalogNotFoundError(f"object table not found: '{ob_path}'; check dataset.objects=")
        sums = [file_checksum(ep_path) if ep_path.is_file() else _folder_signature(ep_path)]
        if ob_path is not None:
            sums.append(file_checksum(ob_path))
        key = cache_key("+".join(sums), self.data_config())
        td, meta = self.cached_build("sequence", key, source=str(ep_path))
        self.meta = meta
        self.feature_names = list(meta["feature_names"])
        self.class_names = meta.get("class_names")
        self.band_names = list(meta["bands"])
        objs = td["objects"]
        train = objs["train_mask"]
        ctx = td["context"]
        train_epochs = train[_expand(objs["ctx_len"])]
        self.scaler = self._fit_scaler("scaler", ctx["x_raw"], train_epochs, self.feature_names)
        ctx["x"] = self._apply(ctx["x_raw"], self.scaler)
        del ctx["x_raw"]
        self.object_scaler = None
        if "features_raw" in objs.keys():
            self._scale_object_features(objs, train)
        if "queries" in td.keys():
            q = td["queries"]
            self.query_scaler = self._fit_scaler("query_scaler", q["x_raw"], train[q["object"]], QUERY_FEATURES)
            q["x"] = self._apply(q["x_raw"], self.query_scaler)
            del q["x_raw"]
            dq = q["target"][:, 0][train[q["object"]]]
            self.target_stats = self.fixed.get("target_stats") or {
                "mean": 0.0, "std": float(dq.std().clamp(min=1e-3)) if len(dq) > 1 else 1.0}
            self.class_weights = None
        elif self.task_kind == "reconstruction":
            self.query_scaler, self.class_weights = None, None
        else:
            self.query_scaler = None
            self._use_label_fraction(objs)
            y = objs["y"]
            counts = torch.bincount(y[train].clamp(min=0), minlength=len(self.class_names)).double()
            weights = counts.sum() / (len(counts) * counts.clamp(min=1))
            self.class_weights = weights.tolist() if self.class_weights_mode == "auto" else None
            self.class_counts = {n: int(c) for n, c in zip(self.class_names, torch.bincount(
                y[y >= 0], minlength=len(self.class_names)).tolist())}
        self.ctx_start = objs["ctx_start"]
        self.ctx_len = objs["ctx_len"]
        if "queries" in td.keys():
            qobj = td["queries", "object"]
            qc = torch.bincount(qobj, minlength=objs.batch_size[0])
            self.q_len = qc
            self.q_start = torch.cat([torch.zeros(1, dtype=torch.long), qc.cumsum(0)[:-1]])
        self.td = td
        self.neighbours = self._build_graph() if self.graph_cfg["type"] == "knn" else None
        self.timings = {"setup": time.perf_counter() - t0}

    def _fit_scaler(self, name: str, x: torch.Tensor, rows: torch.Tensor, names: list[str]) -> dict[str, Any]:
        return self.fit_scaler(x[rows] if rows.any() else x, names, fixed_key=name, ddof=1,
                               min_std=1e-12, hint=" (same dataset.periodogram= as in training?)")

    @staticmethod
    def _apply(x: torch.Tensor, scaler: dict[str, Any]) -> torch.Tensor:
        mean = torch.tensor(scaler["mean"], dtype=torch.float64)
        std = torch.tensor(scaler["std"], dtype=torch.float64)
        return torch.nan_to_num((x - mean) / std).float()

    def _build_graph(self) -> list[np.ndarray]:
        from astrolab.data.graphs import knn_graph

        objs = self.td["objects"]
        space = self.graph_cfg["space"]
        if space == "sky":
            ra, dec = objs["ra"].numpy(), objs["dec"].numpy()
            if not np.isfinite(ra).all() or not np.isfinite(dec).all():
                raise DataError("dataset.graph.space=sky needs ra and dec for every object in the object "
                                "table; use dataset.graph.space=summary")
            r, d = np.radians(ra), np.radians(dec)
            pts = np.stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)], 1)
        else:
            cols = [objs["median_mag"].numpy(), np.log10(objs["dmag_std"].numpy() + 1e-4)]
            if self.periodogram:
                cols += [np.log10(objs["period"].numpy()), objs["power"].numpy()]
            pts = np.stack(cols, 1)
            train = objs["train_mask"].numpy()
            ref = pts[train] if train.any() else pts
            std = ref.std(0)
            pts = (pts - ref.mean(0)) / np.where(std > 0, std, 1.0)
        edge_index = knn_graph(pts, k=int(self.graph_cfg["k"])).numpy()
        n = len(pts)
        order = np.argsort(edge_index[1], kind="stable")
        src, dst = edge_index[0][order], edge_index[1][order]
        bounds = np.searchsorted(dst, np.arange(n + 1))
        log.info("kNN graph of objects (k=%d, space=%s): %d edges", self.graph_cfg["k"], space, len(src))
        return [src[bounds[i]:bounds[i + 1]] for i in range(n)]

    # -- sizes and task hand-off -------------------------------------------------------------------

    def target_label(self) -> str:
        return "dmag"

    def task_kwargs(self) -> dict[str, Any]:
        """Masked reconstruction (astrolab pretrain): which feature is reconstructed, which is the time
        step, and their standardisation; else as every data module."""
        if self.task_kind != "reconstruction":
            return super().task_kwargs()
        names, sc = self.feature_names, self.scaler
        i = names.index("dmag")
        return {"target_feature": i, "target_scale": [float(sc["mean"][i]), float(sc["std"][i])],
                **self.augmentation_inputs()}

    def _use_label_fraction(self, objs) -> None:
        """``label_fraction``: keep a stratified, seeded fraction of the training split's labels."""
        self.n_train_labels_all = int(objs["train_mask"].sum())
        if self.label_fraction is None or self.fixed.get("scaler") is not None:
            return
        train = objs["train_mask"].numpy().copy()
        y = objs["y"].numpy()
        keep = stratified_subset(np.flatnonzero(train), y[train], self.label_fraction, int(self.split_cfg["seed"]))
        new = np.zeros_like(train)
        new[keep] = True
        objs["train_mask"] = torch.from_numpy(new)
        log.info("dataset.label_fraction=%g: training on %d of the %d labelled training objects (stratified, "
                 "seed %d); val and test unchanged", self.label_fraction, len(keep), int(train.sum()),
                 int(self.split_cfg["seed"]))

    def preprocessing(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scaler": self.scaler, "feature_names": self.feature_names,
                               "class_names": self.class_names, "bands": self.band_names,
                               "target": self.target, "task_kind": self.task_kind}
        if getattr(self, "object_scaler", None) is not None:
            out["object_scaler"] = self.object_scaler
        if self.query_scaler is not None:
            out["query_scaler"] = self.query_scaler
            out["target_stats"] = self.target_stats
        return out

    def split_indices(self, split: str) -> torch.Tensor:
        return torch.nonzero(self.td["objects", f"{split}_mask"]).reshape(-1)

    def targets(self, split: str) -> torch.Tensor:
        """Class codes (classification) or the ``[M, 3]`` query targets (forecasting) of a split."""
        idx = self.split_indices(split)
        if self.task_kind == "classification":
            return self.td["objects", "y"][idx]
        q = self.td["queries"]
        return q["target"][self.td["objects", f"{split}_mask"][q["object"]]].float()

    def describe(self) -> dict[str, Any]:
        objs = self.td["objects"]
        info = self.meta["info"]
        lens = objs["ctx_len"].float()
        out = {"n_objects": int(objs.batch_size[0]), "n_epochs": info.get("n_epochs"),
               "context_length": {"min": int(lens.min()), "median": float(lens.median()), "max": int(lens.max())},
               "bands": self.band_names, "features": self.feature_names, "classes": self.class_names,
               "cache": self.meta.get("cache"), "source": info.get("path"), "objects": info.get("objects"),
               "checksum": info.get("checksum"), "cuts": info.get("cuts"),
               "max_length": self.max_length, "n_truncated": info.get("n_truncated", 0),
               "periodogram": self.periodogram, "object_features": self.object_feature_names,
               "period_search": self.meta.get("periodogram"), "graph": self.graph_cfg if self.neighbours is not None else None,
               "split_sizes": {s: int(objs[f"{s}_mask"].sum()) for s in ("train", "val", "test")}}
        if self.label_fraction is not None:
            out["label_fraction"] = self.label_fraction
            out["n_train_labels_all"] = getattr(self, "n_train_labels_all", None)
        if "queries" in self.td.keys():
            out["n_queries"] = {s: int(len(self.targets(s))) for s in ("train", "val", "test")}
        return out

    # -- batching ----------------------------------------------------------------------------------
    def collate(self, index: list[int] | torch.Tensor) -> TensorDict:
        """One batch TensorDict for the objects ``index`` (plus their graph neighbours)."""
        seeds = torch.as_tensor(index, dtype=torch.long).reshape(-1)
        edges = None
        if self.neighbours is not None:
            nb = [self.neighbours[int(i)] for i in seeds]
            extra = np.setdiff1d(np.concatenate(nb) if nb else np.zeros(0, np.int64), seeds.numpy())
            allidx = torch.cat([seeds, torch.from_numpy(extra.astype(np.int64))])
            local = {int(g): i for i, g in enumerate(allidx.tolist())}
            src = [local[int(s)] for n_, i in zip(nb, range(len(seeds))) for s in n_]
            dst = [i for n_, i in zip(nb, range(len(seeds))) for _ in n_]
            edges = torch.tensor([src, dst], dtype=torch.long).t().reshape(-1, 2)
            index_all = allidx
        else:
            index_all = seeds
        B = len(index_all)
        ctx = self.td["context"]
        lens = self.ctx_len[index_all]
        L_ = int(lens.max()) if B else 0
        rows = self.ctx_start[index_all].unsqueeze(1) + torch.arange(L_).unsqueeze(0)
        mask = torch.arange(L_).unsqueeze(0) < lens.unsqueeze(1)
        rows = torch.where(mask, rows, torch.zeros_like(rows))
        x = ctx["x"][rows] * mask.unsqueeze(-1)
        tt = (ctx["time"][rows] * mask).float()
        band = ctx["band"][rows] * mask
        objs = self.td["objects"]
        seed_mask = torch.zeros(B, dtype=torch.bool)
        seed_mask[: len(seeds)] = True
        batch = TensorDict({
            "sequence": TensorDict({"x": x, "time": tt, "band": band, "mask": mask}, batch_size=[B, L_]),
            "objects": TensorDict({"y": objs["y"][index_all], "id": objs["id"][index_all], "index": index_all,
                                   "seed": seed_mask}, batch_size=[B]),
        }, batch_size=[])
        if "features" in objs.keys():
            batch["objects", "features"] = objs["features"][index_all]
        if edges is not None:
            batch["edges"] = TensorDict({"index": edges}, batch_size=[edges.shape[0]])
        if "queries" in self.td.keys():
            q = self.td["queries"]
            ql = self.q_len[index_all] * seed_mask  # neighbours' queries are never predicted
            Q = max(int(ql.max()) if B else 0, 1)
            qrows = self.q_start[index_all].unsqueeze(1) + torch.arange(Q).unsqueeze(0)
            qmask = torch.arange(Q).unsqueeze(0) < ql.unsqueeze(1)
            qrows = torch.where(qmask, qrows, torch.zeros_like(qrows))
            batch["queries"] = TensorDict({
                "x": q["x"][qrows] * qmask.unsqueeze(-1), "time": (q["time"][qrows] * qmask).float(),
                "band": q["band"][qrows] * qmask, "mask": qmask,
                "target": (q["target"][qrows] * qmask.unsqueeze(-1)).float(),
                "offset": q["offset"][qrows] * qmask, "mjd": q["mjd"][qrows] * qmask,
                "index": qrows}, batch_size=[B, Q])
        return batch

    def _loader(self, split: str, shuffle: bool):
        from torch.utils.data import DataLoader

        if self.td is None:
            self.setup()
        idx = self.split_indices(split)
        sampler = LengthBucketSampler(idx, self.ctx_len[idx], self.batch_size, shuffle, int(self.seed))
        return DataLoader(list(range(len(idx))), batch_sampler=sampler, num_workers=self.num_workers,
                          collate_fn=lambda pos: self.collate(idx[torch.as_tensor(pos)]))

    def light_curves(self, object_ids) -> list[dict[str, Any]]:
        """Epochs of these objects as the source file gives them (after the sentinel cuts), for plots:
        one dict per id with ``mjd``, ``mag``, ``mag_err``, ``band``, ``period`` [d] and ``period_source``:
        the object table's ``dataset.period_column`` when it has a value (``catalogue``), else the
        multi-band Lomb–Scargle best period (``periodogram``: from the prepared features when computed,
        else searched here on ``dataset.period_search``'s grid)."""
        from astrolab.data.periods import PeriodSearch, search_one
        from astrolab.data.surveys.lightcurves import read_epochs

        ep = read_epochs(self.source_paths()[0], self.columns, self.max_mag, self.max_mag_err, self.min_good)
        objs = self.td["objects"] if self.td is not None else None
        row_of = {int(i): k for k, i in enumerate(objs["id"].tolist())} if objs is not None else {}
        ps = PeriodSearch.from_config({**self.period_search, "n_peaks": 1})
        out = []
        for oid in object_ids:
            sel = ep.object_id == int(oid)
            t, m, e = ep.mjd[sel], ep.mag[sel], ep.mag_err[sel]
            period, source = float("nan"), "none"
            if objs is not None and int(oid) in row_of:
                row = row_of[int(oid)]
                if "period_catalogue" in objs.keys() and np.isfinite(float(objs["period_catalogue"][row])):
                    period, source = float(objs["period_catalogue"][row]), "catalogue"
                elif np.isfinite(float(objs["period"][row])):
                    period, source = float(objs["period"][row]), "periodogram"
            if not np.isfinite(period) and len(t) >= 5:
                period = float(search_one(t - t.min(), m, e, ep.band[sel], ps)["period"][0])
                source = "periodogram" if np.isfinite(period) else "none"
            out.append({"object_id": int(oid), "mjd": t, "mag": m, "mag_err": e, "band": ep.band[sel],
                        "period": period, "period_source": source})
        return out

    def index_table(self):
        """One row per object (``index`` order): ``id`` (exact), sky position and period when known,
        split, and the label as read (``true``; empty for objects without one)."""
        from astropy.table import Table

        objs = self.td["objects"]
        table = Table()
        if "queries" in self.td.keys():  # forecasting: one row per query epoch
            q = self.td["queries"]
            obj = q["object"].numpy()
            table["id"] = objs["id"].numpy().astype(np.int64)[obj]
            table["object_id"] = table["id"]
            table["mjd"] = q["mjd"].numpy()
            table["band"] = np.asarray(self.band_names)[q["band"].numpy()]
            off = q["offset"].numpy().astype(np.float64)
            target = q["target"].numpy().astype(np.float64)
            table["true"] = target[:, 0] + off  # magnitude observed at that epoch
            table["persistence"] = target[:, 1] + off
            table["phase_folded"] = target[:, 2] + off
            table["offset"] = off  # forecasts are relative to it; the writer adds it back
            split = np.full(len(objs["id"]), "", dtype="<U5")
            for s in ("train", "val", "test"):
                split[objs[f"{s}_mask"].numpy()] = s
            table["split"] = split[obj]
            return table
        table["id"] = objs["id"].numpy().astype(np.int64)
        table["object_id"] = table["id"]  # the light curves' own id (dataset.columns.object_id)
        for c in ("ra", "dec"):
            if np.isfinite(objs[c].numpy()).any():
                table[c] = objs[c].numpy()
        if self.periodogram or self.needs_periods:
            table["period"] = objs["period"].numpy()  # multi-band Lomb-Scargle best period
        split = np.full(len(table), "", dtype="<U5")
        for s in ("train", "val", "test"):
            split[objs[f"{s}_mask"].numpy()] = s
        table["split"] = split
        if self.class_names:
            self.add_true_column(table, objs["y"])
        return table

class LengthBucketSampler:
    """Batches of similar sequence length (less padding, same results: padding is masked).

    Training: a new random order each epoch, sorted by length inside windows of 20 batches, the
    batches themselves shuffled. Evaluation: sorted by length, deterministic.
    """

    def __init__(self, index: torch.Tensor, lengths: torch.Tensor, batch_size: int, shuffle: bool,
                 seed: int = 0) -> None:
        self.lengths, self.batch_size, self.shuffle = lengths, max(int(batch_size), 1), shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = len(self.lengths)
        if not self.shuffle:
            order = torch.argsort(self.lengths, stable=True)
            batches = [order[i:i + self.batch_size] for i in range(0, n, self.batch_size)]
        else:
            perm = torch.randperm(n, generator=self.generator)
            window = 20 * self.batch_size
            batches = []
            for w in range(0, n, window):
                chunk = perm[w:w + window]
                chunk = chunk[torch.argsort(self.lengths[chunk], stable=True)]
                batches += [chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
            batches = [batches[i] for i in torch.randperm(len(batches), generator=self.generator)]
        for b in batches:
            yield b.tolist()


def _label_fraction(value: Any) -> float | None:
    if value in (None, "", "null", "None"):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        f = float("nan")
    if not 0.0 < f <= 1.0:
        raise ConfigError(f"dataset.label_fraction={value} must be a fraction in (0, 1], e.g. "
                          "dataset.label_fraction=0.1 (null: every training label)")
    return None if f == 1.0 else f


def stratified_subset(index: np.ndarray, labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """``round(fraction * n_c)`` (at least 1) of the rows ``index`` of each class ``c``, drawn with
    ``seed``; sorted. Classes are drawn in code order, so the subset depends only on the seed."""
    rng = np.random.default_rng(seed)
    out = []
    for c in np.unique(labels):
        rows = index[labels == c]
        k = min(len(rows), max(1, int(round(fraction * len(rows)))))
        out.append(rng.permutation(rows)[:k])
    return np.sort(np.concatenate(out)) if out else index[:0]


def _pretraining_masks(masks: dict[str, np.ndarray], eligible: np.ndarray) -> dict[str, np.ndarray]:
    """Masked reconstruction: the split's train and val objects as they are (labels unused) and the objects
    without a label in train too; the split's test objects are never pretrained on."""
    out = {k: v.copy() for k, v in masks.items()}
    out["train"] |= ~eligible & ~out["val"] & ~out["test"]
    return out


def _expand(lengths: torch.Tensor) -> torch.Tensor:
    return torch.repeat_interleave(torch.arange(len(lengths)), lengths)


def _group_std(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    cnt = np.bincount(groups, minlength=n).astype(float)
    s1 = np.bincount(groups, values, minlength=n)
    s2 = np.bincount(groups, values**2, minlength=n)
    mean = s1 / np.maximum(cnt, 1)
    return np.sqrt(np.maximum(s2 / np.maximum(cnt, 1) - mean**2, 0))


def _folder_signature(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    for p in sorted(path.iterdir()):
        if p.is_file():
            st = p.stat()
            h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def _feature_list(features) -> list[str]:
    """``dataset.features`` as a list of names (``null``/``[]``/``none``: no per-object features)."""
    if features in (None, "", "none", "null", "None", False):
        return []
    if isinstance(features, str):
        features = [f.strip() for f in features.strip("[]").split(",") if f.strip()]
    names = [str(f) for f in features]
    from astrolab.data.lc_features import check_names

    check_names(names)
    return names
