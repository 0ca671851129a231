"""HATS catalogs (dataset.path=<HATS directory>): written here from a DataFrame with LSDB (with a margin cache),
read by astrolab one partition at a time with Dask, and prepared into the same graph and features as the single
file holding the same rows; a folder that is not a HATS catalog is refused in one line."""

from __future__ import annotations

import logging
import os
import sys

import numpy as np
import pytest

from astrolab.data.datamodules import GaiaDataModule
from astrolab.errors import AstrolabError
from tests.data_fixtures import gaia_table

#: margin cache width: wide compared with the partitions (order <= 5, about 1.8 deg), so that nodes near
#: partition edges find their neighbours in the margin (arcsec)
MARGIN = 1800.0


@pytest.fixture(scope="module")
def hats_and_file(tmp_path_factory):
    """A co-moving cluster in a field (tests/data_fixtures.gaia_table: Gaussian positions, parallaxes and
    proper motions) with rows the quality cuts remove, as a HATS catalog with a margin cache, and the
    same rows in the catalog's partition order as one Parquet file."""
    if "numba" not in sys.modules:
        # hats compiles its HEALPix pixel-tree functions with numba on first use (20-30 s on a 2-core machine)
        # when LSDB builds the margin cache; on this catalog's few pixels plain Python takes well under 1 s.
        # numba reads the setting once, at import; astrolab itself never uses numba.
        os.environ["NUMBA_DISABLE_JIT"] = "1"
        try:
            lsdb = pytest.importorskip("lsdb", reason="HATS catalogs need the lsdb extra: pip install 'astrolab[lsdb]'")
            import numba  # noqa: F401
        finally:
            del os.environ["NUMBA_DISABLE_JIT"]
    lsdb = pytest.importorskip("lsdb", reason="HATS catalogs need the lsdb extra: pip install 'astrolab[lsdb]'")
    import dask
    import pandas as pd

    from astrolab.data.hats import open_hats, partition_frames

    root = tmp_path_factory.mktemp("hats")
    df = gaia_table(1200, seed=3).to_pandas()
    rng = np.random.default_rng(3)
    df.loc[rng.choice(len(df), 40, replace=False), "ruwe"] = 2.0          # fails max_ruwe=1.4
    df.loc[rng.choice(len(df), 10, replace=False), "parallax"] = np.nan   # no parallax: dropped
    lsdb.from_dataframe(df, ra_column="ra", dec_column="dec", margin_threshold=MARGIN, partition_rows=600,
                        highest_order=5).write_catalog(root / "gaia_hats", progress_bar=False)
    hc = open_hats(root / "gaia_hats")
    frames = dask.compute(*[main for main, _ in partition_frames(hc)], scheduler="synchronous")
    pd.concat(frames).reset_index(drop=True).to_parquet(root / "same_rows.parquet")
    return root / "gaia_hats", root / "same_rows.parquet", len(hc.pixels)


def _module(path, tmp_path, space):
    dm = GaiaDataModule(path=str(path), target="member", graph={"k": 8, "space": space},
                        cache_dir=str(tmp_path / "cache"), use_cache=False)
    dm.setup()
    return dm


def _edges_by_id(dm) -> set[tuple[int, int]]:
    ids = dm.graph["nodes", "id"].numpy()
    e = dm.graph["edges", "index"].numpy()
    return set(zip(ids[e[:, 0]].tolist(), ids[e[:, 1]].tolist()))


@pytest.mark.parametrize("space", ["astrometry", "xyz"])
def test_hats_catalog_gives_the_single_file_graph_and_features(hats_and_file, tmp_path, caplog, space):
    cat, same_rows, n_partitions = hats_and_file
    assert n_partitions > 1
    with caplog.at_level(logging.INFO):
        dm = _module(cat, tmp_path / "h", space)
    assert f"HATS catalog with {n_partitions} partitions, 1200 rows" in caplog.text
    ref = _module(same_rows, tmp_path / "f", space)
    n = ref.graph["nodes"].batch_size[0]
    assert n < 1200  # the cuts removed rows
    assert dm.graph["nodes"].batch_size[0] == n
    assert np.array_equal(dm.graph["nodes", "id"].numpy(), ref.graph["nodes", "id"].numpy())
    assert _edges_by_id(dm) == _edges_by_id(ref)
    for key in ("x", "y", "train_mask", "val_mask", "test_mask", "row"):
        assert np.array_equal(dm.graph["nodes", key].numpy(), ref.graph["nodes", key].numpy()), key
    # predictions echo the catalog's own columns by row number: rows are numbered in partition order
    from astrolab.data.io import read_columns

    echoed = read_columns(cat, ["source_id"])["source_id"]
    assert np.array_equal(np.asarray(echoed)[dm.graph["nodes", "row"].numpy()], dm.graph["nodes", "id"].numpy())
    hats = dm.meta["info"]["hats"]
    assert hats["partitions"] == n_partitions and hats["margin_arcsec"] == MARGIN
    assert dm.describe()["hats"] == hats and "hats" not in ref.describe()  # summary.json's data section
    # some nodes were settled inside their partition (with its margin), not all by the whole-catalog query
    assert 0 <= hats["n_knn_whole_catalog"] < n
    assert sum(len(m) for m in dm._hats_layout.margin_rows) > 0  # margin rows were matched to nodes


