"""Training epoch throughput: the framework's epoch against the same GAT in a hand-written PyG loop.

(a) framework: the config ``astrolab train model=gat dataset=gaia`` composes, built and fitted through the
    training code path (``build_run`` → ``make_trainer`` with the run's callbacks and loggers: best and last
    checkpoints, the epoch CSV logger, learning-rate monitor, early stopping; no progress bar), timed per
    epoch from one ``on_train_epoch_start`` to the next (train step, validation, metrics, checkpoints);
(b) hand-written: the same network modules (``model.encoder`` + ``model.head``, re-initialised with the same
    seed) on the same full-batch graph tensors, AdamW with the same settings, cross-entropy on the train
    mask, then a validation forward under ``torch.no_grad`` with the validation accuracy — no Lightning,
    no metrics objects, no checkpoints.

Both run in this process, interleaved: each *pair* is one block of ``--epochs`` framework epochs and one
block of hand-written epochs (order alternating), and the ratio of a pair is
``median hand-written epoch / median framework epoch`` (throughput of the framework as a fraction of the
hand-written loop's). The median over pairs is printed with the spread, so a shared machine's load drift
hits both sides alike.

    python benchmarks/throughput.py                      # 16.5k-star default Gaia sample, 7 pairs
    python benchmarks/throughput.py --pairs 11 --epochs 8
    python benchmarks/throughput.py dataset.n_stars=3000 # any astrolab train override
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def compose_train(overrides: list[str]):
    from astrolab.hpo.runner import compose

    return compose("train", overrides)


def framework_block(cfg, epochs: int, run_root: Path, block: int):
    """``(epoch seconds, (dm, model))`` of one ``trainer.fit`` of ``epochs`` epochs through the training
    code path."""
    import lightning as L
    from lightning.pytorch.callbacks import Callback, ProgressBar
    from omegaconf import OmegaConf

    from astrolab.training.build import build_callbacks, build_loggers, check_compatible, prepare_config
    from astrolab.training.session import build_run, make_trainer, quiet_lightning

    quiet_lightning()
    cfg = cfg.copy()
    OmegaConf.update(cfg, "paths.run_dir", str(run_root / f"fw{block}"), force_add=True)
    OmegaConf.update(cfg, "trainer.max_epochs", epochs, force_add=True)
    prepare_config(cfg)
    _, _, task_cls = check_compatible(cfg)
    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    dm, task, model = build_run(cfg, task_cls, "fit")
    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    model.reset_parameters()
    starts: list[float] = []

    class Clock(Callback):
        def on_train_epoch_start(self, trainer, pl_module) -> None:
            starts.append(time.perf_counter())

        def on_fit_end(self, trainer, pl_module) -> None:
            starts.append(time.perf_counter())

    callbacks = [cb for cb in build_callbacks(cfg, model) if not isinstance(cb, ProgressBar)]
    trainer = make_trainer(cfg, cfg.paths.run_dir, [*callbacks, Clock()], build_loggers(cfg),
                           enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=dm)
    return [b - a for a, b in zip(starts[:-1], starts[1:], strict=True)], (dm, model)


def handwritten_block(dm, model, cfg, epochs: int) -> list[float]:
    """Epoch seconds of a plain PyG loop over the same network: train step + validation forward."""
    import lightning as L
    import torch
    import torch.nn.functional as F

    batch = next(iter(dm.train_dataloader()))
    x = batch["nodes", "x"]
    edge_index = batch["edges", "index"].t()
    task = model.task
    y = batch.get(task.target_key).long()
    train_mask = batch.get(task.stage_mask_key("train"))
    val_mask = batch.get(task.stage_mask_key("val"))
    encoder, head = model.encoder, model.head
    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    model.reset_parameters()
    params = [p for m in (encoder, head) for p in m.parameters()]
    opt_cfg = cfg.model.optimizer
    opt = torch.optim.AdamW(params, lr=float(opt_cfg.lr), weight_decay=float(opt_cfg.weight_decay))
    weight = None if model.task.class_weights is None else torch.tensor(model.task.class_weights)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        encoder.train()
        head.train()
        opt.zero_grad(set_to_none=True)
        out = head(encoder(x, edge_index))
        loss = F.cross_entropy(out[train_mask], y[train_mask], weight=weight)
        loss.backward()
        opt.step()
        encoder.eval()
        head.eval()
        with torch.no_grad():
            pred = head(encoder(x, edge_index))[val_mask].argmax(-1)
            float((pred == y[val_mask]).float().mean())
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=7, help="interleaved (framework, hand-written) blocks")
    ap.add_argument("--epochs", type=int, default=6, help="epochs per block (the first of each is dropped)")
    ap.add_argument("overrides", nargs="*", help="astrolab train overrides (default: model=gat dataset=gaia)")
    args = ap.parse_args()
    overrides = ["model=gat", "dataset=gaia", "callbacks.early_stopping.patience=1000", *args.overrides]
    sys.stdout.write(f"load before: {os.getloadavg()}  cpus: {os.cpu_count()}  overrides: {overrides}\n")
    cfg = compose_train(overrides)
    ratios, fw_all, hw_all = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fw, (dm, model) = framework_block(cfg, 2, root, -1)  # data prepared/cached, everything imported
        handwritten_block(dm, model, cfg, 2)
        for i in range(args.pairs):
            if i % 2 == 0:  # alternate which side runs first
                fw, (dm, model) = framework_block(cfg, args.epochs, root, i)
                hw = handwritten_block(dm, model, cfg, args.epochs)
            else:
                hw = handwritten_block(dm, model, cfg, args.epochs)
                fw, (dm, model) = framework_block(cfg, args.epochs, root, i)
            f, h = statistics.median(fw[1:]), statistics.median(hw[1:])
            fw_all += fw[1:]
            hw_all += hw[1:]
            ratios.append(h / f)
            sys.stdout.write(f"pair {i}: framework {f:.4f} s/epoch, hand-written {h:.4f} s/epoch, "
                             f"ratio {h / f:.3f}x\n")
            sys.stdout.flush()
    n_nodes = int(dm.describe().get("n_nodes", 0))
    q = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else [ratios[0]] * 3
    sys.stdout.write(f"\nnodes: {n_nodes}\n")
    sys.stdout.write(f"framework    median epoch: {statistics.median(fw_all):.4f} s\n")
    sys.stdout.write(f"hand-written median epoch: {statistics.median(hw_all):.4f} s\n")
    sys.stdout.write(f"throughput framework / hand-written: median pair ratio {statistics.median(ratios):.3f}x "
                     f"(quartiles {q[0]:.3f}-{q[2]:.3f}, {len(ratios)} pairs; target >= 0.95x)\n")
    sys.stdout.write(f"load after: {os.getloadavg()}\n")


if __name__ == "__main__":
    main()
