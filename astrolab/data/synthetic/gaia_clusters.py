r"""Seeded synthetic Gaia-DR3-like catalog: a Galactic-disc field population plus open clusters.

The catalog is written to disk with the real Gaia DR3 ``gaia_source`` column names, dtypes and units, so
that it is read back by exactly the same reader a user's Gaia file goes through.  Only numpy, scipy and
astropy are used (no torch).

Public API
==========

``make_gaia_table(n_stars=20_000, seed=0, n_clusters=6, cluster_fraction=0.08) -> astropy.table.Table``
    Build the catalog in memory.
``generate_gaia_catalog(path, n_stars=20_000, seed=0, n_clusters=6, cluster_fraction=0.08) -> pathlib.Path``
    Build it and write it to ``path``; the format follows the suffix (``.fits``/``.fit``/``.fts`` or no
    suffix: FITS binary table; ``.csv``; ``.ecsv``; ``.vot``/``.votable``/``.xml``: VOTable;
    ``.parquet``/``.pq``: Parquet).  The file is replaced atomically (temporary file in the same folder, then
    :func:`os.replace`).

Exactly ``n_stars`` rows are produced: ``round(cluster_fraction * n_stars)`` cluster members (after the
magnitude cut) and the rest field stars.  Every random number comes from one
``numpy.random.default_rng(seed)`` drawn in a fixed order, so the same seed gives bit-identical column
values and a different seed gives different values.  Rows are sorted by ``source_id`` (as in the Gaia
archive), which interleaves field stars and cluster members.

Columns
=======

=========================  =======  ===========  ==========================================================
column                     dtype    unit         meaning
=========================  =======  ===========  ==========================================================
``source_id``              int64                 Gaia-like id: HEALPix level-12 (nested, ICRS) index
                                                 * 2**35 + a random 35-bit number, unique, all > 2**53
``ra``, ``dec``            float64  deg          ICRS position
``parallax``               float64  mas          observed parallax (may be negative)
``parallax_error``         float32  mas
``parallax_over_error``    float32               ``parallax / parallax_error``
``pmra``                   float64  mas / yr     observed proper motion in ra * cos(dec)
``pmra_error``             float32  mas / yr
``pmdec``                  float64  mas / yr
``pmdec_error``            float32  mas / yr
``radial_velocity``        float32  km / s       NaN for phot_g_mean_mag > 14
``radial_velocity_error``  float32  km / s       NaN where radial_velocity is NaN
``phot_g_mean_mag``        float32  mag          observed G; every row has G < 19.5
``phot_bp_mean_mag``       float32  mag
``phot_rp_mean_mag``       float32  mag
``bp_rp``                  float32  mag          ``phot_bp_mean_mag - phot_rp_mean_mag`` (as in DR3)
``ruwe``                   float32               renormalised unit weight error
``cluster_label``          str                   ``"field"`` or the cluster name (label column)
``true_distance_pc``       float64  pc           true heliocentric distance (for checks only)
``true_a_g``               float32  mag          true G-band extinction (for checks only)
=========================  =======  ===========  ==========================================================

Reading back: ``Table.read`` returns FITS string columns (``cluster_label``) as bytes unless
``character_as_bytes=False`` is passed, and FITS/VOTable readers return the NaN radial velocities as masked
entries; both happen with real Gaia archive files too.  ``source_id`` must stay int64 (a float64 cast loses
precision above 2**53).

Clusters are named ``"Cluster A"``, ``"Cluster B"``, ... in creation order (``"Cluster Z"`` is followed by
``"Cluster AA"``, ``"Cluster AB"``, ...), see :func:`cluster_name`.

Physical model
==============

Geometry and selection
    A cone of radius 18 deg around the Galactic direction (l, b) = (150 deg, -10 deg) (towards the
    anticentre-ish Perseus/Auriga region, ICRS ra ~ 51.8 deg, dec ~ +44.5 deg), heliocentric distances
    0-1500 pc, observed magnitude window 3 < G < 19.5 (Gaia DR3 is incomplete brighter than G ~ 3 and this
    catalog stops at G = 19.5).  Stars fainter than the limit are simply not in the catalog, as in a real
    magnitude-limited query.

Galaxy (Bland-Hawthorn & Gerhard 2016, ARA&A 54, 529)
    R0 = 8.2 kpc Sun-Galactic-centre distance, thin-disc density
    rho(R, z) ~ exp(-(R - R0) / 2.6 kpc) * exp(-|z| / 300 pc) in galactocentric cylindrical (R, z), Sun at
    z = +20 pc above the plane (Bennett & Bovy 2019 find 20.8 pc), flat rotation curve with
    Theta0 = 238 km/s.  Field positions are drawn uniformly in the cone volume (d**2 dd dOmega) and kept
    with probability rho / rho_max (rejection sampling), the tilt of the Galactic plane by z_sun is ignored.

Kinematics
    Field stars: circular rotation Theta0 along the local azimuthal direction plus a Gaussian velocity
    ellipsoid aligned with the local (R, phi, z) axes, (sigma_U, sigma_V, sigma_W) = (35, 25, 18) km/s, and
    an asymmetric drift of -15 km/s in V (typical of the old thin disc; e.g. Nordstroem et al. 2004,
    Bland-Hawthorn & Gerhard 2016).  The Sun moves with the circular speed plus the solar peculiar motion
    (U, V, W)_sun = (11.1, 12.24, 7.25) km/s relative to the LSR (Schoenrich, Binney & Dehnen 2010), so the
    heliocentric velocities carry the solar reflex motion and the differential rotation of the disc.
    Heliocentric Galactic Cartesian positions (u, v, w) and velocities (U, V, W) of all stars go through a
    single astropy ``SkyCoord`` transformation (frame ``galactic`` -> ``icrs``) that yields ra, dec,
    pm_ra_cosdec, pm_dec and the radial velocity.

Photometry
    Masses follow the Kroupa (2001, MNRAS 322, 231) IMF, dN/dm ~ m**-1.3 (m < 0.5 Msun) and m**-2.3
    (m >= 0.5 Msun), truncated to 0.15-3.0 Msun (main-sequence stars with M_G ~ 0.4 to ~12; no giants or
    white dwarfs).  Mass is mapped to the intrinsic colour (BP-RP)_0 by monotone (PCHIP) interpolation in
    log mass of an approximate mean-dwarf sequence after Pecaut & Mamajek (2013, ApJS 208, 9; updated
    online table), and the absolute magnitude by the main-sequence locus

        M_G = 0.8777 + 5.0636 x - 0.8150 x**2 + 0.1061 x**3,   x = (BP-RP)_0

    (cubic least-squares fit to the same table, monotonic over -0.1 < x < 3.3).  Field stars get an
    intrinsic M_G scatter of 0.30 mag (age/metallicity spread).  Extinction grows with distance:
    A_G = 0.7 mag/kpc * d * f with f lognormal (sigma 0.3, mean 1) per field star; E(BP-RP) = A_G / 1.9.
    BP and RP follow from G and BP-RP through the approximate main-sequence colour relation
    G - RP = 0.65 (BP-RP) - 0.08 (BP-RP)**2 (reproduces e.g. the Sun, 0.49 at BP-RP = 0.82, and M dwarfs).

Open clusters
    ``n_clusters`` clusters with centres uniform in the inner 80% of the cone radius (centres at least
    3 deg apart where possible) at heliocentric distances uniform in 150-1000 pc; Plummer (1911, MNRAS 71,
    460) density profiles with scale radius a uniform in 1.5-4 pc (truncated at 10 a); the bulk velocity is
    drawn from the field velocity distribution at the cluster centre (so clusters overlap the field in
    velocity space); isotropic Gaussian internal dispersion uniform in 0.3-1.0 km/s.  The photometry uses
    the same IMF and locus with only 0.05 mag scatter, 30% unresolved binaries brightened by U(0, 0.75) mag
    (the largest shift, 0.75 mag, is an equal-mass pair), one extinction per cluster (same law as the
    field) plus 0.03 mag differential extinction.  Sizes (members after the magnitude cut) vary: each
    cluster gets a floor of min(60, N_cl / (2 n_clusters)) members and the rest of the
    N_cl = round(cluster_fraction * n_stars) members is split with log-uniform weights spanning a factor
    10.  Members are drawn until each cluster has its size after the cut, i.e. the visible count is fixed
    and more distant clusters are intrinsically richer.  With ``n_clusters = 0`` or
    ``cluster_fraction = 0`` every star is a field star; ``0 < round(cluster_fraction * n_stars) <
    n_clusters`` is rejected with :class:`astrolab.errors.ConfigError`.  Members of a nearby cluster far
    out in its Plummer halo can lie slightly outside the cone (field stars never do).

Cluster ages (optional, ``log_age_range=(lo, hi)``; off by default)
    Each cluster gets log10(age / yr) ~ U(lo, hi) (drawn after all other cluster parameters, so the
    default output is unchanged) and its members an age-dependent colour-magnitude sequence instead of
    the zero-age locus.  Main-sequence lifetime t_MS = 10 Gyr (M / Msun)**-2.5 (e.g. Kippenhahn, Weigert
    & Weiss, "Stellar Structure and Evolution"), so the turn-off mass is M_TO = (t / 10 Gyr)**-0.4
    (6.3 Msun at 100 Myr, 2.5 Msun at 1 Gyr, 1.2 Msun at 6 Gyr).  Cluster masses follow the same Kroupa
    IMF up to 8 Msun, with the dwarf sequence extended to B2V (approximate Pecaut & Mamajek 2013 values).
    Stars below M_TO lie on the main sequence, brightened by up to 0.9 mag near the turn-off
    (0.9 (M / M_TO)**4 mag: core hydrogen exhaustion); stars within 10% above M_TO are giants placed on
    the red clump (M_G = 0.44, (BP-RP)_0 = 1.20, Ruiz-Dern et al. 2018, A&A 609, A116; brighter for
    massive young giants) with 0.1 mag scatter; heavier stars are remnants, absent from the catalog.
    This is a schematic isochrone, not a stellar-evolution grid: what matters is that the turn-off
    moves with log age.  Column ``true_log_age`` holds the truth.

Measurement errors (Gaia DR3: Lindegren et al. 2021, A&A 649, A2; Gaia DR3 performance pages; Riello et
al. 2021, A&A 649, A3; Katz et al. 2023, A&A 674, A5)
    sigma_plx(G) = 0.8 * sqrt(40 + 800 z + 30 z**2) micro-arcsec, z = 10**(0.4 (max(G, 13) - 15))
    (~0.024 mas at G = 15, ~0.23 mas at G = 19, ~0.5 mas at G = 20), times a per-star lognormal factor
    (sigma 0.1) for the scan-coverage spread; pmra_error = 1.15 sigma_plx and pmdec_error = 1.05 sigma_plx
    in mas/yr, each with a further independent lognormal factor (sigma 0.05, scan-angle spread).
    Observed parallaxes include the global DR3 zero point of -0.017 mas (Lindegren et al. 2021, quasars)
    plus Gaussian noise, so faint distant stars can have negative parallaxes as in real data.
    Photometric errors: sigma_G = 0.002 + 0.003 * 10**(0.4 (G - 19.5)) mag and
    sigma_BP = sigma_RP = 0.003 + 0.017 * 10**(0.4 (G - 19.5)) mag (0.002-0.02 mag).
    Radial velocities exist only for G <= 14 (NaN otherwise, like most DR3 sources), with
    sigma_RV = 0.15 + 5.0 * 10**(0.4 (G - 14)) km/s (~0.3 km/s at G = 10, ~5 km/s at G = 14).
    RUWE: 95% lognormal around 1.0 (sigma 0.1), 5% tail 1.4 * exp(Exp(0.5)) > 1.4 (unresolved binaries,
    poor fits); for the tail the astrometric errors are multiplied by RUWE.
    Observed values = true values + Gaussian noise with these errors.
"""

