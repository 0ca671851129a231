"""Multi-band Lomb–Scargle periods of irregularly sampled light curves.

One frequency grid per light curve, from its own epochs:

* ``f_min = 1 / min(max_period, T)`` with ``T`` the baseline (last − first epoch), so any period up to
  the baseline is searched (Miras of hundreds of days in a 2–3 yr survey are reachable);
* ``f_max = min(1 / min_period, 1 / (2 p))``: for irregular sampling the Nyquist limit is set by the
  resolution ``p`` of the time stamps (every epoch is a multiple of ``p`` after the first; Eyer & Bartholdi
  1999, A&AS 135, 1), not by the mean interval: periods far shorter than the typical gap between nights are
  recoverable. ``p`` is estimated as the coarsest power of ten the time stamps are written in (e.g. 1e-6 d
  for 6 decimals), so in practice ``min_period`` decides;
* spacing ``Δf = 1 / (samples_per_peak · T)`` (``samples_per_peak`` ≥ 5, VanderPlas 2018, ApJS 236, 16).

Joint multi-band power: every band gets its own floating-mean sinusoid at a shared frequency (the
``nterms_base=0, nterms_band=1`` model of astropy's ``LombScargleMultiband``). Its χ² is the sum of the
bands' χ², so the standard-normalised joint power is exact from the per-band powers::

    P(f) = Σ_b χ²₀,b P_b(f) / Σ_b χ²₀,b       (χ²₀,b: weighted χ² of band b about its weighted mean)

The per-band periodograms come from nifty-ls (NUFFT; Garrison et al. 2024) or astropy's ``LombScargle``
(``backend``). The ``n_peaks`` highest distinct local maxima are kept with their power and false-alarm
probability: under Gaussian noise the joint power at one frequency follows Beta(K, (N − 3K)/2) (K bands,
N epochs), and with M = (f_max − f_min)·T independent frequencies FAP ≤ M · P(>z) (Bonferroni bound,
reported as log10, at most 0).

Results are cached (:func:`cached_periods`) under the SHA-256 of the input arrays and the search
settings, verified on every read by :mod:`astrolab.data.cache`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from astrolab.errors import ConfigError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "nifty-ls", "astropy")


@dataclass
class PeriodSearch:
    """Settings of the period search (``dataset.period_search``)."""

    min_period: float = 0.02
    max_period: float | None = None  # None: the baseline
    samples_per_peak: float = 5.0
    n_peaks: int = 3
    nterms: int = 3
    candidates: int = 20
    screen: str = "pooled"
    backend: str = "auto"
    threads: int = 1
    max_frequencies: int = 2_000_000

    @classmethod
    def from_config(cls, cfg: dict[str, Any] | None) -> PeriodSearch:
        cfg = {k: v for k, v in dict(cfg or {}).items() if v is not None or k == "max_period"}
        unknown = set(cfg) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown dataset.period_search key(s) {sorted(unknown)}; known: "
                              f"{', '.join(cls.__dataclass_fields__)}")
        ps = cls(**cfg)
        if ps.backend not in BACKENDS:
            raise ConfigError(f"unknown dataset.period_search.backend '{ps.backend}'; use "
                              f"{', '.join(BACKENDS)}")
        if not ps.min_period or float(ps.min_period) <= 0:
            raise ConfigError("dataset.period_search.min_period must be > 0 [d], e.g. 0.02")
        if float(ps.samples_per_peak) < 1:
            raise ConfigError("dataset.period_search.samples_per_peak must be >= 1 (5 or more recommended)")
        if int(ps.n_peaks) < 1:
            raise ConfigError("dataset.period_search.n_peaks must be >= 1, e.g. 3")
        if ps.screen not in ("bands", "pooled"):
            raise ConfigError(f"unknown dataset.period_search.screen '{ps.screen}'; use bands or pooled")
        if int(ps.nterms) < 1 or int(ps.candidates) < int(ps.n_peaks):
            raise ConfigError("dataset.period_search.nterms must be >= 1 and candidates >= n_peaks (e.g. "
                              "nterms=3 candidates=20)")
        return ps

    def resolved_backend(self) -> str:
        if self.backend != "auto":
            return self.backend
        try:
            import nifty_ls  # noqa: F401
        except ImportError:
            return "astropy"
        return "nifty-ls"


def frequency_grid(t: np.ndarray, ps: PeriodSearch) -> tuple[float, float, int]:
    """``(f_min, Δf, n)`` [1/d] of one light curve's grid (see the module docstring)."""
    t = np.sort(np.asarray(t, dtype=np.float64))
    baseline = max(float(t[-1] - t[0]), 1e-3) if len(t) > 1 else 1.0
    longest = min(float(ps.max_period), baseline) if ps.max_period else baseline
    fmin = 1.0 / longest
    fmax = min(1.0 / float(ps.min_period), 0.5 / time_resolution(t))
    df = 1.0 / (float(ps.samples_per_peak) * baseline)
    n = int(np.floor((fmax - fmin) / df)) + 1 if fmax > fmin else 1
    if n > ps.max_frequencies:  # keep memory bounded: coarser spacing, logged by the caller
        df = (fmax - fmin) / (ps.max_frequencies - 1)
        n = int(ps.max_frequencies)
    return fmin, df, max(n, 1)


