"""``astrolab predict`` for star groups (``model=graph_gnn dataset=clusters``): a member table without its
label column is scored per group — one row per group of the file (first-appearance order, ids exact) with a
``status``, and one row per input star with its status in ``<output>_members.<suffix>``."""

from __future__ import annotations

import csv
import json
from collections import Counter

import numpy as np
import pytest


# a small embedded sample (dataset.n_stars=1000: 12 clusters, 12 asterisms, 1000 field stars), one epoch
TINY = ["model=graph_gnn", "dataset=clusters", "debug=fast", "dataset.n_stars=1000", "dataset.min_size=10",
        "dataset.max_size=25", "dataset.batch_size=8", "model.hidden_dim=16", "model.num_layers=2", "model.heads=2",
        "trainer.max_epochs=1", "callbacks.progress_bar=null", "save_plots=false"]
LABELS = ["is_cluster", "log_age", "distance_pc", "is_anomaly", "anomaly_type", "member_type"]


def _train(task: str, run_dir):
    """A one-epoch run composed exactly as ``astrolab train task=<task> <TINY>`` (in-process: the console
    script's start-up would double the test's time; predict below goes through the console script)."""
    from astrolab.hpo.runner import compose
    from astrolab.training.run import train

    return train(compose("train", [f"task={task}", *TINY, f"paths.run_dir={run_dir}"]))


def _read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _first_appearance(values) -> list:
    seen: dict = {}
    for v in values:
        if v not in seen and v != "":
            seen[v] = len(seen)
    return list(seen)