from __future__ import annotations

import logging
import os
import pathlib
import tempfile
import time

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from scipy.interpolate import PchipInterpolator

from astrolab.errors import ConfigError

__all__ = ["generate_gaia_catalog", "make_gaia_table", "cluster_name", "GAIA_COLUMNS"]

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------------
# Model constants (see the module docstring for references)
# --------------------------------------------------------------------------------------------------------
CONE_L_DEG = 150.0
CONE_B_DEG = -10.0
CONE_RADIUS_DEG = 18.0
D_MAX_PC = 1500.0
G_LIMIT = 19.5
G_BRIGHT = 3.0

R0_PC = 8200.0
Z_SUN_PC = 20.0
H_R_PC = 2600.0
H_Z_PC = 300.0
THETA0_KMS = 238.0
SIGMA_UVW_KMS = (35.0, 25.0, 18.0)
ASYM_DRIFT_KMS = -15.0
SUN_PECULIAR_KMS = (11.1, 12.24, 7.25)

IMF_M_MIN, IMF_M_BREAK, IMF_M_MAX = 0.15, 0.5, 3.0
IMF_ALPHA_LOW, IMF_ALPHA_HIGH = 1.3, 2.3

# Approximate mean-dwarf sequence (mass [Msun], (BP-RP)_0 [mag], M_G [mag]) after Pecaut & Mamajek (2013).
_DWARF_SEQUENCE = np.array(
    [
        [3.00, -0.10, 0.20],  # ~B9V
        [2.30, 0.00, 1.10],  # A0V
        [1.85, 0.16, 1.85],  # A5V
        [1.60, 0.38, 2.50],  # F0V
        [1.33, 0.59, 3.30],  # F5V
        [1.08, 0.74, 4.10],  # G0V
        [1.00, 0.82, 4.60],  # G2V (Sun)
        [0.88, 0.99, 5.50],  # K0V
        [0.78, 1.22, 6.20],  # K3V
        [0.70, 1.43, 6.80],  # K5V
        [0.63, 1.75, 7.60],  # K7V
        [0.57, 1.84, 8.10],  # M0V
        [0.50, 2.05, 8.70],  # M1V
        [0.44, 2.20, 9.20],  # M2V
        [0.37, 2.45, 10.00],  # M3V
        [0.23, 2.86, 11.20],  # M4V
        [0.16, 3.20, 12.20],  # M5V
    ]
)
# Cubic fit M_G((BP-RP)_0) to the table above (highest power first, for np.polyval).
MS_LOCUS_POLY = (0.1061, -0.8150, 5.0636, 0.8777)
_MASS_TO_COLOUR = PchipInterpolator(np.log10(_DWARF_SEQUENCE[::-1, 0]), _DWARF_SEQUENCE[::-1, 1])

