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


def test_single_runs_show_no_spread_and_tasks_never_mix(tmp_path):
    import json

    from astrolab.hpo.aggregate import aggregate, markdown

    for i, (task, f1) in enumerate([("node_classification", 0.5), ("node_regression", 0.7),
                                    ("node_classification", 0.6)]):
        run = tmp_path / f"{i}"
        (run / ".hydra").mkdir(parents=True)
        (run / ".hydra" / "overrides.yaml").write_text(f"- model=gat\n- seed={i}\n")
        (run / "summary.json").write_text(json.dumps({
            "command": "train", "model": "gat", "dataset": "gaia", "task": task,
            "metrics": {"test/f1_macro": f1}, "monitor": {"metric": "val/f1_macro", "mode": "max"}}))
    df = aggregate(tmp_path)
    assert sorted(df["n"].tolist()) == [1, 2]
    assert set(df["group"]) == {"model=gat task=node_classification", "model=gat task=node_regression"}
    md = markdown(df)
    assert "| model=gat task=node_regression | 1 | 0.7000 |" in md
    assert "0.5500 ± 0.0707" in md
