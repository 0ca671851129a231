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
    workers: int = 1
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
        if int(ps.workers) < 1:
            raise ConfigError("dataset.period_search.workers must be >= 1 (processes; 1: this one)")
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


def _band_power(t, y, dy, fmin, df, n, backend: str, threads: int, fit_mean: bool = True,
                scratch: bool = False) -> np.ndarray:
    if backend == "nifty-ls":
        order = np.argsort(t, kind="stable")
        return _nifty_power(t[order], y[order], dy[order], fmin, df, n, threads, fit_mean, scratch)[0]
    from astropy.timeseries import LombScargle

    freq = fmin + df * np.arange(n)
    return np.asarray(LombScargle(t, y, dy, fit_mean=fit_mean, center_data=fit_mean, normalization="standard")
                      .power(freq, method="fast", assume_regular_frequency=True), dtype=np.float64)


def _nifty_power(t, y, dy, fmin, df, n, threads: int, fit_mean: bool, scratch: bool = False) -> np.ndarray:
    """nifty-ls power ``[B, n]`` of the series ``y`` ``[B, N]``: chunked NUFFTs with cached plans
    (:mod:`astrolab.data.ls_nufft`; ``scratch``: into a reused buffer), or one ``nifty_ls.lombscargle`` call
    where its helpers are missing."""
    from astrolab.data import ls_nufft

    if ls_nufft.available():
        return ls_nufft.power(t, y, dy, fmin, df, n, fit_mean, int(threads), scratch=scratch)
    import nifty_ls

    res = nifty_ls.lombscargle(t, y, dy, fmin=fmin, fmax=fmin + df * (n - 1), Nf=n, center_data=fit_mean,
                               fit_mean=fit_mean, normalization="standard", nthreads=int(threads))
    return np.asarray(res.power, dtype=np.float64).reshape(-1, n)