def test_predict_star_groups_one_row_per_group(run_cli, tmp_path):
    """Labels dropped, rows shuffled, the group column renamed and made of strings; one group loses every
    star to a quality cut, one keeps only 3 (< min_nodes=5), two stars have no group id. Every group of the
    file gets a row with exact ids and probabilities summing to 1 (or a status), every star a status, and the
    groups' probabilities equal the training run's test predictions for the same groups (same preprocessing)."""
    from astropy.table import Table

    cls_run = tmp_path / "cls"
    cat = Table.read(_train("graph_classification", cls_run)["data"]["source"])
    cat.remove_columns(LABELS)
    gid = np.asarray(cat["group_id"])
    gone, small = np.flatnonzero(gid == 7), np.flatnonzero(gid == 5)
    cat["ruwe"][gone] = 3.0                                      # every star of group 7 fails ruwe <= 1.4
    cat["parallax_error"][small[3:]] = 10 * cat["parallax"][small[3:]]  # group 5 keeps at most 3 stars
    cat = cat[np.random.default_rng(1).permutation(len(cat))]
    cat["cluster"] = np.array([f"G{v:03d}" for v in cat["group_id"]])
    cat.remove_column("group_id")
    cat["cluster"][:2] = ""                                      # two stars without a group id
    new = tmp_path / "members.csv"
    cat.write(new, format="ascii.csv")

    out = tmp_path / "pred"
    proc = run_cli("predict", f"ckpt_path={cls_run / 'checkpoints' / 'best.ckpt'}", f"dataset.path={new}",
                   "dataset.group=cluster", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert "groups scored" in log and "removed by the quality cuts" in log

    groups = _read_csv(out / "predictions.csv")
    names = list(cat["cluster"])
    assert [g["cluster"] for g in groups] == _first_appearance(names)  # one row per group, in file order
    assert "true" not in groups[0] and {"prob_0", "prob_1", "predicted", "n_stars", "n_stars_used"} <= set(groups[0])
    per_group = Counter(names)
    assert all(int(g["n_stars"]) == per_group[g["cluster"]] for g in groups)
    by_id = {g["cluster"]: g for g in groups}
    assert by_id["G007"]["status"] == "not scored: no star left after the quality cuts"
    assert by_id["G007"]["prob_0"] == "" and by_id["G005"]["predicted"] == ""
    assert by_id["G005"]["status"].startswith("not scored: ") and "fewer than dataset.min_nodes=5" in by_id["G005"]["status"]
    ok = [g for g in groups if g["status"] == "ok"]
    assert len(ok) == len(groups) - 2
    for g in ok:
        p0, p1 = float(g["prob_0"]), float(g["prob_1"])
        assert abs(p0 + p1 - 1) < 1e-5 and g["predicted"] == ("0" if p0 >= p1 else "1")

    members = _read_csv(out / "predictions_members.csv")
    assert len(members) == len(cat)  # one row per input star, in input order, ids exact
    assert [int(m["source_id"]) for m in members] == [int(v) for v in cat["source_id"]]
    assert members[0]["status"] == "not scored: no group id in 'cluster'"
    used = Counter(m["cluster"] for m in members if m["status"] == "ok")
    assert all(int(g["n_stars_used"]) == used[g["cluster"]] for g in ok)
    assert all(m["status"].startswith("not scored: ") for m in members if m["status"] != "ok")
    assert any("quality cut" in m["status"] for m in members)

    s = json.loads((out / "summary.json").read_text())
    stars, grp = s["data"]["prediction"]["stars"], s["data"]["prediction"]["groups"]
    assert stars["input"] == len(cat) and stars["without_group_id"] == 2
    assert stars["input"] == stars["without_group_id"] + stars["removed_by_cuts"] + stars["in_groups_not_scored"] \
        + stars["scored"]
    assert stars["scored"] == sum(used.values()) and stars["in_groups_not_scored"] <= 3
    assert grp == {"input": len(groups), "scored": len(ok), "not_scored": 2}
    assert s["n_rows"] == len(groups) and s["n_not_scored"] == 2 and s["rows_are"] == "groups"
    assert s["members_output"].endswith("predictions_members.csv")

    # the same groups as the training run's test split, scored with the checkpoint's exact preprocessing
    test = [r for r in _read_csv(cls_run / "predictions_test.csv") if int(r["group_id"]) not in (5, 7)]
    compared = 0
    for r in test:
        g = by_id[f"G{int(r['group_id']):03d}"]
        if g["n_stars_used"] == r["n_stars"]:  # groups that lost no star to a missing id
            assert float(g["prob_1"]) == pytest.approx(float(r["prob_1"]), abs=1e-4)
            compared += 1
    assert compared >= 1


def test_predict_star_group_regression_from_python(tmp_path):
    """graph_regression: the Python ``predict(ckpt, path)`` gives one predicted value per group of a member
    table without labels (FITS, int64 ids exact, first-appearance order) and the training run's values."""
    from astropy.table import Table

    from astrolab.training import predict

    run_dir = tmp_path / "reg"
    summary = _train("graph_regression", run_dir)
    cat = Table.read(summary["data"]["source"])
    cat.remove_columns(LABELS)
    cat = cat[::-1]  # reversed: first appearance is the reverse of the id order
    new = tmp_path / "members.fits"
    cat.write(new)
    table = predict(run_dir / "checkpoints" / "best.ckpt", new)
    ids = np.asarray(cat["group_id"], dtype=np.int64)
    assert np.array_equal(np.asarray(table["group_id"], dtype=np.int64), np.array(_first_appearance(ids.tolist())))
    assert table["group_id"].dtype == np.int64
    assert "true" not in table.colnames and "prob_0" not in table.colnames
    ok = np.asarray(table["status"]) == "ok"
    assert ok.all()  # every group of the embedded sample keeps min_nodes stars
    values = np.asarray(table["predicted"], dtype=np.float64)
    assert np.isfinite(values).all() and np.ptp(values) > 0
    want = {int(r["group_id"]): float(r["predicted"]) for r in _read_csv(run_dir / "predictions_test.csv")}
    got = dict(zip(np.asarray(table["group_id"]).tolist(), values.tolist()))
    assert want and all(got[g] == pytest.approx(v, abs=1e-4) for g, v in want.items())


def test_anomaly_scores_with_mc_samples_have_a_spread():
    """``predict.mc_samples`` on an anomaly model: the mean score of the passes and its std per group (it
    ended in KeyError: 'value')."""
    import torch

    from astrolab.tasks.graph import AnomalyDetection

    task = AnomalyDetection()
    outs = torch.tensor([[1.0, 2.0], [3.0, 2.0]])  # 2 passes x 2 graphs
    cols = task.prediction_columns(task.predict_samples(outs))
    assert np.allclose(cols["anomaly_score"], [2.0, 2.0])
    assert np.allclose(cols["anomaly_score_std"], [np.sqrt(2.0), 0.0])


def test_dataset_group_on_a_model_without_groups_is_one_line():
    """``dataset.group=`` means nothing to a Gaia node model: one line naming the key, before any data."""
    from omegaconf import OmegaConf

    from astrolab.errors import ConfigError
    from astrolab.training.session import _restore

    state = {"astrolab": {"config": {"dataset": {"_target_": "astrolab.data.datamodules.GaiaDataModule",
                                                 "path": None}}, "choices": {"dataset": "gaia"}}}
    with pytest.raises(ConfigError, match=r"^dataset.group= names the group column .*dataset=gaia model: remove"):
        _restore(OmegaConf.create({"dataset": {"group": "cluster"}}), state, "predict")
