"""Lightning data modules. Every batch is one nested ``TensorDict``."""

from astrolab.data.datamodules.gaia import GaiaDataModule
from astrolab.data.datamodules.node import NodeGraphDataModule
from astrolab.data.datamodules.sdss import SDSSDataModule

__all__ = ["GaiaDataModule", "NodeGraphDataModule", "SDSSDataModule"]
