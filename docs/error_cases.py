"""Run every bad-input case of the user guide through the real ``astrolab`` console script and print a
Markdown table of what each prints (the last line on stderr) and its exit code.

    python docs/error_cases.py > docs/errors.md

Each case is built in a temporary folder from the generated Gaia sample (the documented physical model of
``astrolab.data.synthetic.gaia_clusters``), written as a user would have it, and run with a short training
budget so that a case the checks miss would show up as "trained" (exit 0) in the table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _astrolab() -> str:
    exe = Path(sys.executable).parent / "astrolab"
    return str(exe) if exe.exists() else "astrolab"


def _files(root: Path) -> dict[str, Path]:
    """The user's files, good and bad, written in real formats."""
    from astropy.table import Table

    from astrolab.data.synthetic.gaia_clusters import make_gaia_table

    t = make_gaia_table(n_stars=3000, seed=1)
    files: dict[str, Path] = {}

    def put(name: str, table: Table, **kw) -> Path:
        p = root / name
        table.write(p, overwrite=True, **kw)
        files[name] = p
        return p

    put("good.fits", t)
    (root / "empty.csv").write_text("")
    files["empty.csv"] = root / "empty.csv"
    (root / "header.csv").write_text(",".join(t.colnames) + "\n")
    files["header.csv"] = root / "header.csv"
    (root / "folder.csv").mkdir()
    files["folder.csv"] = root / "folder.csv"
    put("semicolon.csv", t, format="ascii.csv", delimiter=";")
    whole = files["good.fits"].read_bytes()
    (root / "truncated.fits").write_bytes(whole[: len(whole) // 2])
    files["truncated.fits"] = root / "truncated.fits"

    nan = t.copy()
    nan["parallax"] = np.nan
    put("nan_parallax.fits", nan)
    nan_g = t.copy()
    nan_g["phot_g_mean_mag"] = np.nan
    put("nan_gmag.fits", nan_g)
    const = t.copy()
    const["bp_rp"] = 1.0
    put("constant_colour.fits", const)
    absurd = t.copy()
    absurd["pmra"][:21] = 1e300
    put("absurd_pmra.fits", absurd)
    put("five_rows.fits", t[:5])
    neg = t.copy()
    neg["parallax"] = -1.0
    put("negative_parallax.fits", neg)
    same = t.copy()
    same["source_id"] = same["source_id"][0]
    put("same_ids.fits", same)
    from astropy.table import vstack

    dup = vstack([t, t[:300]])
    put("duplicated_rows.fits", dup)
    small = t.copy()
    small["cluster_label"][:2] = "Tiny 1"
    put("tiny_class.fits", small)
    nolabel = t.copy()
    nolabel.remove_column("cluster_label")
    put("no_label.fits", nolabel)
    split = t.copy()
    split["split"] = np.where(np.arange(len(t)) % 5 == 0, "test", "holdout")
    put("bad_split.fits", split)
    (root / "not_a_checkpoint.ckpt").write_text("not a checkpoint\n")
    files["not_a_checkpoint.ckpt"] = root / "not_a_checkpoint.ckpt"
    (root / "a_file").write_text("x\n")
    files["a_file"] = root / "a_file"
    ro = root / "read_only"
    ro.mkdir()
    ro.chmod(0o555)
    files["read_only"] = ro
    return files


def _cases(f: dict[str, Path], root: Path) -> list[tuple]:
    """(name, argv[, text of the log line to show when the case is accepted with a warning])."""
    fast = ["trainer.max_epochs=2", "model.hidden_dim=16"]
    good = f"dataset.path={f['good.fits']}"

    def gaia(path_key: str, *extra: str) -> list[str]:
        return ["train", "model=gat", "dataset=gaia", f"dataset.path={f[path_key]}", *fast, *extra]

    return [
        # files that cannot be a table
        ("empty file", gaia("empty.csv")),
        ("header-only file", gaia("header.csv")),
        ("folder where a file is expected", gaia("folder.csv")),
        ("semicolon-delimited file", gaia("semicolon.csv")),
        ("truncated FITS", gaia("truncated.fits")),
        ("missing file", ["train", "dataset=gaia", f"dataset.path={root / 'nowhere.fits'}", *fast]),
        # columns and values
        ("required column all NaN (parallax)", gaia("nan_parallax.fits")),
        ("optional column all NaN (G mag)", gaia("nan_gmag.fits"), "phot_g_mean_mag"),
        ("feature constant over the training split", gaia("constant_colour.fits")),
        ("pmra = 1e300 in 21 rows", gaia("absurd_pmra.fits"), "1e+30"),
        ("five rows", gaia("five_rows.fits")),
        ("a cut removes every row (parallax <= 0)", gaia("negative_parallax.fits")),
        ("all ids identical", gaia("same_ids.fits")),
        ("duplicated rows", gaia("duplicated_rows.fits"), "rows repeat"),
        ("class too small for every split", gaia("tiny_class.fits")),
        ("label column missing", gaia("no_label.fits")),
        ("label named that is not in the file", gaia("good.fits", "dataset.target=membership")),
        ("split column with unknown values", gaia("bad_split.fits", "dataset.split.column=split")),
        ("split column that does not exist", gaia("good.fits", "dataset.split.column=split")),
        # the composed config
        ("dataset.graph.k=0", gaia("good.fits", "dataset.graph.k=0")),
        ("dataset.graph.k=100000", gaia("good.fits", "dataset.graph.k=100000")),
        ("dataset.split.val=0", gaia("good.fits", "dataset.split.val=0")),
        ("dataset.split.test=1.2", gaia("good.fits", "dataset.split.test=1.2")),
        ("model.hidden_dim=0", ["train", "model=gat", "dataset=gaia", good, "trainer.max_epochs=2",
                                "model.hidden_dim=0"]),
        ("model.dropout=1.5", gaia("good.fits", "model.dropout=1.5")),
        ("optimizer.lr=-1", gaia("good.fits", "optimizer.lr=-1")),
        ("trainer.max_epochs=abc", ["train", "model=gat", "dataset=gaia", good, "trainer.max_epochs=abc"]),
        ("misspelt key", gaia("good.fits", "model.hiden_dim=32")),
        ("+key for a key that exists", gaia("good.fits", "+model.heads=2")),
        ("+key no object takes", gaia("good.fits", "+model.colour=red")),
        ("unknown model", ["train", "model=transformer", "dataset=gaia"]),
        ("model that cannot read the dataset", ["train", "model=pointnet", "dataset=gaia", *fast]),
        ("trainer.accelerator=gpu without a GPU", gaia("good.fits", "trainer.accelerator=gpu")),
        ("trainer.devices=4 on 2 CPUs... with accelerator=gpu", gaia("good.fits", "trainer=gpu",
                                                                     "trainer.devices=4")),
        ("hydra.run.dir is a file", gaia("good.fits", f"hydra.run.dir={f['a_file']}")),
        *([("hydra.run.dir read-only", gaia("good.fits", f"hydra.run.dir={f['read_only'] / 'run'}"))]
          if os.geteuid() != 0 else []),  # root writes into read-only folders
        ("hydra.run.dir under /proc", gaia("good.fits", "hydra.run.dir=/proc/astrolab_run")),
        # checkpoints
        ("predict without ckpt_path", ["predict", good]),
        ("ckpt_path that does not exist", ["predict", f"ckpt_path={root / 'nothing.ckpt'}", good]),
        ("a text file as checkpoint", ["predict", f"ckpt_path={f['not_a_checkpoint.ckpt']}", good]),
        # hpo
        ("hpo.n_trials=0", ["hpo", "hpo=gat", "dataset=gaia", good, "hpo.n_trials=0"]),
        ("hpo.timeout=0", ["hpo", "hpo=gat", "dataset=gaia", good, "hpo.timeout=0"]),
        ("hpo.storage bad URL", ["hpo", "hpo=gat", "dataset=gaia", good, "hpo.storage=postgresq://x"]),
        ("hpo.storage in a missing folder", ["hpo", "hpo=gat", "dataset=gaia", good,
                                             f"hpo.storage=sqlite:///{root}/no/such/dir/study.db"]),
        ("hpo incompatible model/dataset", ["hpo", "hpo=pointnet", "dataset=gaia", good]),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", default="", help="run only cases whose name contains this text")
    args = ap.parse_args()
    exe = _astrolab()
    with tempfile.TemporaryDirectory(prefix="astrolab_errors_") as tmp:
        root = Path(tmp)
        files = _files(root)
        env = {**os.environ, "COLUMNS": "200", "ASTROLAB_OUTPUT": str(root / "outputs"),
               "ASTROLAB_CACHE": str(root / "cache")}
        env.pop("ASTROLAB_DEBUG", None)
        rows = []
        for name, argv, *want in _cases(files, root):
            if args.k and args.k not in name:
                continue
            t0 = time.perf_counter()
            proc = subprocess.run([exe, *argv], capture_output=True, text=True, env=env, timeout=900)
            err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            astro = [ln for ln in err if ln.startswith("astrolab:")]
            line = astro[-1] if astro else (err[-1] if err else "")
            if proc.returncode == 0 and want:
                said = [ln for ln in (proc.stderr + proc.stdout).splitlines() if want[0] in ln]
                line = said[0].strip() if said else f"(no line mentions {want[0]!r})"
            trace = "Traceback" in proc.stderr or "Error executing job" in proc.stderr
            shown = " ".join(a.replace(str(root), "<tmp>") for a in argv)
            line = line.replace(str(root), "<tmp>").replace("|", "\\|")
            outcome = "trained" if proc.returncode == 0 else f"exit {proc.returncode}"
            if trace:
                outcome += ", TRACEBACK"
            rows.append((name, shown, outcome, line, time.perf_counter() - t0))
        files["read_only"].chmod(0o755)
    sys.stdout.write("| case | command | result | what astrolab prints (last line on stderr) |\n")
    sys.stdout.write("|---|---|---|---|\n")
    for name, shown, outcome, line, _ in rows:
        sys.stdout.write(f"| {name} | `astrolab {shown}` | {outcome} | {line} |\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
