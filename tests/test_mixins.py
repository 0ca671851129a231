"""Each AstroBaseModel mixin changes what it should (and nothing else)."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from tensordict import TensorDict

from astrolab.errors import ConfigError
from astrolab.models import AstroNodeGNN
from astrolab.tasks.losses import FocalLoss, HeteroscedasticGaussianNLL, PhotoZLoss, class_balanced_weights
from task_helpers import node_classification as NodeClassification
from task_helpers import node_regression as NodeRegression


def random_graph(n: int = 300, f: int = 7, k: int = 8, classes: int = 3, seed: int = 0) -> TensorDict:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, f, generator=g)
    src = torch.arange(n).repeat_interleave(k)
    dst = torch.randint(0, n, (n * k,), generator=g)
    masks = torch.rand(n, generator=g)
    nodes = TensorDict({"x": x, "y": torch.randint(0, classes, (n,), generator=g),
                        "train_mask": masks < 0.6, "val_mask": (masks >= 0.6) & (masks < 0.8),
                        "test_mask": masks >= 0.8}, batch_size=[n])
    edges = TensorDict({"index": torch.stack([src, dst], 1)}, batch_size=[n * k])
    return TensorDict({"nodes": nodes, "edges": edges}, batch_size=[])


def node_model(**kw) -> AstroNodeGNN:
    kw.setdefault("task", NodeClassification(num_classes=3))
    kw.setdefault("num_features", 7)
    kw.setdefault("hidden_dim", 32)
    kw.setdefault("num_layers", 2)
    kw.setdefault("conv_type", "gcn")
    return AstroNodeGNN(**kw)


# -- HPOMemoryMixin ------------------------------------------------------------------------------------
def saved_activation_bytes(model, batch) -> tuple[int, torch.Tensor, list[torch.Tensor]]:
    """Bytes autograd keeps for backward (the activations that set peak training memory), the output
    and the gradients."""
    seen: dict[int, int] = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    model.zero_grad(set_to_none=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(batch)
    out.float().pow(2).mean().backward()
    return sum(seen.values()), out.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


def test_gradient_checkpointing_lowers_saved_memory_same_result():
    torch.manual_seed(0)
    model = node_model(hidden_dim=64, num_layers=4, dropout=0.0).train()
    batch = random_graph(n=2000, k=8)
    base_bytes, base_out, base_grads = saved_activation_bytes(model, batch)
    assert model.enable_gradient_checkpointing() == 1
    ckpt_bytes, ckpt_out, ckpt_grads = saved_activation_bytes(model, batch)
    assert ckpt_bytes < 0.6 * base_bytes, (ckpt_bytes, base_bytes)
    torch.testing.assert_close(ckpt_out, base_out)
    for a, b in zip(ckpt_grads, base_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_gradient_checkpointing_from_config_option_and_clear_memory():
    model = node_model(gradient_checkpointing=True)
    assert model.encoder.gradient_checkpointing is True
    model = node_model()
    assert model.encoder.gradient_checkpointing is False
    model(random_graph()).sum().backward()
    assert any(p.grad is not None for p in model.parameters())
    model.clear_memory()
    assert all(p.grad is None for p in model.parameters())


# -- HPOResetMixin / ArchitectureSearchMixin -----------------------------------------------------------
def test_reset_parameters_gives_fresh_parameters_and_metrics():
    model = node_model()
    before = [p.detach().clone() for p in model.parameters()]
    batch = random_graph()
    model.train_metrics.update(torch.randn(10, 3), torch.randint(0, 3, (10,)))
    model.reset_parameters()  # what HPO recycling calls
    after = list(model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    assert all(a.shape == b.shape for a, b in zip(before, after))
    assert model.train_metrics["acc"].tp.sum() == 0 if hasattr(model.train_metrics["acc"], "tp") else True
    assert model(batch).shape == (300, 3)


def test_search_space_in_sweeper_grammar_and_optuna_sampling():
    optuna = pytest.importorskip("optuna")
    space = AstroNodeGNN.search_space()
    assert space["model.hidden_dim"] == "choice(32,64,128)"
    assert space["model.num_layers"] == "int(interval(2,4))"
    assert space["model.dropout"] == "interval(0.0,0.5)"
    assert space["model.optimizer.lr"] == "tag(log, interval(0.0001,0.01))"
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    params = AstroNodeGNN.suggest(study.ask())
    assert set(params) == set(space)
    assert params["model.hidden_dim"] in (32, 64, 128) and 2 <= params["model.num_layers"] <= 4


# -- OptimizationMixin ---------------------------------------------------------------------------------
def test_optimizers_and_schedulers_by_name_and_partial():
    import functools

    from astrolab.models.components.schedulers import cosine_with_warmup

    model = node_model(optimizer="sgd", lr=0.1)  # conf/optimizer/sgd.yaml, as optimizer=sgd on the CLI
    opt = model.configure_optimizers()
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["nesterov"]
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0.9
    opt = node_model(optimizer="adamw").configure_optimizers()
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["lr"] == 0.005  # the config's lr
    model = node_model(optimizer=functools.partial(torch.optim.Adam, lr=0.01),
                       scheduler=functools.partial(cosine_with_warmup, warmup_steps=10), total_steps=100)
    conf = model.configure_optimizers()
    assert isinstance(conf["optimizer"], torch.optim.Adam)
    assert conf["lr_scheduler"]["interval"] == "step"
    sched = conf["lr_scheduler"]["scheduler"]
    lrs = []
    for _ in range(100):
        lrs.append(conf["optimizer"].param_groups[0]["lr"])
        conf["optimizer"].step()
        sched.step()
    assert lrs[0] == pytest.approx(0.001) and max(lrs) == pytest.approx(0.01) and lrs[-1] < 0.001
    assert lrs.index(max(lrs)) == 9
    conf = node_model(scheduler="plateau").configure_optimizers()
    assert conf["lr_scheduler"]["scheduler"].mode == "max"  # follows val/f1_macro
    assert conf["lr_scheduler"]["monitor"] == "val/f1_macro"
    conf = node_model(scheduler="onecycle", total_steps=50).configure_optimizers()
    assert isinstance(conf["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.OneCycleLR)
    with pytest.raises(ConfigError, match="adamw"):
        node_model(optimizer="lbfgs").configure_optimizers()


# -- EfficientTrainingMixin ----------------------------------------------------------------------------
def test_compile_switch_and_fallback(monkeypatch):
    import torch._dynamo

    from astrolab.models.components.mixins import default_precision

    batch = random_graph(n=50)
    model = node_model(compile=True, compile_backend="eager").eval()
    ref = model(batch)
    model.setup("fit")
    assert getattr(model, "_compiled", False)
    torch.testing.assert_close(model(batch), ref)
    assert set(model.state_dict()) == set(node_model().state_dict())  # checkpoints keep their keys
    monkeypatch.setattr(torch._dynamo, "is_dynamo_supported", lambda: False)
    other = node_model(compile=True)
    with pytest.warns(UserWarning, match="runs eagerly"):
        assert other.compile_model() is False
    if not torch.cuda.is_available():
        assert default_precision("auto") == "32-true"


def test_precision_auto_follows_the_device():
    from omegaconf import OmegaConf

    from astrolab.models.components.mixins import default_precision
    from astrolab.training.build import build_trainer

    cfg = OmegaConf.create({"trainer": {"_target_": "lightning.pytorch.Trainer", "accelerator": "cpu",
                                        "precision": "auto", "max_epochs": 1, "enable_progress_bar": False}})
    trainer = build_trainer(cfg, [], [])
    assert default_precision("cpu") == "32-true"
    assert type(trainer.precision_plugin).__name__ == "Precision"  # full fp32 on CPU


def test_num_threads_option():
    before = torch.get_num_threads()
    try:
        node_model(num_threads=1).setup("fit")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


# -- AstronomicalAugmentationMixin ---------------------------------------------------------------------
AUG = {"noise": {"op": "resample", "key": ["nodes", "x"], "cols": [5, 6], "sigma": 0.5},
       "reddening": {"op": "redden", "key": ["nodes", "x"], "cols": [5, 6], "vector": [1.34, 2.74], "max_ebv": 0.3},
       "rotation": {"op": "rotate_3d", "key": ["nodes", "x"], "cols": [0, 1, 2]}}


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")
def test_augmentation_changes_inputs_only_in_training():
    model = node_model(augmentation=AUG)
    batch = random_graph()
    original = batch["nodes", "x"].clone()
    seen = []
    forward = model.forward
    model.forward = lambda b: (seen.append(b["nodes", "x"].clone()), forward(b))[1]
    model.train()
    model.training_step(batch, 0)
    model.eval()
    model.validation_step(batch, 0)
    model.test_step(batch, 0)
    train_x, val_x, test_x = seen
    assert torch.equal(batch["nodes", "x"], original)  # the data module's batch is never modified
    assert not torch.equal(train_x, original)
    torch.testing.assert_close(train_x[:, 3:5], original[:, 3:5])  # untouched columns
    # rotation keeps distances from the origin in the rotated 3-D block
    torch.testing.assert_close(train_x[:, :3].norm(dim=1), original[:, :3].norm(dim=1))
    assert torch.equal(val_x, original) and torch.equal(test_x, original)
    assert torch.equal(node_model().augment_batch(batch)["nodes", "x"], original)  # off by default


def test_augmentation_operations():
    from astrolab.models.components.augmentation import apply_augmentations

    n = 200
    td = TensorDict({"obj": TensorDict({
        "ra": torch.rand(n) * 360, "dec": torch.rand(n) * 180 - 90, "mag": torch.full((n,), 15.0),
        "mag_err": torch.full((n,), 0.1), "t": torch.linspace(0, 10, n).repeat(1, 1).expand(n, -1).clone()[:, :5],
        "mask": torch.ones(n, 5, dtype=torch.bool), "z": torch.full((n,), 1.0)}, batch_size=[n])}, batch_size=[])
    spec = {"resample": {"key": ["obj", "mag"], "error_key": ["obj", "mag_err"]},
            "rotate_sky": {"ra_key": ["obj", "ra"], "dec_key": ["obj", "dec"]},
            "time_shift": {"key": ["obj", "t"], "max_shift": 3.0},
            "epoch_dropout": {"mask_key": ["obj", "mask"], "p": 0.3},
            "rescale_errors": {"key": ["obj", "mag_err"], "low": 0.5, "high": 2.0},
            "redshift": {"key": ["obj", "z"], "sigma": 0.05}}
    out = apply_augmentations(td, spec, generator=torch.Generator().manual_seed(1))
    dmag = out["obj", "mag"] - 15.0
    assert 0.07 < float(dmag.std()) < 0.13  # resampled within the 0.1 mag errors
    assert (out["obj", "ra"] >= 0).all() and (out["obj", "ra"] < 360).all()
    assert not torch.allclose(out["obj", "ra"], td["obj", "ra"])
    diffs = out["obj", "t"] - td["obj", "t"]
    torch.testing.assert_close(diffs, diffs[:, :1].expand_as(diffs))  # one shift per light curve
    assert 0.5 < float(out["obj", "mask"].float().mean()) < 0.9
    ratio = out["obj", "mag_err"] / 0.1
    assert float(ratio.min()) >= 0.5 and float(ratio.max()) <= 2.0
    assert 0.05 < float((out["obj", "z"] - 1).std()) / 2 < 0.07 * 1.5
    with pytest.raises(ConfigError, match="unknown augmentation"):
        apply_augmentations(td, {"flip": {}})


def test_subsample_epochs_keeps_time_order_and_recomputes_the_time_step():
    from astrolab.models.components.augmentation import apply_augmentations

    B, L, m, s = 64, 40, 1.2, 0.6
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(5, L + 1, (B,), generator=g)
    mask = torch.arange(L)[None, :] < lengths[:, None]
    time = torch.cumsum(torch.rand(B, L, generator=g) * 5 + 0.1, 1) * mask
    dt = torch.diff(time, dim=1, prepend=time[:, :1]).clamp(min=0)
    x = torch.stack([(torch.log1p(dt) - m) / s, time * 10], -1) * mask.unsqueeze(-1)  # col 1 tracks the epoch
    band = torch.randint(0, 2, (B, L), generator=g) * mask
    seq = TensorDict({"x": x, "time": time, "band": band, "mask": mask}, batch_size=[B, L])
    batch = TensorDict({"sequence": seq}, batch_size=[B])
    spec = {"subsample": {"op": "subsample_epochs", "key": "sequence", "max_drop": 0.6, "min_keep": 8,
                          "dt_feature": 0, "dt_scale": [m, s]}}
    out = apply_augmentations(batch, spec, generator=torch.Generator().manual_seed(1))["sequence"]
    assert torch.equal(batch["sequence", "mask"], mask)  # the data module's batch is untouched
    n = out["mask"].sum(1)
    assert (n <= lengths).all() and int(n.sum()) < int(lengths.sum())  # epochs were dropped
    assert (n >= torch.clamp(lengths, max=8)).all()  # never below min_keep (short curves kept whole)
    assert torch.equal(out["mask"], torch.arange(L)[None, :] < n[:, None])  # kept epochs at the front
    for i in range(B):
        t = out["time"][i, :n[i]]
        assert (t[1:] > t[:-1]).all()  # time order kept
        src = [int(j) for j in torch.searchsorted(time[i, :lengths[i]].contiguous(), t)]
        assert torch.equal(time[i, src], t) and torch.equal(band[i, src], out["band"][i, :n[i]])
        torch.testing.assert_close(out["x"][i, :n[i], 1], x[i, src, 1])  # other features travel with the epoch
        step = torch.diff(t, prepend=t[:1])
        torch.testing.assert_close(out["x"][i, :n[i], 0], ((torch.log1p(step) - m) / s).float())
    assert float(out["x"][~out["mask"]].abs().max()) == 0.0  # padding stays zero
    with pytest.raises(ConfigError, match="dt_scale"):
        apply_augmentations(batch, {"subsample": {**spec["subsample"], "dt_scale": None}})


def test_augmentation_auto_parameters_come_from_the_data_module():
    from astrolab.training.build import resolve_augmentation

    spec = {"subsample": {"op": "subsample_epochs", "dt_feature": "auto", "dt_scale": "auto", "max_drop": 0.3}}
    out = resolve_augmentation(spec, {"dt_feature": 0, "dt_scale": [1.0, 0.5]})
    assert out["subsample"] == {"op": "subsample_epochs", "dt_feature": 0, "dt_scale": [1.0, 0.5], "max_drop": 0.3}
    assert spec["subsample"]["dt_scale"] == "auto"  # the config itself is not changed
    assert resolve_augmentation({"noise": {"op": "resample", "sigma": 0.1}}, {}) is None
    with pytest.raises(ConfigError, match=r"model.augmentation.subsample.dt_scale=auto"):
        resolve_augmentation(spec, {"dt_feature": 0})


# -- AstronomicalLossMixin and task losses -------------------------------------------------------------
def test_focal_loss_down_weights_easy_examples():
    target = torch.tensor([0, 0])
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 0.5, 0.5]])  # easy (p≈0.96), hard (p≈0.28)
    ce = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    fl = FocalLoss(gamma=2.0, reduction="none")(logits, target)
    assert fl[0] / ce[0] < 0.01 and fl[1] / ce[1] > 0.4
    torch.testing.assert_close(FocalLoss(gamma=0.0)(logits, target), ce.mean())
    assert NodeClassification(num_classes=3, loss="focal").configure_losses().gamma == 2.0


def test_class_balanced_weights_favour_rare_classes():
    w = class_balanced_weights([1000, 100, 10], beta=0.999)
    assert w[2] > w[1] > w[0]
    assert float(w.mean()) == pytest.approx(1.0)


def test_gaussian_nll_uses_measurement_errors():
    nll = HeteroscedasticGaussianNLL()
    mean = torch.zeros(2, requires_grad=True)
    target = torch.tensor([1.0, 1.0])
    err = torch.tensor([0.1, 3.0])
    nll(mean, target, err).backward()
    g = mean.grad.abs()
    assert g[0] > 100 * g[1]  # the precise measurement pulls much harder than the noisy one
    assert nll(torch.zeros(2), target, err) != nll(torch.zeros(2), target, None)
    # through the task: errors read from the batch
    task = NodeRegression(loss="nll", target_mean=0.0, target_std=1.0, error_key=["nodes", "y_err"])
    assert task.output_dim() == 2
    batch = TensorDict({"nodes": TensorDict({"y": target, "y_err": err, "train_mask": torch.ones(2, dtype=torch.bool)},
                                            [2])}, [])
    out = torch.zeros(2, 2)
    pred, tgt = task.select(batch, out, "train")
    with_err = task.compute_loss(task.configure_losses(), pred, tgt, batch, "train")
    batch["nodes", "y_err"] = torch.zeros(2)
    without = task.compute_loss(task.configure_losses(), pred, tgt, batch, "train")
    expected = 0.5 * (torch.log(1 + err**2) + 1 / (1 + err**2)).mean()  # σ² = model (1) + measured
    torch.testing.assert_close(with_err, expected)
    torch.testing.assert_close(without, torch.tensor(0.5))
    assert set(task.predict(out)) == {"value", "sigma"}


def test_photo_z_loss_is_in_delta_z_over_one_plus_z():
    loss = PhotoZLoss("mse")
    low = loss(torch.tensor([0.1]), torch.tensor([0.0]))
    high = loss(torch.tensor([3.1]), torch.tensor([3.0]))
    assert float(low / high) == pytest.approx(16.0, rel=1e-4)
    with pytest.raises(ConfigError):
        NodeRegression(loss="chi2")
    assert math.isfinite(float(NodeRegression(loss="photo_z").configure_losses()(torch.ones(3), torch.ones(3))))


def test_custom_model_with_mixins_is_a_lightning_module():
    import lightning as L

    from astrolab.models.components.mixins import AstronomicalModelMixin, HPOModelMixin
    from astrolab.models.core import AstroBaseModel

    class CustomAstroModel(AstroBaseModel, HPOModelMixin, AstronomicalModelMixin):
        def configure_models(self):
            self.net = torch.nn.Linear(self.num_features, self.num_outputs)

        def forward(self, batch):
            return self.net(batch["nodes", "x"])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CustomAstroModel(task=NodeClassification(num_classes=3), num_features=7)
        batch = random_graph()
        trainer = L.Trainer(max_epochs=5, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False)
        before = model.net.weight.detach().clone()
        loader = torch.utils.data.DataLoader([batch], batch_size=None, collate_fn=lambda b: b)
        trainer.fit(model, train_dataloaders=loader, val_dataloaders=loader)
    assert not torch.equal(before, model.net.weight)
    assert "val/f1_macro" in trainer.callback_metrics