def test_a_folder_that_is_not_a_hats_catalog_is_refused_in_one_line(tmp_path):
    folder = tmp_path / "not_hats"
    folder.mkdir()
    gaia_table(50).write(folder / "stars.csv", format="ascii.csv")
    dm = GaiaDataModule(path=str(folder), target="member", cache_dir=str(tmp_path / "cache"))
    with pytest.raises(AstrolabError) as err:
        dm.setup()
    msg = str(err.value)
    assert "\n" not in msg and f"dataset.path='{folder}' is a folder, not a HATS catalog" in msg
    assert "hats.properties" in msg and "stars.csv" in msg and "write_catalog(path)" in msg

    from omegaconf import OmegaConf

    from astrolab.config_check import _check_paths

    cfg = OmegaConf.create({"dataset": {"_target_": "astrolab.data.datamodules.GaiaDataModule",
                                        "path": str(folder)}})
    with pytest.raises(AstrolabError, match="not a HATS catalog"):
        _check_paths(cfg)


def test_dask_scheduler_address_runs_the_tasks_there_and_a_dead_one_is_named(hats_and_file, tmp_path):
    distributed = pytest.importorskip("distributed", reason="dataset.dask.scheduler=<address> needs dask.distributed")
    cat, _, _ = hats_and_file
    local = _module(cat, tmp_path / "local", "astrometry")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cl:
        dm = GaiaDataModule(path=str(cat), target="member", graph={"k": 8}, cache_dir=str(tmp_path / "c"),
                            use_cache=False, dask={"scheduler": cl.scheduler_address})
        dm.setup()
    assert dm.meta["info"]["hats"]["scheduler"].startswith(f"Dask cluster at {cl.scheduler_address}")
    assert _edges_by_id(dm) == _edges_by_id(local)
    dead = GaiaDataModule(path=str(cat), target="member", cache_dir=str(tmp_path / "d"), use_cache=False,
                          dask={"scheduler": "tcp://127.0.0.1:9", "timeout": 1})
    with pytest.raises(AstrolabError) as err:
        dead.setup()
    assert str(err.value).startswith("dataset.dask.scheduler=tcp://127.0.0.1:9: no Dask scheduler answers")
    assert "dataset.dask.scheduler=null" in str(err.value) and "\n" not in str(err.value)


def test_vizier_spellings_are_recognised_in_a_hats_catalog_as_in_a_file(hats_and_file, tmp_path, caplog):
    import lsdb

    df = gaia_table(300, spelling="vizier", seed=5).to_pandas()
    lsdb.from_dataframe(df, ra_column="RA_ICRS", dec_column="DE_ICRS", margin_threshold=MARGIN,
                        partition_rows=200, highest_order=5).write_catalog(tmp_path / "vizier", progress_bar=False)
    with caplog.at_level(logging.INFO):
        dm = _module(tmp_path / "vizier", tmp_path, "astrometry")
    cols = dm.meta["info"]["file_columns"]
    assert cols["ra"] == "RA_ICRS" and cols["parallax"] == "Plx" and cols["source_id"] == "Source"
    assert caplog.text.count("recognised VizieR/CDS column spellings") == 1
    assert set(dm.graph["nodes", "id"].numpy()) <= set(df["Source"])


def test_without_a_margin_cache_the_graph_is_still_the_single_file_graph(hats_and_file, tmp_path):
    """No margin: only the distance to the partition edge settles a node; the rest take the whole catalog."""
    import dask
    import lsdb
    import pandas as pd

    from astrolab.data.hats import open_hats, partition_frames

    df = gaia_table(800, seed=7).to_pandas()
    lsdb.from_dataframe(df, ra_column="ra", dec_column="dec", margin_threshold=None, partition_rows=400,
                        highest_order=5).write_catalog(tmp_path / "bare", progress_bar=False)
    frames = dask.compute(*[m for m, _ in partition_frames(open_hats(tmp_path / "bare"))], scheduler="synchronous")
    pd.concat(frames).reset_index(drop=True).to_parquet(tmp_path / "bare.parquet")
    dm = _module(tmp_path / "bare", tmp_path / "h", "astrometry")
    ref = _module(tmp_path / "bare.parquet", tmp_path / "f", "astrometry")
    assert dm.meta["info"]["hats"]["margin_arcsec"] == 0 and dm.meta["info"]["hats"]["partitions"] > 1
    assert _edges_by_id(dm) == _edges_by_id(ref)
