"""The astrolab command: fast torch-free help, one-line user errors with non-zero exit codes."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from tests.conftest import astrolab_exe


def test_help_lists_commands_and_choices_without_torch():
    code = ("import sys; from astrolab.cli import main; rc = main(['--help']); "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert 'lightning' not in sys.modules; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "train" in out and "evaluate" in out
    assert "gat, gcn, gin, mlp, sage" in out.replace("\n", " ") or all(m in out for m in ("gat", "gcn", "sage"))
    assert "dataset" in out and "gaia" in out


def test_help_is_fast():
    exe = astrolab_exe()
    subprocess.run([exe, "--help"], capture_output=True)  # warm the file cache
    t0 = time.perf_counter()
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0
    assert elapsed < 1.5, f"astrolab --help took {elapsed:.2f} s"


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0
    err = [ln for ln in proc.stderr.splitlines() if ln.strip() and "[INFO]" not in ln and "Warning" not in ln]
    assert len(err) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return err[0]


def test_unknown_choice(run_cli):
    line = _one_line_error(run_cli("train", "model=gatt"))
    assert "model=gat" in line and "gcn" in line


def test_unknown_command(run_cli):
    line = _one_line_error(run_cli("trian"))
    assert "train" in line


def test_missing_catalog(run_cli, tmp_path):
    line = _one_line_error(run_cli("train", f"dataset.path={tmp_path}/nope.fits", f"hydra.run.dir={tmp_path}/r"))
    assert "nope.fits" in line and "dataset.path" in line


def test_missing_column_names_the_fix(run_cli, tmp_path):
    path = tmp_path / "viz.csv"  # VizieR names are recognised; an unknown spelling of ra is not
    path.write_text("ra_j2016,DE_ICRS,Plx,pmRA,pmDE,Gmag,BP-RP,label\n1,2,3,4,5,6,7,a\n")
    line = _one_line_error(run_cli("train", f"dataset.path={path}", "dataset.target=label",
                                   f"hydra.run.dir={tmp_path}/r"))
    assert "missing required column(s) ra;" in line and "dataset.columns.ra=" in line
    assert "ra_j2016" in line
    assert not (tmp_path / "r").exists()  # a run refused on its data leaves no run directory behind


def test_refused_run_keeps_a_directory_with_results(run_cli, tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("mine")
    _one_line_error(run_cli("train", f"dataset.path={tmp_path}/nope.fits", f"hydra.run.dir={run_dir}"))
    assert (run_dir / "notes.txt").read_text() == "mine"  # only Hydra's scaffolding is ever cleaned up


def test_refused_run_leaves_no_empty_date_folder(run_cli, tmp_path):
    """A refused run removes the folders made for it (outputs/<command>/<date>/) when they are empty, and
    never a folder that existed before."""
    import time

    out = tmp_path / "outputs"
    env = {"ASTROLAB_OUTPUT": str(out)}
    _one_line_error(run_cli("train", "model=gat", "dataset.graph.k=0", env=env))
    assert not out.exists()  # outputs/, outputs/train/ and outputs/train/<date>/ were all made for this run
    mine = out / "train" / time.strftime("%Y-%m-%d")
    mine.mkdir(parents=True)
    _one_line_error(run_cli("train", "model=gat", "dataset.graph.k=0", env=env))
    assert mine.is_dir() and not any(mine.iterdir())  # the user's (empty) date folder stays, the run dir went


def test_discard_removes_only_empty_folders_it_made(tmp_path):
    """A named hydra.run.dir: its new parents go when empty; a parent holding anything stays."""
    from astrolab.training import rundir

    run = rundir.acquire(tmp_path / "made" / "date" / "run")  # as prepare_run_dir does for hydra.run.dir=
    (run / ".hydra").mkdir()
    (run / "train.log").write_text("")
    (tmp_path / "made" / "other_run.txt").write_text("another run's file")
    assert rundir.discard_if_empty(run)
    assert not (tmp_path / "made" / "date").exists()  # empty and made for this run
    assert (tmp_path / "made" / "other_run.txt").exists()  # not empty: kept, and nothing above it is touched
    alone = rundir.acquire(tmp_path / "new" / "a" / "b")
    assert rundir.discard_if_empty(alone) and not (tmp_path / "new").exists() and tmp_path.is_dir()


def test_bad_checkpoints(run_cli, tmp_path):
    line = _one_line_error(run_cli("evaluate", f"ckpt_path={tmp_path}/none.ckpt", f"hydra.run.dir={tmp_path}/e1"))
    assert "not found" in line
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"\x00not a checkpoint")
    line = _one_line_error(run_cli("evaluate", f"ckpt_path={junk}", f"hydra.run.dir={tmp_path}/e2"))
    assert "not a readable astrolab checkpoint" in line
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    line = _one_line_error(run_cli("evaluate", f"ckpt_path={foreign}", f"hydra.run.dir={tmp_path}/e3"))
    assert "not an astrolab checkpoint" in line


def test_pickled_code_in_checkpoint_is_not_executed(run_cli, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "astrolab": Evil()}, evil)
    line = _one_line_error(run_cli("evaluate", f"ckpt_path={evil}", f"hydra.run.dir={tmp_path}/e4"))
    assert "checkpoint" in line
    assert not marker.exists()


@pytest.mark.parametrize("debug", ["1"])
def test_debug_shows_traceback(run_cli, tmp_path, debug):
    proc = run_cli("evaluate", f"ckpt_path={tmp_path}/none.ckpt", f"hydra.run.dir={tmp_path}/e5",
                   env={"ASTROLAB_DEBUG": debug})
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_continuing_a_finished_run_is_refused_unless_it_asks_for_more_epochs(tmp_path):
    """``ckpt_path=last`` in a finished run (summary.json written) without a larger trainer.max_epochs
    would test it again and write over its results: refused at start, nothing changed."""
    import json
    import os

    from astrolab.cli import prepare_run_dir
    from astrolab.errors import RunDirError

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"x")
    (run / "summary.json").write_text(json.dumps({"epochs": 30}))
    os.utime(run / "checkpoints" / "last.ckpt", (1, 1))  # written before the summary
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    for extra in ([], ["trainer.max_epochs=30"], ["trainer.max_epochs=12"]):
        with pytest.raises(RunDirError, match=r"holds a finished run \(30 epochs.*trainer.max_epochs=<more than 30>"):
            prepare_run_dir("train", [f"hydra.run.dir={run}", "ckpt_path=last", *extra])
        with pytest.raises(RunDirError, match="holds a finished run"):
            prepare_run_dir("train", [f"ckpt_path={run}/checkpoints/last.ckpt", *extra])
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    # asking for more epochs continues it
    args = prepare_run_dir("train", [f"hydra.run.dir={run}", "ckpt_path=last", "trainer.max_epochs=40"])
    assert any(a.startswith("hydra.output_subdir=") for a in args)
    from astrolab.training import rundir

    rundir.release(run)
    # a continued run that was stopped again (last.ckpt newer than summary.json) continues without more epochs
    os.utime(run / "checkpoints" / "last.ckpt", None)
    os.utime(run / "summary.json", (1, 1))
    prepare_run_dir("train", [f"hydra.run.dir={run}", "ckpt_path=last"])
    rundir.release(run)
