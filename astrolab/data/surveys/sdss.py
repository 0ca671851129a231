"""SDSS schema: SkyServer photometric columns → photometric features; spectra files → flux + good-pixel mask.

Columns (SkyServer ``PhotoObj``/``SpecObj`` names; map others with ``dataset.columns.<name>=<column>``):
required ``objid``, ``modelMag_{u,g,r,i,z}``, ``psfMag_{u,g,r,i,z}``; optional ``psfMagErr_{ugriz}`` and
``petroRad_r`` (their features are left out when the file lacks them); labels ``class`` and ``z``
(``zErr`` is never a feature).

Features, in this fixed order (saved with checkpoints): ``modelMag_ugriz`` (5), model colours
``u-g, g-r, r-i, i-z`` (4), ``psfMag - modelMag`` per band (5, the PSF-vs-extended concentration that
separates galaxies from point sources), ``log10(psfMagErr)`` per band (5) and ``log10(petroRad_r)``.

NaN policy: SDSS writes -9999 (and sometimes 9999 / -999) for missing magnitudes; those become NaN, and
rows with a non-finite feature are dropped (the count is logged and reported in ``describe()``).

Spectra: a FITS table with ``objid`` and array columns ``flux``, ``ivar`` and optionally ``and_mask``
(SDSS ``SPPIXMASK``). A pixel is good when ``ivar > 0`` and no bit of :data:`BAD_PIXEL_BITS` is set.
Each spectrum is divided by the median flux of its good pixels (its shape matters here; photometry
carries the amplitude), rebinned by an integer factor with a good-pixel-weighted mean, and bad pixels are
zeroed; the mask travels with the flux.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from astrolab.data.surveys.common import resolve_columns
from astrolab.errors import DataError

log = logging.getLogger(__name__)

BANDS = ("u", "g", "r", "i", "z")
#: SPPIXMASK bits that make a pixel unusable (FULLREJECT, NODATA, COMBINEREJ)
BAD_PIXEL_BITS = (1 << 18) | (1 << 24) | (1 << 25)
#: SkyServer sentinels for "no measurement"
SENTINELS = (-9999.0, 9999.0, -999.0)
LABEL_COLUMNS = ("class", "z", "zErr")


def canonical_columns(bands: Sequence[str] = BANDS) -> list[str]:
    cols = ["objid", "ra", "dec"]
    for kind in ("modelMag", "psfMag", "psfMagErr"):
        cols += [f"{kind}_{b}" for b in bands]
    return cols + ["petroRad_r"]


def required_columns(bands: Sequence[str] = BANDS) -> list[str]:
    return ["objid"] + [f"modelMag_{b}" for b in bands] + [f"psfMag_{b}" for b in bands]


@dataclass
class SDSSTable:
    features: np.ndarray
    feature_names: list[str]
    ids: np.ndarray
    rows: np.ndarray
    coordinates: np.ndarray          # [N, 3] unit vectors (ICRS) or zeros when ra/dec are absent
    n_input: int
    n_dropped: int
    file_columns: dict[str, str] = field(default_factory=dict)


def _numeric(catalog, col: str) -> np.ndarray:
    if col not in catalog.data.keys():
        raise DataError(f"column '{col}' in {catalog.path.name} is not numeric")
    v = catalog.data[col].numpy().astype(np.float64)
    for s in SENTINELS:
        v = np.where(v == s, np.nan, v)
    return v


def apply_sdss_schema(catalog, columns: Mapping[str, str | None] | None = None,
                      bands: Sequence[str] = BANDS) -> SDSSTable:
    """Validate the columns and build the feature matrix (see the module docstring)."""
    bands = list(bands)
    found = resolve_columns(catalog, canonical_columns(bands), required_columns(bands), columns)
    for label in LABEL_COLUMNS:
        if label in found.values():
            raise DataError(f"label column '{label}' cannot be mapped to an input feature")
    n = len(catalog)
    model = np.stack([_numeric(catalog, found[f"modelMag_{b}"]) for b in bands], 1)
    psf = np.stack([_numeric(catalog, found[f"psfMag_{b}"]) for b in bands], 1)
    feats = [model, model[:, :-1] - model[:, 1:], psf - model]
    names = [f"modelMag_{b}" for b in bands] + [f"{a}-{b}" for a, b in zip(bands[:-1], bands[1:])] + [
        f"psfMag_{b}-modelMag_{b}" for b in bands]
    if all(f"psfMagErr_{b}" in found for b in bands):
        err = np.stack([_numeric(catalog, found[f"psfMagErr_{b}"]) for b in bands], 1)
        feats.append(np.log10(np.where(err > 0, err, np.nan)))
        names += [f"log10_psfMagErr_{b}" for b in bands]
    else:
        log.warning("no psfMagErr_* columns: magnitude errors are not used as features")
    if "petroRad_r" in found:
        rad = _numeric(catalog, found["petroRad_r"])
        feats.append(np.log10(np.where(rad > 0, rad, np.nan))[:, None])
        names.append("log10_petroRad_r")
    x = np.concatenate(feats, 1)
    keep = np.isfinite(x).all(1)
    if "ra" in found and "dec" in found:
        ra, dec = np.radians(_numeric(catalog, found["ra"])), np.radians(_numeric(catalog, found["dec"]))
        xyz = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], 1)
        xyz = np.where(np.isfinite(xyz), xyz, 0.0)
    else:
        xyz = np.zeros((n, 3))
    ids = catalog.data[found["objid"]].numpy()
    if ids.dtype.kind not in "iu":
        raise DataError(f"objid column '{found['objid']}' is not an integer column (ids must stay exact)")
    rows = np.flatnonzero(keep)
    if len(rows) < n:
        log.warning("dropped %d of %d rows with missing magnitudes (-9999 / NaN)", n - len(rows), n)
    if len(rows) == 0:
        raise DataError(f"{catalog.path.name}: no row has all of {', '.join(names)} finite")
    return SDSSTable(features=x[rows], feature_names=names, ids=ids[rows].astype(np.int64), rows=rows,
                     coordinates=xyz[rows], n_input=n, n_dropped=int(n - len(rows)), file_columns=found)


def prepare_spectra(flux: np.ndarray, ivar: np.ndarray, and_mask: np.ndarray | None = None,
                    rebin: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Normalised, rebinned flux ``[N, L // rebin]`` (float32, 0 at bad pixels) and good mask (bool)."""
    flux = np.asarray(flux, dtype=np.float32)
    good = np.asarray(ivar) > 0
    if and_mask is not None:
        good &= (np.asarray(and_mask).astype(np.int64) & BAD_PIXEL_BITS) == 0
    good &= np.isfinite(flux)
    f = np.where(good, flux, np.nan)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            scale = np.nanmedian(np.abs(f), axis=1)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0).astype(np.float32)
    f = np.where(good, flux / scale[:, None], 0.0).astype(np.float32)
    f = np.clip(f, -20, 50)
    rebin = max(int(rebin), 1)
    if rebin > 1:
        n, length = f.shape
        m = length // rebin
        fw = (f[:, :m * rebin] * good[:, :m * rebin]).reshape(n, m, rebin).sum(-1)
        w = good[:, :m * rebin].reshape(n, m, rebin).sum(-1)
        f = np.where(w > 0, fw / np.maximum(w, 1), 0.0).astype(np.float32)
        good = w > 0
    return f, good


def describe_columns() -> dict[str, Any]:
    return {"required": required_columns(), "optional": ["ra", "dec", "petroRad_r"] + [
        f"psfMagErr_{b}" for b in BANDS], "labels": list(LABEL_COLUMNS)}
