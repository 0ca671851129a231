"""AdvancedTemporalEncoder, AstroTemporalGNN and the time-series tasks (no files, no CLI)."""

from __future__ import annotations

import pytest
import torch
from tensordict import TensorDict

from astrolab.data.datamodules import LightCurveDataModule
from astrolab.models.components.temporal import CELLS, AdvancedTemporalEncoder, ContinuousTimeEncoding
from astrolab.models.temporal_gnn import AstroTemporalGNN
from astrolab.tasks.temporal import Forecasting
from task_helpers import time_series_classification as TimeSeriesClassification


def _series(b=5, lengths=(7, 12, 3, 12, 9), f=4, pad=0, seed=0):
    g = torch.Generator().manual_seed(seed)
    L = max(lengths) + pad
    x = torch.randn(b, L, f, generator=g)
    time = torch.cumsum(torch.rand(b, L, generator=g) * 5, 1) + 58000.0
    band = torch.randint(0, 3, (b, L), generator=g)
    mask = torch.arange(L).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    return x, time, band, mask


@pytest.mark.parametrize("cell, bidirectional", [(c, False) for c in CELLS] + [("lstm", True), ("gru", True)])
def test_padding_never_changes_the_output(cell, bidirectional):
    # one direction runs the padded batch as is, two directions pack it: both must ignore the padding
    torch.manual_seed(0)
    enc = AdvancedTemporalEncoder(4, 16, cell=cell, num_layers=2, heads=2, dropout=0.0,
                                  bidirectional=bidirectional).eval()
    x, t, b, m = _series()
    out = enc(x, t, b, m)
    # more padding, filled with garbage (not zeros) in every padded slot
    x2, t2, b2, m2 = _series(pad=6)
    x2[:, : x.shape[1]], t2[:, : x.shape[1]], b2[:, : x.shape[1]] = x, t, b
    x2[~m2] = 1e3
    t2[~m2] = -5e4
    out2 = enc(x2, t2, b2, m2)
    assert torch.allclose(out, out2, atol=1e-5), (out - out2).abs().max()
    # a series alone gives the same vector as inside a padded batch
    alone = enc(x[2:3, :3], t[2:3, :3], b[2:3, :3], m[2:3, :3])
    assert torch.allclose(alone, out[2:3], atol=1e-5)
    # and no gradient reaches a padded slot
    x3 = x2.clone().requires_grad_(True)
    (enc(x3, t2, b2, m2) * torch.randn(5, 16)).sum().backward()  # (a plain sum of a LayerNorm output is flat)
    assert x3.grad[~m2].abs().max() == 0 and x3.grad[m2].abs().max() > 0


@pytest.mark.parametrize("cell", CELLS)
def test_constant_time_shift_does_not_change_the_output(cell):
    torch.manual_seed(1)
    enc = AdvancedTemporalEncoder(4, 16, cell=cell, num_layers=1, heads=2, dropout=0.0).eval()
    x, t, b, m = _series()
    assert torch.allclose(enc(x, t, b, m), enc(x, t + 1234.5, b, m), atol=1e-5)


def test_transformer_uses_the_actual_times_not_the_index():
    torch.manual_seed(2)
    enc = AdvancedTemporalEncoder(4, 16, cell="transformer", num_layers=1, heads=2, dropout=0.0).eval()
    x, t, b, m = _series()
    stretched = t[:, :1] + (t - t[:, :1]) * 3.0  # same order/index, different times
    assert not torch.allclose(enc(x, t, b, m), enc(x, stretched, b, m), atol=1e-4)


def test_continuous_time_encoding_is_bounded_and_distinguishes_times():
    enc = ContinuousTimeEncoding(16)
    e = enc(torch.tensor([0.0, 0.3, 100.0]))
    assert e.shape == (3, 16) and e.abs().max() <= 1.0
    assert not torch.allclose(e[1], e[2])


@pytest.mark.parametrize("cell", CELLS)
def test_reset_parameters_reinitialises(cell):
    enc = AdvancedTemporalEncoder(4, 16, cell=cell, num_layers=1, heads=2)
    before = {n: p.detach().clone() for n, p in enc.named_parameters()}
    enc.reset_parameters()
    # every parameter except norm scales/shifts (reset to the same 1/0) and zero-initialised biases
    norms = {f"{mn}.{pn}" for mn, m in enc.named_modules() if isinstance(m, torch.nn.LayerNorm)
             for pn, _ in m.named_parameters()}
    same = [n for n, p in enc.named_parameters()
            if torch.equal(before[n], p) and n not in norms and not n.endswith("bias")]
    assert not same


