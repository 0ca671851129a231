"""Per-object light-curve features (``dataset.features``): one vector per object, per band where a feature
is a single-band statistic.

Names:

* ``periods`` — the multi-band Lomb–Scargle peaks (:mod:`astrolab.data.periods`): ``log_period_i``,
  ``ls_power_i``, ``log_fap_i`` for the ``dataset.period_search.n_peaks`` highest peaks;
* ``fourier`` — per band, a 2-harmonic Fourier fit at the best multi-band period: amplitude ``A1``,
  amplitude ratio ``R21 = A2/A1`` and phase difference ``phi21 = φ2 − 2φ1`` as (cos, sin) (Simon & Lee 1981;
  the light-curve shape parameters that separate RRab from RRc; a weighted linear least-squares fit, a few
  lines of NumPy: the ``light-curve`` package has no fit at a given period);
* ``colours`` — per pair of bands adjacent in wavelength (astrolab.data.bands: u g r i z, B V, BP G RP, …;
  the data's sorted order where a name is not a known band): the colour
  ``colour_g_r`` = g − r of the bands' mean magnitudes (the Fourier fits' constant terms at the best
  period; the medians without one), and the pulsation amplitude ratio ``log_amp_ratio_g_r`` =
  log10(A1_g / A1_r) of the Fourier fits at the best multi-band period (needs ``periods``). Pulsators are
  hotter and vary more in the blue (g/r amplitude ratios ≈ 1.2–1.5 for RR Lyrae, Cepheids and δ Scuti
  stars), eclipses are achromatic (ratio ≈ 1): what separates a δ Scuti star from a contact binary folded at
  half its period, and what variable-star classifiers have used since Eyer & Blake (2005, MNRAS 358, 30);
* the ``light-curve`` package's extractors (Malanchev et al. 2021, MNRAS 502, 5147), per band:
  ``amplitude``, ``percent_amplitude``, ``std``, ``skew``, ``kurtosis``, ``stetson_k``, ``beyond_1_std``,
  ``eta`` (von Neumann ratio with times, ``EtaE``), ``ipr`` (inter-percentile range 25–75 %),
  ``reduced_chi2``, ``mad``, ``weighted_mean``, ``excess_variance``, or any other extractor class name of
  the package that takes no arguments (e.g. ``Cusum``, ``MaximumSlope``).

Bands with fewer than ``MIN_EPOCHS`` epochs give NaN (the model sees the training mean, the feature
baseline imputes the training median).
"""

from __future__ import annotations

import logging

import numpy as np

from astrolab.errors import ConfigError

log = logging.getLogger(__name__)

MIN_EPOCHS = 5
EXTRACTORS: dict[str, tuple[str, dict]] = {
    "amplitude": ("Amplitude", {}),
    "percent_amplitude": ("PercentAmplitude", {}),
    "std": ("StandardDeviation", {}),
    "skew": ("Skew", {}),
    "kurtosis": ("Kurtosis", {}),
    "stetson_k": ("StetsonK", {}),
    "beyond_1_std": ("BeyondNStd", {"nstd": 1.0}),
    "eta": ("EtaE", {}),
    "ipr": ("InterPercentileRange", {"quantile": 0.25}),
    "reduced_chi2": ("ReducedChi2", {}),
    "mad": ("MedianAbsoluteDeviation", {}),
    "weighted_mean": ("WeightedMean", {}),
    "excess_variance": ("ExcessVariance", {}),
}
SPECIAL = ("periods", "fourier", "colours")
DEFAULT = ["periods", "fourier", "colours", "amplitude", "std", "skew", "kurtosis", "stetson_k", "beyond_1_std", "eta",
           "ipr", "reduced_chi2"]


def _lc():
    try:
        import light_curve
    except ImportError as exc:
        raise ConfigError("dataset.features with light-curve extractors needs the light-curve package: "
                          "pip install light-curve (or dataset.features=[periods,fourier])") from exc
    return light_curve


def check_names(names: list[str]) -> None:
    """One line naming an unknown feature and the known ones."""
    bad = []
    for n in names:
        if n in SPECIAL or n in EXTRACTORS:
            continue
        if not hasattr(_lc(), n):
            bad.append(n)
    if bad:
        raise ConfigError(f"unknown dataset.features {bad}; use any of {', '.join(SPECIAL + tuple(EXTRACTORS))} "
                          "or a light-curve extractor class name (e.g. Cusum)")
    if len(set(names)) != len(names):
        raise ConfigError(f"dataset.features lists a feature twice: {names}")


def _extractor(names: list[str]):
    lc = _lc()
    feats = []
    for n in names:
        cls, kw = EXTRACTORS.get(n, (n, {}))
        feats.append(getattr(lc, cls)(**kw))
    return lc.Extractor(*feats), feats


