"""What a run shows while it trains, and the per-epoch metrics file it leaves.

- :func:`progress_bar` (the ``callbacks.progress_bar`` target): Lightning's rich bar on a terminal, one
  plain log line per epoch with the monitored metrics otherwise (batch jobs, SLURM, CI logs), so a
  100-epoch run is never silent until the end.
- :class:`ModelSummary`: Lightning's model summary without the FLOPs column and "Total Flops" line (always
  0 for graph models, whose forward pass Lightning cannot trace).
- :class:`EpochCSVLogger` (``logger=csv``): Lightning's CSV logger writing its raw rows to
  ``metrics_raw.csv`` and :func:`write_epoch_metrics` → ``metrics.csv``, one row per epoch with train and
  val side by side (test metrics of the tested checkpoint on a last row without an epoch).
"""

from __future__ import annotations

import csv
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ModelSummary as _LightningModelSummary
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar
from astrolab.training.loggers import CSVLogger

log = logging.getLogger(__name__)

#: raw file of Lightning's CSV logger, beside the per-epoch metrics.csv
RAW_METRICS = "metrics_raw.csv"


def progress_bar(style: str = "auto", every_n_epochs: int = 1, every_s: float = 60.0) -> ProgressBar:
    """The run's progress display: ``auto`` (rich bar when stdout is a terminal, else one line per epoch,
    and a progress line every ``every_s`` seconds within a long epoch), ``rich`` or ``lines``."""
    from astrolab.errors import ConfigError

    if style not in ("auto", "rich", "lines"):
        raise ConfigError(f"unknown callbacks.progress_bar.style '{style}'; use auto, rich or lines")
    try:
        every_s = float(every_s)
    except (TypeError, ValueError):
        raise ConfigError(f"callbacks.progress_bar.every_s must be a number of seconds, got '{every_s}'; "
                          "e.g. callbacks.progress_bar.every_s=60") from None
    if not every_s >= 0:
        raise ConfigError(f"callbacks.progress_bar.every_s must be >= 0 seconds, got {every_s}; "
                          "e.g. callbacks.progress_bar.every_s=60")
    if style == "rich" or (style == "auto" and _is_terminal()):
        return EpochRichProgressBar()
    return EpochLines(every_n_epochs=every_n_epochs, every_s=every_s)


def _is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


class EpochRichProgressBar(RichProgressBar):
    """Lightning's rich bar counting epochs from 1 ("Epoch 2/2" on the last of two, not "Epoch 1/1")."""

    def _get_train_description(self, current_epoch: int) -> str:
        desc = f"Epoch {current_epoch + 1}"
        max_epochs = self.trainer.max_epochs
        if max_epochs is not None and max_epochs > 0:
            desc += f"/{max_epochs}"
        if len(self.validation_description) > len(desc):
            desc = f"{desc:{len(self.validation_description)}}"
        return desc


