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

Known spellings are recognised without a mapping (:data:`SPELLINGS`: the Gaia archive's DR2/DR3 names in
any letter case, VizieR/CDS ``Source, RA_ICRS, DE_ICRS, Plx, e_Plx, pmRA, pmDE, Gmag, BPmag, RPmag, BP-RP,
RUWE, RV``); one log line says which. ``dataset.columns.<canonical>=<file column>`` always wins. The label
column (``dataset.target``) is never used as an input. Columns with units in the file (FITS, VOTable,
ECSV) are converted to the canonical units.

Required: ``ra, dec, parallax, pmra, pmdec`` (every feature needs them). Everything else is optional: a
missing (or all-NaN) input drops the features made from it with one log line (no ``bp_rp`` nor BP/RP
magnitudes: no colour; no G: no absolute magnitude); no ``source_id``: rows are keyed by row number. A
trained model's feature list (``features=``) is what evaluation and prediction then require.

Quality cuts (configurable): ``parallax > 0``, ``parallax_over_error >= min_parallax_over_error``,
``ruwe <= max_ruwe`` (skipped with a warning when the file has no ``ruwe``). Rows with NaN in an input of a
used feature are dropped and counted per column in the log; a cut that removes every row names the column
responsible and the setting to change.

Features, in this fixed order (saved with the checkpoint):

    x_pc, y_pc, z_pc     Galactic Cartesian position of the star relative to the Sun (astropy;
                         distance = 1/parallax, adequate after the parallax_over_error cut)
    v_ra_kms, v_dec_kms  tangential velocity components 4.74047 · μ / ϖ (km/s)
    bp_rp                colour (mag)                                   [optional]
    abs_g_mag            absolute G magnitude [optional] G + 5 log10(ϖ / 100 mas) (no extinction correction)

Graph spaces: ``astrometry`` (ra·cos(dec), dec, parallax, pmra, pmdec, each standardised),
``xyz_pm`` (x, y, z, pmra, pmdec standardised), ``features`` (all standardised features),
``xyz`` (Galactic position in pc, unscaled).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from astrolab.data.surveys.common import column_in_unit, recognise_columns, resolve_columns
from astrolab.errors import DataCheckError, DataError, MissingColumnError

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
#: known spellings of the canonical columns, recognised without a mapping (first match wins; the canonical
#: names themselves, in any letter case, come first: the Gaia archive's DR2/DR3 ``gaia_source`` names)
SPELLINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "Gaia archive DR2/DR3": {
        "radial_velocity": ("dr2_radial_velocity",),
        "phot_g_mean_mag": ("phot_g_mag",),
    },
    "VizieR/CDS": {
        "source_id": ("Source", "GaiaDR3", "GaiaDR2", "DR3Name", "DR2Name"),
        "ra": ("RA_ICRS", "RAdeg", "RA_ICRS_deg", "_RA"),
        "dec": ("DE_ICRS", "DEdeg", "DE_ICRS_deg", "_DE"),
        "parallax": ("Plx", "plx"),
        "parallax_error": ("e_Plx", "e_plx"),
        "pmra": ("pmRA", "pmRA*", "pmra*"),
        "pmra_error": ("e_pmRA",),
        "pmdec": ("pmDE", "pmDec"),
        "pmdec_error": ("e_pmDE",),
        "radial_velocity": ("RV", "HRV"),
        "phot_g_mean_mag": ("Gmag", "GMAG"),
        "phot_bp_mean_mag": ("BPmag", "BPMAG"),
        "phot_rp_mean_mag": ("RPmag", "RPMAG"),
        "bp_rp": ("BP-RP", "BP_RP", "bprp"),
        "ruwe": ("RUWE",),
    },
}
#: every known spelling per canonical column (error hints)
ALIASES: dict[str, tuple[str, ...]] = {
    k: tuple(a for sp in SPELLINGS.values() for a in sp.get(k, ())) for k in CANONICAL_UNITS}