def fourier_params(t: np.ndarray, m: np.ndarray, e: np.ndarray, period: float,
                   with_mean: bool = False) -> np.ndarray:
    """``[A1, R21, cos φ21, sin φ21]`` of a weighted 2-harmonic fit at ``period`` (NaN when undefined);
    ``with_mean``: and the fit's mean magnitude (its constant term) as a fifth value."""
    if not (np.isfinite(period) and period > 0) or len(t) < MIN_EPOCHS + 1:
        return np.full(5 if with_mean else 4, np.nan)
    w = 2 * np.pi * t / period
    a = np.stack([np.ones_like(t), np.cos(w), np.sin(w), np.cos(2 * w), np.sin(2 * w)], 1)
    sw = 1.0 / np.maximum(e, 1e-6)
    coef, *_ = np.linalg.lstsq(a * sw[:, None], m * sw, rcond=None)
    a1, a2 = np.hypot(coef[1], coef[2]), np.hypot(coef[3], coef[4])
    phi1, phi2 = np.arctan2(-coef[2], coef[1]), np.arctan2(-coef[4], coef[3])
    phi21 = phi2 - 2 * phi1
    out = [a1, a2 / a1 if a1 > 0 else np.nan, np.cos(phi21), np.sin(phi21)]
    return np.array(out + [coef[0]] if with_mean else out)


def object_features(names: list[str], t_rel: np.ndarray, mag: np.ndarray, err: np.ndarray, band: np.ndarray,
                    keep: np.ndarray, obj_of: np.ndarray, n_obj: int, bands: list[str],
                    peaks: dict[str, np.ndarray] | None) -> tuple[np.ndarray, list[str]]:
    """``(X [n_obj, F] float64, names)`` from every object's epochs where ``keep`` (rows grouped by object
    and sorted by time, as the data module holds them)."""
    cols: list[np.ndarray] = []
    out_names: list[str] = []
    idx = np.flatnonzero(keep)
    obj = obj_of[idx]
    bounds = np.searchsorted(obj, np.arange(n_obj + 1))
    if "periods" in names:
        if peaks is None:
            raise RuntimeError("the periods feature needs the period search")
        k = peaks["period"].shape[1]
        for i in range(k):
            cols += [np.log10(peaks["period"][:, i]), peaks["power"][:, i], peaks["log_fap"][:, i]]
            out_names += [f"log_period_{i + 1}", f"ls_power_{i + 1}", f"log_fap_{i + 1}"]
    lc_names = [n for n in names if n not in SPECIAL]
    extractor = _extractor(lc_names)[0] if lc_names else None
    best = peaks["period"][:, 0] if peaks is not None else np.full(n_obj, np.nan)
    need_fit = "fourier" in names or "colours" in names
    medians = np.full((n_obj, len(bands)), np.nan)
    amps = np.full((n_obj, len(bands)), np.nan)
    for j, b in enumerate(bands):
        fourier = np.full((n_obj, 4), np.nan)
        lcv = np.full((n_obj, len(extractor.names) if extractor is not None else 0), np.nan)
        for o in range(n_obj):
            rows = idx[bounds[o]:bounds[o + 1]]
            rows = rows[band[rows] == j]
            if len(rows) < MIN_EPOCHS:
                continue
            t, m, e = t_rel[rows].astype(np.float64), mag[rows].astype(np.float64), err[rows].astype(np.float64)
            fit = fourier_params(t, m, e, float(best[o]), with_mean=True) if need_fit else np.full(5, np.nan)
            fourier[o] = fit[:4]
            # the band's mean level: the fit's constant term (unbiased by where the epochs fall in phase),
            # the median where there is no period
            medians[o, j] = fit[4] if np.isfinite(fit[4]) else np.median(m)
            if extractor is not None:
                order = np.argsort(t, kind="stable")
                lcv[o] = extractor(t[order], m[order], e[order], sorted=True, check=False, fill_value=np.nan)
        amps[:, j] = fourier[:, 0]
        if "fourier" in names:
            cols += list(fourier.T)
            out_names += [f"fourier_{p}_{b}" for p in ("A1", "R21", "cos_phi21", "sin_phi21")]
        if extractor is not None:
            cols += list(lcv.T)
            out_names += [f"{n}_{b}" for n in extractor.names]
    if "colours" in names:
        from astrolab.data.bands import wavelength_order

        order = wavelength_order(list(bands))
        if order is None:
            order = list(range(len(bands)))
            if len(bands) > 1:
                log.warning("colours: band names %s are not all known photometric bands; colours pair them in "
                            "the data's (sorted) order", list(bands))
        with np.errstate(divide="ignore", invalid="ignore"):
            for a, b in zip(order[:-1], order[1:]):
                cols += [medians[:, a] - medians[:, b], np.log10(amps[:, a] / amps[:, b])]
                out_names += [f"colour_{bands[a]}_{bands[b]}", f"log_amp_ratio_{bands[a]}_{bands[b]}"]
    x = np.stack(cols, 1).astype(np.float64) if cols else np.zeros((n_obj, 0))
    x[~np.isfinite(x)] = np.nan
    return x, out_names
