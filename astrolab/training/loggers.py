"""Loggers of a run. ``CSVLogger`` is Lightning's, except that it never deletes an existing
``metrics.csv``: a continued run (``ckpt_path=last``) appends to its own file, keeping its header and rows
(Lightning's writer removes the file of a non-empty directory, which would lose a killed run's history)."""

from __future__ import annotations

import csv
import os

from lightning.pytorch.loggers import CSVLogger as _LightningCSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment


class _AppendingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        """Run directories are write-once (checked by the run session); an existing file is continued."""

    def save(self) -> None:
        if self.metrics and not self.metrics_keys and os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as f:
                header = next(csv.reader(f), [])
            self.metrics_keys = sorted(header)
        super().save()


class CSVLogger(_LightningCSVLogger):
    """Lightning's CSV logger that appends to an existing ``metrics.csv`` instead of deleting it."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            os.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment
