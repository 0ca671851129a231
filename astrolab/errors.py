"""User-facing errors.

Everything a user can cause (bad path, missing column, unknown choice, incompatible model/dataset,
bad checkpoint) raises an :class:`AstrolabError` subclass whose message names the fix. The CLI prints
it as one line on stderr and exits non-zero (full traceback only with ``ASTROLAB_DEBUG=1``).
"""

from __future__ import annotations


class AstrolabError(Exception):
    """Base class of errors caused by user input; the message says how to fix it."""

    exit_code = 2


class ConfigError(AstrolabError):
    """An unknown choice, a missing or invalid config value."""


class IncompatibleError(ConfigError):
    """A model, dataset and task that cannot work together."""


class DataError(AstrolabError):
    """A catalog that cannot be used as given."""


class CatalogNotFoundError(DataError):
    """The catalog file does not exist."""


class EmptyCatalogError(DataError):
    """A file that cannot be a table: empty, header-only, a folder, another delimiter, truncated."""


class DataCheckError(DataError):
    """Data that reads but cannot train: an all-NaN or constant column, too few rows or classes for the
    splits, a cut that removes every row, a graph size the rows cannot give."""


class MissingColumnError(DataError):
    """A required column is absent from the catalog."""


class CheckpointError(AstrolabError):
    """A checkpoint that does not exist or was not written by astrolab."""


class RunDirError(AstrolabError):
    """A run directory that holds results already, is in use, or cannot be written."""
