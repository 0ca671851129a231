"""Pretrain-then-fine-tune vs training from scratch with a fraction of the labels (light curves).

For each seed ``s`` (the split seed and the model seed), on the same split and the same stratified label
subset (``dataset.label_fraction``), three real ``astrolab`` runs:

1. ``astrolab pretrain`` — masked-magnitude reconstruction on the light curves of the split's train and val
   objects (no labels; the test objects are never seen);
2. ``astrolab train ... dataset.label_fraction=F`` from scratch;
3. the same with ``model.pretrained=<encoder.ckpt of 1>``.

Prints test accuracy / macro-F1 / balanced accuracy of both arms per seed, their mean and the mean
difference (fine-tuned − scratch). Data: the embedded sample and/or the shared SDSS Stripe 82 RR Lyrae
(``--rrlyrae DIR``, the folder with ``light-curves/`` and ``periods.csv``).

    python benchmarks/pretraining.py                       # embedded sample, 3 seeds, 10 % of the labels
    python benchmarks/pretraining.py --data rrlyrae --rrlyrae ../shared/data/sdss_s82_rrlyrae_lightcurves
    python benchmarks/pretraining.py --data rrlyrae --model-seeds 0 1 2 3 4   # 5 initialisations per split

With ``--model-seeds`` every split (and its pretraining run) gets scratch and fine-tune runs with each of
those model seeds, so a difference between the arms can be told from the spread of the initialisation.
The forest of each run (``baseline_features/acc``, trained on the same labels) is printed for scale.
``--train-override KEY=VALUE`` sets an override for the scratch and fine-tune runs only (both arms alike),
e.g. a learning rate for few labels, without changing the pretraining run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

METRICS = ("acc", "f1_macro", "balanced_acc")


def astrolab(args: list[str]) -> dict:
    exe = Path(sys.executable).parent / "astrolab"
    run_dir = next(a.split("=", 1)[1] for a in args if a.startswith("hydra.run.dir="))
    t0 = time.perf_counter()
    res = subprocess.run([str(exe), *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    if res.returncode != 0:
        sys.stderr.write(res.stderr[-3000:])
        raise SystemExit(f"failed: astrolab {' '.join(args)}")
    summary = json.loads((Path(run_dir) / "summary.json").read_text())
    summary["_wall"] = time.perf_counter() - t0
    return summary


#: where the shared SDSS Stripe 82 RR Lyrae sit next to a checkout (the --rrlyrae default)
RRLYRAE = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "sdss_s82_rrlyrae_lightcurves")


def data_args(name: str, ns) -> list[str]:
    if name == "embedded":
        return [f"dataset.n_objects={ns.n_objects}"]
    d = Path(ns.rrlyrae).expanduser().resolve()
    return [f"dataset.path={d / 'light-curves'}", f"dataset.objects={d / 'periods.csv'}", "dataset.target=Type",
            "dataset.columns.object_id=Num", "dataset.columns.mjd=time", "dataset.columns.mag_err=magerr",
            "dataset.period_column=Per"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=("embedded", "rrlyrae", "both"), default="embedded")
    ap.add_argument("--rrlyrae", default=RRLYRAE)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--model-seeds", type=int, nargs="+", default=None,
                    help="model seeds of the scratch and fine-tune runs of each split (default: the split's "
                         "seed); several separate the initialisation's spread from the split's")
    ap.add_argument("--label-fraction", type=float, default=0.1)
    ap.add_argument("--n-objects", type=int, default=1600, help="embedded sample size")
    ap.add_argument("--pretrain-epochs", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=60, help="fine-tune / scratch epochs (early stopping on)")
    ap.add_argument("--mask-ratio", type=float, default=0.5)
    ap.add_argument("--feature-weight", type=float, default=0.0,
                    help="pretrain with task.feature_weight=W (a second objective on the per-object features)")
    ap.add_argument("--feature-objective", choices=("predict", "contrast"), default="predict",
                    help="task.feature_objective of the pretraining run (with --feature-weight > 0)")
    ap.add_argument("--train-override", action="append", default=[], metavar="KEY=VALUE",
                    help="an override for the scratch and fine-tune runs only (not the pretraining), "
                         "e.g. --train-override model.optimizer.lr=3e-4; repeatable")
    ap.add_argument("--freeze", action="store_true", help="fine-tune with model.freeze_encoder=true")
    ap.add_argument("--out", default="outputs/benchmarks/pretraining")
    ap.add_argument("extra", nargs="*", help="more overrides for every run, e.g. model.hidden_dim=64")
    ns = ap.parse_intermixed_args()  # overrides before and after the flags
    # the process id too: two benchmarks started in the same second get their own folders
    out = Path(ns.out).resolve() / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    datasets = ["embedded", "rrlyrae"] if ns.data == "both" else [ns.data]
    common = ["model=temporal_gnn", "dataset=lightcurves", "save_plots=false", "trainer.enable_model_summary=false",
              *ns.extra]
    rows = []
    for name in datasets:
        for s in ns.seeds:
            split = [*common, *data_args(name, ns), f"dataset.split.seed={s}"]
            d = out / name / f"seed{s}"
            pre = astrolab(["pretrain", *split, f"seed={s}", f"trainer.max_epochs={ns.pretrain_epochs}",
                            f"task.mask_ratio={ns.mask_ratio}", f"task.feature_weight={ns.feature_weight}",
                            f"task.feature_objective={ns.feature_objective}", f"hydra.run.dir={d / 'pretrain'}"])
            for ms in (ns.model_seeds or [s]):
                train = [*split, f"seed={ms}", f"dataset.label_fraction={ns.label_fraction}",
                         f"trainer.max_epochs={ns.epochs}", "save_predictions=false", *ns.train_override]
                arms = d if ns.model_seeds is None else d / f"model{ms}"
                scratch = astrolab(["train", *train, f"hydra.run.dir={arms / 'scratch'}"])
                fine = astrolab(["train", *train, f"model.pretrained={pre['encoder_checkpoint']}",
                                 *(["model.freeze_encoder=true"] if ns.freeze else []),
                                 f"hydra.run.dir={arms / 'finetune'}"])
                row = {"data": name, "seed": s, "model_seed": ms,
                       "n_train_labels": scratch["data"]["split_sizes"]["train"],
                       "n_test": scratch["data"]["split_sizes"]["test"],
                       "pretrain_val_mae": pre["metrics"].get("val/mae"),
                       "seconds": {"pretrain": round(pre["_wall"]), "scratch": round(scratch["_wall"]),
                                   "finetune": round(fine["_wall"])}}
                for m in METRICS:
                    row[f"scratch/{m}"] = scratch["metrics"][f"test/{m}"]
                    row[f"finetune/{m}"] = fine["metrics"][f"test/{m}"]
                # the run's random forest on the same labels (the feature baseline), for scale
                row["forest/acc"] = scratch["metrics"].get("baseline_features/acc")
                rows.append(row)
                print(json.dumps(row), flush=True)
    print()
    print(f"label fraction {ns.label_fraction}, pretrain {ns.pretrain_epochs} epochs (mask ratio {ns.mask_ratio}"
          + (f", task.feature_weight={ns.feature_weight} {ns.feature_objective}" if ns.feature_weight else "") + "), "
          f"fine-tune/scratch up to {ns.epochs} epochs{', encoder frozen' if ns.freeze else ''}"
          + (f", fine-tune/scratch with {' '.join(ns.train_override)}" if ns.train_override else ""))
    print(f"{'data':<9} {'seed':>4} {'model':>5} {'labels':>6} " + " ".join(f"{a + '/' + m:>22}" for m in METRICS
                                                          for a in ("scratch", "finetune")))
    for r in rows:
        print(f"{r['data']:<9} {r['seed']:>4} {r['model_seed']:>5} {r['n_train_labels']:>6} "
              + " ".join(f"{r[a + '/' + m]:>22.4f}" for m in METRICS for a in ("scratch", "finetune")))
    for name in datasets:
        rs = [r for r in rows if r["data"] == name]
        line = []
        for m in METRICS:
            sc = sum(r[f"scratch/{m}"] for r in rs) / len(rs)
            ft = sum(r[f"finetune/{m}"] for r in rs) / len(rs)
            wins = sum(r[f"finetune/{m}"] > r[f"scratch/{m}"] for r in rs)
            line.append(f"{m}: scratch {sc:.4f} finetune {ft:.4f} diff {ft - sc:+.4f} ratio {ft / max(sc, 1e-9):.3f} "
                        f"(finetune better in {wins}/{len(rs)} runs)")
        forest = [r["forest/acc"] for r in rs if r.get("forest/acc") is not None]
        if forest:
            line.append(f"forest acc {sum(forest) / len(forest):.4f}")
        print(f"mean over {len(rs)} runs, {name}: " + "; ".join(line))
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    print(f"results: {out / 'results.json'}")


if __name__ == "__main__":
    main()