FIELD_MG_SCATTER = 0.30
CLUSTER_MG_SCATTER = 0.05
BINARY_FRACTION = 0.30
BINARY_MAX_BOOST = 0.75
EXTINCTION_MAG_PER_KPC = 0.7
EXTINCTION_LOG_SCATTER = 0.3
EXTINCTION_RATIO_G_EBR = 1.9
CLUSTER_DIFF_EXTINCTION = 0.03

CLUSTER_D_RANGE_PC = (150.0, 1000.0)
CLUSTER_A_RANGE_PC = (1.5, 4.0)
CLUSTER_SIGMA_RANGE_KMS = (0.3, 1.0)
CLUSTER_PLUMMER_TRUNC = 10.0
CLUSTER_MIN_SEP_DEG = 3.0
CLUSTER_MIN_MEMBERS = 60

# Cluster ages (optional, see "Cluster ages" in the module docstring)
AGE_LOG_MIN, AGE_LOG_MAX = 7.0, 10.1
AGED_IMF_M_MAX = 8.0
MS_LIFETIME_SUN_YR = 1.0e10
MS_LIFETIME_SLOPE = 2.5
MS_BRIGHTENING_MAG = 0.9
GIANT_MASS_WINDOW = 1.10
RED_CLUMP_MG, RED_CLUMP_BPRP = 0.44, 1.20
# B-star extension of the dwarf sequence (mass, (BP-RP)_0, M_G), approximate after Pecaut & Mamajek (2013)
_B_STAR_SEQUENCE = np.array([[8.0, -0.24, -2.10], [6.5, -0.21, -1.60], [5.0, -0.17, -1.00],
                             [3.8, -0.13, -0.30]])
_EXT_SEQUENCE = np.vstack([_B_STAR_SEQUENCE, _DWARF_SEQUENCE])
_EXT_MASS_TO_COLOUR = PchipInterpolator(np.log10(_EXT_SEQUENCE[::-1, 0]), _EXT_SEQUENCE[::-1, 1])
_EXT_MASS_TO_MG = PchipInterpolator(np.log10(_EXT_SEQUENCE[::-1, 0]), _EXT_SEQUENCE[::-1, 2])

PARALLAX_ZERO_POINT_MAS = -0.017
ASTROMETRIC_ERR_LOG_SCATTER = 0.1
PMRA_ERR_FACTOR, PMDEC_ERR_FACTOR = 1.15, 1.05
PM_ERR_LOG_SCATTER = 0.05
RV_G_LIMIT = 14.0
RUWE_LOG_SIGMA = 0.1
RUWE_TAIL_FRACTION = 0.05

_HEALPIX_NSIDE = 4096  # level 12, as used in Gaia source_id
_SOURCE_ID_SHIFT = 2**35

#: Gaia DR3 column name -> (numpy dtype, astropy unit or None, description)
GAIA_COLUMNS: dict[str, tuple[str, u.UnitBase | None, str]] = {
    "source_id": ("int64", None, "Unique source identifier (HEALPix level-12 index * 2**35 + number)"),
    "ra": ("float64", u.deg, "Right ascension (ICRS)"),
    "dec": ("float64", u.deg, "Declination (ICRS)"),
    "parallax": ("float64", u.mas, "Parallax"),
    "parallax_error": ("float32", u.mas, "Standard error of parallax"),
    "parallax_over_error": ("float32", None, "Parallax divided by its standard error"),
    "pmra": ("float64", u.mas / u.yr, "Proper motion in right ascension direction (pmra*cos(dec))"),
    "pmra_error": ("float32", u.mas / u.yr, "Standard error of proper motion in right ascension"),
    "pmdec": ("float64", u.mas / u.yr, "Proper motion in declination direction"),
    "pmdec_error": ("float32", u.mas / u.yr, "Standard error of proper motion in declination"),
    "radial_velocity": ("float32", u.km / u.s, "Radial velocity (NaN for G > 14)"),
    "radial_velocity_error": ("float32", u.km / u.s, "Radial velocity error"),
    "phot_g_mean_mag": ("float32", u.mag, "G-band mean magnitude"),
    "phot_bp_mean_mag": ("float32", u.mag, "Integrated BP mean magnitude"),
    "phot_rp_mean_mag": ("float32", u.mag, "Integrated RP mean magnitude"),
    "bp_rp": ("float32", u.mag, "BP - RP colour"),
    "ruwe": ("float32", None, "Renormalised unit weight error"),
}

