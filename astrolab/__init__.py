"""astrolab: config-driven training, evaluation and tuning of neural networks on astronomical catalogs.

Importing the package is cheap (no torch); heavy modules are imported by the command that needs them.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