REQUIRED = ("ra", "dec", "parallax", "pmra", "pmdec")
FEATURES = ("x_pc", "y_pc", "z_pc", "v_ra_kms", "v_dec_kms", "bp_rp", "abs_g_mag")
#: canonical inputs each feature needs (``bp_rp`` alternatively from the BP and RP magnitudes)
FEATURE_NEEDS: dict[str, tuple[str, ...]] = {
    "x_pc": ("ra", "dec", "parallax"), "y_pc": ("ra", "dec", "parallax"), "z_pc": ("ra", "dec", "parallax"),
    "v_ra_kms": ("pmra", "parallax"), "v_dec_kms": ("pmdec", "parallax"), "bp_rp": ("bp_rp",),
    "abs_g_mag": ("phot_g_mean_mag", "parallax"),
}
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
    #: why each input row that is not in ``rows`` was removed (row number → reason), for predictions
    removed: dict[int, str] = field(default_factory=dict)


def _features(cols: dict[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    plx = cols["parallax"]
    dist = (plx * u.mas).to(u.pc, equivalencies=u.parallax())
    coord = SkyCoord(ra=cols["ra"] * u.deg, dec=cols["dec"] * u.deg, distance=dist, frame="icrs")
    xyz = coord.galactic.cartesian
    v_ra = (cols["pmra"] * u.mas / u.yr * dist).to_value(u.km / u.s, equivalencies=u.dimensionless_angles())
    v_dec = (cols["pmdec"] * u.mas / u.yr * dist).to_value(u.km / u.s, equivalencies=u.dimensionless_angles())
    out = {"x_pc": xyz.x.to_value(u.pc), "y_pc": xyz.y.to_value(u.pc), "z_pc": xyz.z.to_value(u.pc),
           "v_ra_kms": v_ra, "v_dec_kms": v_dec}
    if "bp_rp" in names:
        out["bp_rp"] = cols["bp_rp"]
    if "abs_g_mag" in names:
        out["abs_g_mag"] = cols["phot_g_mean_mag"] + 5.0 * np.log10(plx / 100.0)
    return np.column_stack([out[n] for n in names])


#: how to undo each cut, for the message when a cut removes every row
_CUT_FIX = {
    "parallax<=0": "check that dataset.columns.parallax= names the parallax in mas",
    "parallax_over_error": "lower dataset.min_parallax_over_error= (null disables the cut)",
    "ruwe": "raise dataset.max_ruwe= (null disables the cut)",
}


def _no_rows_error(catalog, steps: list[tuple[str, str, int]], n: int) -> DataCheckError:
    """The cut that removed the most rows, named with its fix (``steps``: (reason, fix, removed))."""
    reason, fix, removed = max(steps, key=lambda s: s[2])
    others = "; ".join(f"{r}: {c}" for r, _, c in steps if c and r != reason)
    return DataCheckError(f"{catalog.path.name}: no row is left: {reason} removes {removed} of {n} rows"
                          f"{' (then ' + others + ')' if others else ''}; {fix}")


def apply_gaia_schema(catalog, columns: Mapping[str, str | None] | None = None,
                      min_parallax_over_error: float | None = 5.0, max_ruwe: float | None = 1.4,
                      extra_required: Sequence[str] = (), keep_rows: np.ndarray | None = None,
                      exclude: Sequence[str] = (), features: Sequence[str] | None = None,
                      present: Sequence[str] | None = None, allow_empty: bool = False) -> GaiaTable:
    """Validate, cut and featurise a Gaia catalog.

    Args:
        catalog: a :class:`~astrolab.data.io.Catalog`.
        columns: ``{canonical: file column}`` overrides.
        min_parallax_over_error / max_ruwe: quality cuts (``None`` disables).
        extra_required: more file columns that must exist (e.g. the target).
        keep_rows: rows that must be valid for a row to be kept in addition to the cuts
            (``None``: all).
        exclude: file columns never used as inputs (the label).
        features: the exact features to build (a trained model's list; their inputs become required);
            ``None``: every feature the file's columns allow.
        present: the canonical columns that hold values, decided over the whole catalog (a partitioned
            catalog is cut one partition at a time, and a column empty in one partition must not change
            that partition's features); ``None``: decided from these rows (a column all NaN is absent).
        allow_empty: return an empty table instead of refusing when the cuts leave no row (one partition).
    """
    required = set(REQUIRED)
    if features is not None:
        unknown = [f for f in features if f not in FEATURES]
        if unknown:
            raise DataError(f"unknown Gaia feature(s) {unknown} in the checkpoint; known: {', '.join(FEATURES)}")
        for f in features:
            if f != "bp_rp":
                required.update(FEATURE_NEEDS[f])
    found, _ = recognise_columns(catalog, CANONICAL, tuple(required), columns, SPELLINGS, exclude=exclude)
    for extra in extra_required:
        if extra not in catalog:
            resolve_columns(catalog, [extra], [extra], None)
    n = len(catalog)
    cols: dict[str, np.ndarray] = {}
    for name, file_col in found.items():
        if name == "source_id":
            continue
        values = column_in_unit(catalog, file_col, CANONICAL_UNITS[name])
        if present is not None:
            if name in present:
                cols[name] = values
            continue
        if not np.isfinite(values).any():
            if name in required:
                what = f"'{file_col}'" + (f" ({name})" if file_col != name else "")
                raise DataCheckError(f"{catalog.path.name}: column {what} is all NaN (or absurd, |v| > 1e30); map "
                                     f"a filled column with dataset.columns.{name}=")
            log.warning("column '%s' (%s) is all NaN: treated as absent", file_col, name)
            continue
        cols[name] = values
    if "bp_rp" not in cols and "phot_bp_mean_mag" in cols and "phot_rp_mean_mag" in cols:
        cols["bp_rp"] = cols["phot_bp_mean_mag"] - cols["phot_rp_mean_mag"]
    names = [f for f in FEATURES if all(c in cols for c in FEATURE_NEEDS[f])]
    available = list(names)
    if features is not None:
        missing = [f for f in features if f not in names]
        if missing:  # only bp_rp can get here: its inputs have two spellings
            raise MissingColumnError(f"{catalog.path.name}: the model was trained with feature(s) "
                                     f"{', '.join(missing)} but the file has no bp_rp (nor phot_bp_mean_mag and "
                                     "phot_rp_mean_mag); map it with dataset.columns.bp_rp=<column>")
        names = list(features)
    dropped = [f for f in FEATURES if f not in names]
    if dropped:
        why = {"bp_rp": "no bp_rp nor phot_bp_mean_mag + phot_rp_mean_mag",
               "abs_g_mag": "no phot_g_mean_mag"}
        log.warning("features %s left out (%s); features used: %s", ", ".join(dropped),
                    "; ".join("not among the trained model's features" if f in available else why[f]
                              for f in dropped), ", ".join(names))
    if "source_id" in found:
        ids = catalog.data[found["source_id"]].numpy() if found["source_id"] in catalog.data.keys() else None
        if ids is None or ids.dtype.kind != "i":
            raise DataError(f"source_id column '{found['source_id']}' is not an integer column; "
                            "ids must stay exact (int64): map an integer id with dataset.columns.source_id=")
    else:
        log.warning("no source_id column; predictions will be keyed by row number")
        ids = np.arange(n, dtype=np.int64)

    keep = np.ones(n, dtype=bool) if keep_rows is None else keep_rows.copy()
    why_removed = np.full(n, "", dtype=object)

    def _why(removed: np.ndarray, text: str) -> None:
        why_removed[removed & (why_removed == "")] = text

    counts: dict[str, int] = {}
    steps: list[tuple[str, str, int]] = []
    needed = sorted({c for f in names for c in FEATURE_NEEDS[f]}, key=list(CANONICAL).index)
    for c in needed:
        bad = keep & ~np.isfinite(cols[c])
        if bad.any():
            counts[f"nan_in_{c}"] = int(bad.sum())
            src = found.get(c, "phot_bp_mean_mag - phot_rp_mean_mag")
            fix = (f"map a filled column with dataset.columns.{c}=" if c in REQUIRED else
                   f"remove column '{src}' from the file to train without its features")
            steps.append((f"NaN in {src}", fix, int(bad.sum())))
            _why(bad, f"not scored: no value in {src}")
        keep &= ~bad
    counts["nan_in_required_feature"] = sum(v for k, v in counts.items() if k.startswith("nan_in_"))
    with np.errstate(invalid="ignore", divide="ignore"):
        positive = cols["parallax"] > 0
        counts["parallax<=0"] = int((keep & ~positive).sum())
        steps.append((f"{found['parallax']} <= 0", _CUT_FIX["parallax<=0"], counts["parallax<=0"]))
        _why(keep & ~positive, f"not scored: {found['parallax']} <= 0")
        keep &= positive
        if min_parallax_over_error is not None:
            if "parallax_error" in cols:
                poe = cols["parallax"] / cols["parallax_error"]
                ok = poe >= min_parallax_over_error
                key = f"parallax_over_error<{min_parallax_over_error}"
                counts[key] = int((keep & ~ok).sum())
                steps.append((f"{found['parallax']}/{found['parallax_error']} < {min_parallax_over_error}",
                              _CUT_FIX["parallax_over_error"], counts[key]))
                _why(keep & ~ok, f"not scored: parallax_over_error < {min_parallax_over_error} (quality cut)")
                keep &= ok
            else:
                log.warning("no parallax_error column: parallax_over_error cut skipped")
        if max_ruwe is not None:
            if "ruwe" in cols:
                ok = ~(cols["ruwe"] > max_ruwe)
                counts[f"ruwe>{max_ruwe}"] = int((keep & ~ok).sum())
                steps.append((f"{found['ruwe']} > {max_ruwe}", _CUT_FIX["ruwe"], counts[f"ruwe>{max_ruwe}"]))
                _why(keep & ~ok, f"not scored: {found['ruwe']} > {max_ruwe} (quality cut)")
                keep &= ok
            else:
                log.warning("no ruwe column: ruwe cut skipped")
    for reason, count in counts.items():
        if count and reason != "nan_in_required_feature":
            log.info("dropped %d rows: %s", count, reason)
    if not keep.any() and allow_empty:
        return GaiaTable(ids=np.empty(0, np.int64), features=np.empty((0, len(names))), feature_names=names,
                         columns={k: v[:0] for k, v in cols.items()}, rows=np.empty(0, np.int64),
                         file_columns=found, n_input=n, cut_counts=counts,
                         removed={int(r): str(why_removed[r]) for r in np.flatnonzero(~keep) if why_removed[r]})
    if not keep.any():
        if keep_rows is not None and not keep_rows.any():
            raise DataCheckError(f"{catalog.path.name}: no row is selected before the cuts")
        raise _no_rows_error(catalog, steps, int(n if keep_rows is None else keep_rows.sum()))
    rows = np.flatnonzero(keep)
    kept = {k: v[rows] for k, v in cols.items()}
    return GaiaTable(ids=ids[rows].astype(np.int64), features=_features(kept, names), feature_names=names,
                     columns=kept, rows=rows, file_columns=found, n_input=n, cut_counts=counts,
                     removed={int(r): str(why_removed[r]) for r in np.flatnonzero(~keep) if why_removed[r]})


def graph_space(table: GaiaTable, space: str) -> np.ndarray:
    """Coordinates the kNN graph is built in (see module docstring); the data module standardises
    them with training-split statistics, except ``xyz`` which stays in parsec."""
    c = table.columns
    if space == "xyz":
        return table.features[:, :3]  # x, y, z always come first
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
    return {"canonical": CANONICAL_UNITS, "required": REQUIRED, "features": FEATURES, "spellings": SPELLINGS}
