"""Tests of the synthetic Gaia-DR3-like catalog generator (astrolab.data.synthetic.gaia_clusters)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from astrolab.data.synthetic.gaia_clusters import (
    CONE_B_DEG,
    CONE_L_DEG,
    CONE_RADIUS_DEG,
    G_LIMIT,
    PARALLAX_ZERO_POINT_MAS,
    cluster_name,
    generate_gaia_catalog,
    healpix_nest_index,
    make_gaia_table,
)
from astrolab.errors import ConfigError

N_SMALL = 3000
SEED = 1

EXPECTED_UNITS = {
    "ra": u.deg,
    "dec": u.deg,
    "parallax": u.mas,
    "parallax_error": u.mas,
    "pmra": u.mas / u.yr,
    "pmra_error": u.mas / u.yr,
    "pmdec": u.mas / u.yr,
    "pmdec_error": u.mas / u.yr,
    "radial_velocity": u.km / u.s,
    "radial_velocity_error": u.km / u.s,
    "phot_g_mean_mag": u.mag,
    "phot_bp_mean_mag": u.mag,
    "phot_rp_mean_mag": u.mag,
    "bp_rp": u.mag,
    "true_distance_pc": u.pc,
}
UNITLESS = ("source_id", "ruwe", "parallax_over_error")


@pytest.fixture(scope="module")
def table() -> Table:
    return make_gaia_table(n_stars=N_SMALL, seed=SEED)


def _labels(t: Table) -> np.ndarray:
    col = np.asarray(t["cluster_label"])
    if col.dtype.kind == "S":  # FITS string columns come back as bytes
        col = np.char.decode(col, "ascii")
    return np.char.strip(col.astype(str))


def _robust_std(x) -> float:
    x = np.asarray(x, dtype=float)
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def _as_float(col) -> np.ndarray:
    """Plain float array with masked entries (NaN read back from FITS/VOTable) as NaN."""
    return np.ma.filled(np.ma.asarray(col, dtype=float), np.nan)


def test_same_seed_identical_different_seed_differs(table):
    again = make_gaia_table(n_stars=N_SMALL, seed=SEED)
    assert again.colnames == table.colnames
    for name in table.colnames:
        a, b = np.asarray(table[name]), np.asarray(again[name])
        assert a.dtype == b.dtype, name
        assert a.tobytes() == b.tobytes(), f"column {name} differs between two runs with the same seed"
    other = make_gaia_table(n_stars=N_SMALL, seed=SEED + 1)
    assert not np.array_equal(np.asarray(other["source_id"]), np.asarray(table["source_id"]))
    assert not np.allclose(np.sort(other["parallax"]), np.sort(table["parallax"]))


def test_row_count_and_cluster_fraction(table):
    assert abs(len(table) - N_SMALL) <= 0.02 * N_SMALL
    labels = _labels(table)
    assert np.mean(labels != "field") == pytest.approx(0.08, abs=0.01)


def test_written_fits_columns_units_and_source_id(tmp_path, table):
    path = generate_gaia_catalog(tmp_path / "gaia.fits", n_stars=N_SMALL, seed=SEED)
    assert path == tmp_path / "gaia.fits" and path.is_file()
    back = Table.read(path)
    expected = set(EXPECTED_UNITS) | set(UNITLESS) | {"cluster_label"}
    assert expected <= set(back.colnames)
    for name, unit in EXPECTED_UNITS.items():
        assert back[name].unit is not None and u.Unit(back[name].unit) == unit, name
    for name in UNITLESS:
        assert back[name].unit in (None, u.dimensionless_unscaled), name

    ids = np.asarray(back["source_id"])
    assert ids.dtype.kind == "i" and ids.dtype.itemsize == 8
    assert len(np.unique(ids)) == len(ids)
    assert ids.min() > 2**53
    # a float64 cast would lose precision for these ids (so readers must keep them as int64)
    assert np.any(ids.astype(np.float64).astype(np.int64) != ids)
    assert np.array_equal(ids, np.asarray(table["source_id"]))
    # Gaia convention: source_id // 2**35 is the HEALPix level-12 nested index of the position
    assert np.array_equal(ids >> 35, healpix_nest_index(np.asarray(back["ra"]), np.asarray(back["dec"])))
    assert np.array_equal(_labels(back), _labels(table))


def test_healpix_index_matches_real_gaia_source_ids():
    # Proxima Centauri (Gaia DR3 5853498713190525696) and the first DR3 source (4295806720)
    ra = np.array([217.39232147200883, 44.99615537])
    dec = np.array([-62.67607511676666, 0.00561536])
    assert list(healpix_nest_index(ra, dec)) == [5853498713190525696 >> 35, 4295806720 >> 35]


def test_parallax_error_model(table):
    g = np.asarray(table["phot_g_mean_mag"])
    err = np.asarray(table["parallax_error"])
    near15 = (g > 14.5) & (g < 15.5)
    near19 = (g > 18.5) & (g < 19.5)
    assert near15.sum() > 50 and near19.sum() > 50
    med15, med19 = np.median(err[near15]), np.median(err[near19])
    assert 0.015 < med15 < 0.035
    assert 0.12 < med19 < 0.40
    assert med19 > 5 * med15
    pm_ratio = np.median(np.asarray(table["pmra_error"]) / err)
    assert 1.0 <= pm_ratio <= 1.2
    # observed = true + zero point + Gaussian noise with the stated error
    plx_true = 1000.0 / np.asarray(table["true_distance_pc"])
    pull = (np.asarray(table["parallax"]) - plx_true - PARALLAX_ZERO_POINT_MAS) / err
    assert abs(np.mean(pull)) < 0.1
    assert 0.9 < np.std(pull) < 1.1
    poe = np.asarray(table["parallax_over_error"])
    assert np.allclose(poe, np.asarray(table["parallax"]) / err, rtol=1e-5)


def test_cluster_proper_motion_dispersion_much_smaller_than_field(table):
    labels = _labels(table)
    field = labels == "field"
    field_std = min(_robust_std(table["pmra"][field]), _robust_std(table["pmdec"][field]))
    assert field_std > 2.0  # mas/yr: tens of km/s at a few hundred pc
    ratios = []
    for name in sorted(set(labels) - {"field"}):
        m = labels == name
        assert m.sum() >= 10
        cl_std = max(_robust_std(table["pmra"][m]), _robust_std(table["pmdec"][m]))
        ratios.append(cl_std / field_std)
    assert max(ratios) < 0.3
    assert np.median(ratios) < 0.15


def test_cluster_labels(table):
    labels = set(_labels(table))
    names = {cluster_name(i) for i in range(6)}
    assert names == {"Cluster A", "Cluster B", "Cluster C", "Cluster D", "Cluster E", "Cluster F"}
    assert labels == names | {"field"}
    three = _labels(make_gaia_table(n_stars=1000, seed=3, n_clusters=3, cluster_fraction=0.1))
    assert set(three) == {"field", "Cluster A", "Cluster B", "Cluster C"}
    assert cluster_name(26) == "Cluster AA"


def test_default_settings_cluster_sizes_vary_and_exceed_60():
    t = make_gaia_table()
    assert abs(len(t) - 20_000) <= 400
    labels = _labels(t)
    counts = [int(np.sum(labels == cluster_name(i))) for i in range(6)]
    assert min(counts) >= 60
    assert max(counts) >= 2 * min(counts)
    assert sum(counts) == pytest.approx(0.08 * 20_000, rel=0.02)


@pytest.mark.parametrize("suffix", [".fits", ".csv", ".ecsv", ".parquet", ".vot"])
def test_round_trip_formats_keep_source_id(tmp_path, table, suffix):
    path = generate_gaia_catalog(tmp_path / f"gaia{suffix}", n_stars=N_SMALL, seed=SEED)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"gaia{suffix}"]  # no temp file left behind
    back = Table.read(path)
    assert len(back) == len(table)
    ids = np.asarray(back["source_id"])
    assert ids.dtype == np.int64 or (ids.dtype.kind == "i" and ids.dtype.itemsize == 8)
    assert np.array_equal(ids.astype(np.int64), np.asarray(table["source_id"]))
    assert np.allclose(_as_float(back["parallax"]), np.asarray(table["parallax"]), rtol=1e-9)
    rv_back, rv = _as_float(back["radial_velocity"]), np.asarray(table["radial_velocity"], dtype=float)
    assert np.array_equal(np.isnan(rv_back), np.isnan(rv))
    assert np.array_equal(_labels(back), _labels(table))


def test_overwrite_replaces_file(tmp_path):
    path = tmp_path / "sub" / "gaia.ecsv"
    generate_gaia_catalog(path, n_stars=500, seed=5, n_clusters=2)
    first = Table.read(path)
    generate_gaia_catalog(path, n_stars=600, seed=6, n_clusters=2)
    second = Table.read(path)
    assert len(first) == 500 and len(second) == 600
    assert sorted(p.name for p in path.parent.iterdir()) == ["gaia.ecsv"]


def test_magnitude_limit_and_radial_velocities(table):
    g = np.asarray(table["phot_g_mean_mag"])
    assert g.max() < G_LIMIT
    assert g.max() > G_LIMIT - 0.5  # the limit is actually reached (the catalog is magnitude limited)
    bp, rp = np.asarray(table["phot_bp_mean_mag"]), np.asarray(table["phot_rp_mean_mag"])
    assert np.allclose(np.asarray(table["bp_rp"]), bp - rp, atol=1e-5)
    rv = np.asarray(table["radial_velocity"])
    rv_err = np.asarray(table["radial_velocity_error"])
    assert np.all(np.isnan(rv[g > 14.0])) and np.all(np.isnan(rv_err[g > 14.0]))
    assert np.all(np.isfinite(rv[g <= 14.0])) and np.all(rv_err[g <= 14.0] > 0)
    assert 0.05 < np.mean(np.isfinite(rv)) < 0.5
    ruwe = np.asarray(table["ruwe"])
    assert 0.95 < np.median(ruwe) < 1.05
    assert 0.02 < np.mean(ruwe > 1.4) < 0.09


def test_field_stars_inside_cone_and_distance_range(table):
    labels = _labels(table)
    field = labels == "field"
    sky = SkyCoord(ra=table["ra"][field], dec=table["dec"][field], frame="icrs")
    centre = SkyCoord(l=CONE_L_DEG * u.deg, b=CONE_B_DEG * u.deg, frame="galactic")
    assert sky.separation(centre).deg.max() <= CONE_RADIUS_DEG + 1e-6
    d = np.asarray(table["true_distance_pc"])
    assert d[field].max() <= 1500.0 and d.min() > 0
    for name in set(labels) - {"field"}:
        assert 140.0 < np.median(d[labels == name]) < 1010.0


def test_invalid_arguments(tmp_path):
    with pytest.raises(ConfigError):
        make_gaia_table(n_stars=0)
    with pytest.raises(ConfigError):
        make_gaia_table(n_stars=100, cluster_fraction=1.5)
    with pytest.raises(ConfigError):
        make_gaia_table(n_stars=20, n_clusters=6, cluster_fraction=0.08)
    with pytest.raises(ConfigError):
        generate_gaia_catalog(tmp_path / "gaia.txt", n_stars=100)
    assert not list(tmp_path.iterdir())
