"""The design's "Using Mixins Directly" example: your own model on AstroBaseModel with the HPO and
astronomical mixins, trained with Lightning on the embedded Gaia sample.

Run: python examples/custom_model.py [n_stars] [max_epochs]
"""

import sys

import lightning as L
import torch
from torch import nn

from astrolab.data.datamodules import GaiaDataModule
from astrolab.models.components.mixins import AstronomicalModelMixin, HPOModelMixin
from astrolab.models.core import AstroBaseModel
from astrolab.tasks import ClassificationTask


class CustomAstroModel(AstroBaseModel, HPOModelMixin, AstronomicalModelMixin):
    """Neighbour-averaged features + an MLP: one prediction per star."""

    search_dimensions = {"hidden_dim": [32, 64], "dropout": (0.0, 0.3)}

    def __init__(self, hidden_dim: int = 64, dropout: float = 0.1, **kwargs):
        super().__init__(hidden_dim=hidden_dim, dropout=dropout, **kwargs)
        # custom initialisation after the networks exist
        self.neighbour_weight = nn.Parameter(torch.tensor(0.5))

    def configure_models(self):
        hp = self.hparams
        self.net = nn.Sequential(nn.Linear(2 * self.num_features, hp.hidden_dim), nn.GELU(),
                                 nn.Dropout(hp.dropout), nn.Linear(hp.hidden_dim, self.num_outputs))

    def forward(self, batch):
        x = batch["nodes", "x"]
        src, dst = batch["edges", "index"].unbind(1)
        mean = torch.zeros_like(x).index_add_(0, dst, x[src])
        mean = mean / torch.bincount(dst, minlength=len(x)).clamp(min=1).unsqueeze(1)
        return self.net(torch.cat([x, mean], dim=1))


def main(n_stars: int = 3000, max_epochs: int = 30) -> dict:
    dm = GaiaDataModule(n_stars=n_stars)
    dm.setup("fit")
    task = ClassificationTask(name="node_classification", **dm.task_kwargs(), loss="focal")
    task.use_batch_keys(dm.batch_keys)  # where this data module's batches hold the targets and split masks
    model = CustomAstroModel(task=task, num_features=dm.num_features, optimizer="adamw", lr=5e-3,
                             augmentation={"photometric_noise": {"op": "resample", "key": ["nodes", "x"],
                                                                 "cols": [5, 6], "sigma": 0.02}})
    trainer = L.Trainer(max_epochs=max_epochs, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, datamodule=dm)
    metrics = {k: float(v) for k, v in trainer.test(model, datamodule=dm, verbose=False)[0].items()}
    print(f"search space: {CustomAstroModel.search_space()}")
    print(f"test metrics: {metrics}")
    return metrics


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