def time_resolution(t: np.ndarray) -> float:
    """The coarsest power of ten (1 d … 1e-7 d) every ``t - t[0]`` is a multiple of (Eyer & Bartholdi's
    time-stamp resolution, the Nyquist limit of irregular sampling is ``1 / (2 p)``)."""
    d = np.asarray(t, dtype=np.float64) - float(np.min(t)) if len(t) else np.zeros(0)
    for k in range(0, 8):
        q = d * 10.0**k
        if np.all(np.abs(q - np.round(q)) < 1e-3):
            return 10.0**-k
    return 1e-8


def _band_power(t, y, dy, fmin, df, n, backend: str, threads: int, fit_mean: bool = True) -> np.ndarray:
    if backend == "nifty-ls":
        import nifty_ls

        order = np.argsort(t, kind="stable")
        res = nifty_ls.lombscargle(t[order], y[order], dy[order], fmin=fmin, fmax=fmin + df * (n - 1), Nf=n,
                                   center_data=fit_mean, fit_mean=fit_mean, normalization="standard",
                                   nthreads=int(threads))
        return np.asarray(res.power, dtype=np.float64)
    from astropy.timeseries import LombScargle

    freq = fmin + df * np.arange(n)
    return np.asarray(LombScargle(t, y, dy, fit_mean=fit_mean, center_data=fit_mean, normalization="standard")
                      .power(freq, method="fast", assume_regular_frequency=True), dtype=np.float64)


