"""Self-supervised pretraining (``astrolab pretrain``), fine-tuning from its encoder (``model.pretrained``),
``dataset.label_fraction`` and temperature scaling (``task.calibrate``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from tests.conftest import read_summary

TINY = ["dataset.n_objects=48", "dataset.min_epochs=20", "dataset.max_epochs=40", "dataset.batch_size=16",
        "trainer.max_epochs=2", "trainer.enable_model_summary=false", "model.hidden_dim=16", "save_plots=false"]


def _astrolab(*args: str) -> tuple[int, str]:
    """``astrolab <args>`` in this process (the CLI's own entry point; saves the start-up of a new
    interpreter): exit code and what it wrote to stderr."""
    import contextlib
    import io
    import sys

    from astrolab.cli import main

    err, argv = io.StringIO(), list(sys.argv)
    try:
        with contextlib.redirect_stderr(err):
            rc = main(list(args))
    finally:
        sys.argv = argv
    return rc, err.getvalue()


@pytest.fixture(scope="module")
def encoder_ckpt(tmp_path_factory, session_dirs):
    """One tiny pretraining run on the embedded sample (shared by the tests below)."""
    import os

    run_dir = tmp_path_factory.mktemp("pretrain")
    old = {k: os.environ.get(k) for k in ("ASTROLAB_CACHE", "ASTROLAB_OUTPUT")}
    os.environ.update(ASTROLAB_CACHE=str(session_dirs["cache"]), ASTROLAB_OUTPUT=str(session_dirs["outputs"]))
    try:
        rc, err = _astrolab("pretrain", "model=temporal_gnn", "dataset=lightcurves", *TINY, f"hydra.run.dir={run_dir}")
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    assert rc == 0, err[-3000:]
    return run_dir


def test_pretrain_writes_an_encoder_checkpoint_without_test_objects(encoder_ckpt):
    s = read_summary(encoder_ckpt)
    assert s["command"] == "pretrain" and s["task"] == "masked_reconstruction"
    path = encoder_ckpt / "checkpoints" / "encoder.ckpt"
    assert s["encoder_checkpoint"] == str(path.resolve()) and path.is_file()
    state = torch.load(path, map_location="cpu", weights_only=True)
    meta = state["astrolab"]
    assert meta["kind"] == "encoder" and meta["signature"]["family"] == "AstroTemporalGNN"
    assert meta["signature"]["hidden_dim"] == 16
    assert "input_proj.weight" in state["state_dict"]  # encoder keys, no head
    # the split's test objects are never pretrained on (same split as astrolab train with these settings)
    sizes = s["data"]["split_sizes"]
    assert s["objects_used"]["test"] == 0 and sizes["test"] > 0
    assert s["objects_used"]["train"] == sizes["train"] and sizes["train"] + sizes["val"] + sizes["test"] == 48
    assert np.isfinite(s["metrics"]["val/loss"]) and s["metrics"]["val/mae"] > 0


def _datamodule(tmp_path, **kw):
    from astrolab.data.datamodules import LightCurveDataModule

    dm = LightCurveDataModule(n_objects=48, min_epochs=20, max_epochs=40, batch_size=16,
                              cache_dir=str(tmp_path), **kw)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def _classifier(dm, hidden_dim=16):
    from astrolab.models.temporal_gnn import AstroTemporalGNN
    from astrolab.tasks import ClassificationTask

    task = ClassificationTask(name="time_series_classification", level="sequence",
                              **dm.task_kwargs()).use_batch_keys(dm.batch_keys)
    return AstroTemporalGNN(task=task, num_features=dm.num_features, hidden_dim=hidden_dim, num_layers=1, heads=1,
                            dropout=0.0)


def test_model_pretrained_loads_the_encoder_weights(encoder_ckpt, tmp_path):
    from astrolab.errors import CheckpointError
    from astrolab.training.session import read_pretrained, use_pretrained

    path = encoder_ckpt / "checkpoints" / "encoder.ckpt"
    cfg = OmegaConf.create({"model": {"pretrained": str(path), "freeze_encoder": False}})
    state = read_pretrained(cfg)
    dm = _datamodule(tmp_path)
    model = _classifier(dm)
    assert not all(torch.equal(v, state["state_dict"][k]) for k, v in model.encoder.state_dict().items())
    use_pretrained(state, cfg, model, dm)
    for k, v in model.encoder.state_dict().items():
        assert torch.equal(v, state["state_dict"][k]), k
    # another width: one line naming model.pretrained and the mismatch
    with pytest.raises(CheckpointError, match=r"model\.pretrained=.*hidden_dim 16 vs 8"):
        use_pretrained(state, cfg, _classifier(dm, hidden_dim=8), dm)
    # a training checkpoint is not an encoder checkpoint
    torch.save({"astrolab": {"format": 1}, "state_dict": {}}, tmp_path / "full.ckpt")
    with pytest.raises(CheckpointError, match=r"model\.pretrained=.*not an encoder checkpoint"):
        read_pretrained(OmegaConf.create({"model": {"pretrained": str(tmp_path / "full.ckpt")}}))


def test_finetune_frozen_with_label_fraction_and_calibration(encoder_ckpt, tmp_path):
    enc = encoder_ckpt / "checkpoints" / "encoder.ckpt"
    rc, err = _astrolab("train", "model=temporal_gnn", "dataset=lightcurves", *TINY, f"model.pretrained={enc}",
                        "model.freeze_encoder=true", "dataset.label_fraction=0.5", "task.calibrate=true",
                        f"hydra.run.dir={tmp_path}")
    assert rc == 0, err[-3000:]
    s = read_summary(tmp_path)
    m = s["metrics"]
    for k in ("test/balanced_acc", "test/ece_uncalibrated", "test/ece", "temperature"):
        assert k in m and np.isfinite(m[k]), k
    assert m["temperature"] > 0 and m["val/nll"] <= m["val/nll_uncalibrated"] + 1e-9
    assert s["data"]["label_fraction"] == 0.5
    assert s["data"]["split_sizes"]["train"] < s["data"]["n_train_labels_all"]
    best = torch.load(s["best_checkpoint"], map_location="cpu", weights_only=True)
    assert best["astrolab"]["task_kwargs"]["temperature"] == pytest.approx(m["temperature"])
    # astrolab predict applies the stored temperature: its probabilities are the run's test predictions'
    from astropy.table import Table

    from astrolab.training.session import predict_catalog

    table, _ = predict_catalog(s["best_checkpoint"])
    test = Table.read(tmp_path / "predictions_test.csv", format="ascii.csv")
    row = {int(i): k for k, i in enumerate(table["id"])}
    cols = [c for c in test.colnames if c.startswith("prob_")]
    got = np.array([[table[c][row[int(i)]] for c in cols] for i in test["id"]], dtype=float)
    want = np.array([[r[c] for c in cols] for r in test], dtype=float)
    assert np.allclose(got, want, atol=2e-5)
    # frozen: the fine-tuned model's encoder is exactly the pretrained one
    pre = torch.load(enc, map_location="cpu", weights_only=True)["state_dict"]
    for k, v in pre.items():
        assert torch.equal(best["state_dict"][f"encoder.{k}"], v), k


def test_bad_pretrained_path_is_one_line(tmp_path):
    rc, err = _astrolab("train", "model=temporal_gnn", "dataset=lightcurves", *TINY,
                        f"model.pretrained={tmp_path / 'nope.ckpt'}", f"hydra.run.dir={tmp_path / 'run'}")
    assert rc != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "model.pretrained=" in lines[0] and "encoder.ckpt" in lines[0], err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


def test_label_fraction_is_stratified_and_keeps_val_test(tmp_path):
    full = _datamodule(tmp_path)
    part = _datamodule(tmp_path, label_fraction=0.25)
    objs_f, objs_p = full.td["objects"], part.td["objects"]
    for s in ("val", "test"):
        assert torch.equal(objs_f[f"{s}_mask"], objs_p[f"{s}_mask"])
    tf, tp = objs_f["train_mask"], objs_p["train_mask"]
    assert bool((tp & ~tf).sum() == 0)  # a subset of the training split
    counts_f = torch.bincount(objs_f["y"][tf], minlength=8)
    counts_p = torch.bincount(objs_p["y"][tp], minlength=8)
    want = torch.tensor([max(1, int(round(0.25 * int(c)))) if c else 0 for c in counts_f])
    assert torch.equal(counts_p, want)
    # seeded: the same subset again, another split seed gives another one
    again = _datamodule(tmp_path, label_fraction=0.25)
    assert torch.equal(again.td["objects", "train_mask"], tp)


def test_label_fraction_out_of_range_names_the_key():
    from astrolab.data.datamodules import LightCurveDataModule
    from astrolab.errors import ConfigError

    with pytest.raises(ConfigError, match=r"dataset\.label_fraction=1\.5"):
        LightCurveDataModule(label_fraction=1.5)


def test_temperature_scaling_fixes_an_overconfident_toy():
    from astrolab.tasks.calibration import expected_calibration_error, fit_temperature, nll, scale_probabilities

    # toy classifier: true class gets a logit margin drawn N(1, 1); the logits are then multiplied by 8
    # (an overconfident network). The right temperature is about 8.
    rng = np.random.default_rng(0)
    n, c = 2000, 4
    y = rng.integers(0, c, n)
    z = rng.normal(0, 1, (n, c))
    z[np.arange(n), y] += 1.0
    logits = 8.0 * z
    t = fit_temperature(logits, y)
    assert 4.0 < t < 16.0
    assert nll(logits, y, t) < nll(logits, y) - 0.5
    p0 = scale_probabilities(np.exp(logits - logits.max(1, keepdims=True)), 1.0)
    assert expected_calibration_error(scale_probabilities(p0, t), y) < 0.5 * expected_calibration_error(p0, y)
    # an already calibrated model keeps T near 1
    assert 0.8 < fit_temperature(z, y) < 1.25


def test_masked_reconstruction_hides_epochs_from_the_encoder():
    from tensordict import TensorDict

    from astrolab.tasks import MaskedReconstruction

    task = MaskedReconstruction(mask_ratio=0.5, target_feature=1, dt_feature=0, target_key=("sequence", "x"),
                                mask_key=("objects", "seed"))
    B, L = 3, 10
    lengths = torch.tensor([10, 6, 2])
    mask = torch.arange(L)[None] < lengths[:, None]
    x = torch.randn(B, L, 4)
    time = torch.cumsum(torch.rand(B, L), 1) * mask
    batch = TensorDict({"sequence": TensorDict({"x": x, "time": time, "band": torch.zeros(B, L, dtype=torch.long),
                                                "mask": mask}, batch_size=[B, L]),
                        "objects": TensorDict({"seed": torch.ones(B, dtype=torch.bool)}, batch_size=[B])},
                       batch_size=[])
    view = task.mask_batch(batch, "train")
    hidden = view["hidden"]
    assert torch.equal(hidden.sum(1), torch.tensor([5, 3, 1]))
    assert not (hidden & ~mask).any()
    assert torch.equal(view["mask"].sum(1), lengths - hidden.sum(1))
    # the visible epochs, in time order, are exactly the real epochs not hidden
    for b in range(B):
        keep = mask[b] & ~hidden[b]
        assert torch.equal(view["time"][b, : int(keep.sum())], time[b, keep])
    assert (view["query_x"][..., 1] == 0).all()  # the hidden value never enters a query
    out, target = task.select(batch, torch.zeros(B, L), "train")
    assert len(out) == int(hidden.sum()) and torch.allclose(target, x[..., 1][hidden])
    # fixed masks outside training
    a = task.mask_batch(batch, "val")["hidden"]
    assert torch.equal(a, task.mask_batch(batch, "val")["hidden"])


def test_feature_weight_adds_a_cross_modal_feature_loss(tmp_path):
    """``task.feature_weight=W``: the pretraining loss is MSE(dmag) + W · MSE(features predicted from the
    masked curve's encoder vector); the encoder gets the gradient of both; no features → one line."""
    from astrolab.errors import ConfigError
    from astrolab.models.temporal_gnn import AstroTemporalGNN
    from astrolab.tasks import MaskedReconstruction

    dm = _datamodule(tmp_path, task_kind="reconstruction", features=["amplitude", "std", "skew"])
    batch = next(iter(dm.train_dataloader()))
    n_feat = dm.model_inputs()["num_object_features"]
    assert n_feat == batch["objects", "features"].shape[1] > 0

    def model(weight, **kw):
        task = MaskedReconstruction(feature_weight=weight, **dm.task_kwargs()).use_batch_keys(dm.batch_keys)
        torch.manual_seed(0)
        return AstroTemporalGNN(task=task, num_features=dm.num_features, hidden_dim=16, num_layers=1, heads=1,
                                dropout=0.0, **kw)

    off, on = model(0.0, num_object_features=n_feat), model(2.0, num_object_features=n_feat)
    assert off.feature_decoder is None and on.feature_decoder is not None
    on.load_state_dict({**on.state_dict(), **off.state_dict()})  # same encoder and head
    on.train(), off.train()
    torch.manual_seed(1)
    loss_off = off._step(batch, "train")
    torch.manual_seed(1)  # the same masks
    out = on(batch)
    feat = on._feature_loss.detach()
    assert feat > 0
    pred, target = on.task.select(batch, out, "train")
    total = on.step_loss(pred, target, batch, "train")
    assert torch.allclose(total, loss_off + 2.0 * feat, atol=1e-5)
    total.backward()
    assert on.feature_decoder[0].weight.grad.abs().sum() > 0
    assert on.encoder.input_proj.weight.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match=r"task\.feature_weight.*dataset\.features"):
        model(1.0, num_object_features=0)
    with pytest.raises(ConfigError, match=r"task\.feature_weight=-1"):
        MaskedReconstruction(feature_weight=-1)