def _batch(lengths=(7, 12, 3, 12, 9), queries=False, edges=False):
    x, t, b, m = _series(lengths=lengths)
    B, L = m.shape
    td = TensorDict({"sequence": TensorDict({"x": x, "time": t, "band": b, "mask": m}, batch_size=[B, L]),
                     "objects": TensorDict({"y": torch.tensor([0, 1, 2, 1, 0]), "seed": torch.ones(B, dtype=torch.bool)},
                                           batch_size=[B])}, batch_size=[])
    if queries:
        Q = 4
        qm = torch.ones(B, Q, dtype=torch.bool)
        qm[2, 2:] = False
        td["queries"] = TensorDict({"x": torch.randn(B, Q, 3), "time": t[:, -1:] + torch.arange(1, Q + 1).float(),
                                    "band": torch.zeros(B, Q, dtype=torch.long), "mask": qm,
                                    "target": torch.randn(B, Q, 3)}, batch_size=[B, Q])
    if edges:
        td["edges"] = TensorDict({"index": torch.tensor([[1, 0], [0, 1], [3, 2]])}, batch_size=[3])
    return td


@pytest.mark.parametrize("graph", ["none", "knn"])
def test_model_classification_and_forecasting_shapes(graph):
    task = TimeSeriesClassification(num_classes=3)
    model = AstroTemporalGNN(task=task, num_features=4, cell="gru", hidden_dim=16, graph=graph)
    out = model(_batch(edges=graph == "knn"))
    assert out.shape == (5, 3)
    fk = LightCurveDataModule.batch_keys_by_target["forecasting"]
    fmodel = AstroTemporalGNN(task=Forecasting(target_key=fk["target"], mask_key=fk["mask"]), num_features=4, cell="lstm", hidden_dim=16, graph=graph)
    batch = _batch(queries=True, edges=graph == "knn")
    fo = fmodel(batch)
    assert fo.shape == (5, 4)
    pred, target = fmodel.task.select(batch, fo, "train")
    assert pred.shape == (18,) and target.shape == (18, 3)
    loss = fmodel.criterion(pred, fmodel.task.loss_target(target))
    loss.backward()
    assert all(p.grad is not None for p in fmodel.head.parameters())


def test_knn_model_without_edges_is_a_clear_error():
    from astrolab.errors import ConfigError

    model = AstroTemporalGNN(task=TimeSeriesClassification(num_classes=3), num_features=4, hidden_dim=16, graph="knn")
    with pytest.raises(ConfigError, match="dataset.graph"):
        model(_batch())


def test_forecast_metrics_ratios_by_hand():
    task = Forecasting()
    m = task.configure_metrics()
    y = torch.tensor([0.0, 1.0, 2.0, 3.0])
    persistence = torch.tensor([1.0, 1.0, 1.0, 1.0])     # MAE = (1 + 0 + 1 + 2)/4 = 1.0
    folded = torch.tensor([0.0, 1.5, 2.0, 3.0])           # MAE = 0.125
    pred = torch.tensor([0.5, 1.0, 2.5, 3.0])             # MAE = 0.25, RMSE = sqrt(0.125)
    m.update(pred, torch.stack([y, persistence, folded], 1))
    r = {k: float(v) for k, v in m.compute().items()}
    assert r["mae"] == pytest.approx(0.25)
    assert r["rmse"] == pytest.approx(0.125**0.5)
    assert r["mae_vs_persistence"] == pytest.approx(0.25)
    assert r["mae_vs_folded"] == pytest.approx(2.0)
    base = task.baseline_metrics(torch.zeros(0, 3), torch.stack([y, persistence, folded], 1))
    assert base["mae"] == pytest.approx(1.0) and base["mae_vs_persistence"] == pytest.approx(1.0)
    assert base["folded_mae"] == pytest.approx(0.125)


def test_model_config_picks_its_default_task_and_task_override_wins():
    from hydra import compose, initialize_config_dir

    from astrolab.config import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir())):
        cfg = compose("train", overrides=["model=temporal_gnn", "dataset=lightcurves", "paths.run_dir=/tmp/x"])
        assert cfg.task.name == "time_series_classification"
        assert cfg.task._target_.endswith("ClassificationTask")
        assert cfg.dataset.graph.type == "none"
        cfg = compose("train", overrides=["model=temporal_gnn", "task=forecasting", "model.graph=knn",
                                          "dataset=lightcurves", "paths.run_dir=/tmp/x"])
        assert cfg.task._target_.endswith("Forecasting")
        assert cfg.dataset.graph.type == "knn"
        cfg = compose("train", overrides=["paths.run_dir=/tmp/x"])
        assert cfg.task.name == "node_classification"
