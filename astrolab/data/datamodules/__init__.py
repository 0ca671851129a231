"""Lightning data modules. Every batch is one nested ``TensorDict``."""

from astrolab.data.datamodules.clusters import StarGroupsDataModule
from astrolab.data.datamodules.gaia import GaiaDataModule
from astrolab.data.datamodules.lightcurves import LightCurveDataModule
from astrolab.data.datamodules.node import NodeGraphDataModule
from astrolab.data.datamodules.sdss import SDSSDataModule

__all__ = ["GaiaDataModule", "LightCurveDataModule", "NodeGraphDataModule", "SDSSDataModule",
           "StarGroupsDataModule"]