_FORMATS = {
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    "": "fits",
    ".csv": "ascii.csv",
    ".ecsv": "ascii.ecsv",
    ".vot": "votable",
    ".votable": "votable",
    ".xml": "votable",
    ".parquet": "parquet",
    ".pq": "parquet",
}


# --------------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------------
def cluster_name(index: int) -> str:
    """Name of the ``index``-th cluster (0-based): "Cluster A", ..., "Cluster Z", "Cluster AA", ..."""
    letters = ""
    n = index + 1
    while n > 0:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return f"Cluster {letters}"


def _cone_basis() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors (centre, e1, e2) of the cone in heliocentric Galactic Cartesian coordinates."""
    lon, lat = np.deg2rad(CONE_L_DEG), np.deg2rad(CONE_B_DEG)
    c = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    e1 = np.array([-np.sin(lon), np.cos(lon), 0.0])  # towards increasing l
    e2 = np.cross(c, e1)  # towards increasing b
    return c, e1, e2


def _cone_directions(rng: np.random.Generator, n: int, max_radius_deg: float) -> np.ndarray:
    """``n`` unit vectors uniform on the spherical cap of the given radius around the cone centre."""
    c, e1, e2 = _cone_basis()
    cos_max = np.cos(np.deg2rad(max_radius_deg))
    cos_t = rng.uniform(cos_max, 1.0, n)
    sin_t = np.sqrt(1.0 - cos_t**2)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    return (
        cos_t[:, None] * c[None, :]
        + (sin_t * np.cos(phi))[:, None] * e1[None, :]
        + (sin_t * np.sin(phi))[:, None] * e2[None, :]
    )


def _sample_kroupa(rng: np.random.Generator, n: int, m_max: float = IMF_M_MAX) -> np.ndarray:
    """Masses (Msun) from the two-segment Kroupa (2001) IMF truncated to [IMF_M_MIN, m_max]."""

    def integral(a: float, b: float, alpha: float) -> float:
        return (b ** (1.0 - alpha) - a ** (1.0 - alpha)) / (1.0 - alpha)

    # continuity at the break: k_high = k_low * m_break**(alpha_high - alpha_low)
    k_high = IMF_M_BREAK ** (IMF_ALPHA_HIGH - IMF_ALPHA_LOW)
    w_low = integral(IMF_M_MIN, IMF_M_BREAK, IMF_ALPHA_LOW)
    w_high = k_high * integral(IMF_M_BREAK, m_max, IMF_ALPHA_HIGH)
    pick_low = rng.random(n) < w_low / (w_low + w_high)
    uu = rng.random(n)

    def inverse(a: float, b: float, alpha: float, x: np.ndarray) -> np.ndarray:
        p = 1.0 - alpha
        return (a**p + x * (b**p - a**p)) ** (1.0 / p)

    return np.where(
        pick_low,
        inverse(IMF_M_MIN, IMF_M_BREAK, IMF_ALPHA_LOW, uu),
        inverse(IMF_M_BREAK, m_max, IMF_ALPHA_HIGH, uu),
    )


def _intrinsic_colour(mass: np.ndarray) -> np.ndarray:
    return _MASS_TO_COLOUR(np.log10(mass))


def _ms_locus(bp_rp0: np.ndarray) -> np.ndarray:
    """Main-sequence absolute G magnitude as a function of intrinsic BP-RP."""
    return np.polyval(MS_LOCUS_POLY, bp_rp0)


def turnoff_mass(log_age: float) -> float:
    """Main-sequence turn-off mass (Msun) at log10(age / yr): t_MS = 10 Gyr (M / Msun)**-2.5."""
    return float((10.0**log_age / MS_LIFETIME_SUN_YR) ** (-1.0 / MS_LIFETIME_SLOPE))


def _aged_photometry(mass: np.ndarray, log_age: float,
                     noise: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intrinsic (BP-RP)_0, M_G and visibility of cluster stars of ``mass`` at ``log_age``.

    Main sequence (M <= M_TO): the extended dwarf sequence, brightened by up to
    ``MS_BRIGHTENING_MAG`` * (M / M_TO)**4 towards the turn-off; giants (M_TO < M <= 1.1 M_TO): red clump
    / giant branch; heavier stars are remnants and not in the catalog.  ``noise`` (mag) is the photometric
    scatter already drawn for the star.
    """
    m_to = turnoff_mass(log_age)
    ratio = mass / m_to
    log_m = np.log10(mass)
    colour = _EXT_MASS_TO_COLOUR(log_m)
    abs_g = _EXT_MASS_TO_MG(log_m) - MS_BRIGHTENING_MAG * np.minimum(ratio, 1.0) ** 4 + noise
    giant = (ratio > 1.0) & (ratio <= GIANT_MASS_WINDOW)
    giant_mg = RED_CLUMP_MG - 3.75 * np.log10(max(m_to / 2.0, 1.0))  # massive giants are brighter
    colour = np.where(giant, RED_CLUMP_BPRP + 2.0 * noise, colour)
    abs_g = np.where(giant, giant_mg + 2.0 * noise, abs_g)
    return colour, abs_g, ratio <= GIANT_MASS_WINDOW


def _g_minus_rp(bp_rp: np.ndarray) -> np.ndarray:
    return 0.65 * bp_rp - 0.08 * bp_rp**2


def _sigma_g(g: np.ndarray) -> np.ndarray:
    return 0.002 + 0.003 * 10.0 ** (0.4 * (g - G_LIMIT))


def _sigma_bprp(g: np.ndarray) -> np.ndarray:
    return 0.003 + 0.017 * 10.0 ** (0.4 * (g - G_LIMIT))


