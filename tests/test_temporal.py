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


def _feature_batch(n_feat=7, B=5, L=9):
    seq = TensorDict({"x": torch.randn(B, L, 4), "time": torch.cumsum(torch.rand(B, L), 1),
                      "band": torch.zeros(B, L, dtype=torch.long), "mask": torch.ones(B, L, dtype=torch.bool)},
                     batch_size=[B, L])
    objs = TensorDict({"y": torch.zeros(B, dtype=torch.long), "seed": torch.ones(B, dtype=torch.bool),
                       "features": torch.randn(B, n_feat)}, batch_size=[B])
    return TensorDict({"sequence": seq, "objects": objs}, batch_size=[])


def test_feature_skip_widens_the_head_and_carries_the_features_themselves():
    task = lambda: TimeSeriesClassification(num_classes=3)  # noqa: E731
    late = AstroTemporalGNN(task=task(), num_features=4, hidden_dim=16, num_object_features=7, feature_skip=True)
    plain = AstroTemporalGNN(task=task(), num_features=4, hidden_dim=16, num_object_features=7)
    assert not plain.hparams.feature_skip  # the Python default is off; conf/model/temporal_gnn.yaml turns it on
    assert plain.head.net[0].in_features == 16 + 16
    assert late.head.net[0].in_features == 16 + 16 + 7
    batch = _feature_batch()
    out = late(batch)
    assert out.shape == (5, 3)
    # the last 7 inputs of the head are the scaled feature vector as the batch carries it
    seen = {}
    late.head.register_forward_pre_hook(lambda m, a: seen.setdefault("x", a[0]))
    late.eval()(batch)
    assert torch.equal(seen["x"][:, -7:], batch["objects", "features"])
    out.sum().backward()
    assert late.head.net[0].weight.grad[:, -7:].abs().sum() > 0
    # no feature branch: nothing to skip, the head sees the sequence only
    off = AstroTemporalGNN(task=task(), num_features=4, hidden_dim=16, num_object_features=7,
                           object_features=False, feature_skip=True)
    assert off.head.net[0].in_features == 16


def test_feature_layers_and_sequence_dropout():
    from astrolab.errors import ConfigError

    task = lambda: TimeSeriesClassification(num_classes=3)  # noqa: E731
    deep = AstroTemporalGNN(task=task(), num_features=4, hidden_dim=16, num_object_features=7, feature_layers=3)
    assert sum(isinstance(m, torch.nn.Linear) for m in deep.feature_branch.net) == 3
    wide = AstroTemporalGNN(task=task(), num_features=4, hidden_dim=16, num_object_features=7, feature_dim=40,
                            feature_skip=True)
    assert wide.feature_branch.net[0].out_features == 40 and wide.head.net[0].in_features == 16 + 40 + 7
    torch.manual_seed(0)
    m = AstroTemporalGNN(task=task(), num_features=4, hidden_dim=16, num_object_features=7, dropout=0.0,
                         sequence_dropout=0.5)
    seen = []
    m.head.register_forward_pre_hook(lambda mod, a: seen.append(a[0].detach().clone()))
    batch = _feature_batch(B=64)
    m.train()(batch)
    zero = (seen[-1][:, :16] == 0).all(1)
    assert 10 < int(zero.sum()) < 54  # about half the objects lose their sequence embedding, never the features
    assert (seen[-1][zero, 16:] != 0).any(1).all()
    m.eval()(batch)
    assert not (seen[-1][:, :16] == 0).all(1).any()  # evaluation sees every sequence
    for bad in ({"sequence_dropout": 1.0}, {"feature_layers": 0}):
        with pytest.raises(ConfigError, match="model."):
            AstroTemporalGNN(task=task(), num_features=4, hidden_dim=16, **bad)


def test_num_threads_is_applied_by_setup():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        m = AstroTemporalGNN(task=TimeSeriesClassification(num_classes=3), num_features=4, hidden_dim=16,
                             num_threads=1)
        assert torch.get_num_threads() == 2  # building the model changes nothing
        m.setup("fit")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_model_config_defaults_for_light_curves():
    from hydra import compose, initialize_config_dir

    from astrolab.config import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir())):
        cfg = compose("train", overrides=["model=temporal_gnn", "dataset=lightcurves", "paths.run_dir=/tmp/x"])
    assert cfg.model.num_threads == 1 and cfg.model.feature_skip is True and cfg.model.ensemble is None
    assert cfg.dataset.feature_scaling == "robust"


