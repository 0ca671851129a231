"""AstroGraphGNN: shapes, gradients, pooling permutation invariance, block-diagonal batching, graph-level
tasks, and one end-to-end CLI run per task on a tiny clusters config."""

from __future__ import annotations

import pytest
import torch

from astrolab.data.datamodules.clusters import collate_graphs
from astrolab.data.graphs import knn_graph
from astrolab.models import AstroGraphGNN
from astrolab.models.components.pooling import POOLINGS, GraphPooling
from astrolab.tasks import AnomalyDetection, ClassificationTask, RegressionTask
from tests.conftest import read_summary

F = 6


def _graph(n: int, seed: int, y=0) -> dict:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, F, generator=g)
    return {"x": x, "edges": knn_graph(x[:, :3], k=4).t().contiguous(), "id": torch.arange(n) + 10**15,
            "y": torch.tensor(y), "group": seed}


def _batch(sizes=(7, 12, 5), y=0):
    return collate_graphs([_graph(n, i, y) for i, n in enumerate(sizes)])


def _model(task="graph_classification", **kw):
    kw = {"num_features": F, "num_classes": 3, "hidden_dim": 16, "num_layers": 2, "heads": 2, **kw}
    torch.manual_seed(0)
    return AstroGraphGNN(task=task, **kw).eval()


def test_design_example_builds_and_runs():
    m = AstroGraphGNN(num_features=128, num_classes=7, hidden_dim=256, num_layers=3, conv_type="gat", heads=4,
                      pooling="mean", dropout=0.2)
    assert isinstance(m.task, ClassificationTask) and m.task.name == "graph_classification"
    assert m.task.level == "graph" and m.task.num_classes == 7
    batch = collate_graphs([{**_graph(9, i), "x": torch.randn(9, 128)} for i in range(2)])
    assert m(batch).shape == (2, 7)