def parallax_error_model(g: np.ndarray) -> np.ndarray:
    """Gaia DR3-like parallax standard error in mas as a function of G (no per-star scatter)."""
    z = 10.0 ** (0.4 * (np.maximum(g, 13.0) - 15.0))
    return 0.8 * np.sqrt(40.0 + 800.0 * z + 30.0 * z**2) / 1000.0


def _sigma_rv(g: np.ndarray) -> np.ndarray:
    return 0.15 + 5.0 * 10.0 ** (0.4 * (g - RV_G_LIMIT))


def _galactocentric(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Galactocentric X, Y, R, Z (pc) of heliocentric Galactic Cartesian positions (Sun at X = -R0)."""
    big_x = xyz[:, 0] - R0_PC
    big_y = xyz[:, 1]
    return big_x, big_y, np.hypot(big_x, big_y), xyz[:, 2] + Z_SUN_PC


def _disc_velocities(rng: np.random.Generator, xyz: np.ndarray) -> np.ndarray:
    """Heliocentric (U, V, W) km/s of disc stars at positions ``xyz`` (rotation + velocity ellipsoid)."""
    n = len(xyz)
    big_x, big_y, big_r, _ = _galactocentric(xyz)
    r_in = np.stack([-big_x / big_r, -big_y / big_r], axis=1)  # towards the Galactic centre
    t_rot = np.stack([big_y / big_r, -big_x / big_r], axis=1)  # direction of rotation
    su, sv, sw = SIGMA_UVW_KMS
    v_u = rng.normal(0.0, su, n)
    v_v = rng.normal(ASYM_DRIFT_KMS, sv, n)
    v_w = rng.normal(0.0, sw, n)
    plane = (THETA0_KMS + v_v)[:, None] * t_rot + v_u[:, None] * r_in
    vel = np.column_stack([plane, v_w])
    sun = np.array([SUN_PECULIAR_KMS[0], THETA0_KMS + SUN_PECULIAR_KMS[1], SUN_PECULIAR_KMS[2]])
    return vel - sun[None, :]


def _observe_g(
    rng: np.random.Generator, abs_g: np.ndarray, dist_pc: np.ndarray, a_g: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """True and observed (noisy) apparent G."""
    g_true = abs_g + 5.0 * np.log10(dist_pc / 10.0) + a_g
    g_obs = g_true + rng.normal(0.0, 1.0, len(g_true)) * _sigma_g(g_true)
    return g_true, g_obs


def _in_window(g_obs: np.ndarray) -> np.ndarray:
    return (g_obs < G_LIMIT) & (g_obs > G_BRIGHT)


# --------------------------------------------------------------------------------------------------------
# Populations
# --------------------------------------------------------------------------------------------------------
def _field_stars(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Draw ``n`` field stars that pass the magnitude window (batched rejection sampling)."""
    parts: list[dict[str, np.ndarray]] = []
    have = 0
    rho_bound = np.exp(D_MAX_PC / H_R_PC)  # R >= R0 - D_MAX; |z|-term <= 1
    batch = max(8 * n, 1024)
    while have < n:
        d = D_MAX_PC * rng.random(batch) ** (1.0 / 3.0)
        xyz = _cone_directions(rng, batch, CONE_RADIUS_DEG) * d[:, None]
        _, _, big_r, big_z = _galactocentric(xyz)
        rho = np.exp(-(big_r - R0_PC) / H_R_PC - np.abs(big_z) / H_Z_PC)
        keep = rng.random(batch) * rho_bound < rho
        mass = _sample_kroupa(rng, batch)
        bp_rp0 = _intrinsic_colour(mass)
        abs_g = _ms_locus(bp_rp0) + rng.normal(0.0, FIELD_MG_SCATTER, batch)
        ext = np.exp(rng.normal(-0.5 * EXTINCTION_LOG_SCATTER**2, EXTINCTION_LOG_SCATTER, batch))
        a_g = EXTINCTION_MAG_PER_KPC * d / 1000.0 * ext
        g_true, g_obs = _observe_g(rng, abs_g, np.maximum(d, 1e-3), a_g)
        keep &= _in_window(g_obs)
        idx = np.flatnonzero(keep)[: n - have]
        parts.append(
            {
                "xyz": xyz[idx],
                "dist": d[idx],
                "g_true": g_true[idx],
                "g_obs": g_obs[idx],
                "bp_rp_true": bp_rp0[idx] + a_g[idx] / EXTINCTION_RATIO_G_EBR,
                "a_g": a_g[idx],
            }
        )
        have += len(idx)
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out["vel"] = _disc_velocities(rng, out["xyz"])
    return out


def _cluster_sizes(rng: np.random.Generator, n_members: int, n_clusters: int) -> np.ndarray:
    """Split ``n_members`` among clusters: a floor each plus log-uniform weights (largest remainder)."""
    floor = min(CLUSTER_MIN_MEMBERS, n_members // (2 * n_clusters))
    rest = n_members - floor * n_clusters
    weights = 10.0 ** rng.uniform(0.0, 1.0, n_clusters)
    share = rest * weights / weights.sum()
    sizes = np.floor(share).astype(np.int64)
    leftover = rest - int(sizes.sum())
    order = np.argsort(-(share - sizes), kind="stable")
    sizes[order[:leftover]] += 1
    return sizes + floor


def _cluster_centres(rng: np.random.Generator, n_clusters: int) -> np.ndarray:
    """Unit vectors of cluster centres inside 80% of the cone radius, >= CLUSTER_MIN_SEP_DEG apart."""
    cos_sep = np.cos(np.deg2rad(CLUSTER_MIN_SEP_DEG))
    chosen: list[np.ndarray] = []
    for _ in range(n_clusters):
        cand = _cone_directions(rng, 1, 0.8 * CONE_RADIUS_DEG)[0]
        for _attempt in range(200):  # the cap holds far more than 200 such clusters; give up gracefully
            if all(float(cand @ other) < cos_sep for other in chosen):
                break
            cand = _cone_directions(rng, 1, 0.8 * CONE_RADIUS_DEG)[0]
        chosen.append(cand)
    return np.array(chosen).reshape(n_clusters, 3)


def _plummer_offsets(rng: np.random.Generator, n: int, a_pc: float) -> np.ndarray:
    """3-D offsets (pc) from a Plummer (1911) sphere of scale radius ``a_pc``, truncated at 10 a."""
    trunc = CLUSTER_PLUMMER_TRUNC
    m_max = trunc**3 / (1.0 + trunc**2) ** 1.5  # enclosed mass fraction at the truncation radius
    m = rng.uniform(1e-10, m_max, n)
    r = a_pc / np.sqrt(m ** (-2.0 / 3.0) - 1.0)
    cos_t = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    sin_t = np.sqrt(1.0 - cos_t**2)
    return r[:, None] * np.column_stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t])


