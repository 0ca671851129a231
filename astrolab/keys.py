"""Batch key naming conventions shared by data/ (which writes the keys) and models/ (which read them).

This module imports nothing from astrolab, so both layers may use it without breaking the import
contracts (models never import data; data never imports models).
"""

from __future__ import annotations


def scale_key(scale: float | int | str) -> str:
    """Batch key of one neighbour graph: ``edges_k16`` (k nearest neighbours) or ``edges_r5`` (radius)."""
    if isinstance(scale, str):
        return scale if scale.startswith("edges_") else f"edges_{scale}"
    if isinstance(scale, int) and not isinstance(scale, bool):
        return f"edges_k{scale}"
    return f"edges_r{float(scale):g}"
