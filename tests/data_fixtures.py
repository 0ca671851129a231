"""Small generated catalogs in the column spellings users bring (Gaia archive, VizieR/CDS, SkyServer), written
by the tests as CSV / FITS / VOTable; no real catalog is copied."""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.table import Table

#: Gaia canonical name -> the same column in each spelling the schema recognises without a mapping
GAIA_SPELLINGS: dict[str, dict[str, str]] = {
    "gaia_dr3": {},
    "gaia_archive_upper": {"source_id": "SOURCE_ID", "ra": "RA", "dec": "DEC", "parallax": "PARALLAX",
                           "parallax_error": "PARALLAX_ERROR", "pmra": "PMRA", "pmdec": "PMDEC",
                           "phot_g_mean_mag": "PHOT_G_MEAN_MAG", "bp_rp": "BP_RP", "ruwe": "RUWE"},
    "vizier": {"source_id": "Source", "ra": "RA_ICRS", "dec": "DE_ICRS", "parallax": "Plx",
               "parallax_error": "e_Plx", "pmra": "pmRA", "pmdec": "pmDE", "phot_g_mean_mag": "Gmag",
               "bp_rp": "BP-RP", "ruwe": "RUWE"},
}


def gaia_table(n: int = 120, spelling: str = "gaia_dr3", seed: int = 0, bp_rp: bool = True,
               g_mag: bool = True, units: bool = True) -> Table:
    """Two groups of stars (a co-moving cluster, label 1, in a field, label 0) with every quantity varied."""
    rng = np.random.default_rng(seed)
    names = GAIA_SPELLINGS[spelling]
    member = rng.random(n) < 0.4
    t = Table()

    def put(name, values, unit=None):
        col = names.get(name, name)
        t[col] = values * unit if (unit is not None and units) else values

    put("source_id", np.arange(n, dtype=np.int64) * 7919 + 4_000_000_000_000_000_000)
    put("ra", np.where(member, 247.0, 245.0) + rng.normal(0, np.where(member, 0.3, 2.0)), u.deg)
    put("dec", np.where(member, -24.0, -23.0) + rng.normal(0, np.where(member, 0.3, 2.0)), u.deg)
    put("parallax", np.where(member, 7.2, 5.0) + rng.normal(0, np.where(member, 0.2, 1.5), n).clip(-3.5, 3.5), u.mas)
    put("parallax_error", rng.uniform(0.02, 0.2, n), u.mas)
    put("pmra", np.where(member, -7.0, 2.0) + rng.normal(0, np.where(member, 0.5, 6.0)), u.mas / u.yr)
    put("pmdec", np.where(member, -25.0, -5.0) + rng.normal(0, np.where(member, 0.5, 6.0)), u.mas / u.yr)
    if g_mag:
        put("phot_g_mean_mag", rng.uniform(8, 19, n), u.mag)
    if bp_rp:
        put("bp_rp", rng.uniform(0.5, 3.5, n), u.mag)
    put("ruwe", rng.uniform(0.8, 1.3, n))
    t["member"] = member.astype(np.int64)
    t["prob"] = np.clip(np.where(member, 0.8, 0.2) + rng.normal(0, 0.15, n), 0, 1)
    return t


def sdss_shorthand_table(n: int = 600, seed: int = 0) -> Table:
    """The SkyServer shorthand export ``objid, ra, dec, u, g, r, i, z, run, ..., class, redshift, ...``:
    three classes with different colours (``z`` is the z-band magnitude here, ``redshift`` the redshift)."""
    rng = np.random.default_rng(seed)
    cls = rng.choice(["GALAXY", "QSO", "STAR"], n, p=[0.5, 0.2, 0.3])
    redshift = np.where(cls == "GALAXY", rng.uniform(0.02, 0.4, n),
                        np.where(cls == "QSO", rng.uniform(0.3, 3.0, n), rng.normal(0, 1e-4, n)))
    r = rng.uniform(15, 20, n)
    slope = np.where(cls == "GALAXY", 0.9, np.where(cls == "QSO", 0.1, 0.5)) + 0.5 * redshift
    t = Table()
    t["objid"] = np.arange(n, dtype=np.int64) + 1_237_645_876_861_272_065
    t["ra"] = rng.uniform(0, 360, n)
    t["dec"] = rng.uniform(-10, 60, n)
    for k, b in enumerate("ugriz"):
        t[b] = r + (2 - k) * slope + rng.normal(0, 0.05, n)
    for c in ("run", "rerun", "camcol", "field"):
        t[c] = rng.integers(1, 500, n)
    t["specobjid"] = np.arange(n, dtype=np.int64) + 299_489_677_444_933_632
    t["class"] = cls
    t["redshift"] = redshift
    for c in ("plate", "mjd", "fiberid"):
        t[c] = rng.integers(1, 5000, n)
    return t