def _clusters(
    rng: np.random.Generator, n_members: int, n_clusters: int,
    log_age_range: tuple[float, float] | None = None,
) -> tuple[dict[str, np.ndarray], list[dict[str, float | int | str]]]:
    """Members of all clusters (after the magnitude cut) and the per-cluster parameters.

    ``log_age_range`` (optional): draw one log10(age / yr) per cluster and use the age-dependent
    sequence of :func:`_aged_photometry` (``None``: the zero-age main sequence, the default output).
    """
    sizes = _cluster_sizes(rng, n_members, n_clusters)
    centres_dir = _cluster_centres(rng, n_clusters)
    d_c = rng.uniform(*CLUSTER_D_RANGE_PC, n_clusters)
    a_c = rng.uniform(*CLUSTER_A_RANGE_PC, n_clusters)
    sig_c = rng.uniform(*CLUSTER_SIGMA_RANGE_KMS, n_clusters)
    ext_c = np.exp(rng.normal(-0.5 * EXTINCTION_LOG_SCATTER**2, EXTINCTION_LOG_SCATTER, n_clusters))
    ag_c = EXTINCTION_MAG_PER_KPC * d_c / 1000.0 * ext_c
    centres = centres_dir * d_c[:, None]
    bulk = _disc_velocities(rng, centres)
    ages = rng.uniform(float(log_age_range[0]), float(log_age_range[1]), n_clusters) \
        if log_age_range is not None else None
    m_max = AGED_IMF_M_MAX if ages is not None else IMF_M_MAX

    parts: list[dict[str, np.ndarray]] = []
    params: list[dict[str, float | int | str]] = []
    for k in range(n_clusters):
        name = cluster_name(k)
        need = int(sizes[k])
        got: list[dict[str, np.ndarray]] = []
        have = 0
        drawn = 0
        batch = max(4 * need, 256)
        while have < need:
            offs = _plummer_offsets(rng, batch, float(a_c[k]))
            xyz = centres[k][None, :] + offs
            d = np.linalg.norm(xyz, axis=1)
            mass = _sample_kroupa(rng, batch, m_max)
            if ages is None:
                bp_rp0 = _intrinsic_colour(mass)
                abs_g = _ms_locus(bp_rp0) + rng.normal(0.0, CLUSTER_MG_SCATTER, batch)
                visible = np.ones(batch, dtype=bool)
            else:
                noise = rng.normal(0.0, CLUSTER_MG_SCATTER, batch)
                bp_rp0, abs_g, visible = _aged_photometry(mass, float(ages[k]), noise)
            binary = rng.random(batch) < BINARY_FRACTION
            abs_g = abs_g - np.where(binary, rng.uniform(0.0, BINARY_MAX_BOOST, batch), 0.0)
            a_g = np.maximum(ag_c[k] + rng.normal(0.0, CLUSTER_DIFF_EXTINCTION, batch), 0.0)
            g_true, g_obs = _observe_g(rng, abs_g, d, a_g)
            keep = _in_window(g_obs) & visible
            idx = np.flatnonzero(keep)[: need - have]
            drawn += batch
            got.append(
                {
                    "xyz": xyz[idx],
                    "dist": d[idx],
                    "g_true": g_true[idx],
                    "g_obs": g_obs[idx],
                    "bp_rp_true": bp_rp0[idx] + a_g[idx] / EXTINCTION_RATIO_G_EBR,
                    "a_g": a_g[idx],
                }
            )
            have += len(idx)
        memb = {key: np.concatenate([p[key] for p in got]) for key in got[0]}
        memb["vel"] = bulk[k][None, :] + rng.normal(0.0, sig_c[k], (need, 3))
        memb["label"] = np.full(need, name)
        if ages is not None:
            memb["log_age"] = np.full(need, float(ages[k]))
        parts.append(memb)
        params.append(
            {
                "name": name,
                "n_members": need,
                "distance_pc": float(d_c[k]),
                "plummer_a_pc": float(a_c[k]),
                "sigma_int_kms": float(sig_c[k]),
                "a_g": float(ag_c[k]),
                **({"log_age": float(ages[k])} if ages is not None else {}),
            }
        )
        logger.debug("%s: %d members at %.0f pc (a=%.2f pc)", name, need, d_c[k], a_c[k])
    if not parts:
        return {}, params
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    return out, params


# --------------------------------------------------------------------------------------------------------
# Gaia-like identifiers
# --------------------------------------------------------------------------------------------------------
def _spread_bits(v: np.ndarray) -> np.ndarray:
    """Interleave zeros between the bits of 16-bit integers (Morton / z-order)."""
    v = v.astype(np.int64)
    v = (v | (v << 8)) & 0x00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F
    v = (v | (v << 2)) & 0x33333333
    v = (v | (v << 1)) & 0x55555555
    return v