def multiband_power(t: np.ndarray, y: np.ndarray, dy: np.ndarray, band: np.ndarray, ps: PeriodSearch,
                    backend: str | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(freq, joint power, info)`` of one light curve (``band``: any labels; bands with fewer than 5
    epochs are left out)."""
    power, info = _screen(t, y, dy, band, ps, backend)
    return info["fmin"] + info["df"] * np.arange(len(power)), power, info


def _screen(t, y, dy, band, ps: PeriodSearch, backend: str | None = None,
            scratch: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`multiband_power` without the frequency array (``info`` has ``fmin``, ``df``); ``scratch``: the
    pooled screen's power may be a reused buffer (valid until the next periodogram in this process)."""
    backend = backend or ps.resolved_backend()
    t, y, dy = (np.asarray(a, dtype=np.float64) for a in (t, y, dy))
    band = np.asarray(band)
    fmin, df, n = frequency_grid(t, ps)
    fmax = float(fmin + df * (n - 1))
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
        power = _band_power(t[keep], yy[keep], ee[keep], fmin, df, n, backend, ps.threads, fit_mean=False,
                            scratch=scratch)
        return power, {"n": int(keep.sum()), "k": len(used), "fmin": fmin, "fmax": fmax, "df": df,
                       "baseline": float(t.max() - t.min())}
    total = np.zeros(n)
    if used and backend == "nifty-ls":
        # one batched NUFFT on the union of the epochs: band b's series has weight 0 (dy = inf) on the
        # other bands' epochs, which gives exactly band b's own periodogram (tested)
        ys = np.stack([np.where(sel, y, 0.0) for sel in used])
        dys = np.stack([np.where(sel, dy, np.inf) for sel in used])
        order = np.argsort(t, kind="stable")
        power_b = _nifty_power(t[order], ys[:, order], dys[:, order], fmin, df, n, ps.threads, True)
        for c0, p_b in zip(chi0, power_b):  # not a BLAS product: threaded BLAS is slow on a busy machine
            total += c0 * p_b
    else:
        for sel, c0 in zip(used, chi0):
            total += c0 * _band_power(t[sel], y[sel], dy[sel], fmin, df, n, backend, ps.threads)
    chi0_sum = float(sum(chi0))
    n_used = int(sum(int(sel.sum()) for sel in used))
    k_used = len(used)
    power = total / chi0_sum if chi0_sum > 0 else total
    return power, {"n": n_used, "k": k_used, "fmin": fmin, "fmax": fmax, "df": df,
                   "baseline": float(t.max() - t.min()) if len(t) else 0.0}


def top_peaks(freq: np.ndarray, power: np.ndarray, k: int, min_sep: float) -> np.ndarray:
    """Indices of the ``k`` highest local maxima of ``power``, at least ``min_sep`` apart in frequency
    (equal powers: the lower index first)."""
    return _top_peaks(power, k, min_sep, lambda i: np.asarray(freq)[i])


def _top_peaks(power: np.ndarray, k: int, min_sep: float, freq_at) -> np.ndarray:
    """:func:`top_peaks` with the frequencies of indices from ``freq_at(indices)`` (a uniform grid needs no
    array). Only the highest local maxima are sorted (``np.partition``; more if the separation rule
    rejects too many), which gives the full sort's answer."""
    if len(power) < 3:
        return np.argsort(power)[::-1][:k]
    inner = (power[1:-1] >= power[:-2]) & (power[1:-1] > power[2:])
    cand = np.flatnonzero(inner) + 1
    if power[0] > power[1]:
        cand = np.r_[0, cand]
    pc = power[cand]
    m = 8 * k + 32
    while True:
        if m < len(cand):
            top = cand[pc >= np.partition(pc, len(pc) - m)[len(pc) - m]]  # the m highest, and their ties
        else:
            top = cand
        top = top[np.argsort(-power[top], kind="stable")]
        ftop = np.asarray(freq_at(top), dtype=np.float64)
        chosen: list[int] = []
        for i in range(len(top)):
            if all(abs(ftop[i] - ftop[j]) >= min_sep for j in chosen):
                chosen.append(i)
                if len(chosen) == k:
                    break
        if len(chosen) == k or len(top) == len(cand):
            return top[chosen].astype(np.int64)
        m *= 4


def multiband_harmonic_power(t, y, dy, band, freqs: np.ndarray, nterms: int) -> np.ndarray:
    """Exact joint power ``1 − Σχ²_b / Σχ²₀,b`` of per-band ``nterms``-harmonic Fourier series (each band
    its own mean, amplitudes and phases, one shared frequency) at a few ``freqs`` (weighted least squares,
    batched over frequencies and bands).

    The normal equations need only ``S_m = Σ w e^{imωt}`` (``m ≤ 2K``, ``K = nterms``) and ``R_k = Σ w
    (y − ȳ) e^{ikωt}`` (``k ≤ K``) per band; ``e^{imωt}`` are powers of one ``e^{iωt}`` (no trigonometry per
    harmonic). With ``C_m + i D_m = S_m``, the Gram matrix of ``1, cos kωt, sin kωt`` is ``[1,1] = C_0``,
    ``[1, cos k] = C_k``, ``[1, sin k] = D_k``, ``[cos j, cos k] = (C_{|j−k|} + C_{j+k}) / 2``, ``[sin j,
    sin k] = (C_{|j−k|} − C_{j+k}) / 2``, ``[cos j, sin k] = (D_{j+k} + sgn(k − j) D_{|k−j|}) / 2``, and
    ``χ²₀,b − χ²_b = rhsᵀ A⁻¹ rhs`` (data centred per band: no cancellation). No BLAS call on these small
    arrays (a multi-threaded BLAS on a busy machine is many times slower than one thread)."""
    freqs = np.asarray(freqs, dtype=np.float64)
    prep = _harmonic_bands(t, y, dy, band, nterms)
    if prep is None or not len(freqs):
        return np.zeros(len(freqs))
    return _harmonic_power(np.exp(2j * np.pi * freqs[:, None] * prep[0][None, :]), prep, nterms)


def _harmonic_bands(t, y, dy, band, nterms: int):
    """The epochs of the bands with ≥ 2·nterms + 2 epochs and some scatter, band after band: ``(t, w,
    y − ȳ_band, band starts, Σχ²₀,b)``, or None."""
    t, y, dy = (np.asarray(a, dtype=np.float64) for a in (t, y, dy))
    band = np.asarray(band)
    ts, ws, ys, c0s = [], [], [], []
    for b in np.unique(band):
        sel = band == b
        if sel.sum() < 2 * int(nterms) + 2:
            continue
        w = 1.0 / np.maximum(dy[sel], 1e-6) ** 2
        yb = y[sel] - np.sum(w * y[sel]) / np.sum(w)
        c0 = float(np.sum(w * yb**2))
        if not np.isfinite(c0) or c0 <= 0:
            continue
        ts.append(t[sel]), ws.append(w), ys.append(yb), c0s.append(c0)
    if not c0s:
        return None
    starts = np.r_[0, np.cumsum([len(a) for a in ts])[:-1]]
    return np.concatenate(ts), np.concatenate(ws), np.concatenate(ys), starts, float(sum(c0s))


def _harmonic_power(z: np.ndarray, prep, nterms: int) -> np.ndarray:
    """:func:`multiband_harmonic_power` from ``z = e^{iωt}`` ``[F, N]`` of :func:`_harmonic_bands`' epochs."""
    _, ww, yy, starts, c0sum = prep
    kk = int(nterms)
    zw = np.broadcast_to(ww.astype(np.complex128), z.shape)  # w e^{imωt}, m = 0, 1, …
    s_m = np.empty((2 * kk + 1, len(z), len(starts)), np.complex128)  # S_0 … S_2K  [., F, bands]
    r_m = np.empty((kk + 1, len(z), len(starts)), np.complex128)  # R_0 … R_K
    for m in range(2 * kk + 1):
        if m:
            zw = zw * z
        s_m[m] = np.add.reduceat(zw, starts, axis=-1)
        if m <= kk:
            r_m[m] = np.add.reduceat(zw * yy, starts, axis=-1)
    sc = np.concatenate([s_m.real, s_m.imag]).transpose(1, 2, 0)  # [F, bands, C_0 … C_2K, D_0 … D_2K]
    i1, i2, c1, c2 = _gram_tables(kk)
    a = c1 * sc[..., i1] + c2 * sc[..., i2] + 1e-9 * np.eye(2 * kk + 1)  # [F, bands, P, P]
    rhs = np.concatenate([r_m.real, r_m.imag[1:]]).transpose(1, 2, 0)  # [F, bands, P]
    coef = np.linalg.solve(a, rhs[..., None])[..., 0]
    return np.sum(coef * rhs, axis=(-1, -2)) / c0sum


def _gram_tables(nterms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(i1, i2, c1, c2)`` with ``A[p, q] = c1 X[i1] + c2 X[i2]``, ``X = [C_0 … C_2K, D_0 … D_2K]``, basis
    ``p``: 0 = 1, ``1 … K`` = cos kx, ``K+1 … 2K`` = sin kx (:func:`multiband_harmonic_power`)."""
    kk = int(nterms)
    p, d = 2 * kk + 1, 2 * kk + 1  # basis size; offset of D_m in X
    i1, i2 = np.zeros((p, p), np.int64), np.zeros((p, p), np.int64)
    c1, c2 = np.zeros((p, p)), np.zeros((p, p))
    i1[0, 0], c1[0, 0] = 0, 1.0
    for k in range(1, kk + 1):
        i1[0, k] = i1[k, 0] = k
        i1[0, kk + k] = i1[kk + k, 0] = d + k
        c1[0, k] = c1[k, 0] = c1[0, kk + k] = c1[kk + k, 0] = 1.0
        for j in range(1, kk + 1):
            i1[j, k], i2[j, k], c1[j, k], c2[j, k] = abs(j - k), j + k, 0.5, 0.5  # cos j, cos k
            i1[kk + j, kk + k], i2[kk + j, kk + k] = abs(j - k), j + k  # sin j, sin k
            c1[kk + j, kk + k], c2[kk + j, kk + k] = 0.5, -0.5
            i1[j, kk + k], i2[j, kk + k] = d + j + k, d + abs(k - j)  # cos j, sin k
            c1[j, kk + k], c2[j, kk + k] = 0.5, 0.5 * np.sign(k - j)
            i1[kk + k, j], i2[kk + k, j], c1[kk + k, j], c2[kk + k, j] = i1[j, kk + k], i2[j, kk + k], \
                c1[j, kk + k], c2[j, kk + k]
    return i1, i2, c1, c2


def log10_fap(z: np.ndarray, n: int, k: int, fmin: float, fmax: float, baseline: float,
              nterms: int = 1) -> np.ndarray:
    """Bonferroni-bounded false-alarm probability (log10, ≤ 0) of joint powers ``z`` (module docstring).

    ``log P(>z)`` of Beta(a, b) as ``scipy.stats.beta.logsf`` computes it (log of the regularised upper
    incomplete beta above the median, log1p of minus the lower one below it), without its median search."""
    from scipy.special import betainc, betaincc, betaln, hyp2f1

    z = np.clip(np.asarray(z, dtype=np.float64), 0.0, 1.0 - 1e-15)
    d2 = max(n - (2 * nterms + 1) * k, 1)
    m = max((fmax - fmin) * baseline, 1.0)
    a, b = float(max(nterms * k, 1)), d2 / 2.0
    sf = betaincc(a, b, z)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        logsf = np.where(sf < 0.5, np.log(sf), np.log1p(-betainc(a, b, z)))
        # strong peaks of long curves: sf underflows float64 (log would be -inf, and -inf features become
        # NaN, i.e. the median, downstream). There the tail in log space, from
        # I_x(b, a) = x^b (1-x)^a / (b B(b, a)) 2F1(a+b, 1; b+1; x), x = 1 - z (DLMF 8.17.8)
        tiny = sf < 1e-290
        if np.any(tiny):
            x = 1.0 - z[tiny]
            logsf[tiny] = (b * np.log(x) + a * np.log1p(-x) - np.log(b) - betaln(b, a)
                           + np.log(hyp2f1(a + b, 1.0, b + 1.0, x)))
    return np.minimum(0.0, np.log10(m) + logsf / np.log(10))


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
    power, info = _screen(t, y, dy, band, ps, backend, scratch=True)  # read below, not returned
    if info["k"] == 0:
        return out
    sep = 1.0 / max(info["baseline"], 1e-3)
    nterms = int(ps.nterms)
    fmin, df = info["fmin"], info["df"]
    if nterms > 1:  # rank the candidate peaks by the multi-harmonic model, on a 4x finer local grid
        cand = _top_peaks(power, max(int(ps.candidates), k), sep, lambda i: fmin + df * i)
        steps = np.linspace(-1, 1, 9)
        local = ((fmin + df * cand)[:, None] + df * steps[None, :]).reshape(-1)
        keep = local > 0
        local = local[keep]
        prep = _harmonic_bands(t, y, dy, band, nterms)
        if prep is None:
            p_local = np.zeros(len(local))
        else:  # e^{iωt} on the local grids: one exp per candidate and one per step, then products
            tt = prep[0]
            z = np.empty((len(cand), len(steps), len(tt)), np.complex128)
            z[:, 0] = np.exp(2j * np.pi * (fmin + df * cand - df)[:, None] * tt[None, :])
            step = np.exp(2j * np.pi * (df * (steps[1] - steps[0])) * tt)
            for j in range(1, len(steps)):
                np.multiply(z[:, j - 1], step, out=z[:, j])
            p_local = _harmonic_power(z.reshape(-1, len(tt))[keep], prep, nterms)
        order = np.argsort(local)
        freq, power = local[order], p_local[order]
        idx = top_peaks(freq, power, k, min_sep=sep)
        best = freq[idx]
    else:
        idx = _top_peaks(power, k, sep, lambda i: fmin + df * i)
        best = fmin + df * idx
    m = len(idx)
    out["period"][:m] = 1.0 / best
    out["power"][:m] = power[idx]
    out["log_fap"][:m] = log10_fap(power[idx], info["n"], info["k"], info["fmin"], info["fmax"],
                                   info["baseline"], nterms)
    return out


def search_many(t: np.ndarray, y: np.ndarray, dy: np.ndarray, band: np.ndarray, start: np.ndarray,
                counts: np.ndarray, ps: PeriodSearch, backend: str | None = None,
                log_every: float = 5.0) -> dict[str, np.ndarray]:
    """Top peaks of every light curve (``start``/``counts``: each curve's rows): arrays ``[n_obj, n_peaks]``;
    a progress line every ``log_every`` seconds. ``ps.workers > 1``: blocks of curves in a pool of that many
    processes (forkserver: safe after torch or OpenMP threads exist), the same numbers as one process."""
    backend = backend or ps.resolved_backend()
    n_obj = len(start)
    workers = min(int(ps.workers), n_obj)
    t0 = time.perf_counter()
    if workers > 1:
        out = _search_pool(t, y, dy, band, np.asarray(start), np.asarray(counts), ps, backend, workers,
                           log_every)
    else:
        out = _search_block(t, y, dy, band, start, counts, ps, backend, log_every)
    log.info("multi-band Lomb-Scargle (%s, samples_per_peak=%g) of %d light curves in %.1f s%s", backend,
             ps.samples_per_peak, n_obj, time.perf_counter() - t0, f" ({workers} processes)" if workers > 1 else "")
    return out


def _search_block(t, y, dy, band, start, counts, ps: PeriodSearch, backend: str,
                  log_every: float | None = None) -> dict[str, np.ndarray]:
    n_obj, k = len(start), int(ps.n_peaks)
    out = {"period": np.full((n_obj, k), np.nan), "power": np.zeros((n_obj, k)), "log_fap": np.zeros((n_obj, k))}
    t0 = last = time.perf_counter()
    for i, (s, c) in enumerate(zip(start, counts)):
        sl = slice(int(s), int(s) + int(c))
        res = search_one(t[sl], y[sl], dy[sl], band[sl], ps, backend)
        for key in out:
            out[key][i] = res[key]
        now = time.perf_counter()
        if log_every is not None and now - last >= log_every and i + 1 < n_obj:
            rate = (i + 1) / (now - t0)
            log.info("periodogram (%s): %d/%d light curves, %.0f s, about %.0f s left", backend, i + 1, n_obj,
                     now - t0, (n_obj - i - 1) / rate)
            last = now
    return out


def _search_pool(t, y, dy, band, start, counts, ps: PeriodSearch, backend: str, workers: int,
                 log_every: float) -> dict[str, np.ndarray]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    n_obj, k = len(start), int(ps.n_peaks)
    out = {"period": np.full((n_obj, k), np.nan), "power": np.zeros((n_obj, k)), "log_fap": np.zeros((n_obj, k))}
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    if method == "forkserver":
        # imported once by the server, not by every worker (nifty-ls imports astropy: seconds)
        ctx.set_forkserver_preload(["astrolab.data.periods", "astrolab.data.ls_nufft", "nifty_ls", "scipy.special"])
    n_blocks = min(n_obj, 8 * workers)  # small blocks: the slow curves (long grids) spread over workers
    bounds = np.linspace(0, n_obj, n_blocks + 1).astype(int)
    t0 = last = time.perf_counter()
    done = 0
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {}
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            rows = np.concatenate([np.arange(int(s), int(s) + int(c)) for s, c in zip(start[lo:hi], counts[lo:hi])])
            sub_start = np.r_[0, np.cumsum(counts[lo:hi])[:-1]].astype(np.int64)
            fut = pool.submit(_search_block, t[rows], y[rows], dy[rows], band[rows], sub_start, counts[lo:hi], ps,
                              backend)
            futures[fut] = (lo, hi)
        for fut in as_completed(futures):
            lo, hi = futures[fut]
            res = fut.result()
            for key in out:
                out[key][lo:hi] = res[key]
            done += hi - lo
            now = time.perf_counter()
            if now - last >= log_every and done < n_obj:
                log.info("periodogram (%s, %d processes): %d/%d light curves, %.0f s, about %.0f s left", backend,
                         workers, done, n_obj, now - t0, (n_obj - done) * (now - t0) / done)
                last = now
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
    # version 2: chunked NUFFT screening, re-ranking from phasor recurrences (powers differ from version 1
    # by ~1e-9, so its entries are not reused); version 3: finite log_fap where the tail underflowed (-inf)
    settings = {**asdict(ps), "backend": backend, "version": 3}
    for key in ("threads", "workers"):  # the result does not depend on them
        settings.pop(key)
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
