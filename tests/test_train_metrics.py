"""The train split skips the costly metrics (AUROC, AP, photo-z scatter); validation and test keep all."""

from __future__ import annotations

from astrolab.tasks import ClassificationTask
from astrolab.tasks.graph import AnomalyDetection
from astrolab.tasks.objects import PhotoZ


def test_classification_train_metrics_skip_auroc_only():
    task = ClassificationTask(num_classes=3)
    assert "auroc" in task.configure_metrics()
    train = task.configure_train_metrics()
    assert "auroc" not in train
    assert {"acc", "balanced_acc", "f1_macro"} <= set(train.keys())


def test_rank_and_scatter_metrics_stay_on_val_and_test():
    assert len(AnomalyDetection().configure_train_metrics()) == 0
    photo_z = PhotoZ()
    assert set(photo_z.configure_train_metrics().keys()) == {"mae", "rmse"}
    assert "sigma_nmad" in photo_z.configure_metrics()


def test_model_clones_train_metrics_without_auroc():
    from astrolab.models.node_gnn import AstroNodeGNN

    model = AstroNodeGNN(task=ClassificationTask(name="node_classification", num_classes=3), num_features=4, hidden_dim=8, num_layers=1,
                         conv_type="gcn")
    assert "train/auroc" not in model.train_metrics.keys(keep_base=False)
    assert "val/auroc" in model.val_metrics.keys(keep_base=False)
    assert "test/auroc" in model.test_metrics.keys(keep_base=False)