def healpix_nest_index(ra_deg: np.ndarray, dec_deg: np.ndarray, nside: int = _HEALPIX_NSIDE) -> np.ndarray:
    """HEALPix NESTED pixel index (Gorski et al. 2005) of ICRS positions; level 12 (nside 4096) by default.

    ``source_id // 2**35`` of a Gaia source is this index at level 12.
    """
    ra = np.asarray(ra_deg, dtype=np.float64)
    dec = np.asarray(dec_deg, dtype=np.float64)
    z = np.sin(np.deg2rad(dec))
    za = np.abs(z)
    tt = np.mod(np.deg2rad(ra), 2.0 * np.pi) * (2.0 / np.pi)
    tt = np.where(tt >= 4.0, 0.0, tt)
    face = np.empty(ra.shape, dtype=np.int64)
    ix = np.empty(ra.shape, dtype=np.int64)
    iy = np.empty(ra.shape, dtype=np.int64)
    mask = nside - 1

    eq = za <= 2.0 / 3.0
    t1 = nside * (0.5 + tt[eq])
    t2 = nside * z[eq] * 0.75
    jp = (t1 - t2).astype(np.int64)
    jm = (t1 + t2).astype(np.int64)
    ifp = jp // nside
    ifm = jm // nside
    face[eq] = np.where(ifp == ifm, ifp | 4, np.where(ifp < ifm, ifp, ifm + 8))
    ix[eq] = jm & mask
    iy[eq] = nside - (jp & mask) - 1

    po = ~eq
    ntt = np.minimum(tt[po].astype(np.int64), 3)
    tp = tt[po] - ntt
    tmp = nside * np.sqrt(3.0 * (1.0 - za[po]))
    jp = np.minimum((tp * tmp).astype(np.int64), nside - 1)
    jm = np.minimum(((1.0 - tp) * tmp).astype(np.int64), nside - 1)
    north = z[po] >= 0
    face[po] = np.where(north, ntt, ntt + 8)
    ix[po] = np.where(north, nside - jm - 1, jp)
    iy[po] = np.where(north, nside - jp - 1, jm)

    return face * nside * nside + _spread_bits(ix) + (_spread_bits(iy) << 1)


