"""The run session from the user's side: ``astrolab predict`` on catalogs without labels, continuing a
killed run, and run directories that are never written over (all through the real console script)."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED_DATA, astrolab_exe, read_summary

OPH = SHARED_DATA / "gaia_dr2_rho_oph"
RRL = SHARED_DATA / "sdss_s82_rrlyrae_lightcurves"
SMALL_GAIA = ["model=gat", "dataset=gaia", "dataset.n_stars=1500", "model.hidden_dim=16",
              "trainer.enable_model_summary=false"]


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def gaia_run(tmp_path_factory, session_dirs):
    """One small finished training run shared by the tests below."""
    import os

    run_dir = tmp_path_factory.mktemp("gaia_run") / "run"
    env = {**os.environ, "ASTROLAB_CACHE": str(session_dirs["cache"]), "ASTROLAB_OUTPUT": str(session_dirs["outputs"])}
    proc = subprocess.run([astrolab_exe(), "train", *SMALL_GAIA, "trainer.max_epochs=3", f"hydra.run.dir={run_dir}"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir


def test_predict_gaia_catalog_without_label_column(gaia_run, run_cli, tmp_path):
    from astropy.table import Table

    data = read_summary(gaia_run)["data"]["source"]
    cat = Table.read(data)
    cat.remove_column("cluster_label")
    new = tmp_path / "new_field.fits"
    cat.write(new)
    out = tmp_path / "pred"
    proc = run_cli("predict", f"ckpt_path={gaia_run / 'checkpoints' / 'best.ckpt'}", f"dataset.path={new}",
                   "predict.output=predictions.fits", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    pred = Table.read(out / "predictions.fits")
    assert len(pred) == len(cat)  # one row per input row, in input order
    assert np.array_equal(np.asarray(pred["source_id"], dtype=np.int64), np.asarray(cat["source_id"], dtype=np.int64))
    ok = pred["status"] == "ok"
    assert 0 < ok.sum() < len(pred)  # the quality cuts leave some rows unscored, and they are said so
    assert all(s.startswith("not scored") for s in pred["status"][~ok])
    probs = np.stack([np.asarray(pred[c][ok], dtype=float) for c in pred.colnames if c.startswith("prob_")], 1)
    assert probs.shape[1] == 7 and np.allclose(probs.sum(1), 1, atol=1e-4)
    assert str(pred["ra"].unit) == "deg"  # FITS keeps the input's units
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_rows"] == len(cat) and summary["n_scored"] == int(ok.sum())


def test_predict_mc_dropout_adds_uncertainty(gaia_run, run_cli, tmp_path):
    out = tmp_path / "pred"
    proc = run_cli("predict", f"ckpt_path={gaia_run / 'checkpoints' / 'best.ckpt'}", "predict.mc_samples=4",
                   "predict.keep=[source_id,phot_g_mean_mag]", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with (out / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {"source_id", "phot_g_mean_mag", "entropy", "prob_std", "status"} <= set(rows[0])
    ent = np.array([float(r["entropy"]) for r in rows if r["status"] == "ok"])
    assert (ent >= 0).all() and ent.std() > 0


def test_python_predict_equals_cli(gaia_run, tmp_path):
    from astrolab.training import predict

    table = predict(gaia_run / "checkpoints" / "best.ckpt")
    assert "predicted" in table.colnames and len(table) == 1500


def test_run_directory_is_never_written_over(gaia_run, run_cli):
    before = _hashes(gaia_run)
    again = run_cli("train", *SMALL_GAIA, "trainer.max_epochs=1", f"hydra.run.dir={gaia_run}")
    assert again.returncode != 0
    assert "already holds results" in again.stderr and "Traceback" not in again.stderr
    ev = run_cli("evaluate", f"ckpt_path={gaia_run / 'checkpoints' / 'best.ckpt'}", f"hydra.run.dir={gaia_run}")
    assert ev.returncode != 0 and "already holds results" in ev.stderr
    assert _hashes(gaia_run) == before


def test_second_process_in_a_directory_in_use_stops_at_once(tmp_path):
    import os

    run_dir = tmp_path / "run"
    first = subprocess.Popen([astrolab_exe(), "train", *SMALL_GAIA, "trainer.max_epochs=4", f"hydra.run.dir={run_dir}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        for _ in range(600):
            if (run_dir / ".astrolab.lock").exists():
                break
            time.sleep(0.1)
        t0 = time.perf_counter()
        second = subprocess.run([astrolab_exe(), "train", *SMALL_GAIA, f"hydra.run.dir={run_dir}"],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode != 0 and "in use by process" in second.stderr, second.stderr[-2000:]
        assert time.perf_counter() - t0 < 30
    finally:
        _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-3000:]
    s = read_summary(run_dir)
    assert s["epochs"] == 4 and not (run_dir / ".astrolab.lock").exists()


def test_killed_run_continues_with_ckpt_path_last(tmp_path):
    import os

    import torch

    run_dir = tmp_path / "run"
    args = [astrolab_exe(), "train", *SMALL_GAIA, "trainer.max_epochs=30", "callbacks.early_stopping.patience=100",
            "save_plots=false", f"hydra.run.dir={run_dir}"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    last = run_dir / "checkpoints" / "last.ckpt"
    try:
        for _ in range(1800):
            if last.exists():
                try:
                    if torch.load(last, weights_only=True, map_location="cpu")["epoch"] >= 4:
                        break
                except Exception:  # being written
                    pass
            time.sleep(0.1)
        proc.kill()  # SIGKILL: no clean-up at all
    finally:
        proc.wait(timeout=60)
    assert not (run_dir / "summary.json").exists()
    epoch_at_kill = torch.load(last, weights_only=True, map_location="cpu")["epoch"]
    assert 4 <= epoch_at_kill < 29
    res = subprocess.run([astrolab_exe(), "train", f"hydra.run.dir={run_dir}", "ckpt_path=last"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    s = read_summary(run_dir)
    assert s["epochs"] == 30 and s["resumed_from"].endswith("last.ckpt")
    with (run_dir / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    val_epochs = [int(r["epoch"]) for r in rows if r.get("val/loss")]
    assert val_epochs == list(range(1, 31))  # each epoch once (counted from 1), none restarted
    with (run_dir / "metrics_raw.csv").open() as f:
        raw = [int(r["epoch"]) for r in csv.DictReader(f) if r.get("train/loss")]
    assert raw == list(range(30))


def test_ckpt_path_last_needs_its_run_directory(run_cli, tmp_path):
    res = run_cli("train", "ckpt_path=last")
    assert res.returncode != 0 and "hydra.run.dir" in res.stderr and "Traceback" not in res.stderr


def test_predict_sdss_catalog_without_label(run_cli, tmp_path):
    from astropy.table import Table

    run_dir = tmp_path / "train"
    proc = run_cli("train", "model=multimodal", "dataset=sdss", "dataset.n_objects=1200", "trainer.max_epochs=2",
                   "trainer.enable_model_summary=false", "save_plots=false", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    cat = Table.read(read_summary(run_dir)["data"]["source"])
    cat.remove_columns([c for c in ("class", "z", "zErr") if c in cat.colnames])
    new = tmp_path / "new.csv"
    cat.write(new, format="ascii.csv")
    out = tmp_path / "pred"
    proc = run_cli("predict", f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}", f"dataset.path={new}",
                   f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    pred = Table.read(out / "predictions.csv", format="ascii.csv")
    assert len(pred) == len(cat)
    assert np.array_equal(np.asarray(pred["objid"], dtype=np.int64), np.asarray(cat["objid"], dtype=np.int64))
    assert {"prob_GALAXY", "prob_QSO", "prob_STAR"} <= set(pred.colnames) and "true" not in pred.colnames


@pytest.mark.skipif(not OPH.is_dir(), reason=f"real-data folder {OPH} not present")
def test_predict_rho_oph_with_label_columns_dropped(run_cli, tmp_path):
    from astropy.table import Table

    run_dir = tmp_path / "train"
    proc = run_cli("train", "model=gat", f"dataset.path={OPH / 'oph_gaia_dr2_labeled.csv'}",
                   "dataset.target=member_common", "trainer.max_epochs=3", "trainer.enable_model_summary=false",
                   "save_plots=false", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    cat = Table.read(OPH / "oph_gaia_dr2_labeled.csv", format="ascii.csv")
    cat.remove_columns(["member_common", "member_any", "n_algos"])
    new = tmp_path / "oph_unlabelled.csv"
    cat.write(new, format="ascii.csv")
    out = tmp_path / "pred"
    proc = run_cli("predict", f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}", f"dataset.path={new}",
                   f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with (out / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(cat)
    assert [int(r["source_id"]) for r in rows] == [int(v) for v in cat["source_id"]]  # exact 64-bit ids
    assert all(r["status"] == "ok" and r["prob_1"] != "" for r in rows)


@pytest.mark.skipif(not RRL.is_dir(), reason=f"real-data folder {RRL} not present")
def test_predict_rr_lyrae_folder_without_object_table(run_cli, tmp_path):
    folder = tmp_path / "light-curves"
    folder.mkdir()
    files = sorted((RRL / "light-curves").glob("*.csv"))[:40]
    for f in files:
        shutil.copy(f, folder / f.name)
    cols = ["dataset.columns.object_id=Num", "dataset.columns.mjd=time", "dataset.columns.mag_err=magerr"]
    run_dir = tmp_path / "train"
    proc = run_cli("train", "model=temporal_gnn", "dataset=lightcurves", f"dataset.path={folder}",
                   f"dataset.objects={RRL / 'periods.csv'}", "dataset.target=Type", *cols, "trainer.max_epochs=1",
                   "trainer.enable_model_summary=false", "save_plots=false", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "pred"
    proc = run_cli("predict", f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}", f"dataset.path={folder}",
                   f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with (out / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sorted(int(r["id"]) for r in rows) == sorted(int(f.stem) for f in files)
    assert all(abs(float(r["prob_ab"]) + float(r["prob_c"]) - 1) < 1e-4 for r in rows)


def test_evaluate_reports_calibration(gaia_run, run_cli, tmp_path):
    out = tmp_path / "eval"
    proc = run_cli("evaluate", f"ckpt_path={gaia_run / 'checkpoints' / 'best.ckpt'}", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = read_summary(out)
    assert 0 <= s["metrics"]["test/ece"] <= 1
    assert (out / "reliability.png").is_file()
    train = read_summary(gaia_run)["metrics"]
    assert s["metrics"]["test/acc"] == pytest.approx(train["test/acc"], abs=1e-6)  # reproduces the run


def test_expected_calibration_error_of_known_cases():
    from astrolab.tasks.calibration import expected_calibration_error

    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, 200_000)
    y_calibrated = (rng.uniform(size=conf.size) > conf).astype(int)  # class 0 is right with probability conf
    prob = np.stack([conf, 1 - conf], 1)
    assert expected_calibration_error(prob, y_calibrated) < 0.01
    always_wrong = np.ones(conf.size, int)
    assert expected_calibration_error(prob, always_wrong) == pytest.approx(conf.mean(), abs=0.01)


def test_continue_lines_count_epochs_from_one(tmp_path, caplog):
    """The log lines of a continued run count epochs as the epoch lines and metrics.csv do (from 1):
    Lightning's checkpoint stores the 0-based index of the epoch it was saved in."""
    import logging

    from astrolab.training.session import _trim_metrics, epochs_done

    assert epochs_done({"epoch": 3}) == "after epoch 4; continuing with epoch 5"
    assert epochs_done({}) == "before the first epoch ended"
    raw = tmp_path / "metrics_raw.csv"
    raw.write_text("epoch,step,train/loss\n" + "".join(f"{e},{e},1.0\n" for e in range(6)))
    with caplog.at_level(logging.INFO, logger="astrolab.training.session"):
        _trim_metrics(raw, 3, 4)
    assert "dropped 2 rows logged after epoch 4 " in caplog.text
    assert [ln.split(",")[0] for ln in raw.read_text().splitlines()[1:]] == ["0", "1", "2", "3"]


