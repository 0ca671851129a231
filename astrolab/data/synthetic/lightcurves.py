"""Seeded generator of survey-like variable-star light curves (the embedded ``dataset=lightcurves``).

The sample is written the way time-domain archives export photometry (ZTF, ASAS-SN, OGLE, Gaia epoch
photometry): a **long epochs table**, one row per epoch,
``object_id, mjd, mag, mag_err, band``, and an **object table** with one row per star,
``object_id, ra, dec, class, period, amplitude, mean_mag``. Both are read back through
:func:`astrolab.data.io.read_catalog` exactly like a user's export. ``class`` is the generator's truth;
``period``/``amplitude`` are truth columns too and are never model inputs.

Physical model (reference band ``r``; ``g`` is brighter-amplitude for pulsators):

============  ==================================  =========================  ================================
class         period [d]                          r-band amplitude [mag]     light-curve shape
============  ==================================  =========================  ================================
``RRab``      U(0.45, 0.85)                       U(0.45, 1.0)               sawtooth: Fourier series with
                                                                             R21 U(0.40, 0.52), rapid rise
``RRc``       U(0.22, 0.42)                       U(0.15, 0.45)              near-sinusoidal, R21 U(0.05, 0.2)
``DCEP``      log-uniform (2.5, 40)               U(0.3, 0.9)                sawtooth, R21 U(0.25, 0.45)
``DSCT``      U(0.03, 0.2)                        log-uniform (0.02, 0.3)    sinusoidal (HADS at the top)
``EA``        log-uniform (1, 12)                 primary depth U(0.3, 1.2)  flat + Gaussian eclipses of half
                                                                             width U(0.02, 0.06) in phase;
                                                                             secondary U(0.05, 0.6) × primary
``EW``        U(0.25, 0.6)                        U(0.15, 0.7)               (1 − cos 4πφ)/2 with unequal
                                                                             minima (0–15 %)
``Mira``      U(150, 450)                         U(1.5, 4.0)                sinusoid + 2nd harmonic (R21
                                                                             U(0.05, 0.2)), cycle-to-cycle
                                                                             mean shifts σ = 0.15
``NonVar``    —                                   0                          constant
============  ==================================  =========================  ================================

Ranges follow Catelan & Smith (2015, *Pulsating Stars*) for RR Lyrae (RRab 0.45–0.9 d with V amplitudes
0.5–1.3 mag and Fourier R21 ≈ 0.4–0.5; RRc 0.2–0.45 d, near-sinusoidal), the OGLE-III catalogues of
Soszyński et al. for classical Cepheids (2008, Acta Astron. 58, 163; periods ~1–100 d) and long-period
variables (2009, Acta Astron. 59, 239; Mira I-band amplitudes > 0.8 mag, periods 100–1000 d), Breger (2000,
ASP Conf. 210) for δ Scuti stars (0.02–0.25 d, amplitudes from mmag to ~0.3 mag for HADS), Paczyński et al.
(2006, MNRAS 368, 1311) for ASAS detached (EA) eclipsing binaries and Rucinski (1993, PASP 105, 1433) for
W UMa contact binaries (0.25–0.7 d, amplitudes ≲ 0.75 mag). Pulsators have g-band amplitudes 1.3× the
r band (1.5× for Miras); eclipses are achromatic. Mean colours g − r: RR Lyrae 0.25, Cepheids 0.6,
δ Scuti 0.2, Miras 1.5, others U(0.2, 1.0).

Cadence: a 2–3 yr survey starting near MJD 58200; each year the field is observable for 240 d (a
125-d seasonal gap when it is behind the Sun); 50–400 epochs per object (uniform) on random nights in
those windows at night-time fractions of the day, each epoch in one band (``g`` 45 %, ``r`` 55 % for two
bands). Mean r magnitudes U(13.5, 19.5).

Errors: the random photometric error of Ivezić et al. (2019, ApJ 873, 111, eq. 5),
σ_rand² = (0.04 − γ) x + γ x² with x = 10^{0.4 (m − m5)}, γ = 0.039 and a 5σ depth m5 = 20.6 (ZTF-like),
plus a 0.01 mag systematic floor in quadrature; the reported ``mag_err`` scatters 10 % around the true σ.

Classes are balanced (equal counts, remainder to the first classes); the object order is shuffled.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CLASSES = ("RRab", "RRc", "DCEP", "DSCT", "EA", "EW", "Mira", "NonVar")
M5 = 20.6
GAMMA = 0.039
SIGMA_SYS = 0.01
BAND_PROB = {"g": 0.45, "r": 0.55, "i": 0.3, "u": 0.1, "z": 0.2}
#: g-band amplitude / r-band amplitude for each class
AMP_RATIO_G = {"RRab": 1.3, "RRc": 1.3, "DCEP": 1.3, "DSCT": 1.3, "EA": 1.0, "EW": 1.0, "Mira": 1.5,
               "NonVar": 1.0}
BAND_AMP_EXP = {"u": 1.6, "g": 1.0, "r": 0.0, "i": -0.5, "z": -0.8}   # ratio**exp around the r band
BAND_COLOUR = {"u": 1.2, "g": 1.0, "r": 0.0, "i": -0.35, "z": -0.55}  # × (g − r) relative to r


def photometric_error(mag: np.ndarray, m5: float = M5) -> np.ndarray:
    """1σ magnitude error (Ivezić et al. 2019, eq. 5, with a systematic floor)."""
    x = 10.0 ** (0.4 * (mag - m5))
    return np.sqrt((0.04 - GAMMA) * x + GAMMA * x**2 + SIGMA_SYS**2)


def _fourier(phase: np.ndarray, r21: float, n_harm: int, phase_shift: float = 0.0) -> np.ndarray:
    """Zero-mean periodic shape with unit peak-to-peak; amplitude ratios r21**(k-1)."""
    f = np.zeros_like(phase)
    for k in range(1, n_harm + 1):
        f += r21 ** (k - 1) * np.sin(2 * np.pi * k * (phase + phase_shift)) / 1.0
    grid = np.linspace(0, 1, 512, endpoint=False)
    g = np.zeros_like(grid)
    for k in range(1, n_harm + 1):
        g += r21 ** (k - 1) * np.sin(2 * np.pi * k * (grid + phase_shift))
    return (f - g.mean()) / (g.max() - g.min())


def _draw_params(cls: str, rng: np.random.Generator) -> dict:
    p: dict = {"cls": cls, "phase0": rng.uniform()}
    if cls == "RRab":
        p.update(period=rng.uniform(0.45, 0.85), amp=rng.uniform(0.45, 1.0), r21=rng.uniform(0.40, 0.52),
                 colour=0.25 + rng.normal(0, 0.05))
    elif cls == "RRc":
        p.update(period=rng.uniform(0.22, 0.42), amp=rng.uniform(0.15, 0.45), r21=rng.uniform(0.05, 0.2),
                 colour=0.25 + rng.normal(0, 0.05))
    elif cls == "DCEP":
        p.update(period=float(np.exp(rng.uniform(np.log(2.5), np.log(40)))), amp=rng.uniform(0.3, 0.9),
                 r21=rng.uniform(0.25, 0.45), colour=0.6 + rng.normal(0, 0.1))
    elif cls == "DSCT":
        p.update(period=rng.uniform(0.03, 0.2), amp=float(np.exp(rng.uniform(np.log(0.02), np.log(0.3)))),
                 r21=0.0, colour=0.2 + rng.normal(0, 0.05))
    elif cls == "EA":
        p.update(period=float(np.exp(rng.uniform(0, np.log(12)))), amp=rng.uniform(0.3, 1.2),
                 width=rng.uniform(0.02, 0.06), secondary=rng.uniform(0.05, 0.6), colour=rng.uniform(0.2, 1.0))
    elif cls == "EW":
        p.update(period=rng.uniform(0.25, 0.6), amp=rng.uniform(0.15, 0.7), unequal=rng.uniform(0, 0.15),
                 colour=rng.uniform(0.2, 1.0))
    elif cls == "Mira":
        p.update(period=rng.uniform(150, 450), amp=rng.uniform(1.5, 4.0), r21=rng.uniform(0.05, 0.2),
                 colour=1.5 + rng.normal(0, 0.2))
    else:
        p.update(period=np.nan, amp=0.0, colour=rng.uniform(0.2, 1.0))
    return p


def light_curve_shape(p: dict, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Magnitude offsets (reference band, 0 = mean level; positive = fainter) at times ``t``."""
    cls = p["cls"]
    if cls == "NonVar":
        return np.zeros_like(t)
    phase = np.mod(t / p["period"] + p["phase0"], 1.0)
    if cls in ("RRab", "DCEP"):
        return p["amp"] * _fourier(phase, p["r21"], 5)
    if cls in ("RRc", "Mira"):
        out = p["amp"] * _fourier(phase, p["r21"], 2)
        if cls == "Mira":
            cycle = np.floor(t / p["period"] + p["phase0"]).astype(np.int64)
            shifts = rng.normal(0, 0.15, cycle.max() - cycle.min() + 1)
            out = out + shifts[cycle - cycle.min()]
        return out
    if cls == "DSCT":
        return p["amp"] * 0.5 * np.sin(2 * np.pi * phase)
    if cls == "EA":
        d = lambda c: np.minimum(np.abs(phase - c), 1 - np.abs(phase - c))  # noqa: E731
        w = p["width"]
        return p["amp"] * (np.exp(-0.5 * (d(0.0) / w) ** 2)
                           + p["secondary"] * np.exp(-0.5 * (d(0.5) / w) ** 2))
    if cls == "EW":
        base = 0.5 * (1 - np.cos(4 * np.pi * phase))
        deeper = np.where(np.abs(phase - 0.5) < 0.25, 1.0 - p["unequal"], 1.0)
        return p["amp"] * (base * deeper - 0.5)
    raise ValueError(cls)