def _fmt(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"


class EpochLines(ProgressBar):
    """One plain log line per epoch (``epoch 3/100  train/loss 0.51  val/loss 0.49  val/f1_macro 0.73
    (best 0.73 @ 3)  2.1 s``) plus a line when fitting and testing start and end; no bars. Within a long
    stage (a tiled epoch over a large catalog) a line every ``every_s`` seconds says how far it is
    (``train epoch 1/1: batch 20/81 (25%), 4.1 min, about 12.3 min left``)."""

    def __init__(self, every_n_epochs: int = 1, every_s: float = 60.0) -> None:
        super().__init__()
        self.every_n_epochs = max(int(every_n_epochs), 1)
        self.every_s = float(every_s)
        self._enabled = True
        self._t_epoch = 0.0
        self._t_fit = 0.0
        self._best: tuple[float, int] | None = None
        self._stage_t0 = self._last_line = 0.0

    def _stage_start(self) -> None:
        self._stage_t0 = self._last_line = time.perf_counter()

    def _progress(self, trainer, stage: str, done: int, total: Any) -> None:
        now = time.perf_counter()
        if not self._enabled or not trainer.is_global_zero or now - self._last_line < self.every_s:
            return
        self._last_line = now
        elapsed = now - self._stage_t0
        try:
            total = int(total)
        except (TypeError, ValueError, OverflowError):
            total = 0
        if total > 0:
            left = elapsed / max(done, 1) * (total - done)
            log.info("%s: batch %d/%d (%d%%), %.1f min, about %.1f min left", stage, done, total,
                     100 * done // total, elapsed / 60, left / 60)
        else:
            log.info("%s: batch %d, %.1f min", stage, done, elapsed / 60)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._progress(trainer, f"train epoch {trainer.current_epoch + 1}/{_epochs_text(trainer.max_epochs)}",
                       batch_idx + 1, self.total_train_batches)

    def on_validation_start(self, trainer, pl_module) -> None:
        self._val_t = (self._stage_t0, self._last_line)
        self._stage_start()

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if not trainer.sanity_checking:
            self._progress(trainer, "validation", batch_idx + 1, _of(trainer.num_val_batches, dataloader_idx))

    def on_validation_end(self, trainer, pl_module) -> None:
        self._stage_t0, _ = getattr(self, "_val_t", (self._stage_t0, 0.0))  # back to the epoch's clock
        self._last_line = time.perf_counter()

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._progress(trainer, "testing", batch_idx + 1, _of(trainer.num_test_batches, dataloader_idx))

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._progress(trainer, "predicting", batch_idx + 1, _of(trainer.num_predict_batches, dataloader_idx))

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    @property
    def is_enabled(self) -> bool:
        return self._enabled

    def on_train_start(self, trainer, pl_module) -> None:
        self._t_fit = time.perf_counter()
        self._best = None
        if self._enabled and trainer.is_global_zero:
            monitor = getattr(pl_module, "monitor", None)
            mode = getattr(pl_module, "mode", None)
            log.info("training: %s epochs, %s batches per epoch%s", _epochs_text(trainer.max_epochs),
                     _count(self.total_train_batches),
                     f", monitoring {monitor} ({mode})" if monitor else "")

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._t_epoch = time.perf_counter()
        self._stage_start()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not self._enabled or not trainer.is_global_zero or trainer.sanity_checking:
            return
        epoch = trainer.current_epoch + 1
        metrics = {k: v for k, v in self.get_metrics(trainer, pl_module).items() if k != "v_num"}
        monitor = getattr(pl_module, "monitor", None)
        for k, v in trainer.callback_metrics.items():  # the monitored metric even without prog_bar
            if k == monitor or k in ("train/loss", "val/loss"):
                metrics.setdefault(k, v)
        best_text = ""
        if monitor and monitor in trainer.callback_metrics:
            value = float(trainer.callback_metrics[monitor])
            better = (lambda a, b: a > b) if getattr(pl_module, "mode", "min") == "max" else (lambda a, b: a < b)
            if math.isfinite(value) and (self._best is None or better(value, self._best[0])):
                self._best = (value, epoch)
            if self._best is not None:
                best_text = f"  (best {monitor} {_fmt(self._best[0])} @ {self._best[1]})"
        last = trainer.max_epochs is not None and epoch == trainer.max_epochs
        if epoch % self.every_n_epochs and not last:
            return
        order = sorted(metrics, key=lambda k: (k.split("/", 1)[-1] != "loss", k.split("/", 1)[-1], k))
        text = "  ".join(f"{k} {_fmt(metrics[k])}" for k in order)
        log.info("epoch %s/%s  %s%s  %.1f s", epoch, _epochs_text(trainer.max_epochs), text, best_text,
                 time.perf_counter() - self._t_epoch)

    def on_train_end(self, trainer, pl_module) -> None:
        if self._enabled and trainer.is_global_zero:
            log.info("training done: %d epochs in %.1f s", trainer.current_epoch, time.perf_counter() - self._t_fit)

    def on_test_start(self, trainer, pl_module) -> None:
        self._stage_start()
        if self._enabled and trainer.is_global_zero:
            log.info("testing ...")

    def on_predict_start(self, trainer, pl_module) -> None:
        self._stage_start()
        if self._enabled and trainer.is_global_zero:
            log.info("predicting ...")


def _of(batches: Any, dataloader_idx: int) -> Any:
    """The batch count of one dataloader (Lightning gives a list for evaluation loops)."""
    if isinstance(batches, (list, tuple)):
        return batches[dataloader_idx] if dataloader_idx < len(batches) else 0
    return batches


def _epochs_text(max_epochs: int | None) -> str:
    return "?" if max_epochs is None or max_epochs < 0 else str(max_epochs)


def _count(n: Any) -> str:
    try:
        return str(int(n)) if math.isfinite(float(n)) else "?"
    except (TypeError, ValueError):
        return "?"


class ModelSummary(_LightningModelSummary):
    """Lightning's model summary without the FLOPs column and the "Total Flops" line; ``enabled=False``
    (the config passes ``trainer.enable_model_summary``) prints nothing."""

    def __init__(self, max_depth: int = 1, enabled: bool = True, **summarize_kwargs: Any) -> None:
        super().__init__(max_depth=max_depth if enabled else 0, **summarize_kwargs)

    @staticmethod
    def summarize(summary_data, total_parameters, trainable_parameters, model_size, total_training_modes,
                  total_flops: int = 0, **summarize_kwargs: Any) -> None:
        data = [col for col in summary_data if col[0] != "FLOPs"]
        try:
            from lightning.pytorch.utilities.model_summary.model_summary import _format_summary_table

            table = _format_summary_table(total_parameters, trainable_parameters, model_size,
                                          total_training_modes, 0, *data)
        except Exception:  # pragma: no cover - a Lightning without this helper
            return _LightningModelSummary.summarize(summary_data, total_parameters, trainable_parameters,
                                                    model_size, total_training_modes, total_flops,
                                                    **summarize_kwargs)
        table = "\n".join(ln for ln in table.splitlines() if not ln.rstrip().endswith("Total Flops"))
        log.info("\n%s", table)


class EpochCSVLogger(CSVLogger):
    """Lightning's CSV logger (astrolab's appending variant: a continued run adds to its own file); raw rows
    go to ``metrics_raw.csv`` and, whenever a fit or test ends, ``metrics.csv`` is rewritten with one row per
    epoch (:func:`write_epoch_metrics`)."""

    @property
    def experiment(self):
        exp = super().experiment
        path = getattr(exp, "metrics_file_path", None)  # ranks > 0 get Lightning's DummyExperiment: no path
        if isinstance(path, str) and os.path.basename(path) != RAW_METRICS:
            exp.metrics_file_path = os.path.join(exp.log_dir, RAW_METRICS)
        return exp

    def finalize(self, status: str) -> None:
        super().finalize(status)
        if self._experiment is None:
            return
        raw = Path(self._experiment.metrics_file_path)
        if raw.exists():
            try:
                write_epoch_metrics(raw, raw.with_name("metrics.csv"))
            except Exception as exc:  # a metrics file must never fail a finished run
                log.warning("metrics.csv not written: %s: %s", type(exc).__name__, exc)


def write_epoch_metrics(csv_in: Path, csv_out: Path) -> Path | None:
    """Pivot Lightning's raw ``metrics.csv`` (one row per logging call) into one row per epoch: ``epoch``,
    ``step``, then ``train/<m>`` and ``val/<m>`` side by side for every metric (loss first), then the other
    per-epoch columns (learning rates); the ``test/`` metrics go on a last row whose ``epoch`` is empty.
    ``epoch`` counts from 1 (as the console does: epoch 1 is the first). Returns ``csv_out`` (``None`` when
    the input has no rows)."""
    csv_in, csv_out = Path(csv_in), Path(csv_out)
    with csv_in.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return None
    per_epoch: dict[int, dict[str, str]] = {}
    test: dict[str, str] = {}
    columns: list[str] = []
    # rows without an epoch (learning rates logged at an epoch's first step) belong to the first epoch whose
    # logged step reaches theirs
    last_step: dict[int, float] = {}
    for row in rows:
        if row.get("epoch") not in ("", None) and row.get("step") not in ("", None):
            ep = int(float(row["epoch"]))
            last_step[ep] = max(last_step.get(ep, -1.0), float(row["step"]))
    for row in rows:
        if row.get("epoch") in ("", None) and row.get("step") not in ("", None):
            step = float(row["step"])
            later = [ep for ep, st in last_step.items() if st >= step]
            if later:
                row = {**row, "epoch": str(min(later))}
                row.pop("step")
        for k, v in row.items():
            if k is None or v in ("", None) or k in ("epoch", "step"):
                continue
            if k not in columns:
                columns.append(k)
            if k.startswith("test/"):
                test[k] = v
            elif row.get("epoch") not in ("", None):
                ep = int(float(row["epoch"]))
                slot = per_epoch.setdefault(ep, {})
                slot[k] = v
                if row.get("step") not in ("", None):
                    slot["step"] = row["step"]
    staged = [c for c in columns if c.split("/", 1)[0] in ("train", "val")]
    names = sorted({c.split("/", 1)[1] for c in staged}, key=lambda n: (n != "loss", n))
    ordered = ["epoch", "step"]
    for n in names:
        ordered += [c for c in (f"train/{n}", f"val/{n}") if c in staged]
    ordered += [c for c in columns if c not in ordered and not c.startswith("test/")]
    ordered += sorted(c for c in columns if c.startswith("test/"))
    tmp = csv_out.with_name(f".{csv_out.name}.tmp{os.getpid()}")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=ordered)
        writer.writeheader()
        for ep in sorted(per_epoch):
            writer.writerow({"epoch": ep + 1, **per_epoch[ep]})
        if test:
            writer.writerow(test)
    os.replace(tmp, csv_out)
    return csv_out