@pytest.mark.parametrize("content", [b"hello", b"\x00not a checkpoint", b"PK\x03\x04garbage", b""])
def test_a_file_that_is_no_checkpoint_is_one_checkpoint_error(tmp_path, content):
    """Any file that is not a torch checkpoint (a text file ended in torch's KeyError) is a CheckpointError."""
    from astrolab.errors import CheckpointError
    from astrolab.training.session import load_checkpoint

    bad = tmp_path / "notes.ckpt"
    bad.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"notes.ckpt' is not a readable astrolab checkpoint"):
        load_checkpoint(bad)


def test_a_changed_training_file_is_reported_also_when_named_again(tmp_path, caplog):
    """evaluate/predict say so when the training file changed, read by default or named again with
    dataset.path=; another file is a new catalog (nothing to compare)."""
    import logging

    from astrolab.training.session import _data_changed

    class DM:
        def __init__(self, source, checksum):
            self.info = {"source": str(source), "checksum": checksum}

        def describe(self):
            return self.info

    train = tmp_path / "train.csv"
    meta = {"data_checksum": "a" * 64, "config": {"dataset": {"path": str(train)}}}
    with caplog.at_level(logging.WARNING, logger="astrolab.training.session"):
        assert _data_changed(DM(train, "b" * 64), meta, given_path=False) == "changed since training"
        assert _data_changed(DM(train, "b" * 64), meta, given_path=True) == "changed since training"
        assert "dataset.path is the file the model was trained on, but it changed" in caplog.text
        assert _data_changed(DM(tmp_path / "other.csv", "b" * 64), meta, given_path=True) is None
        assert _data_changed(DM(train, "a" * 64), meta, given_path=True) is None
