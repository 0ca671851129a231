"""SDSS schema: SkyServer photometric columns → photometric features; spectra files → flux + good-pixel mask.

Columns (SkyServer ``PhotoObj``/``SpecObj`` names, any letter case, so ``objID`` works). Recognised without a
mapping: the full names (``modelMag_r``, ``psfMag_r``, ``psfMagErr_r``, ``petroRad_r``) and the SkyServer
shorthand export ``objid, ra, dec, u, g, r, i, z, ..., class, redshift`` (``u..z`` are SkyServer's
shorthand for ``modelMag_u..z``); one log line says which; ``dataset.columns.<name>=<column>`` always wins.
Required: ``objid`` and one complete set of magnitudes (model or PSF, five bands). Everything else is
optional, and a missing input drops its features with one log line: no PSF magnitudes → no ``psf - model``
concentration; no ``psfMagErr_*`` → no error features; no ``petroRad_r`` → no size. A label is only what
``dataset.target`` names (``class``, ``z``, ``redshift``, …): that column is never an input, and no other
column name is reserved (in the shorthand export ``z`` is the z-band magnitude).

Features, in this fixed order (saved with checkpoints; those the file allows): ``modelMag_ugriz`` (5), model
colours ``u-g, g-r, r-i, i-z`` (4), ``psfMag - modelMag`` per band (5, the PSF-vs-extended concentration that
separates galaxies from point sources), ``log10(psfMagErr)`` per band (5) and ``log10(petroRad_r)``. A file
with PSF magnitudes only uses ``psfMag_ugriz`` and PSF colours instead of the model ones.

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

from astrolab.data.surveys.common import recognise_columns
from astrolab.errors import DataCheckError, DataError, MissingColumnError

log = logging.getLogger(__name__)

BANDS = ("u", "g", "r", "i", "z")
#: SPPIXMASK bits that make a pixel unusable (FULLREJECT, NODATA, COMBINEREJ)
BAD_PIXEL_BITS = (1 << 18) | (1 << 24) | (1 << 25)
#: SkyServer sentinels for "no measurement"
SENTINELS = (-9999.0, 9999.0, -999.0)
#: common label columns (documentation only: a label is what dataset.target names)
LABEL_COLUMNS = ("class", "z", "redshift", "zErr")


def spellings(bands: Sequence[str] = BANDS) -> dict[str, dict[str, tuple[str, ...]]]:
    """Known spellings recognised without a mapping (see the module docstring)."""
    return {
        "SkyServer shorthand": {f"modelMag_{b}": (b,) for b in bands},
        "SkyServer CasJobs": {"objid": ("objID", "ObjID", "bestObjID"), "ra": ("RA",), "dec": ("DEC", "Dec")},
    }


def canonical_columns(bands: Sequence[str] = BANDS) -> list[str]:
    cols = ["objid", "ra", "dec"]
    for kind in ("modelMag", "psfMag", "psfMagErr"):
        cols += [f"{kind}_{b}" for b in bands]
    return cols + ["petroRad_r"]


def required_columns(bands: Sequence[str] = BANDS) -> list[str]:
    """Always required (a magnitude set, model or PSF, is checked separately)."""
    return ["objid"]


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
        raise DataError(f"column '{col}' in {catalog.path.name} is not numeric; map a numeric one with "
                        "dataset.columns.*=")
    v = catalog.data[col].numpy().astype(np.float64)
    for s in SENTINELS:
        v = np.where(v == s, np.nan, v)
    return v


def apply_sdss_schema(catalog, columns: Mapping[str, str | None] | None = None,
                      bands: Sequence[str] = BANDS, exclude: Sequence[str] = (),
                      features: Sequence[str] | None = None) -> SDSSTable:
    """Validate the columns and build the feature matrix (see the module docstring).

    Args:
        exclude: file columns never used as inputs (the label).
        features: the exact features to build (a trained model's list); ``None``: all the file allows.
    """
    bands = list(bands)
    found, _ = recognise_columns(catalog, canonical_columns(bands), required_columns(bands), columns,
                                 spellings(bands), exclude=exclude)
    n = len(catalog)

    def complete(kind: str) -> np.ndarray | None:
        cols = [found.get(f"{kind}_{b}") for b in bands]
        if not all(cols):
            return None
        mags = np.stack([_numeric(catalog, c) for c in cols], 1)
        if not np.isfinite(mags).any(0).all():
            log.warning("%s: %s column(s) all NaN / sentinel: treated as absent", catalog.path.name,
                        ", ".join(c for c, ok in zip(cols, np.isfinite(mags).any(0)) if not ok))
            return None
        return mags

    model, psf = complete("modelMag"), complete("psfMag")
    if model is None and psf is None:
        missing = [f"modelMag_{b}" for b in bands if f"modelMag_{b}" not in found]
        raise MissingColumnError(
            f"{catalog.path.name}: no complete set of magnitudes: model ({', '.join(missing) or 'all NaN'} "
            f"missing; the shorthand {', '.join(bands)} also works) nor PSF (psfMag_*); map them with "
            + " ".join(f"dataset.columns.{m}=<column>" for m in missing[:5]))
    feats: list[np.ndarray] = []
    names: list[str] = []
    dropped: list[str] = []
    base, kind = (model, "modelMag") if model is not None else (psf, "psfMag")
    feats += [base, base[:, :-1] - base[:, 1:]]
    names += [f"{kind}_{b}" for b in bands]
    names += [f"{a}-{b}" if kind == "modelMag" else f"psf_{a}-{b}" for a, b in zip(bands[:-1], bands[1:])]
    if model is not None and psf is not None:
        feats.append(psf - model)
        names += [f"psfMag_{b}-modelMag_{b}" for b in bands]
    elif model is not None:
        dropped.append("psfMag_*-modelMag_* (no psfMag_* columns)")
    else:
        dropped.append("model magnitudes and colours (no modelMag_* columns: PSF magnitudes used)")
    if all(f"psfMagErr_{b}" in found for b in bands):
        err = np.stack([_numeric(catalog, found[f"psfMagErr_{b}"]) for b in bands], 1)
        feats.append(np.log10(np.where(err > 0, err, np.nan)))
        names += [f"log10_psfMagErr_{b}" for b in bands]
    else:
        dropped.append("log10_psfMagErr_* (no psfMagErr_* columns)")
    if "petroRad_r" in found:
        rad = _numeric(catalog, found["petroRad_r"])
        feats.append(np.log10(np.where(rad > 0, rad, np.nan))[:, None])
        names.append("log10_petroRad_r")
    else:
        dropped.append("log10_petroRad_r (no petroRad_r column)")
    x = np.concatenate(feats, 1)
    if features is not None:
        missing = [f for f in features if f not in names]
        if missing:
            raise MissingColumnError(f"{catalog.path.name}: the model was trained with feature(s) "
                                     f"{', '.join(missing[:5])} that this file cannot give; map their input "
                                     "columns with dataset.columns.<name>=<column>")
        x = x[:, [names.index(f) for f in features]]
        names = list(features)
    if dropped:
        log.warning("features left out: %s; %d features used", "; ".join(dropped), len(names))
    keep = np.isfinite(x).all(1)
    if "ra" in found and "dec" in found:
        ra, dec = np.radians(_numeric(catalog, found["ra"])), np.radians(_numeric(catalog, found["dec"]))
        xyz = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], 1)
        xyz = np.where(np.isfinite(xyz), xyz, 0.0)
    else:
        xyz = np.zeros((n, 3))
    ids = catalog.data[found["objid"]].numpy() if found["objid"] in catalog.data.keys() else np.zeros(0)
    if ids.dtype.kind not in "iu":
        raise DataError(f"objid column '{found['objid']}' is not an integer column (ids must stay exact); map an "
                        "integer id with dataset.columns.objid=")
    rows = np.flatnonzero(keep)
    if len(rows) < n:
        log.warning("dropped %d of %d rows with missing magnitudes (-9999 / NaN)", n - len(rows), n)
    if len(rows) == 0:
        worst = names[int(np.argmax((~np.isfinite(x)).sum(0)))]
        raise DataCheckError(f"{catalog.path.name}: no row has every feature finite ('{worst}' is missing in "
                             f"{int((~np.isfinite(x[:, names.index(worst)])).sum())} rows); remove that input column "
                             "to train without it")
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
    return {"required": required_columns() + ["modelMag_* or psfMag_* (five bands)"],
            "optional": ["ra", "dec", "petroRad_r"] + [f"psfMagErr_{b}" for b in BANDS],
            "spellings": spellings()}
