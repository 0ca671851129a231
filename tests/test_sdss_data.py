"""SDSS generator (physics sanity, determinism, real formats) and the SDSS data module."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from astrolab.data.io import read_catalog, write_table
from astrolab.data.synthetic import sdss as gen
from astrolab.errors import MissingColumnError


@pytest.fixture(scope="module")
def tables():
    return gen.make_sdss_tables(n_objects=500, seed=3, spectra_fraction=0.4)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sdss")
    return gen.generate_sdss_catalog(d / "query.csv", n_objects=300, seed=5, spectra_fraction=0.5)


def test_generator_is_deterministic():
    a, sa = gen.make_sdss_tables(120, seed=7, spectra_fraction=0.3)
    b, sb = gen.make_sdss_tables(120, seed=7, spectra_fraction=0.3)
    c, _ = gen.make_sdss_tables(120, seed=8, spectra_fraction=0.3)
    for name in a.colnames:
        assert np.array_equal(np.asarray(a[name]), np.asarray(b[name])), name
    assert np.array_equal(np.asarray(sa["flux"]), np.asarray(sb["flux"]))
    assert not np.array_equal(np.asarray(a["modelMag_r"]), np.asarray(c["modelMag_r"]))


def test_ab_magnitudes_of_flat_fnu_are_equal_in_every_band():
    wave = gen._PHOT_WAVE
    fnu = 3631e-23 * 10 ** (-0.4 * 18.0)
    flam = fnu * gen.C_AA / wave**2
    mags = gen.ab_magnitudes(wave, flam[None])
    assert np.allclose(mags, 18.0, atol=1e-3)


def test_colour_sanity(tables):
    t, _ = tables
    cls = np.asarray(t["class"])
    ug = np.asarray(t["modelMag_u"] - t["modelMag_g"])
    gr = np.asarray(t["modelMag_g"] - t["modelMag_r"])
    z = np.asarray(t["z"])
    red_gal = (cls == "GALAXY") & (z < 0.2) & (gr > np.median(gr[(cls == "GALAXY") & (z < 0.2)]))
    qso = (cls == "QSO") & (z < 2.2)  # below z ~ 2.2 Lyα is bluer than u: the UV excess
    assert np.median(ug[qso]) < np.median(ug[red_gal]) - 0.6
    # galaxies are extended (psf - model > 0), point sources are not
    conc = np.asarray(t["psfMag_r"] - t["modelMag_r"])
    assert np.median(conc[cls == "GALAXY"]) > 0.3
    assert abs(np.median(conc[cls == "STAR"])) < 0.05
    # errors grow with magnitude
    r, e = np.asarray(t["psfMag_r"]), np.asarray(t["psfMagErr_r"])
    assert np.median(e[r > 20]) > 2 * np.median(e[r < 17])
    assert set(np.unique(cls)) == {"STAR", "GALAXY", "QSO"}
    assert np.all(np.abs(z[cls == "STAR"]) < 1e-3) and z[cls == "QSO"].min() >= 0.3


def test_quasar_spectrum_shows_redshifted_broad_line(tables):
    t, s = tables
    ids = np.asarray(s["objid"])
    cls = dict(zip(np.asarray(t["objid"]).tolist(), np.asarray(t["class"]).tolist()))
    zz = dict(zip(np.asarray(t["objid"]).tolist(), np.asarray(t["z"]).tolist()))
    wave = gen.spectral_wavelength()
    checked = 0
    for i, oid in enumerate(ids.tolist()):
        z = zz[oid]
        if cls[oid] != "QSO" or not 0.5 < z < 2.0:
            continue
        line = 2798.0 * (1 + z)  # Mg II
        good = np.asarray(s["ivar"][i]) > 0
        f = np.asarray(s["flux"][i])
        near = good & (np.abs(wave - line) < 15)
        side = good & (np.abs(wave - line) > 150) & (np.abs(wave - line) < 300)
        if near.sum() < 5 or side.sum() < 20:
            continue
        assert np.median(f[near]) > np.median(f[side])
        checked += 1
    assert checked >= 3


def test_files_have_skyserver_columns_and_read_back(files):
    phot, spec = files
    cat = read_catalog(phot)
    for col in ("objid", "ra", "dec", "psfMag_u", "psfMagErr_z", "modelMag_i", "petroRad_r", "class", "z", "zErr"):
        assert col in cat, col
    assert cat.data["objid"].dtype == torch.int64 and int(cat.data["objid"].min()) > 2**53
    assert len(np.unique(cat.data["objid"].numpy())) == len(cat)
    s = read_catalog(spec, multidim=True)
    assert s.data["flux"].shape == (len(s), gen.NPIX) and s.data["flux"].dtype == torch.float32
    wave = gen.spectral_wavelength(int(s.meta["NPIX"]), float(s.meta["COEFF0"]), float(s.meta["COEFF1"]))
    assert abs(wave[0] - 3800) < 0.01 and 9190 < wave[-1] <= 9200
    bad = (s.data["and_mask"] != 0)
    assert bad.any() and torch.all(s.data["ivar"][bad] == 0)
    assert "flux" not in read_catalog(spec)  # default behaviour unchanged: array columns skipped


def test_prepare_spectra_masks_and_rebins():
    from astrolab.data.surveys.sdss import prepare_spectra

    flux = np.ones((2, 16), np.float32) * 5
    ivar = np.ones((2, 16), np.float32)
    mask = np.zeros((2, 16), np.int32)
    flux[0, 3] = 1e6
    ivar[0, 3] = 0
    mask[1, 0:4] = 1 << 18
    f, good = prepare_spectra(flux, ivar, mask, rebin=4)
    assert f.shape == (2, 4) and np.allclose(f[0], 1.0) and not good[1, 0] and good[1, 1:].all()


def test_datamodule_batches_and_features(files):
    from astrolab.data.datamodules import SDSSDataModule

    phot, _ = files
    dm = SDSSDataModule(path=str(phot), batch_size=64)
    dm.setup()
    assert not {"z", "zErr", "class"} & set(dm.feature_names)
    b = next(iter(dm.train_dataloader()))
    assert b["photometry", "features"].shape == (64, dm.num_features)
    assert b["spectrum", "flux"].shape[0] == 64 and b["spectrum", "mask"].dtype == torch.bool
    has = dm.data["has_spectrum"]
    assert 0.3 < has.float().mean() < 0.7
    assert not dm.data["spectrum", "mask"][~has].any()
    assert dm.describe()["spectra"]["n_with_spectrum"] == int(has.sum())
    assert dm.class_names == ["GALAXY", "QSO", "STAR"]


def test_plain_photometry_query_without_spectra_and_missing_values(files, tmp_path):
    from astropy.table import Table

    from astrolab.data.datamodules import SDSSDataModule

    t = Table.read(files[0], format="ascii.csv")
    t["psfMag_u"][:5] = -9999.0  # SkyServer's "no measurement"
    path = write_table(t, tmp_path / "my_query.csv")
    dm = SDSSDataModule(path=str(path), spectra=True, task_kind="regression")
    dm.setup()
    assert "spectrum" not in dm.data.keys() and not dm.data["has_spectrum"].any()
    assert dm.describe()["n_dropped_missing"] == 5 and dm.target == "z"
    dm2 = SDSSDataModule(path=str(path), spectra=False, classes=["GALAXY"], task_kind="regression")
    dm2.setup()
    assert int(dm2.data.batch_size[0]) == int((np.asarray(t["class"]) == "GALAXY").sum() -
                                               (np.asarray(t["class"][:5]) == "GALAXY").sum())
    t.rename_column("modelMag_r", "modelmag_r")  # another letter case is recognised without a mapping
    lower = SDSSDataModule(path=str(write_table(t, tmp_path / "lower.csv")), spectra=False)
    lower.setup()
    assert lower.describe()["file_columns"]["modelMag_r"] == "modelmag_r"
    assert lower.num_features == dm.num_features
    t.rename_column("modelmag_r", "r_model")
    t.rename_column("psfMag_r", "r_psf")
    bad = write_table(t, tmp_path / "renamed.csv")
    with pytest.raises(MissingColumnError, match="dataset.columns.modelMag_r="):
        SDSSDataModule(path=str(bad), spectra=False).setup()
    dm3 = SDSSDataModule(path=str(bad), spectra=False, columns={"modelMag_r": "r_model", "psfMag_r": "r_psf"})
    dm3.setup()
    assert dm3.num_features == dm.num_features
