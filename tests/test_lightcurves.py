"""Light-curve generator, long-format reader, sequence data module and end-to-end CLI runs."""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from astropy.table import Table

from astrolab.data.datamodules.lightcurves import LightCurveDataModule
from astrolab.data.io import read_catalog
from astrolab.data.surveys.lightcurves import read_epochs
from astrolab.data.synthetic.lightcurves import CLASSES, generate_lightcurves, photometric_error
from astrolab.training.baselines import mcnemar_p
from conftest import SHARED_DATA, read_summary

SDSS = SHARED_DATA / "sdss_s82_rrlyrae_lightcurves"
TINY = ["dataset.n_objects=48", "dataset.min_epochs=20", "dataset.max_epochs=40", "dataset.batch_size=16",
        "trainer.max_epochs=2", "trainer.enable_model_summary=false", "model.hidden_dim=16"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("lc")
    return generate_lightcurves(root / "epochs.csv", root / "objects.csv", n_objects=80, min_epochs=50,
                                max_epochs=120, seed=3)


def test_generator_is_deterministic_and_balanced(sample, tmp_path):
    ep, ob = sample
    again = generate_lightcurves(tmp_path / "e.csv", tmp_path / "o.csv", n_objects=80, min_epochs=50,
                                 max_epochs=120, seed=3)
    assert again[0].read_bytes() == ep.read_bytes() and again[1].read_bytes() == ob.read_bytes()
    other = generate_lightcurves(tmp_path / "e2.csv", tmp_path / "o2.csv", n_objects=80, min_epochs=50,
                                 max_epochs=120, seed=4)
    assert other[0].read_bytes() != ep.read_bytes()
    objects = read_catalog(ob)
    counts = {c: int((objects.column("class") == c).sum()) for c in CLASSES}
    assert set(counts.values()) == {10}, counts
    assert objects.data["object_id"].dtype == torch.int64


def test_generator_cadence_and_errors(sample):
    ep, ob = sample
    cat = read_catalog(ep)
    ids = cat.column("object_id")
    n = np.unique(ids, return_counts=True)[1]
    assert n.min() >= 50 and n.max() <= 120
    assert set(np.unique(cat.column("band"))) == {"g", "r"}
    t = cat.column("mjd")[ids == ids[0]]
    assert np.diff(t).max() > 100  # a seasonal gap
    assert photometric_error(np.array([20.0]))[0] > 5 * photometric_error(np.array([15.0]))[0]
    mag, err = cat.column("mag"), cat.column("mag_err")
    assert np.corrcoef(mag, np.log(err))[0, 1] > 0.8
    # periods from the documented literature ranges
    objects = read_catalog(ob)
    cls, per = objects.column("class"), objects.column("period")
    assert np.all((per[cls == "RRab"] >= 0.45) & (per[cls == "RRab"] <= 0.85))
    assert np.all((per[cls == "Mira"] >= 150) & (per[cls == "Mira"] <= 450))
    assert np.all(np.isnan(per[cls == "NonVar"]))


def test_reader_round_trip_of_the_long_format(sample, tmp_path):
    ep, _ = sample
    cat = read_catalog(ep)
    epochs = read_epochs(ep)
    order = np.lexsort((cat.column("mjd"), cat.column("object_id")))
    assert np.array_equal(epochs.object_id, cat.column("object_id")[order])
    assert np.allclose(epochs.mag, cat.column("mag")[order])
    assert np.array_equal(epochs.band, cat.column("band")[order])
    # the same table as parquet with an archive's own column names, mapped with columns=
    from astropy.table import Table

    t = Table.read(ep, format="ascii.csv")
    t.rename_columns(["object_id", "mjd", "mag", "mag_err", "band"], ["oid", "hjd", "m", "e", "filter"])
    t.write(tmp_path / "ztf_like.parquet")
    again = read_epochs(tmp_path / "ztf_like.parquet", {"object_id": "oid", "mjd": "hjd", "mag": "m",
                                                        "mag_err": "e", "band": "filter"})
    assert np.array_equal(again.object_id, epochs.object_id) and np.allclose(again.mjd, epochs.mjd)


def test_missing_column_names_the_fix(sample, tmp_path):
    from astrolab.errors import MissingColumnError

    ep, _ = sample
    from astropy.table import Table

    t = Table.read(ep, format="ascii.csv")
    t.rename_column("mag_err", "mag_e")
    t.write(tmp_path / "x.csv")
    with pytest.raises(MissingColumnError, match="dataset.columns.mag_err=mag_e"):
        read_epochs(tmp_path / "x.csv")


def _per_star_folder(tmp_path: Path) -> tuple[Path, Path]:
    """SDSS-like: one file per star (id = stem), time/mag/magerr/band, sentinels, an object table."""
    folder = tmp_path / "light-curves"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for k, sid in enumerate([101, 202, 303, 404, 505, 606]):
        t = np.sort(rng.uniform(51000, 52000, 40))
        mag = 17 + 0.3 * np.sin(t) + rng.normal(0, 0.02, 40)
        err = np.full(40, 0.02)
        mag[3], err[5] = 100.0, 99.999  # archive sentinels
        band = np.array(list("ugriz") * 8)
        with open(folder / f"{sid}.csv", "w") as fh:
            fh.write("time,mag,magerr,band\n")
            for a, b, c, d in zip(t, mag, err, band):
                fh.write(f"{a:.6f},{b:.3f},{c:.3f},{d}\n")
        rows.append(f"{sid},{'ab' if k % 2 else 'c'},{0.3 + 0.1 * k}")
    (tmp_path / "periods.csv").write_text("Num,Type,Per\n" + "\n".join(rows) + "\n")
    return folder, tmp_path / "periods.csv"


def test_folder_of_per_star_files_drops_sentinels(tmp_path, caplog):
    folder, periods = _per_star_folder(tmp_path)
    cols = {"object_id": "Num", "mjd": "time", "mag_err": "magerr"}
    ep = read_epochs(folder, cols)
    assert sorted(np.unique(ep.object_id).tolist()) == [101, 202, 303, 404, 505, 606]
    assert len(ep.mjd) == 6 * 38 and ep.mag.max() < 50 and ep.mag_err.max() < 9
    assert ep.info["cuts"]["sentinel_or_bad_error"] == 12
    dm = LightCurveDataModule(path=str(folder), objects=str(periods), target="Type", columns=cols,
                              period_column="Per", use_cache=False, split={"val": 0.0, "test": 0.34, "seed": 0})
    dm.setup()
    assert dm.class_names == ["ab", "c"] and dm.band_names == list("giruz")
    assert "Type" not in dm.feature_names and "Per" not in dm.feature_names


def test_batches_are_padded_with_masks_and_standardised_on_train(sample, caplog):
    ep, ob = sample
    dm = LightCurveDataModule(path=str(ep), objects=str(ob), use_cache=False, batch_size=16)
    dm.setup()
    assert dm.feature_names[:4] == ["log_dt", "dmag", "log_err", "median_mag"]
    batch = next(iter(dm.train_dataloader()))
    seq = batch["sequence"]
    idx = batch["objects", "index"]
    assert torch.equal(seq["mask"].sum(1), dm.ctx_len[idx])  # nothing truncated
    assert (seq["x"][~seq["mask"]] == 0).all()
    train = dm.td["objects", "train_mask"][torch.repeat_interleave(torch.arange(len(dm.ctx_len)), dm.ctx_len)]
    x = dm.td["context", "x"][train]
    assert torch.allclose(x.mean(0), torch.zeros(x.shape[1]), atol=1e-4)
    assert batch["objects", "id"].dtype == torch.int64
    # with max_length the cut is logged, never silent
    with caplog.at_level(logging.WARNING):
        dm2 = LightCurveDataModule(path=str(ep), objects=str(ob), use_cache=False, max_length=60)
        dm2.setup()
    assert int(dm2.ctx_len.max()) == 60
    assert any("max_length=60" in r.getMessage() for r in caplog.records)


def test_forecast_queries_are_the_last_epochs_with_baselines(sample):
    ep, ob = sample
    dm = LightCurveDataModule(path=str(ep), objects=str(ob), use_cache=False, task_kind="forecasting",
                              forecast={"fraction": 0.2, "max_queries": 8, "min_context": 20})
    dm.setup()
    q = dm.td["queries"]
    epochs = read_epochs(ep)
    k = 0
    oid = int(dm.td["objects", "id"][k])
    mine = epochs.object_id == oid
    n = int(mine.sum())
    nq = int(dm.q_len[k])
    assert nq == min(8, round(0.2 * n)) and int(dm.ctx_len[k]) == n - nq
    rows = q["object"] == k
    t_all = epochs.mjd[mine]
    assert np.allclose(q["mjd"][rows].numpy(), t_all[-nq:])
    # persistence = last context magnitude in the same band (relative to the band median)
    bands, mags = epochs.band[mine], epochs.mag[mine]
    b0 = dm.band_names[int(q["band"][rows][0])]
    ctx_b = mags[: n - nq][bands[: n - nq] == b0]
    expected = ctx_b[-1] - np.median(ctx_b)
    assert float(q["target"][rows][0, 1]) == pytest.approx(expected, abs=1e-6)
    assert float(q["target"][rows][0, 0] + q["offset"][rows][0]) == pytest.approx(mags[n - nq], abs=1e-6)


def _check_metrics(summary: dict, names: list[str]) -> None:
    for n in names:
        assert f"test/{n}" in summary["metrics"], summary["metrics"].keys()
        assert f"baseline/{n}" in summary["metrics"]
        assert np.isfinite(summary["metrics"][f"test/{n}"])


def test_cli_time_series_classification(run_cli, tmp_path):
    res = run_cli("train", "model=temporal_gnn", "dataset=lightcurves", *TINY, f"hydra.run.dir={tmp_path}")
    assert res.returncode == 0, res.stderr[-2000:]
    s = read_summary(tmp_path)
    assert s["task"] == "time_series_classification"
    _check_metrics(s, ["acc", "f1_macro", "auroc"])
    assert s["metrics"]["baseline/acc"] == pytest.approx(1 / 8, abs=0.05)
    # the feature baseline (random forest on dataset.features) sits next to the majority baseline
    assert {"baseline_features/acc", "baseline_features/f1_macro", "baseline_features/auroc"} <= set(s["metrics"])
    assert 0 <= s["metrics"]["baseline_features/acc"] <= 1
    assert s["data"]["object_features"][:3] == ["log_period_1", "ls_power_1", "log_fap_1"]
    assert s["data"]["classes"] == sorted(CLASSES)
    pred = read_catalog(tmp_path / "predictions_test.csv")
    assert pred.data["object_id"].dtype == torch.int64 and len(pred) == s["data"]["split_sizes"]["test"]
    # the forest's prediction of every test object sits next to the model's, and reproduces its metric
    table = Table.read(tmp_path / "predictions_test.csv", format="ascii.csv")
    true, model, forest = (np.asarray(table[c]).astype(str)
                           for c in ("true", "predicted", "baseline_features_predicted"))
    assert np.mean(forest == true) == pytest.approx(s["metrics"]["baseline_features/acc"], abs=1e-6)
    assert ((table["baseline_features_prob"] > 0) & (table["baseline_features_prob"] <= 1)).all()
    only_model = int(((model == true) & (forest != true)).sum())
    only_forest = int(((model != true) & (forest == true)).sum())
    assert s["baseline_features"] == {
        "disagree": int((model != forest).sum()), "only_model_right": only_model,
        "only_baseline_right": only_forest, "both_wrong": int(((model != true) & (forest != true)).sum()),
        "mcnemar_p": pytest.approx(mcnemar_p(only_model, only_forest), abs=1e-6)}  # the test of these counts
    assert 0 < s["baseline_features"]["mcnemar_p"] <= 1
    metrics_csv = (tmp_path / "metrics.csv").read_text().splitlines()[0]
    for n in ("val/acc", "val/f1_macro", "val/auroc", "test/acc"):
        assert n in metrics_csv
    # the family picture: test light curves folded on their period, titled true -> predicted
    assert (tmp_path / "light_curves.png").stat().st_size > 5000


def test_mcnemar_p_is_the_exact_binomial_tail():
    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(1, 2) == 1.0          # 238 vs 239 of 240 with three discordant objects: no evidence
    assert mcnemar_p(0, 6) == pytest.approx(2 / 2 ** 6)   # all six discordant pairs one way: 0.03125
    assert mcnemar_p(10, 2) == pytest.approx(mcnemar_p(2, 10))
    assert mcnemar_p(10, 2) == pytest.approx(2 * sum(math.comb(12, k) for k in range(3)) / 2 ** 12)


def test_forest_columns_go_only_into_a_table_with_the_forests_rows():
    from types import SimpleNamespace

    from astrolab.training.baselines import FeatureBaseline, add_baseline_columns

    task = SimpleNamespace(class_names=["RRab", "RRc"])
    forest = FeatureBaseline({}, np.array([0, 1, 1]), np.array([0.9, 0.6, 0.7]), np.array([0, 1, 0]))
    table = Table({"true": ["RRab", "RRc", "RRab"], "predicted": ["RRab", "RRab", "RRab"]})
    counts = add_baseline_columns(table, forest, task)
    assert list(table["baseline_features_predicted"]) == ["RRab", "RRc", "RRc"]
    assert counts == {"disagree": 2, "only_model_right": 1, "only_baseline_right": 1, "both_wrong": 0,
                      "mcnemar_p": 1.0}
    # rows in another order than the forest's (true labels differ row by row): nothing is added
    other = Table({"true": ["RRc", "RRab", "RRab"], "predicted": ["RRab", "RRab", "RRab"]})
    assert add_baseline_columns(other, forest, task) == {}
    assert "baseline_features_predicted" not in other.colnames


def test_cli_ensemble_trains_evaluates_and_predicts_as_one_model(run_cli, tmp_path):
    res = run_cli("train", "model=temporal_gnn", "dataset=lightcurves", *TINY, "model.ensemble=2",
                  f"hydra.run.dir={tmp_path}")
    assert res.returncode == 0, res.stderr[-2000:]
    s = read_summary(tmp_path)
    ckpt = torch.load(s["best_checkpoint"], map_location="cpu", weights_only=False)
    assert ckpt["hyper_parameters"]["ensemble"] == 2
    assert any(k.startswith("members.0.encoder.") for k in ckpt["state_dict"])
    pred = read_catalog(tmp_path / "predictions_test.csv")
    probs = np.stack([np.asarray(pred.column(c), float) for c in pred.names if c.startswith("prob_")], 1)
    assert np.allclose(probs.sum(1), 1.0, atol=1e-4)  # the members' mean probability is still a distribution
    ev = tmp_path / "eval"
    res = run_cli("evaluate", f"ckpt_path={s['best_checkpoint']}", f"hydra.run.dir={ev}")
    assert res.returncode == 0, res.stderr[-2000:]
    assert read_summary(ev)["metrics"]["test/acc"] == pytest.approx(s["metrics"]["test/acc"], abs=1e-6)


def test_cli_forecasting_with_knn_graph_and_transformer(run_cli, tmp_path):
    res = run_cli("train", "model=temporal_gnn", "task=forecasting", "model.cell=transformer", "model.graph=knn",
                  "dataset=lightcurves", *TINY, f"hydra.run.dir={tmp_path}")
    assert res.returncode == 0, res.stderr[-2000:]
    s = read_summary(tmp_path)
    assert s["task"] == "forecasting"
    _check_metrics(s, ["mae", "rmse", "mae_vs_persistence", "mae_vs_folded"])
    assert s["metrics"]["baseline/mae_vs_persistence"] == pytest.approx(1.0)
    assert "baseline/folded_mae" in s["metrics"]
    assert s["data"]["graph"]["type"] == "knn"
    pred = read_catalog(tmp_path / "predictions_test.csv")
    assert {"id", "object_id", "mjd", "band", "true", "predicted", "persistence"} <= set(pred.names)
    err = np.abs(pred.column("predicted") - pred.column("true"))  # magnitudes: the writer added the offsets back
    assert err.mean() == pytest.approx(s["metrics"]["test/mae"], rel=1e-3)
    assert (tmp_path / "forecasts.png").stat().st_size > 5000
    # evaluate rebuilds the same data (saved scalers, bands, graph) and reproduces the test metrics
    ev = tmp_path / "eval"
    res = run_cli("evaluate", f"ckpt_path={s['best_checkpoint']}", f"hydra.run.dir={ev}")
    assert res.returncode == 0, res.stderr[-2000:]
    e = read_summary(ev)
    assert e["metrics"]["test/mae"] == pytest.approx(s["metrics"]["test/mae"], rel=1e-5)


def test_cli_incompatible_pair_is_one_line(run_cli, tmp_path):
    res = run_cli("train", "model=gat", "dataset=lightcurves", f"hydra.run.dir={tmp_path}")
    assert res.returncode != 0
    assert "lightcurves" in res.stderr and "Traceback" not in res.stderr


@pytest.fixture
def sdss_subset(tmp_path):
    if not SDSS.exists():
        pytest.skip(f"real data folder {SDSS} is absent (SDSS Stripe 82 RR Lyrae, Sesar et al. 2010)")
    folder = tmp_path / "light-curves"
    folder.mkdir()
    for f in sorted((SDSS / "light-curves").glob("*.csv"))[:24]:
        shutil.copy(f, folder / f.name)
    return folder


SDSS_ARGS = ["dataset.target=Type", "dataset.columns.object_id=Num", "dataset.columns.mjd=time",
             "dataset.columns.mag_err=magerr", "dataset.period_column=Per"]


def test_sdss_rrlyrae_folder_reads_through_the_dataset_config(sdss_subset):
    dm = LightCurveDataModule(path=str(sdss_subset), objects=str(SDSS / "periods.csv"), target="Type",
                              columns={"object_id": "Num", "mjd": "time", "mag_err": "magerr"},
                              period_column="Per", use_cache=False)
    dm.setup()
    assert dm.band_names == list("giruz") and set(dm.class_names) == {"ab", "c"}
    assert int(dm.td["objects"].batch_size[0]) == 24
    ids = set(dm.td["objects", "id"].tolist())
    assert ids == {int(p.stem) for p in sdss_subset.glob("*.csv")}
    batch = dm.collate(torch.arange(4))
    x = batch["sequence", "x"][batch["sequence", "mask"]]
    assert torch.isfinite(x).all() and x.abs().max() < 50  # sentinels (mag ~ 100, err 99.999) are gone


@pytest.mark.slow
def test_cli_sdss_rrlyrae_ab_vs_c(run_cli, tmp_path):
    if not SDSS.exists():
        pytest.skip(f"real data folder {SDSS} is absent")
    res = run_cli("train", "model=temporal_gnn", "dataset=lightcurves", f"dataset.path={SDSS / 'light-curves'}",
                  f"dataset.objects={SDSS / 'periods.csv'}", *SDSS_ARGS, "trainer.max_epochs=30",
                  f"hydra.run.dir={tmp_path}")
    assert res.returncode == 0, res.stderr[-2000:]
    s = read_summary(tmp_path)
    assert s["metrics"]["test/acc"] > s["metrics"]["baseline/acc"] + 0.05


def test_robust_and_quantile_feature_scaling_by_hand():
    from astrolab.data.datamodules.lightcurves import apply_object_scaler, fit_object_scaler

    # column 0: 1..9 and an outlier; column 1: NaN in training rows; column 2: constant
    ref = np.array([[1, 0.0, 3], [2, np.nan, 3], [3, 2.0, 3], [4, 4.0, 3], [5, 6.0, 3],
                    [6, 8.0, 3], [7, np.nan, 3], [8, 10.0, 3], [9, 12.0, 3], [1000, 14.0, 3]])
    sc = fit_object_scaler(ref, ["a", "b", "c"], "robust")
    med_a, iqr_a = np.median(ref[:, 0]), np.percentile(ref[:, 0], 75) - np.percentile(ref[:, 0], 25)
    b = ref[:, 1][np.isfinite(ref[:, 1])]
    med_b, iqr_b = np.median(b), np.percentile(b, 75) - np.percentile(b, 25)
    assert sc["center"][:2] == pytest.approx([med_a, med_b]) and sc["scale"][:2] == pytest.approx([iqr_a, iqr_b])
    assert sc["scale"][2] == 1.0  # constant column: no division by zero
    x = np.array([[4.0, 8.0, 3.0], [1000.0, np.nan, 3.0], [-1e9, -1e9, np.nan]])
    out = apply_object_scaler(x, sc)
    assert out.dtype == np.float32
    assert out[0] == pytest.approx([(4 - med_a) / iqr_a, (8 - med_b) / iqr_b, 0.0], rel=1e-6)
    assert out[1, 0] == 5.0 and out[1, 1] == 0.0  # clipped to +5; NaN -> the training median (0)
    assert out[2].tolist() == [-5.0, -5.0, 0.0]
    # quantile: the training median maps to 0, monotone, clipped, NaN -> 0
    sq = fit_object_scaler(ref, ["a", "b", "c"], "quantile")
    q = apply_object_scaler(np.array([[5.5, 7.0, 3.0], [2.0, np.nan, 3.0], [9.0, 13.0, 3.0], [1e9, 1e9, 3.0]]), sq)
    assert q[0, :2] == pytest.approx([0.0, 0.0], abs=1e-6) and q[1, 1] == 0.0
    assert q[1, 0] < q[0, 0] < q[2, 0] < q[3, 0] <= 5.0 and q[:, 2].tolist() == [0.0] * 4  # ties: the middle
    # standard (earlier checkpoints carry no method): mean/std
    old = {"feature_names": ["a"], "mean": [2.0], "std": [4.0]}
    assert apply_object_scaler(np.array([[10.0], [np.nan]]), old)[:, 0].tolist() == [2.0, 0.0]


def test_piecewise_linear_feature_encoding_by_hand():
    from astrolab.data.datamodules.lightcurves import PLE_BINS, apply_object_scaler, fit_object_scaler

    rng = np.random.default_rng(0)
    ref = np.c_[rng.normal(size=200), np.r_[rng.normal(size=190), [np.nan] * 10], np.full(200, 3.0)]
    sc = fit_object_scaler(ref, ["a", "b", "c"], "ple")
    edges = np.quantile(ref[:, 0], np.linspace(0, 1, PLE_BINS + 1))
    assert sc["edges"][0] == pytest.approx(edges.tolist()) and sc["edges"][2] == [3.0]
    x = np.array([[edges[3] + 0.25 * (edges[4] - edges[3]), np.nan, 3.0], [-1e9, 1e9, 3.0]])
    out = apply_object_scaler(x, sc)
    assert out.shape == (2, PLE_BINS + PLE_BINS + 1) and out.dtype == np.float32  # constant column: one 0
    a = out[0, :PLE_BINS]
    assert a[:3].tolist() == [1.0] * 3 and a[3] == pytest.approx(0.25) and a[4:].tolist() == [0.0] * 12
    med_b = np.nanmedian(ref[:, 1])  # NaN -> the training median's encoding
    assert torch.equal(torch.from_numpy(out[0, PLE_BINS:2 * PLE_BINS]),
                       torch.from_numpy(apply_object_scaler(np.array([[0.0, med_b, 3.0]]), sc)[0, PLE_BINS:2 * PLE_BINS]))
    assert out[1, :PLE_BINS].tolist() == [0.0] * PLE_BINS and out[1, PLE_BINS:2 * PLE_BINS].tolist() == [1.0] * PLE_BINS
    assert out[:, -1].tolist() == [0.0, 0.0]


def test_feature_scaling_is_fitted_on_train_and_reproduced_from_the_checkpoint(sample):
    from astrolab.errors import ConfigError

    ep, ob = sample
    kw = dict(path=str(ep), objects=str(ob), use_cache=False, batch_size=16, features=["amplitude", "std", "eta"],
              period_search={"min_period": 0.1})
    dm = LightCurveDataModule(**kw, feature_scaling="robust")
    dm.setup()
    sc = dm.preprocessing()["object_scaler"]
    assert sc["method"] == "robust"
    raw = dm.td["objects", "features_raw"].numpy()
    train = dm.td["objects", "train_mask"].numpy()
    assert sc["center"] == pytest.approx(np.nanmedian(raw[train], 0).tolist())  # train split only
    assert sc["center"] != pytest.approx(np.nanmedian(raw, 0).tolist())
    feats = dm.td["objects", "features"]
    assert feats.abs().max() <= 5.0
    # a checkpoint's scaler wins over dataset.feature_scaling (evaluate / predict reproduce the features)
    again = LightCurveDataModule(**kw, feature_scaling="quantile", fixed=dm.preprocessing())
    again.setup()
    assert torch.equal(again.td["objects", "features"], feats)
    other = LightCurveDataModule(**kw, feature_scaling="quantile")
    other.setup()
    assert not torch.equal(other.td["objects", "features"], feats)
    # ple widens the vector: the model is sized from the encoded width, the names stay the features'
    wide = LightCurveDataModule(**kw, feature_scaling="ple")
    wide.setup()
    n, width = len(dm.object_feature_names), int(wide.td["objects", "features"].shape[-1])
    assert n < width <= n * 16 and wide.model_inputs() == {"num_object_features": width}
    assert wide.object_feature_names == dm.object_feature_names and dm.model_inputs() == {"num_object_features": n}
    with pytest.raises(ConfigError, match="dataset.feature_scaling"):
        LightCurveDataModule(**kw, feature_scaling="minmax")
