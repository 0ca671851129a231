"""``astrolab data fetch``: query building, the provenance sidecar, and the one-line offline message (no
network in tests: the services are replaced)."""

from __future__ import annotations

import json
import urllib.error
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from astrolab.data import fetch as F
from astrolab.data.io import read_catalog
from astrolab.errors import ConfigError


def test_gaia_adql_cone_has_the_schema_columns():
    q = F.gaia_cone_adql(56.75, 24.1167, 1.5, where="parallax_over_error > 5", limit=1000)
    assert q.startswith("SELECT TOP 1000 source_id, ra, dec, parallax,")
    assert "FROM gaiadr3.gaia_source" in q
    assert "CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 56.75000000, 24.11670000, 1.50000000))" in q
    assert q.endswith("AND (parallax_over_error > 5)")
    for col in ("pmra", "pmdec", "phot_g_mean_mag", "bp_rp", "ruwe", "parallax_error"):
        assert f" {col}," in q or f", {col} " in q


def test_sdss_sql_and_ztf_url():
    q = F.sdss_cone_sql(180.0, 0.5, 3.0, limit=50)
    assert "dbo.fGetNearbyObjEq(180.00000000, 0.50000000, 3.000000)" in q and q.startswith("SELECT TOP 50 p.objid")
    assert all(f"p.psfMag_{b}" in q and f"p.modelMag_{b}" in q for b in "ugriz") and "s.class, s.z" in q
    url = F.ztf_lightcurve_url(10.0, -5.0, 36.0)
    params = parse_qs(urlparse(url).query)
    assert url.startswith(F.ZTF_LC_API)
    assert params["POS"] == ["CIRCLE 10.00000000 -5.00000000 0.01000000"] and params["BANDNAME"] == ["g,r"]


@pytest.mark.parametrize("ra, dec, radius, match", [(400, 0, 1, "--ra 400"), (10, -95, 1, "--dec -95"),
                                                    (10, 0, 0, "--radius 0")])
def test_bad_cones_name_the_option(ra, dec, radius, match):
    with pytest.raises(ConfigError, match=match):
        F.gaia_cone_adql(ra, dec, radius)


def test_fetch_writes_table_query_and_provenance(tmp_path, monkeypatch):
    from astropy.table import Table

    def fake_gaia(args):
        t = Table({"source_id": np.array([4295806720, 2**62 + 7], dtype=np.int64), "ra": [56.7, 56.8],
                   "dec": [24.1, 24.2]})
        return F.Fetched(t, "Gaia archive (ESA)", F.gaia_cone_adql(args.ra, args.dec, args.radius), F.GAIA_TAP)

    monkeypatch.setitem(F.SERVICES, "gaia", (fake_gaia, "the Gaia archive"))
    out = F.fetch_command(["gaia", "--ra", "56.75", "--dec", "24.12", "--radius", "0.5", "-o",
                           str(tmp_path / "cone.fits")])
    cat = read_catalog(out)
    assert len(cat) == 2 and int(np.asarray(cat.column("source_id"))[1]) == 2**62 + 7
    prov = json.loads((tmp_path / "cone.fits.provenance.json").read_text())
    assert prov["rows"] == 2 and prov["service"] == "Gaia archive (ESA)" and "CIRCLE('ICRS', 56.75" in prov["query"]
    assert prov["date"].endswith("+00:00")
    assert (tmp_path / "cone.fits.query.txt").read_text().startswith("SELECT ")
    with pytest.raises(ConfigError, match="exists; choose another -o/--output or add --overwrite"):
        F.fetch_command(["gaia", "--ra", "56.75", "--dec", "24.12", "--radius", "0.5", "-o", str(out)])


def test_offline_is_one_line_with_the_manual_route(tmp_path, monkeypatch):
    def offline(args):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setitem(F.SERVICES, "gaia", (offline, "the Gaia archive"))
    out = tmp_path / "cone.fits"
    with pytest.raises(F.ServiceUnavailableError) as err:
        F.fetch_command(["gaia", "--ra", "56.75", "--dec", "24.12", "--radius", "0.5", "-o", str(out)])
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("could not reach the Gaia archive")
    assert F.GAIA_WEB in msg and "dataset.path=" in msg
    assert "CONTAINS" in (tmp_path / "cone.fits.query.txt").read_text()  # the query to paste by hand
    assert not out.exists()


def test_cli_offline_message(monkeypatch, capsys):
    """Through astrolab.cli.main: exit code 3 and exactly one stderr line."""
    from astrolab import cli

    def offline(args):
        raise ConnectionError("Network is unreachable")

    monkeypatch.setitem(F.SERVICES, "ztf", (offline, "the IRSA ZTF light-curve service"))
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        rc = cli.main(["data", "fetch", "ztf", "--ra", "10", "--dec", "5", "--radius", "5", "-o", f"{d}/lc.csv"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 3 and len(err) == 1
    assert err[0].startswith("astrolab: error: could not reach the IRSA ZTF light-curve service")


def test_ztf_columns_follow_the_light_curve_schema():
    from astropy.table import Table

    t = Table({"oid": [1, 1, 2], "mjd": [1.0, 2.0, 3.0], "mag": [15.0, 15.1, 17.0], "magerr": [0.01, 0.02, 0.05],
               "filtercode": ["zg", "zr", "zg"], "catflags": [0, 0, 32768]})
    out = F.ztf_to_epochs(t)
    assert len(out) == 2 and list(out["band"]) == ["g", "r"] and list(out["object_id"]) == [1, 1]
    assert {"mag_err", "mjd", "mag"} <= set(out.colnames)