def test_contrast_objective_pretrains_and_loads_the_feature_branch(tmp_path, session_dirs):
    """``task.feature_objective=contrast``: the encoder checkpoint holds the feature branch too (with the
    feature names); fine-tuning loads it into every member; other per-object features are refused."""
    import os

    from astrolab.errors import CheckpointError
    from astrolab.models.temporal_gnn import AstroTemporalGNN
    from astrolab.tasks import ClassificationTask
    from astrolab.training.session import read_pretrained, use_pretrained

    feats = "dataset.features=[amplitude,std,skew]"
    os.environ.update(ASTROLAB_CACHE=str(session_dirs["cache"]), ASTROLAB_OUTPUT=str(session_dirs["outputs"]))
    rc, err = _astrolab("pretrain", "model=temporal_gnn", "dataset=lightcurves", *TINY, feats,
                        "task.feature_weight=1", "task.feature_objective=contrast", f"hydra.run.dir={tmp_path / 'pre'}")
    assert rc == 0, err[-3000:]
    s = read_summary(tmp_path / "pre")
    assert np.isfinite(s["metrics"]["val/feature_loss"]) and s["metrics"]["val/feature_loss"] > 0
    path = tmp_path / "pre" / "checkpoints" / "encoder.ckpt"
    cfg = OmegaConf.create({"model": {"pretrained": str(path), "freeze_encoder": True}})
    state = read_pretrained(cfg)
    branch = {k[len("feature_branch."):]: v for k, v in state["state_dict"].items() if k.startswith("feature_branch.")}
    assert branch and "input_proj.weight" in state["state_dict"]
    names = state["astrolab"]["object_feature_names"]
    assert {n.rsplit("_", 1)[0] for n in names} == {"amplitude", "standard_deviation", "skew"}  # per band

    dm = _datamodule(tmp_path / "dm", features=["amplitude", "std", "skew"])
    assert dm.object_feature_names == names
    task = ClassificationTask(name="time_series_classification", level="sequence",
                              **dm.task_kwargs()).use_batch_keys(dm.batch_keys)
    model = AstroTemporalGNN(task=task, num_features=dm.num_features, hidden_dim=16, num_layers=1, heads=1,
                             dropout=0.1, ensemble=2, **dm.model_inputs())
    use_pretrained(state, cfg, model, dm)
    for m in (model, *model.members):
        for k, v in m.feature_branch.state_dict().items():
            assert torch.equal(v, branch[k]), k
        assert not any(p.requires_grad for p in m.feature_branch.parameters())  # frozen with the encoder
    assert all(p.requires_grad for p in model.head.parameters())
    # other per-object features: one line naming model.pretrained and the fix
    other = _datamodule(tmp_path / "dm2", features=["amplitude", "std", "kurtosis"])
    with pytest.raises(CheckpointError, match=r"model\.pretrained=.*feature branch.*dataset\.features"):
        use_pretrained(state, cfg, AstroTemporalGNN(task=task, num_features=other.num_features, hidden_dim=16,
                                                    num_layers=1, heads=1, **other.model_inputs()), other)