def multiband_power(t: np.ndarray, y: np.ndarray, dy: np.ndarray, band: np.ndarray, ps: PeriodSearch,
                    backend: str | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(freq, joint power, info)`` of one light curve (``band``: any labels; bands with fewer than 5
    epochs are left out)."""
    backend = backend or ps.resolved_backend()
    t, y, dy = (np.asarray(a, dtype=np.float64) for a in (t, y, dy))
    band = np.asarray(band)
    fmin, df, n = frequency_grid(t, ps)
    used, chi0 = [], []
    for b in np.unique(band):
        sel = band == b
        if sel.sum() < 5:
            continue
        w = 1.0 / np.maximum(dy[sel], 1e-6) ** 2
        c0 = float(np.sum(w * (y[sel] - np.sum(w * y[sel]) / np.sum(w)) ** 2))
        if np.isfinite(c0) and c0 > 0:
            used.append(sel)
            chi0.append(c0)
    total = np.zeros(n)
    if used and ps.screen == "pooled" and ps.nterms > 1:
        # screening only (the candidates are re-ranked by the exact multi-band model): one periodogram of
        # all bands together, each band centred on its weighted mean and scaled by its own scatter
        yy, ee = np.zeros(len(t)), np.full(len(t), np.inf)
        for sel in used:
            w = 1.0 / np.maximum(dy[sel], 1e-6) ** 2
            yc = y[sel] - np.sum(w * y[sel]) / np.sum(w)
            sd = max(float(np.std(yc)), 1e-6)
            yy[sel], ee[sel] = yc / sd, dy[sel] / sd
        keep = np.isfinite(ee)
        power = _band_power(t[keep], yy[keep], ee[keep], fmin, df, n, backend, ps.threads, fit_mean=False)
        freq = fmin + df * np.arange(n)
        return freq, power, {"n": int(keep.sum()), "k": len(used), "fmin": fmin, "fmax": float(freq[-1]),
                             "df": df, "baseline": float(t.max() - t.min())}
    if used and backend == "nifty-ls":
        # one batched NUFFT on the union of the epochs: band b's series has weight 0 (dy = inf) on the
        # other bands' epochs, which gives exactly band b's own periodogram (tested)
        import nifty_ls

        ys = np.stack([np.where(sel, y, 0.0) for sel in used])
        dys = np.stack([np.where(sel, dy, np.inf) for sel in used])
        order = np.argsort(t, kind="stable")
        res = nifty_ls.lombscargle(t[order], ys[:, order], dys[:, order], fmin=fmin, fmax=fmin + df * (n - 1),
                                   Nf=n, center_data=True, fit_mean=True, normalization="standard",
                                   nthreads=int(ps.threads))
        total = np.asarray(chi0) @ np.asarray(res.power, dtype=np.float64).reshape(len(used), n)
    else:
        for sel, c0 in zip(used, chi0):
            total += c0 * _band_power(t[sel], y[sel], dy[sel], fmin, df, n, backend, ps.threads)
    chi0_sum = float(sum(chi0))
    n_used = int(sum(int(sel.sum()) for sel in used))
    k_used = len(used)
    power = total / chi0_sum if chi0_sum > 0 else total
    freq = fmin + df * np.arange(n)
    return freq, power, {"n": n_used, "k": k_used, "fmin": fmin, "fmax": float(freq[-1]), "df": df,
                         "baseline": float(t.max() - t.min()) if len(t) else 0.0}


def top_peaks(freq: np.ndarray, power: np.ndarray, k: int, min_sep: float) -> np.ndarray:
    """Indices of the ``k`` highest local maxima of ``power``, at least ``min_sep`` apart in frequency."""
    if len(power) < 3:
        return np.argsort(power)[::-1][:k]
    inner = (power[1:-1] >= power[:-2]) & (power[1:-1] > power[2:])
    cand = np.flatnonzero(inner) + 1
    if power[0] > power[1]:
        cand = np.r_[0, cand]
    cand = cand[np.argsort(power[cand])[::-1]]
    chosen: list[int] = []
    for i in cand:
        if all(abs(freq[i] - freq[j]) >= min_sep for j in chosen):
            chosen.append(int(i))
            if len(chosen) == k:
                break
    return np.asarray(chosen, dtype=np.int64)


def multiband_harmonic_power(t, y, dy, band, freqs: np.ndarray, nterms: int) -> np.ndarray:
    """Exact joint power ``1 − Σχ²_b / Σχ²₀,b`` of per-band ``nterms``-harmonic Fourier series (each band
    its own mean, amplitudes and phases, one shared frequency) at a few ``freqs`` (weighted least squares,
    batched over frequencies)."""
    freqs = np.asarray(freqs, dtype=np.float64)
    chi, chi0 = np.zeros(len(freqs)), 0.0
    for b in np.unique(band):
        sel = band == b
        if sel.sum() < 2 * nterms + 2:
            continue
        tb, yb = t[sel], y[sel]
        w = 1.0 / np.maximum(dy[sel], 1e-6) ** 2
        ybar = np.sum(w * yb) / np.sum(w)
        c0 = float(np.sum(w * (yb - ybar) ** 2))
        if not np.isfinite(c0) or c0 <= 0:
            continue
        ph = (2 * np.pi * freqs[:, None] * tb[None, :])[:, None, :] * np.arange(1, nterms + 1)[None, :, None]
        x = np.concatenate([np.ones((len(freqs), 1, len(tb))), np.cos(ph), np.sin(ph)], 1)  # [F, P, N]
        xw = x * w
        a = xw @ x.transpose(0, 2, 1) + 1e-9 * np.eye(x.shape[1])
        rhs = xw @ yb
        coef = np.linalg.solve(a, rhs[..., None])[..., 0]
        chi += np.sum(w * yb**2) - np.sum(coef * rhs, -1)
        chi0 += c0
    return 1.0 - chi / chi0 if chi0 > 0 else np.zeros(len(freqs))


def log10_fap(z: np.ndarray, n: int, k: int, fmin: float, fmax: float, baseline: float,
              nterms: int = 1) -> np.ndarray:
    """Bonferroni-bounded false-alarm probability (log10, ≤ 0) of joint powers ``z`` (module docstring)."""
    from scipy.stats import beta

    z = np.clip(np.asarray(z, dtype=np.float64), 0.0, 1.0 - 1e-15)
    d2 = max(n - (2 * nterms + 1) * k, 1)
    m = max((fmax - fmin) * baseline, 1.0)
    logsf = beta.logsf(z, max(nterms * k, 1), d2 / 2.0) / np.log(10)
    return np.minimum(0.0, np.log10(m) + logsf)


def search_one(t, y, dy, band, ps: PeriodSearch, backend: str | None = None) -> dict[str, np.ndarray]:
    """Top peaks of one light curve: ``period``, ``power``, ``log_fap`` (each ``[n_peaks]``, NaN-padded).

    The joint one-harmonic periodogram is computed on the whole grid; with ``nterms > 1`` its
    ``candidates`` highest peaks are re-ranked by the joint ``nterms``-harmonic power on a 4× finer local
    grid (non-sinusoidal shapes such as RRab and eclipsing binaries: the true period, not a daily alias,
    wins), and those powers are reported."""
    k = int(ps.n_peaks)
    out = {"period": np.full(k, np.nan), "power": np.zeros(k), "log_fap": np.zeros(k)}
    if len(t) < 5:
        return out
    freq, power, info = multiband_power(t, y, dy, band, ps, backend)
    if info["k"] == 0:
        return out
    sep = 1.0 / max(info["baseline"], 1e-3)
    nterms = int(ps.nterms)
    if nterms > 1:  # rank the candidate peaks by the multi-harmonic model, on a 4x finer local grid
        cand = top_peaks(freq, power, max(int(ps.candidates), k), min_sep=sep)
        local = (freq[cand][:, None] + info["df"] * np.linspace(-1, 1, 9)[None, :]).reshape(-1)
        local = local[local > 0]
        p_local = multiband_harmonic_power(t, y, dy, np.asarray(band), local, nterms)
        freq, power = local, p_local
        order = np.argsort(freq)
        freq, power = freq[order], power[order]
    idx = top_peaks(freq, power, k, min_sep=sep)
    m = len(idx)
    out["period"][:m] = 1.0 / freq[idx]
    out["power"][:m] = power[idx]
    out["log_fap"][:m] = log10_fap(power[idx], info["n"], info["k"], info["fmin"], info["fmax"],
                                   info["baseline"], nterms)
    return out


def search_many(t: np.ndarray, y: np.ndarray, dy: np.ndarray, band: np.ndarray, start: np.ndarray,
                counts: np.ndarray, ps: PeriodSearch, backend: str | None = None,
                log_every: float = 5.0) -> dict[str, np.ndarray]:
    """Top peaks of every light curve (``start``/``counts``: each curve's rows): arrays ``[n_obj, n_peaks]``;
    a progress line every ``log_every`` seconds."""
    backend = backend or ps.resolved_backend()
    n_obj, k = len(start), int(ps.n_peaks)
    out = {"period": np.full((n_obj, k), np.nan), "power": np.zeros((n_obj, k)), "log_fap": np.zeros((n_obj, k))}
    t0 = last = time.perf_counter()
    for i, (s, c) in enumerate(zip(start, counts)):
        sl = slice(int(s), int(s) + int(c))
        res = search_one(t[sl], y[sl], dy[sl], band[sl], ps, backend)
        for key in out:
            out[key][i] = res[key]
        now = time.perf_counter()
        if now - last >= log_every and i + 1 < n_obj:
            rate = (i + 1) / (now - t0)
            log.info("periodogram (%s): %d/%d light curves, %.0f s, about %.0f s left", backend, i + 1, n_obj,
                     now - t0, (n_obj - i - 1) / rate)
            last = now
    log.info("multi-band Lomb-Scargle (%s, samples_per_peak=%g) of %d light curves in %.1f s", backend,
             ps.samples_per_peak, n_obj, time.perf_counter() - t0)
    return out


def input_checksum(*arrays: np.ndarray, settings: dict[str, Any]) -> str:
    """SHA-256 of the input arrays (bytes, shapes, dtypes) and the search settings."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        if a.dtype.kind in "OUS":
            a = np.asarray(a, dtype=str).astype("U")
        h.update(f"{a.dtype.str}:{a.shape}".encode())
        h.update(a.view(np.uint8).reshape(-1).data)
    h.update(repr(sorted(settings.items())).encode())
    return h.hexdigest()


def cached_periods(cache_dir, t, y, dy, band, start, counts, ps: PeriodSearch,
                   use_cache: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """:func:`search_many`, cached under the inputs' checksum (a verified :mod:`astrolab.data.cache` entry;
    a corrupt entry is recomputed). Returns ``(results, info)`` with ``info["cache"]`` = built/hit."""
    import torch
    from tensordict import TensorDict

    from astrolab.data.cache import load_cached, save_cached

    backend = ps.resolved_backend()
    settings = {**asdict(ps), "backend": backend, "version": 1}
    settings.pop("threads")  # the result does not depend on it
    key = input_checksum(t, y, dy, band, start, counts, settings=settings)[:24]
    if use_cache and cache_dir is not None:
        hit = load_cached(cache_dir, "periods", key)
        if hit is not None:
            td, meta = hit
            log.info("multi-band periods of %d light curves from the cache (%s)", len(start), key[:12])
            return {k: td[k].numpy() for k in ("period", "power", "log_fap")}, {**meta, "cache": "hit"}
    t0 = time.perf_counter()
    res = search_many(t, y, dy, band, start, counts, ps, backend)
    meta = {"backend": backend, "seconds": round(time.perf_counter() - t0, 3), "settings": settings, "key": key}
    if use_cache and cache_dir is not None:
        td = TensorDict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in res.items()},
                        batch_size=[len(start)])
        save_cached(cache_dir, "periods", key, td, meta)
    return res, {**meta, "cache": "built"}
