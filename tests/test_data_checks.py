"""Data is checked before anything trains: one test per bad input, asserting the one-line message (it names
the column or key and a fix) and that nothing was built."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from astrolab.data.datamodules import GaiaDataModule, SDSSDataModule
from astrolab.data.io import read_catalog, write_table
from astrolab.data.splits import split_masks
from astrolab.errors import (
    AstrolabError, ConfigError, DataCheckError, EmptyCatalogError, MissingColumnError,
)
from tests.data_fixtures import gaia_table, sdss_shorthand_table


def _dm(path, tmp_path, **kw):
    kw.setdefault("graph", {"k": 8})
    return GaiaDataModule(path=str(path), target=kw.pop("target", "member"), cache_dir=str(tmp_path / "cache"),
                          **kw)


def _refused(exc_type, fn, *fragments: str) -> str:
    with pytest.raises(exc_type) as err:
        fn()
    msg = str(err.value)
    assert isinstance(err.value, AstrolabError) and "\n" not in msg
    for f in fragments:
        assert f in msg, (f, msg)
    return msg


def _nothing_cached(tmp_path) -> bool:
    return not any((tmp_path / "cache").glob("node_graph/*/manifest.json"))


# -- files that cannot be a table ------------------------------------------------------------------
def test_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    _refused(EmptyCatalogError, lambda: read_catalog(tmp_path / "empty.csv"), "empty.csv", "no rows", "dataset.path=")


def test_header_only_file(tmp_path):
    (tmp_path / "h.csv").write_text("source_id,ra,dec,parallax,pmra,pmdec,member_common\n")
    _refused(EmptyCatalogError, lambda: _dm(tmp_path / "h.csv", tmp_path).setup(), "h.csv", "no rows",
             "header only")
    assert _nothing_cached(tmp_path)


def test_folder_instead_of_a_file(tmp_path):
    (tmp_path / "q.csv").mkdir()
    _refused(EmptyCatalogError, lambda: read_catalog(tmp_path / "q.csv"), "is a folder", "dataset.path=")
    _refused(EmptyCatalogError, lambda: _dm(tmp_path / "q.csv", tmp_path).setup(), "is a folder")
    _refused(EmptyCatalogError, lambda: SDSSDataModule(path=str(tmp_path / "q.csv"), spectra=False).setup(),
             "is a folder")


@pytest.mark.parametrize("delim,name", [(";", "semicolon ';'"), ("\t", "tab"), ("|", "pipe '|'")])
def test_other_delimiter_is_named_and_the_fix_works(tmp_path, delim, name):
    ok = write_table(gaia_table(), tmp_path / "ok.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text(ok.read_text().replace(",", delim))
    msg = _refused(EmptyCatalogError, lambda: read_catalog(bad), "bad.csv", f"separated by {name}, not commas")
    if delim == ";":  # the printed conversion works
        import subprocess
        import sys

        cmd = msg.split('python -c "')[1].split('"')[0]
        subprocess.run([sys.executable, "-c", cmd], cwd=tmp_path, check=True)
        assert len(read_catalog(tmp_path / "bad_comma.csv")) == len(read_catalog(ok))


def test_truncated_fits(tmp_path):
    whole = write_table(gaia_table(), tmp_path / "g.fits").read_bytes()
    (tmp_path / "cut.fits").write_bytes(whole[: len(whole) // 2])
    _refused(EmptyCatalogError, lambda: read_catalog(tmp_path / "cut.fits"), "cut.fits", "truncated",
             "download it again")
    (tmp_path / "head.fits").write_bytes(whole[:1000])
    _refused(EmptyCatalogError, lambda: read_catalog(tmp_path / "head.fits"), "head.fits", "download it again")


# -- values ------------------------------------------------------------------------------------------
def test_all_nan_column_is_named(tmp_path):
    t = gaia_table()
    t["pmra"] = np.nan
    path = write_table(t, tmp_path / "nan.csv")
    _refused(DataCheckError, lambda: _dm(path, tmp_path).setup(), "'pmra'", "all NaN", "dataset.columns.pmra=")
    assert _nothing_cached(tmp_path)


def test_absurd_and_non_finite_values_are_missing_and_counted(tmp_path, caplog):
    t = gaia_table()
    t["pmra"][:21] = 1e300
    t["pmdec"][21] = np.inf
    path = write_table(t, tmp_path / "absurd.fits")
    with caplog.at_level(logging.WARNING):
        cat = read_catalog(path)
    assert cat.absurd == {"pmra": 21, "pmdec": 1}
    assert "treated 22 non-finite or |v| > 1e+30 values as missing: pmra (21), pmdec (1)" in caplog.text
    dm = _dm(path, tmp_path)
    dm.setup()
    assert int(dm.graph["nodes"].batch_size[0]) == len(t) - 22
    assert all(np.isfinite(s) and 0 < s < 1e3 for s in dm.scaler["std"])


def test_constant_feature_over_the_training_split_is_named(tmp_path):
    t = gaia_table()
    t["bp_rp"] = 1.0
    path = write_table(t, tmp_path / "const.csv")
    _refused(DataCheckError, lambda: _dm(path, tmp_path).setup(), "feature 'bp_rp' is constant",
             "training rows", "remove its input column")
    # the fix works: without the column the colour feature is dropped and the rest trains
    del t["bp_rp"]
    dm = _dm(write_table(t, tmp_path / "fixed.csv"), tmp_path)
    dm.setup()
    assert "bp_rp" not in dm.feature_names


def test_too_few_rows_for_the_splits():
    _refused(DataCheckError, lambda: split_masks(2, None), "too few rows for the splits", "2 usable rows")


def test_class_too_small_for_every_split_is_named_with_its_count(tmp_path):
    t = gaia_table()
    t["member"][:] = 0
    t["member"][:2] = 1
    path = write_table(t, tmp_path / "small.csv")
    _refused(DataCheckError, lambda: _dm(path, tmp_path).setup(), "class '1' has only 2 row(s)",
             "train, val and test")
    assert _nothing_cached(tmp_path)


def test_five_rows(tmp_path):
    path = write_table(gaia_table(n=5, seed=3), tmp_path / "five.csv")
    _refused(DataCheckError, lambda: _dm(path, tmp_path, graph={"k": 2}).setup(), "row(s): too few")


def test_cut_removing_every_row_names_the_column(tmp_path):
    t = gaia_table(spelling="vizier")
    t["Plx"] = -np.abs(t["Plx"])
    path = write_table(t, tmp_path / "neg.csv")
    _refused(DataCheckError, lambda: _dm(path, tmp_path).setup(), "Plx <= 0 removes 120 of 120 rows",
             "dataset.columns.parallax=")
    t = gaia_table()
    t["parallax_error"] = 10.0
    path = write_table(t, tmp_path / "poe.csv")
    _refused(DataCheckError, lambda: _dm(path, tmp_path).setup(), "parallax/parallax_error < 5.0",
             "dataset.min_parallax_over_error=")
    t = gaia_table()
    t["ruwe"] = 3.0
    _refused(DataCheckError, lambda: _dm(write_table(t, tmp_path / "ruwe.csv"), tmp_path).setup(),
             "ruwe > 1.4 removes", "dataset.max_ruwe=")


def test_missing_label_suggests_dataset_target(tmp_path):
    path = write_table(gaia_table(), tmp_path / "l.csv")
    _refused(MissingColumnError, lambda: _dm(path, tmp_path, target="member_common").setup(),
             "no label column 'member_common'", "dataset.target=member")
    s = write_table(sdss_shorthand_table(n=60), tmp_path / "s.csv")
    _refused(MissingColumnError, lambda: SDSSDataModule(path=str(s), spectra=False, target="type").setup(),
             "no label column 'type'", "dataset.target=")


def test_graph_k_outside_one_to_rows(tmp_path):
    path = write_table(gaia_table(), tmp_path / "k.csv")
    _refused(ConfigError, lambda: _dm(path, tmp_path, graph={"k": 0}), "dataset.graph.k=0", "at least 1")
    _refused(DataCheckError, lambda: _dm(path, tmp_path, graph={"k": 100000}).setup(),
             "dataset.graph.k=100000 is not below the 120 rows", "dataset.graph.k=16")
    assert _nothing_cached(tmp_path)


def test_split_fractions_are_validated(tmp_path):
    path = write_table(gaia_table(), tmp_path / "s.csv")
    _refused(ConfigError, lambda: _dm(path, tmp_path, split={"val": 0}).setup(), "dataset.split.val=0",
             "(0, 1)")
    _refused(ConfigError, lambda: _dm(path, tmp_path, split={"val": 0.6, "test": 0.5}).setup(),
             "leave no training rows")


def test_identical_ids_are_refused(tmp_path):
    t = gaia_table()
    t["source_id"] = 7
    path = write_table(t, tmp_path / "same.csv")
    _refused(DataCheckError, lambda: _dm(path, tmp_path).setup(), "id column 'source_id' holds the same value",
             "dataset.columns.source_id=")


def test_bad_split_column_values(tmp_path):
    t = gaia_table()
    t["set"] = "training"
    path = write_table(t, tmp_path / "set.csv")
    _refused(DataCheckError, lambda: _dm(path, tmp_path, split={"column": "set"}).setup(),
             "split column 'set' has value(s) ['training']", "train, val, test")
    _refused(ConfigError, lambda: _dm(path, tmp_path, split={"column": "nope"}).setup(),
             "dataset.split.column=nope")


def test_cli_prints_one_line_and_exits_non_zero(run_cli, tmp_path):
    bad = tmp_path / "semi.csv"
    bad.write_text(write_table(gaia_table(), tmp_path / "ok.csv").read_text().replace(",", ";"))
    proc = run_cli("train", f"dataset.path={bad}", "dataset.target=member", "trainer.max_epochs=1",
                   f"hydra.run.dir={tmp_path / 'run'}", timeout=300)
    assert proc.returncode != 0
    assert "separated by semicolon ';', not commas" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_rows_of_a_class_the_model_never_saw_are_counted(tmp_path, caplog):
    t = gaia_table()
    dm = _dm(write_table(t, tmp_path / "train.csv"), tmp_path)
    dm.setup()
    t["member"][:7] = 2
    with caplog.at_level(logging.WARNING):
        ev = _dm(write_table(t, tmp_path / "other.csv"), tmp_path, fixed=dm.preprocessing(), evaluate_all=True)
        ev.setup()
    assert "7 rows have a class the model never saw (not one of 0, 1): not scored" in caplog.text
    assert ev.describe()["n_unseen_class"] == 7
    assert int(ev.graph["nodes", "test_mask"].sum()) == len(t) - 7


def test_probability_target_without_threshold_names_the_fix(tmp_path):
    path = write_table(gaia_table(), tmp_path / "p.csv")
    _refused(DataCheckError, lambda: _dm(path, tmp_path, target="prob").setup(), "target 'prob' has non-integer",
             "dataset.target_threshold=0.5")
    dm = _dm(path, tmp_path, target="prob", target_threshold=0.5)  # the fix works
    dm.setup()
    assert dm.class_names == ["0", "1"]


def test_star_group_columns_missing_name_their_key(tmp_path):
    from astrolab.data.datamodules.clusters import StarGroupsDataModule

    path = write_table(gaia_table(), tmp_path / "g.csv")
    _refused(MissingColumnError, lambda: StarGroupsDataModule(path=str(path), cache_dir=str(tmp_path / "c")).setup(),
             "no column 'group_id'", "dataset.group=")


def test_missing_column_hint_never_names_a_column_already_read_as_another_input(tmp_path):
    """A Gaia file without pmra: the fix must not be dataset.columns.pmra=ra (ra is the right ascension,
    already an input; that mapping would train silently on the wrong column)."""
    t = gaia_table(n=120)
    del t["pmra"]
    msg = _refused(MissingColumnError, lambda: _dm(write_table(t, tmp_path / "no_pmra.csv"), tmp_path).setup(),
                   "missing required column(s) pmra", "dataset.columns.pmra=<column>")
    assert "pmra=ra" not in msg and "pmra=member" not in msg
    t["pm_ra"] = t["pmdec"]  # a real candidate is still suggested
    msg = _refused(MissingColumnError, lambda: _dm(write_table(t, tmp_path / "pm_ra.csv"), tmp_path).setup(),
                   "dataset.columns.pmra=pm_ra")
