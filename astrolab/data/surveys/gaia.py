"""Gaia schema (DR3 ``gaia_source`` names; DR2 files have the same names for these columns).

Canonical columns and units::

    source_id                      int64 (kept exact end to end)
    ra, dec                        deg (ICRS)
    parallax, parallax_error       mas
    pmra, pmra_error               mas/yr (pmra includes cos(dec))
    pmdec, pmdec_error             mas/yr
    radial_velocity                km/s (NaN for most stars)
    phot_g_mean_mag, phot_bp_mean_mag, phot_rp_mean_mag, bp_rp   mag
    ruwe                           dimensionless

Other spellings (VizieR's ``RA_ICRS``, ``Plx``, ``pmRA``, ``Gmag``, …) are mapped with
``dataset.columns.<canonical>=<file column>``. Columns with units in the file (FITS, VOTable, ECSV) are
converted to the canonical units.

Quality cuts (configurable): ``parallax > 0``, ``parallax_over_error >= min_parallax_over_error``,
``ruwe <= max_ruwe`` (skipped with a warning when the file has no ``ruwe``). Rows with NaN in a required
feature column are dropped and counted in the log.

Features, in this fixed order (saved with the checkpoint):

    x_pc, y_pc, z_pc     Galactic Cartesian position of the star relative to the Sun (astropy;
                         distance = 1/parallax, adequate after the parallax_over_error cut)
    v_ra_kms, v_dec_kms  tangential velocity components 4.74047 · μ / ϖ (km/s)
    bp_rp                colour (mag)
    abs_g_mag            absolute G magnitude G + 5 log10(ϖ / 100 mas) (no extinction correction)

Graph spaces: ``astrometry`` (ra·cos(dec), dec, parallax, pmra, pmdec, each standardised),
``xyz_pm`` (x, y, z, pmra, pmdec standardised), ``features`` (all standardised features),
``xyz`` (Galactic position in pc, unscaled).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from astrolab.data.surveys.common import column_in_unit, resolve_columns
from astrolab.errors import DataError

log = logging.getLogger(__name__)

CANONICAL_UNITS: dict[str, str | None] = {
    "source_id": None,
    "ra": "deg",
    "dec": "deg",
    "parallax": "mas",
    "parallax_error": "mas",
    "pmra": "mas / yr",
    "pmra_error": "mas / yr",
    "pmdec": "mas / yr",
    "pmdec_error": "mas / yr",
    "radial_velocity": "km / s",
    "phot_g_mean_mag": "mag",
    "phot_bp_mean_mag": "mag",
    "phot_rp_mean_mag": "mag",
    "bp_rp": "mag",
    "ruwe": None,
}
CANONICAL = tuple(CANONICAL_UNITS)
#: spellings of the canonical columns in other services (VizieR I/355, ESA archive exports, TAP
#: aliases); used to suggest the ``dataset.columns.X=`` fix, never applied silently
ALIASES: dict[str, tuple[str, ...]] = {
    "source_id": ("Source", "SOURCE_ID", "source"),
    "ra": ("RA_ICRS", "RAdeg", "RA", "ra_icrs", "RAJ2000"),
    "dec": ("DE_ICRS", "DEdeg", "DEC", "Dec", "de_icrs", "DEJ2000"),
    "parallax": ("Plx", "plx", "PARALLAX"),
    "parallax_error": ("e_Plx", "plx_error", "PARALLAX_ERROR"),
    "pmra": ("pmRA", "PMRA", "pm_ra"),
    "pmra_error": ("e_pmRA", "PMRA_ERROR"),
    "pmdec": ("pmDE", "PMDEC", "pm_dec"),
    "pmdec_error": ("e_pmDE", "PMDEC_ERROR"),
    "radial_velocity": ("RV", "HRV", "rv", "dr2_radial_velocity"),
    "phot_g_mean_mag": ("Gmag", "GMAG", "gmag", "phot_g_mag"),
    "phot_bp_mean_mag": ("BPmag", "BPMAG"),
    "phot_rp_mean_mag": ("RPmag", "RPMAG"),
    "bp_rp": ("BP-RP", "BP_RP", "bprp"),
    "ruwe": ("RUWE",),
}
REQUIRED = ("ra", "dec", "parallax", "pmra", "pmdec", "phot_g_mean_mag")
FEATURES = ("x_pc", "y_pc", "z_pc", "v_ra_kms", "v_dec_kms", "bp_rp", "abs_g_mag")
FEATURE_INPUTS = ("ra", "dec", "parallax", "pmra", "pmdec", "phot_g_mean_mag", "bp_rp",
                  "phot_bp_mean_mag", "phot_rp_mean_mag")
GRAPH_SPACES = ("astrometry", "xyz_pm", "features", "xyz")

#: km/s per (mas/yr × kpc): 1 AU / yr in km/s
K_TANGENTIAL = 4.740470463533348


@dataclass
class GaiaTable:
    """The rows that passed the cuts, with features and the raw columns the graph spaces need."""

    ids: np.ndarray                 # int64 source_id (or row number when absent)
    features: np.ndarray            # [N, len(FEATURES)] float64
    feature_names: list[str]
    columns: dict[str, np.ndarray]  # canonical columns (float64) after cuts
    rows: np.ndarray                # row numbers in the input file
    file_columns: dict[str, str]    # canonical -> file column actually used
    n_input: int
    cut_counts: dict[str, int]


def _features(cols: dict[str, np.ndarray]) -> np.ndarray:
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    plx = cols["parallax"]
    dist = (plx * u.mas).to(u.pc, equivalencies=u.parallax())
    coord = SkyCoord(ra=cols["ra"] * u.deg, dec=cols["dec"] * u.deg, distance=dist, frame="icrs")
    xyz = coord.galactic.cartesian
    v_ra = (cols["pmra"] * u.mas / u.yr * dist).to_value(u.km / u.s, equivalencies=u.dimensionless_angles())
    v_dec = (cols["pmdec"] * u.mas / u.yr * dist).to_value(u.km / u.s, equivalencies=u.dimensionless_angles())
    abs_g = cols["phot_g_mean_mag"] + 5.0 * np.log10(plx / 100.0)
    return np.column_stack([xyz.x.to_value(u.pc), xyz.y.to_value(u.pc), xyz.z.to_value(u.pc),
                            v_ra, v_dec, cols["bp_rp"], abs_g])


def apply_gaia_schema(catalog, columns: Mapping[str, str | None] | None = None,
                      min_parallax_over_error: float | None = 5.0, max_ruwe: float | None = 1.4,
                      extra_required: Sequence[str] = (), keep_rows: np.ndarray | None = None) -> GaiaTable:
    """Validate, cut and featurise a Gaia catalog.

    Args:
        catalog: a :class:`~astrolab.data.io.Catalog`.
        columns: ``{canonical: file column}`` overrides.
        min_parallax_over_error / max_ruwe: quality cuts (``None`` disables).
        extra_required: more file columns that must exist (e.g. the target).
        keep_rows: rows that must be valid for a row to be kept in addition to the cuts
            (``None``: all).
    """
    found = resolve_columns(catalog, CANONICAL, REQUIRED, columns, ALIASES)
    for extra in extra_required:
        if extra not in catalog:
            resolve_columns(catalog, [extra], [extra], None)
    n = len(catalog)
    cols: dict[str, np.ndarray] = {}
    for name, file_col in found.items():
        if name == "source_id":
            continue
        cols[name] = column_in_unit(catalog, file_col, CANONICAL_UNITS[name])
    if "bp_rp" not in cols:
        if "phot_bp_mean_mag" in cols and "phot_rp_mean_mag" in cols:
            cols["bp_rp"] = cols["phot_bp_mean_mag"] - cols["phot_rp_mean_mag"]
        else:
            resolve_columns(catalog, ["bp_rp"], ["bp_rp"], columns, ALIASES)
    if "source_id" in found:
        ids = catalog.data[found["source_id"]].numpy()
        if ids.dtype.kind != "i":
            raise DataError(f"source_id column '{found['source_id']}' is not an integer column; "
                            "ids must stay exact (int64)")
    else:
        log.warning("no source_id column; predictions will be keyed by row number")
        ids = np.arange(n, dtype=np.int64)

    keep = np.ones(n, dtype=bool) if keep_rows is None else keep_rows.copy()
    counts: dict[str, int] = {}
    needed = ["ra", "dec", "parallax", "pmra", "pmdec", "phot_g_mean_mag", "bp_rp"]
    finite = np.all([np.isfinite(cols[c]) for c in needed], axis=0)
    counts["nan_in_required_feature"] = int((keep & ~finite).sum())
    keep &= finite
    with np.errstate(invalid="ignore", divide="ignore"):
        positive = cols["parallax"] > 0
        counts["parallax<=0"] = int((keep & ~positive).sum())
        keep &= positive
        if min_parallax_over_error is not None:
            if "parallax_error" in cols:
                poe = cols["parallax"] / cols["parallax_error"]
                ok = poe >= min_parallax_over_error
                counts[f"parallax_over_error<{min_parallax_over_error}"] = int((keep & ~ok).sum())
                keep &= ok
            else:
                log.warning("no parallax_error column: parallax_over_error cut skipped")
        if max_ruwe is not None:
            if "ruwe" in cols:
                ok = ~(cols["ruwe"] > max_ruwe)
                counts[f"ruwe>{max_ruwe}"] = int((keep & ~ok).sum())
                keep &= ok
            else:
                log.warning("no ruwe column: ruwe cut skipped")
    for reason, count in counts.items():
        if count:
            log.info("dropped %d rows: %s", count, reason)
    if not keep.any():
        raise DataError(f"{catalog.path.name}: no rows left after quality cuts {counts}; relax "
                        "dataset.min_parallax_over_error / dataset.max_ruwe")
    rows = np.flatnonzero(keep)
    kept = {k: v[rows] for k, v in cols.items()}
    return GaiaTable(ids=ids[rows].astype(np.int64), features=_features(kept), feature_names=list(FEATURES),
                     columns=kept, rows=rows, file_columns=found, n_input=n, cut_counts=counts)


def graph_space(table: GaiaTable, space: str) -> np.ndarray:
    """Coordinates the kNN graph is built in (see module docstring); the data module standardises
    them with training-split statistics, except ``xyz`` which stays in parsec."""
    c = table.columns
    if space == "xyz":
        return table.features[:, :3]
    if space == "features":
        return table.features
    if space == "astrometry":
        ra0 = np.rad2deg(np.angle(np.mean(np.exp(1j * np.deg2rad(c["ra"])))))
        dra = (c["ra"] - ra0 + 180.0) % 360.0 - 180.0
        return np.column_stack([dra * np.cos(np.deg2rad(c["dec"])), c["dec"], c["parallax"], c["pmra"], c["pmdec"]])
    if space == "xyz_pm":
        return np.column_stack([table.features[:, :3], c["pmra"], c["pmdec"]])
    from astrolab.errors import ConfigError

    raise ConfigError(f"unknown dataset.graph.space '{space}'; use one of {', '.join(GRAPH_SPACES)}")


def describe_columns() -> dict[str, Any]:
    return {"canonical": CANONICAL_UNITS, "required": REQUIRED, "features": FEATURES}
