"""Console and run files: one line per epoch when stdout is not a terminal, 1-based epochs on the rich bar,
no FLOPs column, a per-epoch metrics.csv, report tables that never break a word."""

from __future__ import annotations

import csv
import io
import logging

import pytest

import lightning  # noqa: F401  (imported once at collection, not inside the first test's time)


def _tiny_fit(tmp_path, callbacks, max_epochs=3, logger=False):
    import lightning as L
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    class Tiny(L.LightningModule):
        monitor, mode = "val/loss", "min"

        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 1)

        def training_step(self, batch, _):
            loss = ((self.lin(batch[0]) - batch[1]) ** 2).mean()
            self.log("train/loss", loss, on_epoch=True, on_step=False, prog_bar=True)
            return loss

        def validation_step(self, batch, _):
            self.log("val/loss", ((self.lin(batch[0]) - batch[1]) ** 2).mean(), prog_bar=True)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 2, generator=g)
    data = DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=16)
    trainer = L.Trainer(max_epochs=max_epochs, callbacks=callbacks, logger=logger, enable_checkpointing=False,
                        default_root_dir=str(tmp_path), num_sanity_val_steps=0)
    trainer.fit(Tiny(), data, data)
    return trainer


def test_one_line_per_epoch_when_not_a_terminal(tmp_path, monkeypatch, caplog):
    from astrolab.training.console import EpochLines, EpochRichProgressBar, progress_bar

    monkeypatch.setattr("sys.stdout", io.StringIO())  # a batch job: stdout is a file
    bar = progress_bar()
    assert isinstance(bar, EpochLines)
    with caplog.at_level(logging.INFO, logger="astrolab.training.console"):
        _tiny_fit(tmp_path, [bar], max_epochs=3)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert [ln.split()[1] for ln in lines] == ["1/3", "2/3", "3/3"]
    assert all("train/loss" in ln and "val/loss" in ln and "best val/loss" in ln for ln in lines)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdout", Tty())
    assert isinstance(progress_bar(), EpochRichProgressBar)
    assert isinstance(progress_bar("lines"), EpochLines)


def test_long_epochs_get_progress_lines(tmp_path, caplog):
    """With ``every_s=0`` every batch logs where the stage is (batch i/n, elapsed, time left); with the
    default 60 s a quick fit logs none."""
    from astrolab.training.console import EpochLines

    with caplog.at_level(logging.INFO, logger="astrolab.training.console"):
        _tiny_fit(tmp_path, [EpochLines(every_s=0)], max_epochs=2)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("train epoch")]
    assert [ln.split(":")[0] for ln in lines] == ["train epoch 1/2"] * 2 + ["train epoch 2/2"] * 2
    assert "batch 1/2 (50%)" in lines[0] and "min left" in lines[0] and "batch 2/2 (100%)" in lines[1]
    assert any(r.getMessage().startswith("validation: batch 2/2") for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="astrolab.training.console"):
        _tiny_fit(tmp_path, [EpochLines()], max_epochs=2)
    assert not [r for r in caplog.records if "min left" in r.getMessage()]


def test_rich_bar_counts_epochs_from_one():
    from astrolab.training.console import EpochRichProgressBar

    bar = EpochRichProgressBar()

    class T:
        max_epochs = 2

    bar._trainer = T()
    assert bar._get_train_description(1).strip() == "Epoch 2/2"


def test_model_summary_has_no_flops(tmp_path, caplog):
    from astrolab.training.console import ModelSummary

    with caplog.at_level(logging.INFO, logger="astrolab.training.console"):
        _tiny_fit(tmp_path, [ModelSummary(max_depth=1)], max_epochs=1)
    text = caplog.text
    assert "Trainable params" in text and "lin" in text
    assert "FLOPs" not in text and "Total Flops" not in text


def test_epoch_metrics_side_by_side(tmp_path):
    from astrolab.training.console import write_epoch_metrics

    raw = tmp_path / "metrics_raw.csv"
    raw.write_text("epoch,lr-SGD,step,test/acc,train/acc,train/loss,val/acc,val/loss\n"
                   ",0.1,0,,,,,\n0,,1,,,,0.5,0.9\n0,,1,,0.4,1.0,,\n"
                   ",0.05,2,,,,,\n1,,3,,,,0.6,0.8\n1,,3,,0.55,0.85,,\n2,,4,0.7,,,,\n")
    out = write_epoch_metrics(raw, tmp_path / "metrics.csv")
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:6] == ["epoch", "step", "train/loss", "val/loss", "train/acc", "val/acc"]
    assert [r["epoch"] for r in rows] == ["1", "2", ""]
    assert rows[0]["val/loss"] == "0.9" and rows[0]["train/loss"] == "1.0" and rows[1]["lr-SGD"] == "0.05"
    assert rows[2]["test/acc"] == "0.7" and rows[2]["train/loss"] == ""


def test_csv_logger_writes_both_files(tmp_path):
    from astrolab.training.console import EpochCSVLogger

    logger = EpochCSVLogger(save_dir=str(tmp_path), name="", version="")
    _tiny_fit(tmp_path, [], max_epochs=2, logger=[logger])
    with (tmp_path / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["epoch"] for r in rows] == ["1", "2"] and rows[0]["train/loss"] and rows[0]["val/loss"]
    assert (tmp_path / "metrics_raw.csv").exists()


def test_report_never_breaks_words(capsys, monkeypatch):
    from pathlib import Path

    from astrolab.utils.runs import report

    monkeypatch.setenv("COLUMNS", "80")
    title = "test metrics — model=temporal_gnn dataset=lightcurves task=time_series_classification"
    run_dir = Path("/data/outputs/train/2026-01-01/12-00-00-000000_model-temporal_gnn_dataset-lightcurves")
    report(title, {"test/f1_macro": 0.5}, run_dir)
    out = capsys.readouterr().out
    assert title in out and str(run_dir) in out


def test_hparams_have_the_real_class_count():
    from astrolab.models import AstroNodeGNN
    from task_helpers import node_classification

    model = AstroNodeGNN(task=node_classification(num_classes=7), num_features=5, hidden_dim=8, num_layers=1)
    assert model.hparams["num_classes"] == 7


@pytest.mark.parametrize("value, says", [("abc", "a number of seconds"), (-5, ">= 0 seconds")])
def test_a_bad_progress_interval_names_its_key(value, says):
    from astrolab.errors import ConfigError
    from astrolab.training.console import progress_bar

    with pytest.raises(ConfigError, match=f"callbacks.progress_bar.every_s must be {says}") as err:
        progress_bar("lines", every_s=value)
    assert "callbacks.progress_bar.every_s=60" in str(err.value)
