"""The one catalog reader: five formats, exact 64-bit ids, units, NaN, duplicate names, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.table import MaskedColumn, Table

from astrolab.data.io import read_catalog, write_table
from astrolab.errors import CatalogNotFoundError, DataError

BIG_IDS = np.array([6050008653912337280, 6049910247619654656, 2**62 + 1], dtype=np.int64)


def _table() -> Table:
    t = Table()
    t["source_id"] = BIG_IDS
    t["parallax"] = np.array([6.72, 7.66, np.nan]) * u.mas
    t["phot_g_mean_mag"] = np.array([17.7, 12.1, 15.0], dtype=np.float32) * u.mag
    t["label"] = ["field", "Cluster A", "field"]
    return t


@pytest.mark.parametrize("suffix", [".csv", ".ecsv", ".fits", ".vot", ".parquet"])
def test_round_trip_every_format(tmp_path, suffix):
    path = write_table(_table(), tmp_path / f"cat{suffix}")
    cat = read_catalog(path)
    assert len(cat) == 3
    ids = cat.data["source_id"]
    assert str(ids.dtype) == "torch.int64"
    assert ids.tolist() == BIG_IDS.tolist()  # every digit survives (float64 would not)
    plx = cat.data["parallax"].numpy()
    np.testing.assert_allclose(plx[:2], [6.72, 7.66])
    assert np.isnan(plx[2])
    assert list(cat.column("label")) == ["field", "Cluster A", "field"]
    assert cat.names == ["source_id", "parallax", "phot_g_mean_mag", "label"]
    if suffix != ".csv":  # plain CSV carries no units
        assert u.Unit(cat.units["parallax"]) == u.mas
    assert len(cat.checksum) == 64


def test_masked_values_become_nan(tmp_path):
    t = Table()
    t["x"] = MaskedColumn([1.0, 2.0, 3.0], mask=[False, True, False])
    cat = read_catalog(write_table(t, tmp_path / "m.fits"))
    x = cat.data["x"].numpy()
    assert np.isnan(x[1]) and x[0] == 1.0 and x[2] == 3.0


def test_duplicate_csv_columns_are_renamed(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("ra,dec,flag,flag\n1.0,2.0,0,1\n3.0,4.0,1,0\n")
    cat = read_catalog(path)
    assert cat.names == ["ra", "dec", "flag", "flag_2"]
    assert cat.data["flag_2"].tolist() == [1, 0]


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(CatalogNotFoundError, match="dataset.path"):
        read_catalog(tmp_path / "nope.csv")
    bad = tmp_path / "cat.xlsx"
    bad.write_text("x")
    with pytest.raises(DataError, match="unknown catalog format"):
        read_catalog(bad)