def test_ema_averages_the_weights_and_validation_uses_the_average():
    from astrolab.errors import ConfigError

    torch.manual_seed(0)
    m = AstroTemporalGNN(task=TimeSeriesClassification(num_classes=3), num_features=4, hidden_dim=8, ema_decay=0.9)
    m.on_fit_start()
    w = m.head.net[0].weight
    start = w.detach().clone()
    with torch.no_grad():
        w.add_(1.0)  # one "optimizer step"
    m.on_train_batch_end(None, None, 0)
    avg = 0.9 * start + 0.1 * (start + 1.0)
    assert torch.allclose(m._ema["head.net.0.weight"], avg)
    m.on_validation_epoch_start()  # validation (and so best.ckpt) sees the average ...
    assert torch.allclose(w, avg)
    m.on_validation_end()  # ... and training goes on with the live weights
    assert torch.allclose(w, start + 1.0)
    m.on_fit_end()
    assert torch.allclose(w, avg) and m._ema is None
    off = AstroTemporalGNN(task=TimeSeriesClassification(num_classes=3), num_features=4, hidden_dim=8)
    off.on_fit_start()
    assert off._ema is None
    with pytest.raises(ConfigError, match="model.ema_decay"):
        AstroTemporalGNN(task=TimeSeriesClassification(num_classes=3), num_features=4, hidden_dim=8, ema_decay=1.0)


def test_ensemble_members_learn_on_their_own_and_the_output_is_their_mean_probability():
    from astrolab.errors import ConfigError

    torch.manual_seed(0)
    task = lambda: TimeSeriesClassification(num_classes=3)  # noqa: E731
    m = AstroTemporalGNN(task=task(), num_features=4, hidden_dim=8, num_object_features=7, feature_skip=True,
                         ensemble=3, dropout=0.0)
    assert len(m.members) == 2
    # every member has its own initialisation
    assert not torch.equal(m.head.net[0].weight, m.members[0].head.net[0].weight)
    batch = _feature_batch(B=6)
    batch["objects", "y"] = torch.tensor([0, 1, 2, 0, 1, 2])
    m.eval()
    members = [p.head(m.with_object_features(m.encode(batch, p), batch, p)) for p in (m, *m.members)]
    mean_prob = torch.stack([torch.softmax(o, -1) for o in members]).mean(0)
    out = m(batch)
    assert torch.allclose(torch.softmax(out, -1), mean_prob, atol=1e-6)
    assert torch.allclose(m.task.predict(out)["prob"], mean_prob, atol=1e-6)
    # training: the loss is the mean of the members' own cross-entropies, so no member's gradient depends on
    # another member's output (a deep ensemble, not one network trained through the average)
    m.train()
    out = m(batch)
    target = batch["objects", "y"]
    loss = m.step_loss(m.task.select(batch, out, "train")[0], target, batch, "train")
    ce = torch.stack([torch.nn.functional.cross_entropy(o, target) for o in members]).mean()
    assert loss.item() == pytest.approx(ce.item(), rel=1e-5)
    loss.backward()
    g1 = m.members[0].head.net[0].weight.grad.clone()
    m.zero_grad()
    one = m.members[0]
    (torch.nn.functional.cross_entropy(one.head(m.with_object_features(m.encode(batch, one), batch, one)),
                                       target) / 3).backward()
    assert torch.allclose(one.head.net[0].weight.grad, g1, atol=1e-6)
    # validation scores the ensemble's output itself
    m.eval()
    out = m(batch)
    val = m.step_loss(m.task.select(batch, out, "val")[0], target, batch, "val")
    assert val.item() == pytest.approx(torch.nn.functional.nll_loss(torch.log(mean_prob), target).item(), rel=1e-4)
    # a single network keeps the checkpoint keys of earlier runs
    single = AstroTemporalGNN(task=task(), num_features=4, hidden_dim=8)
    assert single.members is None and not any(k.startswith("members.") for k in single.state_dict())
    # pretrained encoder weights go into every member
    state = {k: torch.full_like(v, 0.5) for k, v in m.encoder.state_dict().items()}
    m.load_encoder_state(state, freeze=True)
    for p in (m, *m.members):
        assert all(torch.equal(v, state[k]) for k, v in p.encoder.state_dict().items())
        assert not any(q.requires_grad for q in p.encoder.parameters())
    with pytest.raises(ConfigError, match="model.ensemble"):
        AstroTemporalGNN(task=task(), num_features=4, hidden_dim=8, ensemble=0)
    with pytest.raises(ConfigError, match="model.ensemble=2 .*time_series_classification"):
        AstroTemporalGNN(task=Forecasting(), num_features=4, hidden_dim=8, ensemble=2)


