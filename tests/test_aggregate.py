"""`astrolab aggregate`: mean ± std over seeds of a multirun."""

from __future__ import annotations

import statistics

import pandas as pd
import pytest

from conftest import read_summary


def test_aggregate_two_seed_multirun(run_cli, tmp_path):
    sweep = tmp_path / "multirun"
    proc = run_cli("train", "-m", "model=gcn,sage", "seed=1,2", "debug=fast", "trainer.max_epochs=1",
                   "model.hidden_dim=16", "save_predictions=false", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = run_cli("aggregate", str(sweep))
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = pd.read_csv(sweep / "aggregate.csv")
    assert len(table) == 2 and set(table["n"]) == {2}
    runs = [read_summary(p.parent) for p in sweep.glob("*/summary.json")]
    for model in ("gcn", "sage"):
        vals = [r["metrics"]["test/f1_macro"] for r in runs if r["model"] == model]
        row = table[table["group"].str.contains(f"model={model}")].iloc[0]
        assert row["test/f1_macro_mean"] == pytest.approx(statistics.mean(vals))
        assert row["test/f1_macro_std"] == pytest.approx(statistics.stdev(vals))
        assert "seed" not in row["group"]
    # sorted by the monitor metric's test counterpart, best (highest f1) first
    assert table["test/f1_macro_mean"].is_monotonic_decreasing
    md = (sweep / "aggregate.md").read_text()
    assert "±" in md and "test/f1_macro" in md


def test_aggregate_errors(run_cli, tmp_path):
    proc = run_cli("aggregate", str(tmp_path / "nope"))
    assert proc.returncode != 0 and "not a folder" in proc.stderr
    proc = run_cli("aggregate", str(tmp_path))
    assert proc.returncode != 0 and "no run summaries" in proc.stderr
