"""Gaia schema: column mapping, units, cuts, NaN policy, physically right features, label checks."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.table import Table

from astrolab.data.datamodules import GaiaDataModule
from astrolab.data.io import read_catalog, write_table
from astrolab.data.surveys.gaia import FEATURES, apply_gaia_schema
from astrolab.errors import ConfigError, DataError, MissingColumnError


def _stars(n=6, names=None) -> Table:
    names = names or {}
    t = Table()
    # Galactic centre direction (l=0, b=0) in ICRS
    t[names.get("source_id", "source_id")] = np.arange(n, dtype=np.int64) + 4_000_000_000_000_000_000
    t[names.get("ra", "ra")] = np.full(n, 266.40498829) * u.deg
    t[names.get("dec", "dec")] = np.full(n, -28.93617776) * u.deg
    t[names.get("parallax", "parallax")] = np.full(n, 1.0) * u.mas
    t[names.get("parallax_error", "parallax_error")] = np.full(n, 0.02) * u.mas
    t[names.get("pmra", "pmra")] = np.full(n, 10.0) * u.mas / u.yr
    t[names.get("pmdec", "pmdec")] = np.zeros(n) * u.mas / u.yr
    t[names.get("phot_g_mean_mag", "phot_g_mean_mag")] = np.full(n, 15.0) * u.mag
    t[names.get("bp_rp", "bp_rp")] = np.full(n, 1.0) * u.mag
    t[names.get("ruwe", "ruwe")] = np.ones(n)
    return t


def test_features_are_physical(tmp_path):
    cat = read_catalog(write_table(_stars(), tmp_path / "s.fits"))
    table = apply_gaia_schema(cat)
    x, y, z, v_ra, v_dec, col, abs_g = table.features[0]
    assert table.feature_names == list(FEATURES)
    assert x == pytest.approx(1000.0, rel=1e-4)  # 1 mas -> 1 kpc towards the Galactic centre
    assert abs(y) < 0.5 and abs(z) < 0.5
    assert v_ra == pytest.approx(47.4047, rel=1e-4)  # 4.74047 km/s per (mas/yr * kpc) * 10 mas/yr
    assert v_dec == pytest.approx(0.0, abs=1e-9)
    assert abs_g == pytest.approx(15.0 - 10.0)  # m - 5 log10(d / 10 pc)
    assert table.ids.dtype == np.int64 and table.ids[0] == 4_000_000_000_000_000_000


def test_vizier_names_are_recognised_and_units_convert(tmp_path, caplog):
    viz = {"ra": "RA_ICRS", "dec": "DE_ICRS", "parallax": "Plx", "pmra": "pmRA", "pmdec": "pmDE",
           "phot_g_mean_mag": "Gmag", "bp_rp": "BP-RP", "source_id": "Source", "parallax_error": "e_Plx"}
    t = _stars(names=viz)
    t["Plx"] = (t["Plx"].to(u.arcsec))  # file stores arcsec: converted back to mas
    cat = read_catalog(write_table(t, tmp_path / "v.vot"))
    with caplog.at_level("INFO"):
        table = apply_gaia_schema(cat)
    assert "recognised VizieR/CDS column spellings" in caplog.text and "RA_ICRS→ra" in caplog.text
    assert table.file_columns["parallax"] == "Plx" and table.file_columns["source_id"] == "Source"
    assert table.features[0, 0] == pytest.approx(1000.0, rel=1e-4)
    assert table.feature_names == list(FEATURES)


def test_explicit_mapping_wins_over_a_recognised_spelling(tmp_path):
    t = _stars(names={"pmra": "pmRA"})
    t["my_pmra"] = np.full(len(t), 20.0)
    cat = read_catalog(write_table(t, tmp_path / "m.ecsv"))
    assert apply_gaia_schema(cat).file_columns["pmra"] == "pmRA"
    table = apply_gaia_schema(cat, columns={"pmra": "my_pmra"})
    assert table.file_columns["pmra"] == "my_pmra"
    assert table.features[0, 3] == pytest.approx(2 * 47.4047, rel=1e-4)
    with pytest.raises(MissingColumnError, match="dataset.columns.pmra="):
        apply_gaia_schema(cat, columns={"pmra": "nope"})


def test_nan_rows_dropped_and_cuts_counted(tmp_path):
    t = _stars(6)
    t["parallax"][1] = np.nan
    t["ruwe"][2] = 2.0
    t["parallax_error"][3] = 0.5  # parallax_over_error = 2
    t["parallax"][4] = -0.1
    cat = read_catalog(write_table(t, tmp_path / "c.ecsv"))
    table = apply_gaia_schema(cat, min_parallax_over_error=5, max_ruwe=1.4)
    assert table.rows.tolist() == [0, 5]
    assert table.cut_counts["nan_in_required_feature"] == 1
    assert table.cut_counts["ruwe>1.4"] == 1
    assert table.cut_counts["parallax<=0"] == 1
    assert table.cut_counts["parallax_over_error<5"] == 1


def _dm(path, tmp_path, **kw):
    return GaiaDataModule(path=str(path), cache_dir=str(tmp_path / "cache"), **kw)


def test_label_column_cannot_be_a_feature(tmp_path):
    path = write_table(_stars(), tmp_path / "s.fits")
    with pytest.raises(ConfigError, match="independent"):
        _dm(path, tmp_path, target="bp_rp").setup()
    viz = write_table(_stars(names={"bp_rp": "BP-RP"}), tmp_path / "v.fits")
    with pytest.raises(ConfigError, match="dataset.target=BP-RP is also an input"):
        _dm(viz, tmp_path, target="BP-RP").setup()


def test_single_class_target_is_an_error(tmp_path):
    t = _stars(8)
    t["member"] = ["yes"] * 8
    path = write_table(t, tmp_path / "s.fits")
    with pytest.raises(DataError, match="at least two"):
        _dm(path, tmp_path, target="member").setup()


def test_generated_sample_module_keeps_ids_and_standardises_on_train(tmp_path):
    dm = GaiaDataModule(n_stars=2500, seed=3, cache_dir=str(tmp_path / "cache"))
    dm.setup()
    nodes = dm.graph["nodes"]
    x = nodes["x"][nodes["train_mask"]]
    assert x.mean(0).abs().max() < 1e-4 and (x.std(0) - 1).abs().max() < 1e-3
    assert nodes["id"].dtype.is_floating_point is False and int(nodes["id"].min()) > 2**53
    assert dm.class_names[-1] == "field" and len(dm.class_names) == 7
    assert "cluster_label" not in dm.feature_names
    # the second setup of an identical module is served from the cache
    dm2 = GaiaDataModule(n_stars=2500, seed=3, cache_dir=str(tmp_path / "cache"))
    dm2.setup()
    assert dm2.meta["cache"] == "hit" and dm.meta["cache"] == "built"
    assert (dm2.graph["edges", "index"] == dm.graph["edges", "index"]).all()