def _cadence(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` epoch times (MJD) with seasonal gaps, sorted."""
    start = 58200.0 + rng.uniform(0, 60)
    years = rng.uniform(2.0, 3.0)
    season_start = rng.uniform(0, 365.25)  # where in the year the 240-d window opens
    nights = np.arange(0, int(years * 365.25))
    day_of_year = np.mod(nights - season_start, 365.25)
    nights = nights[day_of_year < 240.0]
    chosen = rng.choice(nights, size=n, replace=len(nights) < n)
    t = start + chosen + rng.uniform(0.15, 0.40, size=n)
    return np.sort(t)


def generate_lightcurves(epochs_path: str | Path, objects_path: str | Path, n_objects: int = 1600,
                         bands: tuple[str, ...] | list[str] = ("g", "r"), min_epochs: int = 50,
                         max_epochs: int = 400, seed: int = 0) -> tuple[Path, Path]:
    """Write the epochs table and the object table (formats from the suffixes) and return the paths."""
    from astropy.table import Table

    from astrolab.data.io import write_table

    rng = np.random.default_rng(seed)
    bands = [str(b) for b in bands]
    probs = np.array([BAND_PROB.get(b, 0.3) for b in bands], dtype=float)
    probs /= probs.sum()
    per_class = np.full(len(CLASSES), n_objects // len(CLASSES))
    per_class[: n_objects % len(CLASSES)] += 1
    classes = np.repeat(np.array(CLASSES), per_class)
    rng.shuffle(classes)
    ids = 1_000_000_000_000 + np.sort(rng.choice(10**12, size=n_objects, replace=False)).astype(np.int64)
    ra = rng.uniform(0, 360, n_objects)
    dec = np.degrees(np.arcsin(rng.uniform(-0.5, 1.0, n_objects)))
    cols: dict[str, list] = {k: [] for k in ("object_id", "mjd", "mag", "mag_err", "band")}
    obj = {k: [] for k in ("period", "amplitude", "mean_mag")}
    for i, cls in enumerate(classes):
        p = _draw_params(str(cls), rng)
        n = int(rng.integers(min_epochs, max_epochs + 1))
        t = _cadence(n, rng)
        band = rng.choice(len(bands), size=n, p=probs)
        mean_r = rng.uniform(13.5, 19.5)
        shape = light_curve_shape(p, t, rng)
        ratio = AMP_RATIO_G[str(cls)]
        band_names = np.array(bands)[band]
        amp_scale = np.array([ratio ** BAND_AMP_EXP.get(b, 0.0) for b in band_names])
        colour = np.array([BAND_COLOUR.get(b, 0.0) * p["colour"] for b in band_names])
        true_mag = mean_r + colour + amp_scale * shape
        sigma = photometric_error(true_mag)
        mag = true_mag + rng.normal(0, sigma)
        err = sigma * rng.uniform(0.9, 1.1, n)
        cols["object_id"].append(np.full(n, ids[i], dtype=np.int64))
        cols["mjd"].append(np.round(t, 6))
        cols["mag"].append(np.round(mag, 4))
        cols["mag_err"].append(np.round(err, 4))
        cols["band"].append(band_names)
        obj["period"].append(p["period"])
        obj["amplitude"].append(p["amp"])
        obj["mean_mag"].append(mean_r)
    epochs = Table({k: np.concatenate(v) for k, v in cols.items()})
    epochs["mjd"].unit = "d"
    epochs["mag"].unit = "mag"
    epochs["mag_err"].unit = "mag"
    objects = Table({"object_id": ids, "ra": np.round(ra, 6), "dec": np.round(dec, 6), "class": classes,
                     "period": np.round(np.array(obj["period"]), 7),
                     "amplitude": np.round(np.array(obj["amplitude"]), 4),
                     "mean_mag": np.round(np.array(obj["mean_mag"]), 4)})
    epochs_path, objects_path = Path(epochs_path), Path(objects_path)
    write_table(epochs, epochs_path)
    write_table(objects, objects_path)
    log.info("wrote %d epochs of %d light curves to %s (+ %s)", len(epochs), n_objects, epochs_path,
             objects_path.name)
    return epochs_path, objects_path
