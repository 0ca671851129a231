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


def _same_catalog(a, b):
    assert a.names == b.names and a.units == b.units and len(a) == len(b)
    assert sorted(a.data.keys()) == sorted(b.data.keys()) and sorted(a.strings) == sorted(b.strings)
    for k in a.data.keys():
        assert a.data[k].dtype == b.data[k].dtype, k
        np.testing.assert_array_equal(a.data[k].numpy(), b.data[k].numpy())
    for k in a.strings:
        assert a.strings[k].tolist() == b.strings[k].tolist(), k


@pytest.mark.parametrize("writer", ["astropy", "pyarrow"])
def test_parquet_reader_equals_astropys(tmp_path, writer):
    """read_catalog reads Parquet with pyarrow directly (text kept dictionary-coded, columns as views);
    the Catalog must be the one astropy's own Parquet reader gives: values, NaN for nulls, ids, units,
    text with empty strings for nulls — for files astropy wrote (units in table_meta_yaml) and for files
    another tool wrote (no astropy metadata, row groups, nulls)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch

    from astrolab.data.io import catalog_from_table

    path = tmp_path / "cat.parquet"
    rng = np.random.default_rng(1)
    n = 5000
    ids = BIG_IDS[0] + np.arange(n, dtype=np.int64)
    plx = rng.normal(5, 1, n)
    flag = rng.integers(0, 3, n)
    label = rng.choice(["field", "Cluster A", "Mel 22"], n)
    nulls = rng.random(n) < 0.1
    if writer == "astropy":
        t = Table()
        t["source_id"] = ids
        t["parallax"] = MaskedColumn(plx, mask=nulls, unit=u.mas)
        t["g"] = np.float32(plx + 10) * u.mag
        t["flag"] = MaskedColumn(flag, mask=nulls)
        t["label"] = MaskedColumn(label, mask=nulls)
        t.write(path)
    else:
        pq.write_table(pa.table({"source_id": ids, "parallax": pa.array(plx, mask=nulls),
                                 "g": np.float32(plx + 10), "flag": pa.array(flag, mask=nulls),
                                 "label": pa.array(label, mask=nulls)}), path, row_group_size=700)
    ours = read_catalog(path)
    if writer == "astropy":
        _same_catalog(ours, catalog_from_table(Table.read(path, format="parquet"), path, ours.checksum))
    # (astropy's reader cannot read the pyarrow-written file: null text makes it raise a TypeError)
    assert ours.data["source_id"].tolist() == ids.tolist() and ours.data["flag"].dtype == torch.float64
    np.testing.assert_array_equal(ours.data["parallax"].numpy()[~nulls], plx[~nulls])
    np.testing.assert_array_equal(ours.data["flag"].numpy()[~nulls], flag[~nulls])
    assert np.isnan(ours.data["flag"].numpy()[nulls]).all()  # a null integer is missing, not 0
    assert np.isnan(ours.data["parallax"].numpy()[nulls]).all()
    assert (ours.strings["label"][nulls] == "").all() and (ours.strings["label"][~nulls] == label[~nulls]).all()
    if writer == "astropy":
        assert u.Unit(ours.units["parallax"]) == u.mas and u.Unit(ours.units["g"]) == u.mag


def test_parquet_with_list_columns_goes_through_astropys_reader(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "spec.parquet"
    pq.write_table(pa.table({"id": [1, 2], "flux": [[1.0, 2.0], [3.0]], "z": [0.1, 0.2]}), path)
    cat = read_catalog(path)
    assert cat.data["z"].tolist() == [0.1, 0.2] and cat.names == ["id", "flux", "z"]
    assert "flux" not in cat  # variable-length spectra are not a per-row value: skipped, not a crash


def test_fits_text_outside_ascii_is_read_as_utf8(tmp_path):
    from astropy.io import fits

    path = tmp_path / "names.fits"
    col = fits.Column(name="name", format="6A", array=np.array(["Mel 22".encode(), "Ménde".encode()]))
    fits.BinTableHDU.from_columns([col, fits.Column(name="x", format="D", array=[1.0, 2.0])]).writeto(path)
    assert read_catalog(path).strings["name"].tolist() == ["Mel 22", "Ménde"]
