"""Node models: every conv type trains (forward + backward), reset_parameters re-initialises, tasks check."""

from __future__ import annotations

import pytest
import torch
from tensordict import TensorDict

from astrolab.data.graphs import knn_graph
from astrolab.errors import IncompatibleError
from astrolab.models import AstroNodeGNN, ClassificationHead, EnhancedMLPBlock, RegressionHead
from astrolab.models.components import CONV_TYPES, ModernGraphEncoder
from task_helpers import node_classification as NodeClassification
from task_helpers import node_regression as NodeRegression


def _graph(n=60, f=5, classes=3, seed=0) -> TensorDict:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, f, generator=g)
    ei = knn_graph(x.numpy(), k=4)
    masks = torch.zeros(3, n, dtype=torch.bool)
    masks[torch.arange(n) % 3, torch.arange(n)] = True
    nodes = TensorDict({"x": x, "y": torch.randint(0, classes, (n,), generator=g),
                        "train_mask": masks[0], "val_mask": masks[1], "test_mask": masks[2]}, batch_size=[n])
    return TensorDict({"nodes": nodes, "edges": TensorDict({"index": ei.t()}, batch_size=[ei.shape[1]])},
                      batch_size=[])


@pytest.mark.parametrize("conv", CONV_TYPES)
def test_forward_backward_every_conv(conv):
    model = AstroNodeGNN(task=NodeClassification(num_classes=3), num_features=5, conv_type=conv,
                         hidden_dim=16, num_layers=2, heads=2)
    batch = _graph()
    out = model(batch)
    assert out.shape == (60, 3)
    target = batch["nodes", "y"]
    loss = model.criterion(out[batch["nodes", "train_mask"]], target[batch["nodes", "train_mask"]])
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert any(g.abs().sum() > 0 for g in model.encoder.convs[0].parameters() for g in [g.grad])


def test_message_passing_uses_edges_and_mlp_does_not():
    batch = _graph()
    cut = batch.clone()
    cut["edges"] = TensorDict({"index": torch.zeros(0, 2, dtype=torch.long)}, batch_size=[0])
    torch.manual_seed(0)
    gat = AstroNodeGNN(task=NodeClassification(num_classes=3), num_features=5, conv_type="gcn", hidden_dim=16).eval()
    mlp = AstroNodeGNN(task=NodeClassification(num_classes=3), num_features=5, conv_type="none", hidden_dim=16).eval()
    assert not torch.allclose(gat(batch), gat(cut))
    assert torch.allclose(mlp(batch), mlp(cut))


def test_reset_parameters_reinitialises_everything():
    torch.manual_seed(0)
    model = AstroNodeGNN(task=NodeClassification(num_classes=3), num_features=5, conv_type="gat", hidden_dim=16)
    before = {k: v.clone() for k, v in model.state_dict().items() if v.is_floating_point()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.reset_parameters()
    after = model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    weights = [k for k in before if k.endswith("weight") and "norms" not in k]
    assert set(weights) <= set(changed)  # every weight matrix was drawn anew
    for k in before:
        if "norms" in k and k.endswith("weight"):
            assert torch.all(after[k] == 1)  # layer norms back to identity


def test_blocks_and_heads_shapes():
    x = torch.randn(7, 4)
    assert EnhancedMLPBlock(4, [8, 8], out_dim=3)(x).shape == (7, 3)
    assert ClassificationHead(4, 5)(x).shape == (7, 5)
    assert RegressionHead(4)(x).shape == (7,)
    enc = ModernGraphEncoder(4, 8, num_layers=2, conv_type="sage")
    assert enc(x, torch.tensor([[0, 1], [1, 0]])).shape == (7, 8)


def test_regression_task_trains_in_standard_units_and_reports_physical():
    task = NodeRegression(target_mean=100.0, target_std=10.0)
    assert torch.allclose(task.loss_target(torch.tensor([110.0])), torch.tensor([1.0]))
    assert torch.allclose(task.metric_output(torch.tensor([-1.0])), torch.tensor([90.0]))
    base = task.baseline_metrics(torch.tensor([90.0, 110.0]), torch.tensor([100.0, 120.0]))
    assert base["mae"] == pytest.approx(10.0) and base["rmse"] == pytest.approx(((0 + 400) / 2) ** 0.5)


def test_model_refuses_a_task_of_another_family():
    from astrolab.tasks.base import Task

    class Foreign(Task):
        name = "graph_classification"

        def output_dim(self):
            return 2

    with pytest.raises(IncompatibleError, match="node_classification"):
        AstroNodeGNN(task=Foreign(), num_features=3)


def test_default_task_from_name_uses_shipped_config():
    model = AstroNodeGNN(num_features=4, num_classes=5, conv_type="gcn", hidden_dim=8)
    assert model.task.name == "node_classification" and model.num_outputs == 5
    assert model.monitor == "val/f1_macro" and model.mode == "max"


@pytest.mark.parametrize("conv", ["gcn", "gat", "sage", "gin"])
def test_bf16_autocast_on_cpu(conv):
    """trainer.precision=bf16-mixed runs the forward pass under CPU autocast."""
    model = AstroNodeGNN(task=NodeClassification(num_classes=3), num_features=5, conv_type=conv, hidden_dim=16)
    batch = _graph()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch)
        loss = model.criterion(out.float(), batch["nodes", "y"])
    loss.backward()
    assert torch.isfinite(out.float()).all() and torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_task_reads_the_keys_the_data_module_declares(tmp_path):
    """The data owns the batch contract: a task built by name takes the attached data module's keys."""
    import lightning as L

    from astrolab.errors import ConfigError

    class RenamedKeys(L.LightningDataModule):
        batch_keys = {"target": ("nodes", "label"), "mask": ("nodes", "is_{stage}"), "id": None}

        def _batch(self):
            g = _graph()
            nodes = g["nodes"]
            renamed = {"x": nodes["x"], "label": nodes["y"]}
            renamed.update({f"is_{s}": nodes[f"{s}_mask"] for s in ("train", "val", "test")})
            return TensorDict({"nodes": TensorDict(renamed, batch_size=nodes.batch_size), "edges": g["edges"]},
                              batch_size=[])

        def train_dataloader(self):
            return torch.utils.data.DataLoader([self._batch()], batch_size=None, collate_fn=lambda b: b)

        val_dataloader = train_dataloader

    model = AstroNodeGNN(task="node_classification", num_features=5, num_classes=3, conv_type="gcn", hidden_dim=8)
    assert model.task.target_key is None
    with pytest.raises(ConfigError, match="target_key"):
        model.task.select(_graph(), torch.zeros(60, 3), "train")
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=str(tmp_path))
    trainer.fit(model, datamodule=RenamedKeys())
    assert model.task.target_key == ("nodes", "label") and model.task.mask_key == ("nodes", "is_{stage}")
    assert torch.isfinite(trainer.callback_metrics["val/loss"])


def test_every_data_module_declares_its_batch_keys():
    import inspect

    import astrolab.data.datamodules as dms
    from astrolab.data.datamodules.base import AstroDataModule

    classes = [c for _, c in inspect.getmembers(dms, inspect.isclass) if issubclass(c, AstroDataModule)
               and c is not AstroDataModule]
    assert len(classes) >= 6
    for cls in classes:
        keys = cls.batch_keys
        assert {"target", "mask", "id"} <= set(keys), cls.__name__
        assert isinstance(keys["target"], tuple) and keys["target"], cls.__name__
        for alt in cls.batch_keys_by_target.values():
            assert set(alt) <= {"target", "mask", "id"}, cls.__name__
