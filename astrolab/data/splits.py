"""Seeded train/val/test splits: stratified by class for classification, random for regression."""

from __future__ import annotations

import numpy as np

from astrolab.errors import DataError


def split_masks(n: int, labels: np.ndarray | None = None, val: float = 0.15, test: float = 0.15,
                seed: int = 0, eligible: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Boolean masks ``train``/``val``/``test`` over ``n`` rows.

    Args:
        labels: integer class per row for a stratified split (each class split in the same
            proportions), or ``None`` for a plain random split.
        eligible: rows that may be used at all (e.g. rows with a finite regression target).
    """
    if not 0 <= val < 1 or not 0 <= test < 1 or val + test >= 1:
        raise DataError(f"split fractions val={val}, test={test} must be in [0, 1) and sum below 1")
    rng = np.random.default_rng(seed)
    idx_all = np.arange(n) if eligible is None else np.flatnonzero(eligible)
    groups = [idx_all] if labels is None else [idx_all[labels[idx_all] == c] for c in np.unique(labels[idx_all])]
    masks = {s: np.zeros(n, dtype=bool) for s in ("train", "val", "test")}
    for idx in groups:
        idx = rng.permutation(idx)
        n_test = int(round(test * len(idx)))
        n_val = int(round(val * len(idx)))
        masks["test"][idx[:n_test]] = True
        masks["val"][idx[n_test:n_test + n_val]] = True
        masks["train"][idx[n_test + n_val:]] = True
    return masks