@pytest.mark.parametrize("conv_type", ["gcn", "gat", "sage", "gin"])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_shapes_and_gradient_flow(conv_type, pooling):
    m = _model(conv_type=conv_type, pooling=pooling).train()
    out = m(_batch())
    assert out.shape == (3, 3)
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 1, 2])).backward()
    # the gate's output bias shifts every score of a graph equally: softmax makes its gradient exactly 0
    missing = [n for n, p in m.named_parameters() if p.requires_grad and not n.endswith("gate_nn.2.bias")
               and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert not missing


@pytest.mark.parametrize("task, cls, shape", [("graph_regression", RegressionTask, (3,)),
                                              ("anomaly_detection", AnomalyDetection, (3,))])
def test_other_tasks_shapes_and_gradients(task, cls, shape):
    m = _model(task=task).train()
    assert isinstance(m.task, cls) and m.task.name == task
    out = m(_batch())
    assert out.shape == shape
    out.mean().backward()
    assert all(p.grad is not None for p in m.parameters() if p.requires_grad)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_permuting_nodes_within_a_graph_leaves_outputs_unchanged(pooling):
    m = _model(pooling=pooling)
    graphs = [_graph(n, i) for i, n in enumerate((8, 11))]
    perm = torch.randperm(11, generator=torch.Generator().manual_seed(1))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(11)
    g = graphs[1]
    permuted = {**g, "x": g["x"][perm], "edges": inv[g["edges"]], "id": g["id"][perm]}
    with torch.no_grad():
        a = m(collate_graphs(graphs))
        b = m(collate_graphs([graphs[0], permuted]))
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    # the pooling itself, on random embeddings
    pool = GraphPooling(5, pooling)
    h, idx = torch.randn(9, 5), torch.tensor([0] * 4 + [1] * 5)
    p = torch.tensor([3, 1, 0, 2, 8, 5, 7, 4, 6])
    torch.testing.assert_close(pool(h, idx, 2), pool(h[p], idx[p], 2))


@pytest.mark.parametrize("task", ["graph_classification", "graph_regression", "anomaly_detection"])
def test_batched_output_equals_per_graph_outputs(task):
    m = _model(task=task, pooling="attention")
    graphs = [_graph(n, i) for i, n in enumerate((7, 12, 5, 9))]
    with torch.no_grad():
        batched = m(collate_graphs(graphs))
        single = torch.cat([m(collate_graphs([g])).reshape(1, -1) for g in graphs])
    torch.testing.assert_close(batched.reshape(len(graphs), -1), single, atol=1e-5, rtol=1e-5)


def test_anomaly_score_is_deterministic_in_eval_and_flags_an_inconsistent_graph():
    m = _model(task="anomaly_detection")
    batch = _batch()
    with torch.no_grad():
        torch.testing.assert_close(m(batch), m(batch))
    assert AnomalyDetection().baseline_metrics(torch.zeros(5), torch.tensor([0, 1, 0, 1]))["auroc"] == 0.5


def test_reset_parameters_reinitialises():
    m = _model(pooling="attention")
    before = [p.detach().clone() for p in m.parameters()]
    m.reset_parameters()
    changed = sum(not torch.equal(a, b) for a, b in zip(before, m.parameters()))
    assert changed > len(before) // 2


def test_unknown_pooling_is_a_config_error():
    from astrolab.errors import ConfigError

    with pytest.raises(ConfigError, match="model.pooling"):
        _model(pooling="median")


# debug=fast: 3 epochs, no early stopping, and a small embedded sample (dataset.n_stars=3000 -> 30 clusters,
# 30 asterisms, 3000 field stars)
TINY = ["dataset=clusters", "model=graph_gnn", "debug=fast", "dataset.min_size=10", "dataset.max_size=25",
        "dataset.anomaly_fraction=0.3", "dataset.batch_size=8", "model.hidden_dim=16", "model.num_layers=2",
        "model.heads=2", "trainer.max_epochs=2", "callbacks.progress_bar=null"]


@pytest.mark.parametrize("task, metrics", [
    ("graph_classification", ("acc", "f1_macro", "auroc")),
    ("graph_regression", ("mae", "rmse", "r2")),
    ("anomaly_detection", ("auroc", "average_precision")),
])
def test_cli_end_to_end(run_cli, tmp_path, task, metrics):
    run_dir = tmp_path / task
    res = run_cli("train", f"task={task}", *TINY, f"hydra.run.dir={run_dir}")
    assert res.returncode == 0, res.stderr[-3000:]
    s = read_summary(run_dir)
    assert s["task"] == task and s["dataset"] == "clusters" and s["model"] == "graph_gnn"
    for k in metrics:
        assert f"test/{k}" in s["metrics"] and f"baseline/{k}" in s["metrics"]
    assert s["data"]["n_graphs"] > 0 and s["data"]["checksum"]
    if task == "anomaly_detection":
        assert s["metrics"]["baseline/auroc"] == 0.5
        assert 0.0 <= s["metrics"]["test/auroc"] <= 1.0
        # examples/anomaly_by_type.py: per-type AUROC from the predictions; its overall figure is the run's
        import runpy
        from pathlib import Path

        example = Path(__file__).resolve().parent.parent / "examples" / "anomaly_by_type.py"
        by_type = runpy.run_path(str(example))["auroc_by_type"](run_dir)
        assert by_type["all"][0] == pytest.approx(s["metrics"]["test/auroc"], abs=1e-4)
        assert set(by_type) - {"all"} <= {"second_turnoff", "pm_subgroup"} and len(by_type) >= 2
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    for k in metrics:
        assert f"val/{k}" in header
    assert (run_dir / "predictions_test.csv").exists()


def test_incompatible_dataset_fails_in_one_line(run_cli, tmp_path):
    res = run_cli("train", "model=graph_gnn", "dataset=gaia", f"hydra.run.dir={tmp_path}")
    assert res.returncode != 0
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and "clusters" in err[0], res.stderr[-2000:]
