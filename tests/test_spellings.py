"""Catalogs as they come: known column spellings without mapping, optional features, a kept split column,
duplicates, probability labels and the checkpoint's feature list (fixtures generated in each spelling)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from astrolab.data.datamodules import GaiaDataModule, SDSSDataModule
from astrolab.data.io import read_catalog, write_table
from astrolab.data.surveys.gaia import FEATURES, apply_gaia_schema
from astrolab.errors import MissingColumnError
from tests.data_fixtures import GAIA_SPELLINGS, gaia_table, sdss_shorthand_table


def _gaia_dm(path, tmp_path, **kw):
    kw.setdefault("graph", {"k": 8})
    return GaiaDataModule(path=str(path), target=kw.pop("target", "member"), cache_dir=str(tmp_path / "cache"),
                          **kw)


@pytest.mark.parametrize("spelling,suffix", [("gaia_dr3", ".fits"), ("gaia_archive_upper", ".csv"),
                                             ("vizier", ".vot"), ("vizier", ".csv")])
def test_gaia_spellings_need_no_mapping(tmp_path, caplog, spelling, suffix):
    path = write_table(gaia_table(spelling=spelling), tmp_path / f"{spelling}{suffix}")
    with caplog.at_level(logging.INFO):
        dm = _gaia_dm(path, tmp_path)
        dm.setup()
    assert dm.feature_names == list(FEATURES)
    used = dm.describe()["file_columns"]
    for canonical, col in GAIA_SPELLINGS[spelling].items():
        assert used[canonical] == col
    if spelling == "vizier":
        assert "recognised VizieR/CDS column spellings" in caplog.text
    assert int(dm.graph["nodes", "id"].min()) > 2**53  # ids exact whatever the spelling


def test_gaia_without_bp_rp_trains_on_astrometry_and_logs_the_dropped_colour(tmp_path, caplog):
    path = write_table(gaia_table(bp_rp=False, spelling="vizier"), tmp_path / "dr2_members.csv")
    with caplog.at_level(logging.WARNING):
        dm = _gaia_dm(path, tmp_path)
        dm.setup()
    assert "bp_rp" not in dm.feature_names and "abs_g_mag" in dm.feature_names
    assert dm.describe()["features"] == dm.feature_names and dm.num_features == len(FEATURES) - 1
    assert [r.message for r in caplog.records if "left out" in r.message][0].startswith("features bp_rp left out")
    # only the astrometry is required
    t = gaia_table(bp_rp=False, g_mag=False)
    del t["parallax_error"], t["ruwe"], t["source_id"]
    table = apply_gaia_schema(read_catalog(write_table(t, tmp_path / "astrometry_only.ecsv")))
    assert table.feature_names == ["x_pc", "y_pc", "z_pc", "v_ra_kms", "v_dec_kms"]


def test_checkpoint_feature_list_is_what_evaluation_requires(tmp_path):
    full = write_table(gaia_table(), tmp_path / "full.csv")
    no_colour = write_table(gaia_table(bp_rp=False, seed=1), tmp_path / "no_colour.csv")
    dm = _gaia_dm(no_colour, tmp_path)
    dm.setup()
    pre = dm.preprocessing()
    # a file with more columns gives exactly the trained features
    ev = _gaia_dm(full, tmp_path, fixed=pre, evaluate_all=True)
    ev.setup()
    assert ev.feature_names == pre["feature_names"] and "bp_rp" not in ev.feature_names
    # a file lacking an input of a trained feature is refused, naming it
    dm_full = _gaia_dm(full, tmp_path)
    dm_full.setup()
    t = gaia_table(g_mag=False, seed=2)
    no_g = write_table(t, tmp_path / "no_g.csv")
    with pytest.raises(MissingColumnError, match="phot_g_mean_mag"):
        _gaia_dm(no_g, tmp_path, fixed=dm_full.preprocessing(), evaluate_all=True).setup()


def test_label_is_only_what_target_names(tmp_path):
    t = gaia_table(spelling="vizier")
    path = write_table(t, tmp_path / "v.csv")
    # the recognised colour column used as the label is never an input: the colour then comes from nowhere
    dm = _gaia_dm(path, tmp_path, target="RUWE", task_kind="regression")
    dm.setup()
    assert dm.describe()["file_columns"].get("ruwe") is None


def test_sdss_shorthand_export_classifies_and_does_photo_z_without_mapping(tmp_path, caplog):
    path = write_table(sdss_shorthand_table(), tmp_path / "Skyserver_SQL.csv")
    with caplog.at_level(logging.INFO):
        dm = SDSSDataModule(path=str(path), spectra=False)
        dm.setup()
    assert "recognised SkyServer shorthand column spellings: u→modelMag_u" in caplog.text
    assert dm.class_names == ["GALAXY", "QSO", "STAR"]
    assert dm.feature_names[:5] == [f"modelMag_{b}" for b in "ugriz"] and "i-z" in dm.feature_names
    assert not any("psf" in f for f in dm.feature_names)
    pz = SDSSDataModule(path=str(path), spectra=False, task_kind="regression", target="redshift")
    pz.setup()
    assert pz.feature_names == dm.feature_names  # the z magnitude is an input, redshift the target
    assert float(pz.targets("train").max()) > 1.0
    default = SDSSDataModule(path=str(path), spectra=False, task_kind="regression")
    default.setup()
    assert default.target == "redshift"
    # the z magnitude may even be mapped explicitly: z is not a reserved label name
    mapped = SDSSDataModule(path=str(path), spectra=False, columns={"modelMag_z": "z"})
    mapped.setup()
    assert mapped.describe()["file_columns"]["modelMag_z"] == "z"


def test_split_column_is_kept(tmp_path):
    t = gaia_table(n=200, seed=4)
    rng = np.random.default_rng(0)
    t["split"] = np.where(rng.random(len(t)) < 0.25, "test", "train")
    path = write_table(t, tmp_path / "given.csv")
    dm = _gaia_dm(path, tmp_path, split={"column": "split", "val": 0.2, "seed": 1})
    dm.setup()
    nodes = dm.graph["nodes"]
    marked = set(np.asarray(t["source_id"])[np.asarray(t["split"]) == "test"].tolist())
    assert set(nodes["id"][nodes["test_mask"]].tolist()) == marked
    n_train_given = int((np.asarray(t["split"]) == "train").sum())
    assert int(nodes["val_mask"].sum()) == pytest.approx(0.2 * n_train_given, abs=2)
    assert not (nodes["val_mask"] & nodes["train_mask"]).any()
    assert "split" not in dm.feature_names
    # SDSS keeps a given split too (train/val/test all given)
    s = sdss_shorthand_table(n=300)
    s["set"] = np.array(["train", "val", "test"])[np.arange(300) % 3]
    sdm = SDSSDataModule(path=str(write_table(s, tmp_path / "sdss_split.csv")), spectra=False,
                         split={"column": "set"})
    sdm.setup()
    assert set(sdm.split("test")["id"].tolist()) == set(np.asarray(s["objid"])[np.asarray(s["set"]) == "test"].tolist())


def test_duplicated_ids_are_counted_and_never_straddle_splits(tmp_path, caplog):
    t = gaia_table(n=150, seed=5)
    from astropy.table import vstack

    twins = vstack([t, t[:30]])  # 30 stars listed in two fields
    path = write_table(twins, tmp_path / "twins.csv")
    with caplog.at_level(logging.WARNING):
        first = _gaia_dm(path, tmp_path)
        first.setup()
    assert "30 rows repeat the id of an earlier row" in caplog.text
    assert int(first.graph["nodes"].batch_size[0]) == 150
    assert first.describe()["n_duplicate_rows"] == 30
    keep = _gaia_dm(path, tmp_path, duplicates="keep")
    keep.setup()
    nodes = keep.graph["nodes"]
    assert int(nodes.batch_size[0]) == 180
    ids = nodes["id"].numpy()
    for s in ("train", "val", "test"):
        others = [o for o in ("train", "val", "test") if o != s]
        in_s = set(ids[nodes[f"{s}_mask"].numpy()])
        for o in others:
            assert not in_s & set(ids[nodes[f"{o}_mask"].numpy()])
    drop = _gaia_dm(path, tmp_path, duplicates="drop")
    drop.setup()
    assert int(drop.graph["nodes"].batch_size[0]) == 120


def test_probability_labels_with_an_ignore_band(tmp_path):
    t = gaia_table(n=200, seed=6)
    path = write_table(t, tmp_path / "prob.csv")
    dm = _gaia_dm(path, tmp_path, target="prob", target_threshold=0.5, target_ignore=[0.35, 0.65])
    dm.setup()
    nodes = dm.graph["nodes"]
    p = np.asarray(t["prob"])
    band = (p > 0.35) & (p < 0.65)
    assert dm.class_names == ["0", "1"]
    used = (nodes["train_mask"] | nodes["val_mask"] | nodes["test_mask"]).numpy()
    assert not used[band].any() and used[~band].all()
    assert dm.describe()["n_ignore_band"] == int(band.sum())
    assert (nodes["y"].numpy()[~band] == (p[~band] >= 0.5)).all()


def test_real_rho_oph_sample_in_vizier_spellings_needs_no_mapping(tmp_path):
    from tests.conftest import SHARED_DATA

    src = SHARED_DATA / "gaia_dr2_rho_oph" / "oph_gaia_dr2_labeled.csv"
    if not src.exists():
        pytest.skip(f"real-data file {src} not present")
    from astropy.table import Table

    t = Table.read(src, format="ascii.csv")
    for canonical, viz in GAIA_SPELLINGS["vizier"].items():
        t.rename_column(canonical, viz)
    dm = _gaia_dm(write_table(t, tmp_path / "oph_vizier.csv"), tmp_path, target="member_common",
                  graph={"k": 16})
    dm.setup()
    assert int(dm.graph["nodes"].batch_size[0]) == 2300 and dm.feature_names == list(FEATURES)
    assert dm.class_counts == {"0": 1909, "1": 391}


def test_star_groups_without_colour_in_vizier_spellings(tmp_path, caplog):
    from astrolab.data.datamodules.clusters import StarGroupsDataModule
    from astrolab.data.synthetic.star_groups import make_star_groups_table

    t = make_star_groups_table(seed=3, n_clusters=16, n_asterisms=16, anomaly_fraction=0.25, min_size=10,
                               max_size=20, n_field=500)
    for canonical, viz in GAIA_SPELLINGS["vizier"].items():
        if canonical in t.colnames:
            t.rename_column(canonical, viz)
    for col in ("BP-RP", "phot_bp_mean_mag", "phot_rp_mean_mag"):
        if col in t.colnames:
            del t[col]
    path = write_table(t, tmp_path / "groups_vizier.fits")
    with caplog.at_level(logging.INFO):
        dm = StarGroupsDataModule(path=str(path), task_kind="classification", batch_size=4,
                                  cache_dir=str(tmp_path / "cache"))
        dm.setup()
    assert "recognised VizieR/CDS column spellings" in caplog.text
    assert "bp_rp" not in dm.feature_names and dm.feature_names[-5:] == [
        "dx_pc", "dy_pc", "dz_pc", "dv_ra_kms", "dv_dec_kms"]
    g = dm.graphs[0]
    assert g["x"].shape[1] == len(dm.feature_names)
    assert float(g["x"][:, -5:].abs().sum()) > 0  # relative features filled after the features built


@pytest.mark.slow
def test_cli_trains_vizier_rho_oph_and_sdss_shorthand_without_mapping(run_cli, tmp_path):
    """Done-when of issue 12 through the console script: no dataset.columns anywhere."""
    import json

    from tests.conftest import SHARED_DATA

    src = SHARED_DATA / "gaia_dr2_rho_oph" / "oph_gaia_dr2_labeled.csv"
    if src.exists():
        from astropy.table import Table

        t = Table.read(src, format="ascii.csv")
        for canonical, viz in GAIA_SPELLINGS["vizier"].items():
            t.rename_column(canonical, viz)
        for col in ("BP-RP", "phot_bp_mean_mag", "phot_rp_mean_mag"):  # and without colour
            del t[col]
        path = write_table(t, tmp_path / "oph_vizier.csv")
        proc = run_cli("train", "model=gat", f"dataset.path={path}", "dataset.target=member_common",
                       "trainer.max_epochs=20", f"hydra.run.dir={tmp_path / 'oph'}")
        assert proc.returncode == 0, proc.stderr[-3000:]
        s = json.loads((tmp_path / "oph" / "summary.json").read_text())
        assert "bp_rp" not in s["data"]["features"] and s["data"]["n_nodes"] == 2300
        assert s["metrics"]["test/f1_macro"] > s["metrics"]["baseline/f1_macro"] + 0.3
    sdss = write_table(sdss_shorthand_table(n=1500), tmp_path / "Skyserver_SQL.csv")
    for task, extra, run in (("classification", [], "cls"), ("photo_z", ["dataset.target=redshift"], "pz")):
        proc = run_cli("train", "model=multimodal", "dataset=sdss", f"task={task}", f"dataset.path={sdss}",
                       *extra, "trainer.max_epochs=15", f"hydra.run.dir={tmp_path / run}")
        assert proc.returncode == 0, proc.stderr[-3000:]
        s = json.loads((tmp_path / run / "summary.json").read_text())
        assert s["data"]["features"][:5] == [f"modelMag_{b}" for b in "ugriz"]
        m = s["metrics"]
        if task == "classification":
            assert m["test/f1_macro"] > m["baseline/f1_macro"] + 0.3
        else:
            assert m["test/sigma_nmad"] < m["baseline/sigma_nmad"]


def test_sdss_checkpoint_features_select_from_a_richer_file(tmp_path):
    from astrolab.data.synthetic import sdss as gen

    short = write_table(sdss_shorthand_table(n=300), tmp_path / "short.csv")
    dm = SDSSDataModule(path=str(short), spectra=False)
    dm.setup()
    full, _ = gen.generate_sdss_catalog(tmp_path / "full.csv", n_objects=200, seed=2, spectra_fraction=0.0)
    ev = SDSSDataModule(path=str(full), spectra=False, fixed=dm.preprocessing(), evaluate_all=True)
    ev.setup()
    assert ev.feature_names == dm.feature_names and ev.num_features == 9
    # and the other way round: a shorthand file cannot give a full-name model's PSF features
    rich = SDSSDataModule(path=str(full), spectra=False)
    rich.setup()
    with pytest.raises(MissingColumnError, match="psfMag_u-modelMag_u"):
        SDSSDataModule(path=str(short), spectra=False, fixed=rich.preprocessing(), evaluate_all=True).setup()


def test_duplicated_rows_without_an_id_column_are_counted(tmp_path, caplog):
    from astropy.table import vstack

    t = gaia_table(n=100, seed=8)
    del t["source_id"]
    path = write_table(vstack([t, t[:12]]), tmp_path / "noid.csv")
    with caplog.at_level(logging.WARNING):
        dm = _gaia_dm(path, tmp_path)
        dm.setup()
    assert "12 rows repeat an earlier row exactly (no id column)" in caplog.text
    assert int(dm.graph["nodes"].batch_size[0]) == 100


def test_photo_z_index_table_carries_the_object_class(tmp_path):
    """photo_z.png colours by class: the file's class column rides along in the index table (never an
    input); classification keeps it as the target only."""
    t = sdss_shorthand_table(n=300)
    path = write_table(t, tmp_path / "Skyserver_SQL.csv")
    pz = SDSSDataModule(path=str(path), spectra=False, task_kind="regression", target="redshift")
    pz.setup()
    table = pz.index_table()
    by_id = dict(zip(np.asarray(t["objid"]).tolist(), np.asarray(t["class"]).tolist()))
    assert [by_id[i] for i in np.asarray(table["id"]).tolist()] == list(table["class"])
    assert "class" not in " ".join(pz.feature_names)
    cls = SDSSDataModule(path=str(path), spectra=False)
    cls.setup()
    assert "class" not in cls.index_table().colnames
