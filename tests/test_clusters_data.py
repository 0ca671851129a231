"""dataset=clusters: the star-group generator, the age extension of the Gaia generator and the
block-diagonal graph-batch data module."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from astrolab.data.datamodules.clusters import StarGroupsDataModule, collate_graphs
from astrolab.data.io import read_catalog, write_table
from astrolab.data.synthetic.gaia_clusters import make_gaia_table, turnoff_mass
from astrolab.data.synthetic.star_groups import GROUP_COLUMNS, make_star_groups_table
from astrolab.errors import ConfigError, DataError

SMALL = dict(n_clusters=24, n_asterisms=24, anomaly_fraction=0.25, min_size=10, max_size=25, n_field=4000)


@pytest.fixture(scope="module")
def small_table():
    return make_star_groups_table(seed=3, **SMALL)


@pytest.fixture(scope="module")
def small_file(tmp_path_factory, small_table):
    return write_table(small_table, tmp_path_factory.mktemp("groups") / "groups.fits")


def _dm(path, task_kind="classification", **kw):
    dm = StarGroupsDataModule(path=str(path), task_kind=task_kind, batch_size=4, **kw)
    dm.setup()
    return dm


def test_generator_is_deterministic_and_seeded(small_table):
    again = make_star_groups_table(seed=3, **SMALL)
    for name in small_table.colnames:
        a, b = np.asarray(small_table[name]), np.asarray(again[name])
        assert a.dtype == b.dtype
        if a.dtype.kind == "f":
            np.testing.assert_array_equal(a, b)
        else:
            assert (a == b).all(), name
    other = make_star_groups_table(seed=4, **SMALL)
    assert len(other) != len(small_table) or not np.array_equal(np.asarray(other["ra"]),
                                                                 np.asarray(small_table["ra"]))


def test_group_table_contents(small_table):
    t = small_table
    for name in GROUP_COLUMNS:
        assert name in t.colnames
    gid = np.asarray(t["group_id"])
    is_cluster = np.asarray(t["is_cluster"])
    assert len(np.unique(gid)) == SMALL["n_clusters"] + SMALL["n_asterisms"]
    # per-group targets are constant within a group
    for col in ("is_cluster", "distance_pc", "is_anomaly"):
        v = np.asarray(t[col])
        for g in np.unique(gid)[:10]:
            assert len(np.unique(v[gid == g])) == 1
    # asterisms: field stars only, no age; clusters: ages in range and contamination by field stars
    mtype = np.asarray(t["member_type"]).astype(str)
    assert set(mtype[is_cluster == 0]) == {"field"}
    assert np.isnan(np.asarray(t["log_age"])[is_cluster == 0]).all()
    ages = np.asarray(t["log_age"])[is_cluster == 1]
    assert (ages >= 8.0).all() and (ages <= 9.8).all()
    assert (mtype[is_cluster == 1] == "field").any()
    atype = np.asarray(t["anomaly_type"]).astype(str)
    anomalous = np.unique(gid[np.asarray(t["is_anomaly"]) == 1])
    assert len(anomalous) == round(0.25 * SMALL["n_clusters"])
    assert set(atype[np.isin(gid, anomalous)]) <= {"second_turnoff", "pm_subgroup"}
    assert (mtype[atype == "second_turnoff"] == "injected").any() or "second_turnoff" not in atype


def test_cluster_ages_move_the_turnoff_and_keep_default_output():
    base = make_gaia_table(n_stars=3000, seed=5)
    same = make_gaia_table(n_stars=3000, seed=5, log_age_range=None)
    assert base.colnames == same.colnames and "true_log_age" not in base.colnames
    np.testing.assert_array_equal(np.asarray(base["phot_g_mean_mag"]), np.asarray(same["phot_g_mean_mag"]))
    assert turnoff_mass(8.0) > 6 and 1.1 < turnoff_mass(9.8) < 1.4

    def blue_fraction(log_age):
        t = make_gaia_table(n_stars=6000, seed=1, n_clusters=4, cluster_fraction=0.3,
                            log_age_range=(log_age, log_age))
        members = np.asarray(t["cluster_label"]).astype(str) != "field"
        assert np.allclose(np.asarray(t["true_log_age"])[members], log_age)
        intrinsic = np.asarray(t["bp_rp"])[members] - np.asarray(t["true_a_g"])[members] / 1.9
        return float((intrinsic < 0.3).mean())

    # hot stars (BP-RP)_0 < 0.3 (A/B types, > 1.8 Msun) are on the main sequence at 100 Myr, gone at 6 Gyr
    young, old = blue_fraction(8.0), blue_fraction(9.8)
    assert young > 0.02 and old < 0.002


def test_file_round_trip_and_labels_are_not_features(small_file, small_table):
    cat = read_catalog(small_file)
    assert cat.data["source_id"].dtype == torch.int64
    dm = _dm(small_file)
    for col in GROUP_COLUMNS:
        assert col not in dm.feature_names
    # features do not change when the targets change
    t2 = small_table.copy()
    t2["is_cluster"] = 1 - np.asarray(t2["is_cluster"])
    path2 = write_table(t2, small_file.parent / "flipped.fits")
    dm2 = _dm(path2)
    def raw(d):  # unscaled features in group order (the split, hence the scaler, follows the labels)
        mean, std = torch.tensor(d.scaler["mean"]), torch.tensor(d.scaler["std"])
        return torch.cat([g["x"].double() * std + mean for g in sorted(d.graphs, key=lambda g: g["group"])])

    torch.testing.assert_close(raw(dm), raw(dm2), rtol=1e-5, atol=1e-3)
    assert not torch.equal(dm.targets("train"), dm2.targets("train"))
    with pytest.raises(ConfigError, match="independent column"):
        _dm(small_file, target="bp_rp")


def test_block_diagonal_batching(small_file):
    dm = _dm(small_file)
    graphs = dm.by_split["train"][:5]
    batch = collate_graphs(graphs)
    sizes = [g["x"].shape[0] for g in graphs]
    assert batch["nodes"].batch_size[0] == sum(sizes)
    assert batch["graphs", "num_nodes"].tolist() == sizes
    assert torch.equal(batch["nodes", "graph"], torch.repeat_interleave(torch.arange(5), torch.tensor(sizes)))
    src, dst = batch["edges", "index"].t()
    g = batch["nodes", "graph"]
    assert torch.equal(g[src], g[dst])  # no edge crosses graphs
    start = 0
    for i, gr in enumerate(graphs):
        own = g[src] == i
        torch.testing.assert_close(batch["edges", "index"][own] - start, gr["edges"])
        start += sizes[i]
    # kNN graphs are symmetric and have no self loops
    e = set(map(tuple, graphs[0]["edges"].tolist()))
    assert all((b, a) in e for a, b in e) and all(a != b for a, b in e)


def test_splits_by_group_and_train_standardisation(small_file):
    dm = _dm(small_file)
    ids = {s: {g["group"] for g in dm.by_split[s]} for s in ("train", "val", "test")}
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"] and not ids["val"] & ids["test"]
    x = torch.cat([g["x"] for g in dm.by_split["train"]])
    torch.testing.assert_close(x.mean(0), torch.zeros(x.shape[1]), atol=1e-4, rtol=0)
    assert dm.describe()["checksum"] and dm.num_features == 12
    again = _dm(small_file)
    assert [g["group"] for g in again.by_split["test"]] == [g["group"] for g in dm.by_split["test"]]


def test_anomaly_split_trains_on_normal_groups_only(small_file):
    dm = _dm(small_file, task_kind="anomaly")
    assert dm.target == "is_anomaly" and dm.feature_names[:2] == ["dx_pc", "dy_pc"] and dm.num_features == 7
    assert dm.targets("train").sum() == 0 and len(dm.targets("train")) > 0
    assert dm.targets("val").sum() > 0 and dm.targets("test").sum() > 0
    n_groups = sum(len(dm.by_split[s]) for s in ("train", "val", "test"))
    assert n_groups == SMALL["n_clusters"]  # asterisms (is_anomaly = -1) are not part of this task


def test_user_member_table_with_own_columns(tmp_path, small_table):
    t = small_table.copy()
    names = np.array([f"Cl-{g:03d}" for g in np.asarray(t["group_id"])])
    t["cluster_name"] = names
    t["age"] = t["log_age"]
    for col in GROUP_COLUMNS:
        del t[col]
    path = write_table(t, tmp_path / "members.csv")
    dm = _dm(path, task_kind="regression", group="cluster_name", target="age")
    assert len(dm.graphs) == SMALL["n_clusters"]  # asterisms have no age: not eligible
    assert dm.task_kwargs()["target_name"] == "age"
    assert str(dm.group_values[0]).startswith("Cl-")
    t["age"][np.asarray(t["cluster_name"]) == names[0]][:1] = 0.0
    bad = t.copy()
    rows = np.flatnonzero(np.asarray(bad["cluster_name"]) == names[0])
    bad["age"][rows[0]] = 1.0
    with pytest.raises(DataError, match="constant per group"):
        _dm(write_table(bad, tmp_path / "bad.csv"), task_kind="regression", group="cluster_name",
            target="age")