def test_unimodal_losses_train_extra_heads_and_never_change_the_prediction():
    from astrolab.errors import ConfigError

    torch.manual_seed(0)
    task = lambda: TimeSeriesClassification(num_classes=3)  # noqa: E731
    m = AstroTemporalGNN(task=task(), num_features=4, hidden_dim=8, num_object_features=7, feature_skip=True,
                         ensemble=2, dropout=0.0, unimodal_weight=0.5)
    for p in (m, *m.members):  # every member: a head on the sequence (8) and one on the features (8 + 7)
        assert p.unimodal_heads["sequence"].net[0].in_features == 8
        assert p.unimodal_heads["features"].net[0].in_features == 8 + 7
    batch = _feature_batch(B=6)
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    batch["objects", "y"] = target
    m.eval()
    before = m(batch)
    with torch.no_grad():
        for p in (m, *m.members):
            for prm in p.unimodal_heads.parameters():
                prm.add_(1.0)
    assert torch.equal(m(batch), before)  # only the fused heads predict
    m.train()
    out = m(batch)
    loss = m.step_loss(m.task.select(batch, out, "train")[0], target, batch, "train")
    ce = torch.nn.functional.cross_entropy
    fused, uni = [], []
    for p in (m, *m.members):
        z = m.encode(batch, p)
        h = m.with_object_features(z, batch, p)
        fused.append(ce(p.head(h), target))
        uni += [ce(p.unimodal_heads["sequence"](z), target), ce(p.unimodal_heads["features"](h[:, 8:]), target)]
    want = torch.stack(fused).mean() + 0.5 * torch.stack(uni).mean()
    assert loss.item() == pytest.approx(want.item(), rel=1e-5)
    loss.backward()
    assert m.members[0].unimodal_heads["features"].net[0].weight.grad.abs().sum() > 0
    assert m.encoder.input_proj.weight.grad.abs().sum() > 0
    # validation: the fused ensemble alone
    m.eval()
    out = m(batch)
    val = m.step_loss(m.task.select(batch, out, "val")[0], target, batch, "val")
    assert val.item() == pytest.approx(torch.nn.functional.nll_loss(out, target).item(), rel=1e-5)
    off = AstroTemporalGNN(task=task(), num_features=4, hidden_dim=8, num_object_features=7)
    assert off.unimodal_heads is None and not any("unimodal" in k for k in off.state_dict())
    with pytest.raises(ConfigError, match="model.unimodal_weight > 0 .*feature branch"):
        AstroTemporalGNN(task=task(), num_features=4, hidden_dim=8, unimodal_weight=1.0)
    with pytest.raises(ConfigError, match="model.unimodal_weight must be >= 0"):
        AstroTemporalGNN(task=task(), num_features=4, hidden_dim=8, num_object_features=7, unimodal_weight=-1)


def test_ensemble_null_is_five_members_for_classification_and_one_network_otherwise():
    auto = AstroTemporalGNN(task=TimeSeriesClassification(num_classes=3), num_features=4, hidden_dim=8,
                            ensemble=None)
    assert len(auto.members) == AstroTemporalGNN.default_ensemble - 1 == 4
    assert auto.hparams.ensemble == 5  # the checkpoint records the number, so it rebuilds the same model
    assert AstroTemporalGNN(task=Forecasting(), num_features=4, hidden_dim=8, ensemble=None).members is None
