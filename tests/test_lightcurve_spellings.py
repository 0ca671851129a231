"""Light-curve exports read without mapping (ZTF, OGLE/ASAS-SN, Gaia DR3 epoch photometry) and a given split
column kept by the light-curve data module (fixtures generated here)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from astrolab.data.datamodules import LightCurveDataModule
from astrolab.data.io import write_table
from astrolab.data.surveys.lightcurves import read_epochs


def _epochs(n_obj=4, n_ep=30, seed=0):
    rng = np.random.default_rng(seed)
    oid = np.repeat(np.arange(n_obj, dtype=np.int64) + 1_000_000_000_000, n_ep)
    t = np.tile(np.sort(rng.uniform(58000, 59000, n_ep)), n_obj)
    mag = 17 + 0.3 * np.sin(t) + rng.normal(0, 0.02, len(t))
    err = rng.uniform(0.01, 0.05, len(t))
    return oid, t, mag, err


def test_ztf_alert_export(tmp_path, caplog):
    oid, t, mag, err = _epochs()
    tab = Table({"oid": oid, "mjd": t, "magpsf": mag, "sigmapsf": err, "fid": np.tile([1, 2], len(t) // 2)})
    with caplog.at_level(logging.INFO):
        ep = read_epochs(write_table(tab, tmp_path / "ztf.csv"), min_epochs=5)
    assert "recognised ZTF column spellings: oid→object_id, magpsf→mag, sigmapsf→mag_err, fid→band" in caplog.text
    assert sorted(set(ep.band.tolist())) == ["g", "r"] and len(np.unique(ep.object_id)) == 4
    assert np.allclose(np.sort(ep.mag), np.sort(mag))


def test_ogle_and_asassn_exports(tmp_path, caplog):
    oid, t, mag, err = _epochs(n_obj=1)
    ogle = tmp_path / "OGLE-LMC-CEP-0001.dat"  # OGLE: no header, HJD mag err
    ogle.write_text("".join(f"{a:.5f} {b:.3f} {c:.3f}\n" for a, b, c in zip(t, mag, err)))
    folder = tmp_path / "ogle"
    folder.mkdir()
    (folder / "1001.dat").write_text(ogle.read_text())
    ep = read_epochs(folder, min_epochs=5)
    assert ep.object_id.tolist() == [1001] * len(t) and np.allclose(ep.mag_err, err, atol=1e-3)
    asassn = Table({"HJD": t, "UT Date": ["2020-01-01"] * len(t), "Camera": ["bd"] * len(t), "mag": mag,
                    "mag_err": err, "Filter": ["V"] * len(t)})
    folder2 = tmp_path / "asassn"
    folder2.mkdir()
    write_table(asassn, folder2 / "2002.csv")
    with caplog.at_level(logging.INFO):
        ep = read_epochs(folder2, min_epochs=5)
    assert "recognised OGLE/ASAS-SN column spellings: HJD→mjd" in caplog.text
    assert set(ep.band.tolist()) == {"V"} and np.allclose(ep.mjd, np.sort(t))


def test_gaia_dr3_epoch_photometry(tmp_path):
    oid, t, mag, err = _epochs(n_obj=2)
    snr = 2.5 / np.log(10) / err
    rejected = np.zeros(len(t), bool)
    rejected[:3] = True
    tab = Table({"solution_id": np.full(len(t), 375316653866487564), "source_id": oid,
                 "transit_id": np.arange(len(t), dtype=np.int64), "band": np.tile(["G", "BP", "RP"], 20),
                 "time": t - 55197.5, "mag": mag, "flux": 10 ** (-0.4 * (mag - 25)),
                 "flux_error": 10 ** (-0.4 * (mag - 25)) / snr, "flux_over_error": snr,
                 "rejected_by_photometry": np.zeros(len(t), bool), "rejected_by_variability": rejected})
    ep = read_epochs(write_table(tab, tmp_path / "EPOCH_PHOTOMETRY.vot"), min_epochs=5)
    assert len(ep.mag) == len(t) - 3 and ep.info["cuts"]["non_finite"] == 3
    assert set(ep.band.tolist()) == {"G", "BP", "RP"}
    assert np.allclose(np.sort(ep.mag_err), np.sort(err[3:]), rtol=1e-6)


def _sample(tmp_path: Path, n_obj=40):
    rng = np.random.default_rng(1)
    rows = []
    for k in range(n_obj):
        n = 40
        t = np.sort(rng.uniform(0, 300, n))
        period = 0.5 if k % 2 else 3.0
        amp = 0.5 if k % 2 else 0.1
        m = 15 + amp * np.sin(2 * np.pi * t / period) + rng.normal(0, 0.01, n)
        rows += [(k + 1, a, b, 0.01, "g") for a, b in zip(t, m)]
    ep = Table(rows=rows, names=["oid", "mjd", "magpsf", "sigmapsf", "filter"])
    obj = Table({"oid": np.arange(1, n_obj + 1), "class": np.where(np.arange(n_obj) % 2, "RR", "CEP"),
                 "set": np.where(np.arange(n_obj) < 10, "test", "train")})
    return write_table(ep, tmp_path / "ep.csv"), write_table(obj, tmp_path / "obj.csv")


def test_light_curve_split_column_is_kept(tmp_path):
    ep, obj = _sample(tmp_path)
    dm = LightCurveDataModule(path=str(ep), objects=str(obj), target="class", use_cache=False, min_good_epochs=5,
                              split={"column": "set", "val": 0.2, "seed": 0})
    dm.setup()
    objs = dm.td["objects"]
    test_ids = objs["id"][objs["test_mask"]].tolist()
    assert sorted(test_ids) == list(range(1, 11))
    assert int(objs["val_mask"].sum()) > 0 and not (objs["val_mask"] & objs["test_mask"]).any()
    with pytest.raises(Exception, match="dataset.split.column=nope"):
        LightCurveDataModule(path=str(ep), objects=str(obj), target="class", use_cache=False, min_good_epochs=5,
                             split={"column": "nope"}).setup()