def _source_ids(rng: np.random.Generator, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Unique Gaia-like source ids: HEALPix level-12 index * 2**35 + a random 35-bit number."""
    hpx = healpix_nest_index(ra, dec)
    ids = hpx * _SOURCE_ID_SHIFT + rng.integers(0, _SOURCE_ID_SHIFT, len(ra), dtype=np.int64)
    for _ in range(100):  # collisions are astronomically rare; redraw the colliding ones
        _, first, counts = np.unique(ids, return_index=True, return_counts=True)
        dup = np.ones(len(ids), dtype=bool)
        dup[first] = False
        if not dup.any():
            break
        redraw = rng.integers(0, _SOURCE_ID_SHIFT, int(dup.sum()), dtype=np.int64)
        ids[dup] = hpx[dup] * _SOURCE_ID_SHIFT + redraw
    if len(np.unique(ids)) != len(ids) or (len(ids) and ids.min() <= 2**53):
        raise RuntimeError("internal error: source_id not unique or not above 2**53")
    return ids


# --------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------
def _validate(n_stars: int, seed: int, n_clusters: int, cluster_fraction: float) -> int:
    if isinstance(n_stars, bool) or not isinstance(n_stars, (int, np.integer)) or n_stars < 1:
        raise ConfigError(f"n_stars must be a positive integer, got {n_stars!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) or n_clusters < 0:
        raise ConfigError(f"n_clusters must be a non-negative integer, got {n_clusters!r}")
    if not 0.0 <= float(cluster_fraction) < 1.0:
        raise ConfigError(f"cluster_fraction must be in [0, 1), got {cluster_fraction!r}")
    n_members = int(round(float(cluster_fraction) * n_stars)) if n_clusters > 0 else 0
    if n_clusters > 0 and 0 < n_members < n_clusters:
        raise ConfigError(
            f"cluster_fraction * n_stars = {n_members} members cannot fill {n_clusters} clusters; "
            "raise n_stars or cluster_fraction, or lower n_clusters"
        )
    return n_members


def make_gaia_table(
    n_stars: int = 20_000, seed: int = 0, n_clusters: int = 6, cluster_fraction: float = 0.08,
    log_age_range: tuple[float, float] | None = None,
) -> Table:
    """Build the synthetic Gaia-DR3-like catalog (``n_stars`` rows) as an astropy Table.

    ``log_age_range=(lo, hi)`` gives every cluster an age log10(t / yr) ~ U(lo, hi) and an
    age-dependent colour-magnitude sequence (see "Cluster ages" in the module docstring) and adds the
    truth column ``true_log_age`` (NaN for field stars).  ``None`` (default) leaves the output exactly
    as without the argument.

    See the module docstring for the columns and the physical model.  ``table.meta["clusters"]`` is not
    set (it would not survive every format); the cluster parameters are logged at DEBUG level.
    """
    t0 = time.perf_counter()
    n_members = _validate(n_stars, seed, n_clusters, cluster_fraction)
    n_field = int(n_stars) - n_members
    rng = np.random.default_rng(int(seed))

    if log_age_range is not None and not (AGE_LOG_MIN <= float(log_age_range[0]) <= float(log_age_range[1])
                                          <= AGE_LOG_MAX):
        raise ConfigError(f"log_age_range={tuple(log_age_range)} must be ordered and inside "
                          f"[{AGE_LOG_MIN}, {AGE_LOG_MAX}] (log10 years)")
    clusters, params = (_clusters(rng, n_members, int(n_clusters), log_age_range) if n_members
                        else ({}, []))
    field = _field_stars(rng, n_field) if n_field else {}
    field_labels = np.full(n_field, "field")
    pops = [p for p in (field, clusters) if p]
    cat = {key: np.concatenate([p[key] for p in pops]) for key in ("xyz", "vel", "dist", "g_true", "g_obs",
                                                                    "bp_rp_true", "a_g")}
    labels = np.concatenate([field_labels] + ([clusters["label"]] if clusters else []))
    n = len(labels)

    # ---- one coordinate transformation for all stars: Galactic Cartesian -> ICRS -------------------------
    xyz, vel = cat["xyz"], cat["vel"]
    gal = SkyCoord(
        u=xyz[:, 0] * u.pc, v=xyz[:, 1] * u.pc, w=xyz[:, 2] * u.pc,
        U=vel[:, 0] * u.km / u.s, V=vel[:, 1] * u.km / u.s, W=vel[:, 2] * u.km / u.s,
        frame="galactic", representation_type="cartesian", differential_type="cartesian",
    )  # fmt: skip
    icrs = gal.icrs
    ra = icrs.ra.to_value(u.deg)
    dec = icrs.dec.to_value(u.deg)
    pmra_true = icrs.pm_ra_cosdec.to_value(u.mas / u.yr)
    pmdec_true = icrs.pm_dec.to_value(u.mas / u.yr)
    rv_true = icrs.radial_velocity.to_value(u.km / u.s)
    plx_true = 1000.0 / cat["dist"]

    # ---- RUWE and astrometric errors ---------------------------------------------------------------------
    g_obs = cat["g_obs"]
    tail = rng.random(n) < RUWE_TAIL_FRACTION
    ruwe = np.where(tail, 1.4 * np.exp(rng.exponential(0.5, n)), np.exp(rng.normal(0.0, RUWE_LOG_SIGMA, n)))
    err_scale = np.exp(rng.normal(0.0, ASTROMETRIC_ERR_LOG_SCATTER, n)) * np.where(tail, ruwe, 1.0)
    sig_plx = parallax_error_model(g_obs) * err_scale
    sig_pmra = PMRA_ERR_FACTOR * sig_plx * np.exp(rng.normal(0.0, PM_ERR_LOG_SCATTER, n))
    sig_pmdec = PMDEC_ERR_FACTOR * sig_plx * np.exp(rng.normal(0.0, PM_ERR_LOG_SCATTER, n))
    parallax = plx_true + PARALLAX_ZERO_POINT_MAS + rng.normal(0.0, 1.0, n) * sig_plx
    pmra = pmra_true + rng.normal(0.0, 1.0, n) * sig_pmra
    pmdec = pmdec_true + rng.normal(0.0, 1.0, n) * sig_pmdec

    # ---- radial velocities (bright stars only) ----------------------------------------------------------
    has_rv = g_obs <= RV_G_LIMIT
    sig_rv = _sigma_rv(g_obs)
    rv_noisy = rv_true + rng.normal(0.0, 1.0, n) * sig_rv
    rv = np.where(has_rv, rv_noisy, np.nan)
    rv_err = np.where(has_rv, sig_rv, np.nan)

    # ---- BP / RP photometry consistent with G and BP-RP -------------------------------------------------
    rp_true = cat["g_true"] - _g_minus_rp(cat["bp_rp_true"])
    bp_true = rp_true + cat["bp_rp_true"]
    sig_br = _sigma_bprp(cat["g_true"])
    bp = (bp_true + rng.normal(0.0, 1.0, n) * sig_br).astype(np.float32)
    rp = (rp_true + rng.normal(0.0, 1.0, n) * sig_br).astype(np.float32)

    source_id = _source_ids(rng, ra, dec)

    sig_plx32 = sig_plx.astype(np.float32)
    columns = {
        "source_id": source_id,
        "ra": ra,
        "dec": dec,
        "parallax": parallax,
        "parallax_error": sig_plx32,
        "parallax_over_error": (parallax / sig_plx32).astype(np.float32),
        "pmra": pmra,
        "pmra_error": sig_pmra,
        "pmdec": pmdec,
        "pmdec_error": sig_pmdec,
        "radial_velocity": rv,
        "radial_velocity_error": rv_err,
        "phot_g_mean_mag": g_obs,
        "phot_bp_mean_mag": bp,
        "phot_rp_mean_mag": rp,
        "bp_rp": bp - rp,
        "ruwe": ruwe,
    }
    order = np.argsort(source_id, kind="stable")
    table = Table()
    for name, (dtype, unit, desc) in GAIA_COLUMNS.items():
        table[name] = np.asarray(columns[name], dtype=dtype)[order]
        table[name].unit = unit
        table[name].description = desc
    table["cluster_label"] = labels[order]
    table["cluster_label"].description = 'Population label: "field" or the open-cluster name'
    table["true_distance_pc"] = cat["dist"][order]
    table["true_distance_pc"].unit = u.pc
    table["true_distance_pc"].description = "True heliocentric distance (synthetic truth, not in Gaia)"
    table["true_a_g"] = cat["a_g"][order].astype(np.float32)
    table["true_a_g"].unit = u.mag
    table["true_a_g"].description = "True G-band extinction (synthetic truth, not in Gaia)"
    if log_age_range is not None:
        ages = np.full(n, np.nan)
        if clusters:
            ages[n_field:] = clusters["log_age"]
        table["true_log_age"] = ages[order]
        table["true_log_age"].description = "True cluster log10(age / yr) (synthetic truth; NaN: field)"
        table.meta["AGELO"], table.meta["AGEHI"] = float(log_age_range[0]), float(log_age_range[1])

    table.meta.update(
        {
            "ORIGIN": "astrolab synthetic Gaia DR3-like catalog",
            "SEED": int(seed),
            "NCLUSTER": int(n_clusters),
            "CLFRAC": float(cluster_fraction),
            "GLIMIT": G_LIMIT,
            "CONE_L": CONE_L_DEG,
            "CONE_B": CONE_B_DEG,
            "CONE_RAD": CONE_RADIUS_DEG,
        }
    )
    logger.info(
        "synthetic Gaia catalog: %d stars (%d field, %d in %d clusters: %s), seed %d, %.2f s",
        n, n_field, n_members, len(params),
        ", ".join(f"{p['name']}={p['n_members']}" for p in params), seed, time.perf_counter() - t0,
    )  # fmt: skip
    return table


def _format_for(path: pathlib.Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".gz" and path.name.lower().endswith((".fits.gz", ".fit.gz", ".fts.gz")):
        return "fits"
    if suffix not in _FORMATS:
        supported = ", ".join(sorted(s for s in _FORMATS if s))
        raise ConfigError(f"cannot write a catalog with suffix {suffix!r} ({path}); use one of: {supported}")
    return _FORMATS[suffix]


def generate_gaia_catalog(
    path: str | os.PathLike,
    n_stars: int = 20_000,
    seed: int = 0,
    n_clusters: int = 6,
    cluster_fraction: float = 0.08,
    log_age_range: tuple[float, float] | None = None,
) -> pathlib.Path:
    """Write the catalog to `path` (format from suffix: .fits default; also .csv, .ecsv, .vot/.xml, .parquet
    via astropy Table.write / format='parquet') and return the path. Overwrites atomically (write to a temp
    file in the same folder then os.replace)."""
    path = pathlib.Path(path)
    fmt = _format_for(path)
    table = make_gaia_table(
        n_stars=n_stars, seed=seed, n_clusters=n_clusters, cluster_fraction=cluster_fraction,
        log_age_range=log_age_range,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.name.lower().endswith(".gz") else path.suffix
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp = pathlib.Path(tmp_name)
    try:
        table.write(tmp, format=fmt, overwrite=True)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    logger.info("wrote %d-row synthetic Gaia catalog to %s (%s)", len(table), path, fmt)
    return path
