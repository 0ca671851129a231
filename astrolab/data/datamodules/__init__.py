"""Lightning data modules. Every batch is one nested ``TensorDict``."""

from astrolab.data.datamodules.clusters import StarGroupsDataModule
from astrolab.data.datamodules.cosmic_web import CosmicWebDataModule
from astrolab.data.datamodules.gaia import GaiaDataModule
from astrolab.data.datamodules.galaxies import GalaxyCloudDataModule
from astrolab.data.datamodules.lightcurves import LightCurveDataModule
from astrolab.data.datamodules.node import NodeGraphDataModule
from astrolab.data.datamodules.sdss import SDSSDataModule

__all__ = ["CosmicWebDataModule", "GaiaDataModule", "GalaxyCloudDataModule", "LightCurveDataModule",
           "NodeGraphDataModule", "SDSSDataModule", "StarGroupsDataModule"]
