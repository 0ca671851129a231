r"""Seeded synthetic SDSS-like objects: ugriz photometry (SkyServer column names) and optional spectra.

The photometry is written as a SkyServer-style table (CSV by default; any suffix :func:`write_table`
knows) and the spectra as a FITS binary table, both read back through :func:`astrolab.data.io.read_catalog`
exactly like a user's query result. Only numpy and astropy are used (no torch).

Public API
==========

``make_sdss_tables(n_objects=6000, seed=0, spectra_fraction=0.3, class_fractions=...)``
    ``(photometry Table, spectra Table or None)`` in memory.
``generate_sdss_catalog(path, n_objects=6000, seed=0, spectra_path=None, spectra_fraction=0.3)``
    Writes both files (atomically) and returns their paths.

Every random number comes from one ``numpy.random.default_rng(seed)`` drawn in a fixed order, so the same
seed gives identical files.

Photometry columns (SkyServer ``PhotoObj`` / ``SpecObj`` names)
================================================================

====================================  =======  ======  ====================================================
column                                dtype    unit    meaning
====================================  =======  ======  ====================================================
``objid``                             int64            SDSS-like 64-bit object id (> 2**53, exact)
``ra``, ``dec``                       float64  deg     position (uniform on the sphere in a north-cap patch)
``psfMag_u`` … ``psfMag_z``           float32  mag     PSF magnitudes (AB, noisy)
``psfMagErr_u`` … ``psfMagErr_z``     float32  mag     their errors
``modelMag_u`` … ``modelMag_z``       float32  mag     model magnitudes (AB, noisy)
``modelMagErr_u`` … ``modelMagErr_z`` float32  mag     their errors
``petroRad_r``                        float32  arcsec  Petrosian radius in r
``class``                             str              ``STAR`` / ``GALAXY`` / ``QSO`` (label; generator truth)
``z``                                 float64          redshift (label for photo-z; stars: v_r / c)
``zErr``                              float64          redshift error (never a feature)
====================================  =======  ======  ====================================================

Spectra file (FITS, one row per object with a spectrum)
=======================================================

``objid`` int64; ``flux`` float32[NPIX] in 1e-17 erg s^-1 cm^-2 Å^-1; ``ivar`` float32[NPIX] (inverse
variance, 0 at bad pixels); ``and_mask`` int32[NPIX] (SDSS ``SPPIXMASK`` bits: FULLREJECT = 2**18 for
rejected stretches, NODATA = 2**24 for the bad pixels, COMBINEREJ = 2**25 for cosmic-ray hits). The
wavelength grid is SDSS's: ``log10(lambda / Å) = COEFF0 + COEFF1 * i`` with COEFF0 = log10(3800) and
COEFF1 = 1e-4 (69 km/s per pixel), i = 0 … NPIX-1, up to 9200 Å (NPIX = 3841); both are header keywords
(as in SDSS spPlate/spec files). Flux at masked pixels is garbage (large spikes), as in real rejected pixels.

Physical model
==============

Spectral energy distributions (rest frame, f_lambda) — the same SED gives photometry and spectrum:

Stars (class STAR, z = v_r / c with v_r ~ N(0, 60 km/s))
    Blackbody (Planck) continuum with T_eff drawn from a mixture of 55% FGK dwarfs N(5600 K, 800 K),
    35% M/late-K dwarfs N(3700 K, 350 K) and 10% hot (A/F, uniform 7000–11000 K); line blanketing below
    4000 Å multiplies the flux by exp(-b (4000 - lambda)/1000 Å) with b = 1.2 (5800 K / T)^2 (this bends
    the blackbody colours onto the observed stellar locus: cool stars get much redder u-g, cf. Covey et
    al. 2007, AJ 134, 2398). Absorption lines are Gaussian troughs: Balmer Hα…Hε and the Balmer jump at
    3646 Å with strength peaking at 9500 K (A stars), Ca II H & K (3934, 3969 Å), G band (4300 Å),
    Mg b (5175 Å) and Na D (5893 Å) growing towards cool stars, TiO band heads (6150, 7050 Å) below
    4000 K (M dwarfs). Apparent r is drawn from dN/dr ∝ 10^(0.25 r) on 14 < r < 21 (high-latitude
    star counts).

Galaxies (class GALAXY)
    z ~ Gamma(shape 3, scale 0.045) in 0.01–0.6 (SDSS main + faint samples peak near z ≈ 0.1); absolute
    M_r ~ N(-21.0, 1.0) (around M* of Blanton et al. 2003, ApJ 592, 819); apparent r = M_r + DM(z)
    (Planck18 distance modulus, astropy) with the K-correction implicit in the redshifted SED; objects
    outside 14 < r < 19.5 are redrawn. The SED mixes an old template (4500 K blackbody with a 4000 Å break
    of strength D4000 = 1.9, extra blanketing exp(-(4000 - lambda)/1000 Å) below the break, UV below
    3000 Å suppressed ×0.5, Ca H & K, G band, Mg b, Na D absorption) and a
    star-forming template (15000 K + 5500 K blackbodies, D4000 = 1.15, emission lines [O II] 3727,
    Hβ 4861, [O III] 4959/5007, Hα 6563, [N II] 6584, [S II] 6717/6731 with rest equivalent widths
    30/15/7/20/60/20/10/8 Å times a lognormal activity factor, sigma 0.3 dex, line sigma 150 km/s)
    with a star-forming weight t ~ Beta whose mean falls with luminosity (bright galaxies are older,
    e.g. Kauffmann et al. 2003, MNRAS 341, 54). Petrosian radius R ~ lognormal around
    6 kpc × 10^(-0.2 (M_r + 21)), seen at the angular-diameter distance and convolved with 1.3" seeing.

Quasars (class QSO)
    z: 70% uniform in 0.3–2.3, 30% uniform in 2.3–4.0; apparent i from dN/di ∝ 10^(0.3 i) on 17–20.2.
    Continuum f_nu ∝ nu^alpha, alpha ~ N(-0.44, 0.3) (Vanden Berk et al. 2001, AJ 122, 549); broad
    emission lines with rest EWs from the same composite: Lyα 93 Å, C IV 1549 24 Å, C III] 1909 22 Å,
    Mg II 2798 33 Å, Hβ 46 Å, Hα 195 Å, [O III] 5007 13 Å (narrow), each scattered by 0.2 dex, broad FWHM
    lognormal around 4000 km/s. Blueward of Lyα the forest transmits exp(-tau_eff) with
    tau_eff = 0.0018 (1 + z_abs)^3.92 (Faucher-Giguère et al. 2008, ApJ 681, 831); no flux below the Lyman
    limit (912 Å). Point sources.

Photometry
    Passbands are flat-topped super-Gaussians exp(-ln2 ((lambda - c) / (FWHM/2))^6) with centres 3557,
    4702, 6175, 7491, 8946 Å and FWHMs 600, 1400, 1400, 1500, 1200 Å (close to SDSS ugriz, Fukugita et
    al. 1996, AJ 111, 1748; Doi et al. 2010, AJ 139, 1628). AB magnitudes
    m = -2.5 log10(∫ f_nu T dlambda/lambda / ∫ 3631 Jy T dlambda/lambda) of the observed-frame SED on a
    3000–11500 Å log grid (Δlog10 λ = 2e-4). modelMag is the total magnitude; psfMag = modelMag + Δ with
    Δ = 2.5 log10(1 + 0.6 (θ/1.4")^1.5) for galaxies of angular size θ (PSF misses extended light) and
    N(0, 0.02) for point sources. Noise is added in flux: sigma_f = f(m5) / 5 for 5-sigma depths
    m5 = 22.0, 22.2, 22.2, 21.3, 20.5 (SDSS imaging, Abazajian et al. 2004) plus calibration floors of
    0.03 mag (u) and 0.015 mag (griz), ×1.3 for galaxy model magnitudes; the noisy fluxes become SDSS
    asinh magnitudes (Lupton et al. 1999, softening b = 1.4, 0.9, 1.2, 1.8, 7.4 × 1e-10), so u dropouts
    stay finite with large errors. No Galactic extinction.

Spectra
    The observed-frame SED on the SDSS grid, scaled to the object's r magnitude (f_lambda in 1e-17 cgs),
    plus Gaussian noise with sigma^2 = (0.12 s(λ))^2 + 0.02 f, where s(λ) rises ×2.5 beyond 7200 Å (OH sky
    lines), giving S/N ≈ 5 per pixel at r = 19. Bad pixels: 0.5% random (cosmic rays, COMBINEREJ),
    15% of spectra have one rejected stretch of 20–200 pixels (FULLREJECT), all with ivar = 0 and
    garbage flux. Spectra exist for a random ``spectra_fraction`` of the objects (of every class).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from astrolab.errors import ConfigError

log = logging.getLogger(__name__)

BANDS = ("u", "g", "r", "i", "z")
BAND_CENTRES = np.array([3557.0, 4702.0, 6175.0, 7491.0, 8946.0])
BAND_FWHM = np.array([600.0, 1400.0, 1400.0, 1500.0, 1200.0])
M5 = np.array([22.0, 22.2, 22.2, 21.3, 20.5])
MAG_FLOOR = np.array([0.03, 0.015, 0.015, 0.015, 0.015])
CLASSES = ("STAR", "GALAXY", "QSO")

#: SDSS spectral grid
COEFF0 = float(np.log10(3800.0))
COEFF1 = 1e-4
NPIX = int(np.floor((np.log10(9200.0) - COEFF0) / COEFF1 + 1e-9)) + 1
#: SPPIXMASK bits used here
FULLREJECT = 1 << 18
NODATA = 1 << 24
COMBINEREJ = 1 << 25
BAD_PIXEL_BITS = FULLREJECT | NODATA | COMBINEREJ

C_KMS = 299792.458
C_AA = 2.99792458e18  # Å / s
_PHOT_WAVE = 10 ** np.arange(np.log10(3000.0), np.log10(11500.0), 2e-4)


def spectral_wavelength(npix: int = NPIX, coeff0: float = COEFF0, coeff1: float = COEFF1) -> np.ndarray:
    """Vacuum wavelengths (Å) of the SDSS log-linear grid."""
    return 10 ** (coeff0 + coeff1 * np.arange(npix))


def passbands(wave: np.ndarray) -> np.ndarray:
    """Transmission ``[5, L]`` of the ugriz-like passbands on ``wave``."""
    x = (wave[None, :] - BAND_CENTRES[:, None]) / (BAND_FWHM[:, None] / 2)
    return np.exp(-np.log(2) * x**6)


def ab_magnitudes(wave: np.ndarray, flam: np.ndarray) -> np.ndarray:
    """AB magnitudes ``[N, 5]`` of ``flam`` ``[N, L]`` (erg s^-1 cm^-2 Å^-1, any positive scale)."""
    t = passbands(wave)
    dlnl = np.gradient(np.log(wave))
    fnu = flam * wave**2 / C_AA
    num = (fnu[:, None, :] * t[None] * dlnl).sum(-1)
    den = (t * dlnl).sum(-1)
    return -2.5 * np.log10(np.clip(num / den, 1e-300, None)) - 48.6


#: asinh softening parameters of SDSS magnitudes (Lupton, Gunn & Szalay 1999, AJ 118, 1406)
ASINH_B = np.array([1.4e-10, 0.9e-10, 1.2e-10, 1.8e-10, 7.4e-10])
_POGSON = 2.5 / np.log(10)


def observe_magnitudes(rng: np.random.Generator, true_mag: np.ndarray, err_scale=1.0):
    """Noisy SDSS asinh magnitudes and their errors from true AB magnitudes ``[N, 5]`` (may be inf).

    Flux noise (in units of the AB zero point f0): sky/photon sigma_f = 10^(-0.4 m5) / 5 (5-sigma
    depth m5) plus a calibration floor (floor / 1.0857) * f; magnitudes are asinh magnitudes
    m = -1.0857 [asinh(f / 2b) + ln b], so faint or undetected objects (u dropouts of z > 3 quasars)
    stay finite, as in SDSS. Error: sigma_m = 1.0857 sigma_f / (2b sqrt(1 + (f / 2b)^2)).
    """
    f = 10 ** (-0.4 * np.asarray(true_mag, dtype=float))
    scale = np.asarray(err_scale, dtype=float)
    scale = scale[:, None] if scale.ndim == 1 else scale
    sigma_f = scale * np.sqrt((10 ** (-0.4 * M5) / 5) ** 2 + (MAG_FLOOR / _POGSON * f) ** 2)
    f_obs = f + rng.normal(0, 1, f.shape) * sigma_f
    mag = -_POGSON * (np.arcsinh(f_obs / (2 * ASINH_B)) + np.log(ASINH_B))
    err = _POGSON * sigma_f / (2 * ASINH_B) / np.sqrt(1 + (f_obs / (2 * ASINH_B)) ** 2)
    return mag, err


def mag_error(mag: np.ndarray) -> np.ndarray:
    """Approximate error of a bright source (floor plus noise reaching 0.217 mag at the 5-sigma depth)."""
    return np.sqrt(MAG_FLOOR**2 + (0.217 * 10 ** (0.4 * (np.minimum(mag, 40.0) - M5))) ** 2)


def _planck(rest: np.ndarray, t) -> np.ndarray:
    """Planck f_lambda (arbitrary scale) at rest wavelengths ``rest`` ``[N, L]`` (Å) for ``t`` ``[N, 1]``
    or a scalar temperature (K)."""
    x = 1.4388e8 / (rest * t)  # hc / (lambda k T), lambda in Å
    return rest**-5 / np.expm1(np.clip(x, 1e-6, 700))


def _gauss(wave, centre, sigma):
    return np.exp(-0.5 * ((wave - centre) / sigma) ** 2)


def _absorption(rest, centre, depth, sigma_aa):
    return 1.0 - depth[:, None] * _gauss(rest, centre, sigma_aa)


def _emission(rest, centre, ew, sigma_kms, cont_at_line):
    sig = centre * sigma_kms / C_KMS
    sig = sig[:, None] if np.ndim(sig) else sig
    return (ew * cont_at_line)[:, None] * _gauss(rest, centre, sig) / (np.sqrt(2 * np.pi) * sig)


def _star_sed(wave_obs: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    t = p["teff"]
    rest = wave_obs[None, :] / (1 + p["z"][:, None])
    f = _planck(rest, t[:, None])
    b = 1.2 * (5800.0 / t) ** 2
    f = f * np.where(rest < 4000, np.exp(-b[:, None] * np.clip(4000 - rest, 0, None) / 1000), 1.0)
    balmer = 0.55 * np.exp(-(((t - 9500) / 2500) ** 2))
    f = f * np.where(rest < 3646, 1 - 0.6 * balmer[:, None], 1.0)
    for c in (6563.0, 4861.0, 4340.0, 4102.0, 3970.0):
        f = f * _absorption(rest, c, balmer, 8.0)
    cool = np.clip((6500 - t) / 2500, 0, 1)
    for c, d, s in ((3934.0, 0.55, 6.0), (3969.0, 0.45, 6.0), (4300.0, 0.2, 10.0), (5175.0, 0.25, 12.0),
                    (5893.0, 0.3, 6.0)):
        f = f * _absorption(rest, c, d * cool, s)
    m = np.clip((4000 - t) / 800, 0, 1)
    for head, width in ((6150.0, 120.0), (7050.0, 200.0)):
        band = (rest > head) & (rest < head + width)
        f = f * np.where(band, 1 - 0.5 * m[:, None], 1.0)
    return f


def _galaxy_sed(wave_obs: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    z, tsf, act = p["z"], p["sf_weight"], p["activity"]
    rest = wave_obs[None, :] / (1 + z[:, None])
    n = len(z)
    ref = np.array([[5500.0]])
    old = _planck(rest, 4500.0) / _planck(ref, 4500.0)
    young = 0.25 * _planck(rest, 15000.0) / _planck(ref, 15000.0) + _planck(rest, 5500.0) / _planck(ref, 5500.0)
    step = 1 / (1 + np.exp(-(rest - 4000) / 25))  # 0 blueward of the break, 1 redward
    old = old * (step + (1 - step) / 1.9) * np.where(rest < 3000, 0.5, 1.0)
    old = old * np.where(rest < 4000, np.exp(-np.clip(4000 - rest, 0, None) / 1000), 1.0)
    young = young * (step + (1 - step) / 1.15)
    for c, d, s in ((3934.0, 0.4, 8.0), (3969.0, 0.35, 8.0), (4300.0, 0.15, 12.0), (5175.0, 0.15, 15.0),
                    (5893.0, 0.1, 8.0)):
        old = old * (1 - d * _gauss(rest, c, s))
    cont = (1 - tsf)[:, None] * old + tsf[:, None] * young
    lines = ((3727.0, 30.0), (4861.0, 15.0), (4959.0, 7.0), (5007.0, 20.0), (6563.0, 60.0), (6584.0, 20.0),
             (6717.0, 10.0), (6731.0, 8.0))
    out = cont.copy()
    for c, ew in lines:
        idx = np.argmin(np.abs(rest - c), axis=1)
        cl = cont[np.arange(n), idx]
        out = out + _emission(rest, c, ew * tsf * act, 150.0, cl)
    return out


def _qso_sed(wave_obs: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    z, alpha = p["z"], p["alpha"]
    rest = wave_obs[None, :] / (1 + z[:, None])
    cont = (rest / 3000.0) ** (-2.0 - alpha[:, None])
    out = cont.copy()
    lines = ((1216.0, 93.0, 1.0), (1549.0, 24.0, 1.0), (1909.0, 22.0, 1.0), (2798.0, 33.0, 1.0),
             (4861.0, 46.0, 1.0), (6563.0, 195.0, 1.0), (5007.0, 13.0, 0.15))
    for j, (c, ew, width) in enumerate(lines):
        sigma = p["fwhm"] * width / 2.3548
        cl = (c / 3000.0) ** (-2.0 - alpha)
        out = out + _emission(rest, c, ew * p["ew_scatter"][:, j], sigma, cl)
    z_abs = wave_obs[None, :] / 1215.67 - 1
    tau = np.where(rest < 1215.67, 0.0018 * (1 + np.clip(z_abs, 0, None)) ** 3.92, 0.0)
    out = out * np.exp(-tau)
    return np.where(rest < 912.0, 0.0, out)


SED = {"STAR": _star_sed, "GALAXY": _galaxy_sed, "QSO": _qso_sed}


def _draw_power_law_mag(rng, n, lo, hi, slope):
    """dN/dm ∝ 10^(slope m) on [lo, hi] by inverse CDF."""
    a, b = 10 ** (slope * lo), 10 ** (slope * hi)
    return np.log10(a + rng.random(n) * (b - a)) / slope


def _validate(n_objects: int, spectra_fraction: float, class_fractions) -> np.ndarray:
    if int(n_objects) < 30:
        raise ConfigError(f"n_objects={n_objects} is too small; use dataset.n_objects=30 or more")
    if not 0 <= spectra_fraction <= 1:
        raise ConfigError(f"spectra_fraction={spectra_fraction} must be in [0, 1]")
    frac = np.asarray(class_fractions, dtype=float)
    if frac.shape != (3,) or (frac < 0).any() or frac.sum() <= 0:
        raise ConfigError("class_fractions must be three non-negative numbers (STAR, GALAXY, QSO)")
    return frac / frac.sum()


def _draw_params(rng: np.random.Generator, cls: str, n: int) -> dict[str, np.ndarray]:
    from astropy.cosmology import Planck18

    if cls == "STAR":
        comp = rng.choice(3, size=n, p=[0.55, 0.35, 0.10])
        teff = np.where(comp == 0, rng.normal(5600, 800, n),
                        np.where(comp == 1, rng.normal(3700, 350, n), rng.uniform(7000, 11000, n)))
        teff = np.clip(teff, 3000, 12000)
        z = rng.normal(0, 60.0, n) / C_KMS
        return {"teff": teff, "z": z, "mag_r": _draw_power_law_mag(rng, n, 14.0, 21.0, 0.25),
                "zerr": np.abs(rng.normal(1.2e-5, 0.4e-5, n)) + 5e-6, "theta": np.zeros(n)}
    if cls == "GALAXY":
        z = np.empty(0)
        mabs = np.empty(0)
        mag = np.empty(0)
        while len(z) < n:
            zz = np.clip(rng.gamma(3.0, 0.045, 2 * n), 0.01, 0.6)
            mm = rng.normal(-21.0, 1.0, 2 * n)
            rr = mm + Planck18.distmod(zz).value
            ok = (rr > 14) & (rr < 19.5)
            z, mabs, mag = np.r_[z, zz[ok]], np.r_[mabs, mm[ok]], np.r_[mag, rr[ok]]
        z, mabs, mag = z[:n], mabs[:n], mag[:n]
        mean_sf = np.clip(0.55 + 0.2 * (mabs + 21.0), 0.1, 0.9)
        k = 4.0
        sf = rng.beta(mean_sf * k, (1 - mean_sf) * k)
        activity = 10 ** rng.normal(0, 0.3, n)
        r_kpc = 6.0 * 10 ** (-0.2 * (mabs + 21.0)) * 10 ** rng.normal(0, 0.15, n)
        da = Planck18.angular_diameter_distance(z).to_value("kpc")
        theta = r_kpc / da * 206264.806
        return {"z": z, "sf_weight": sf, "activity": activity, "mag_r": mag, "theta": theta,
                "zerr": np.abs(rng.normal(2.5e-5, 1e-5, n)) + 5e-6}
    z = np.where(rng.random(n) < 0.7, rng.uniform(0.3, 2.3, n), rng.uniform(2.3, 4.0, n))
    return {"z": z, "alpha": rng.normal(-0.44, 0.3, n), "fwhm": 4000.0 * 10 ** rng.normal(0, 0.12, n),
            "ew_scatter": 10 ** rng.normal(0, 0.2, (n, 7)), "mag_i": _draw_power_law_mag(rng, n, 17.0, 20.2, 0.3),
            "zerr": np.abs(rng.normal(4e-4, 2e-4, n)) + 5e-5, "theta": np.zeros(n)}


def _objids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique SDSS-like 64-bit ids (DR-style values around 1.2376e18, sorted as in SkyServer)."""
    base = np.int64(1237645000000000000)
    steps = rng.integers(1, 2**40, size=n, dtype=np.int64)
    return base + np.cumsum(steps // max(n // 1000, 1), dtype=np.int64)


def make_sdss_tables(n_objects: int = 6000, seed: int = 0, spectra_fraction: float = 0.3,
                     class_fractions=(0.35, 0.45, 0.20)):
    """The photometric table and the spectra table (``None`` when ``spectra_fraction`` is 0)."""
    from astropy.table import Table

    frac = _validate(n_objects, spectra_fraction, class_fractions)
    rng = np.random.default_rng(seed)
    n = int(n_objects)
    counts = np.floor(frac * n).astype(int)
    counts[1] += n - counts.sum()
    classes = np.concatenate([np.full(c, name, dtype="<U6") for name, c in zip(CLASSES, counts)])
    params = {name: _draw_params(rng, name, int(c)) for name, c in zip(CLASSES, counts)}

    # photometry: SED on the photometric grid, scaled to the drawn magnitude
    true_mag = np.empty((n, 5))
    scale = np.empty(n)
    start = 0
    for name, c in zip(CLASSES, counts):
        p = params[name]
        for lo in range(0, c, 500):
            sl = slice(lo, min(lo + 500, c))
            sub = {k: v[sl] for k, v in p.items()}
            m = ab_magnitudes(_PHOT_WAVE, SED[name](_PHOT_WAVE, sub))
            target = sub["mag_i"] if name == "QSO" else sub["mag_r"]
            ref = m[:, 3] if name == "QSO" else m[:, 2]
            shift = target - ref
            true_mag[start + lo:start + sl.stop] = m + shift[:, None]
            scale[start + lo:start + sl.stop] = 10 ** (-0.4 * shift)
        start += c
    cat = {k: np.concatenate([params[c_][k] for c_ in CLASSES]) for k in ("z", "zerr", "theta")}

    # morphology: Petrosian radius, PSF - model offset
    seeing = rng.normal(1.3, 0.1, n).clip(0.9, 1.8)
    theta = cat["theta"]
    petro = np.sqrt(theta**2 + seeing**2) * 10 ** rng.normal(0, 0.03, n)
    extended = classes == "GALAXY"
    dpsf = np.where(extended, 2.5 * np.log10(1 + 0.6 * (theta / 1.4) ** 1.5), 0.0)[:, None] + np.where(
        extended[:, None], rng.normal(0, 0.05, (n, 5)), rng.normal(0, 0.02, (n, 5)))
    psf_true = true_mag + dpsf
    model_obs, err_model = observe_magnitudes(rng, true_mag, np.where(extended, 1.3, 1.0))
    psf_obs, err_psf = observe_magnitudes(rng, psf_true)

    # positions and ids
    ra = rng.uniform(120.0, 240.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-5.0)), np.sin(np.radians(65.0)), n)))
    order = rng.permutation(n)  # interleave classes as in a real query
    objid = _objids(rng, n)

    t = Table()
    t["objid"] = objid
    t["ra"] = ra[order]
    t["ra"].unit = "deg"
    t["dec"] = dec[order]
    t["dec"].unit = "deg"
    for j, b in enumerate(BANDS):
        t[f"psfMag_{b}"] = psf_obs[order, j].astype(np.float32)
    for j, b in enumerate(BANDS):
        t[f"psfMagErr_{b}"] = err_psf[order, j].astype(np.float32)
    for j, b in enumerate(BANDS):
        t[f"modelMag_{b}"] = model_obs[order, j].astype(np.float32)
    for j, b in enumerate(BANDS):
        t[f"modelMagErr_{b}"] = err_model[order, j].astype(np.float32)
    for name in t.colnames:
        if "Mag" in name:
            t[name].unit = "mag"
    t["petroRad_r"] = petro[order].astype(np.float32)
    t["petroRad_r"].unit = "arcsec"
    t["class"] = classes[order]
    t["z"] = cat["z"][order]
    t["zErr"] = cat["zerr"][order]
    t.meta["ORIGIN"] = "astrolab synthetic SDSS-like sample"
    t.meta["SEED"] = int(seed)

    # spectra for a random subset, same SEDs on the SDSS grid
    if spectra_fraction <= 0:
        return t, None
    has_spec = rng.random(n) < spectra_fraction
    sel = np.flatnonzero(has_spec)  # indices in output order
    wave = spectral_wavelength()
    flux = np.empty((len(sel), NPIX), np.float32)
    ivar = np.empty((len(sel), NPIX), np.float32)
    mask = np.zeros((len(sel), NPIX), np.int32)
    sky = 0.12 * np.where(wave > 7200, 2.5, 1.0)
    src = order[sel]  # indices in class-block order
    offsets = np.cumsum([0, *counts])
    for name_i, name in enumerate(CLASSES):
        in_cls = np.flatnonzero((src >= offsets[name_i]) & (src < offsets[name_i + 1]))
        for lo in range(0, len(in_cls), 300):
            rows = in_cls[lo:lo + 300]
            local = src[rows] - offsets[name_i]
            sub = {k: v[local] for k, v in params[name].items()}
            f = SED[name](wave, sub) * scale[src[rows]][:, None] * 1e17
            sigma = np.sqrt(sky[None, :] ** 2 + 0.02 * np.clip(f, 0, None))
            flux[rows] = (f + rng.normal(0, 1, f.shape) * sigma).astype(np.float32)
            ivar[rows] = (1 / sigma**2).astype(np.float32)
    cr = rng.random(flux.shape) < 0.005
    mask[cr] |= COMBINEREJ
    stretch = np.flatnonzero(rng.random(len(sel)) < 0.15)
    for i in stretch:
        length = int(rng.integers(20, 201))
        a = int(rng.integers(0, NPIX - length))
        mask[i, a:a + length] |= FULLREJECT
    bad = mask != 0
    ivar[bad] = 0.0
    flux[bad] = (rng.normal(0, 1, int(bad.sum())) * 1e3).astype(np.float32)
    s = Table()
    s["objid"] = objid[sel]
    s["flux"] = flux
    s["flux"].unit = "1e-17 erg / (s cm2 Angstrom)"
    s["ivar"] = ivar
    s["and_mask"] = mask
    s.meta.update({"COEFF0": COEFF0, "COEFF1": COEFF1, "NPIX": NPIX, "BUNIT": "1E-17 erg/s/cm^2/Ang",
                   "ORIGIN": "astrolab synthetic SDSS-like sample", "SEED": int(seed)})
    return t, s


def default_spectra_path(path: str | os.PathLike) -> Path:
    """``<stem>_spectra.fits`` next to the photometry file."""
    path = Path(path)
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return path.with_name(Path(name).stem + "_spectra.fits")


def generate_sdss_catalog(path: str | os.PathLike, n_objects: int = 6000, seed: int = 0,
                          spectra_path: str | os.PathLike | None = None, spectra_fraction: float = 0.3,
                          class_fractions=(0.35, 0.45, 0.20)) -> tuple[Path, Path | None]:
    """Write the photometry (format from the suffix) and the spectra FITS; returns both paths."""
    from astrolab.data.io import write_table

    phot, spec = make_sdss_tables(n_objects, seed, spectra_fraction, class_fractions)
    path = write_table(phot, path)
    if spec is None:
        return path, None
    spath = Path(spectra_path) if spectra_path else default_spectra_path(path)
    spath = write_table(spec, spath)
    log.info("wrote %d objects to %s and %d spectra to %s", len(phot), path, len(spec), spath)
    return path, spath
