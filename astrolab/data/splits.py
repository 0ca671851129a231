"""Train/val/test splits and the row policies applied before them.

* :func:`split_masks`: seeded splits, stratified by class for classification, random for regression;
  refuses fractions, row counts or classes that cannot fill every split (one line naming the class).
* :func:`given_split`: a split kept from a column of the file (``dataset.split.column``: values
  train/val/test; with train/test only, val is carved from train, stratified and seeded).
* :func:`duplicate_policy`: rows sharing an id (``dataset.duplicates=first|drop|keep``), counted in one log line.
* :func:`threshold_labels`: probability labels (membership probabilities) binarised at
  ``dataset.target_threshold`` with an optional ignore band.
* :func:`check_constant_features`: a feature constant over the training split is refused (named).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from astrolab.errors import ConfigError, DataCheckError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
DUPLICATES = ("first", "drop", "keep")


def split_masks(n: int, labels: np.ndarray | None = None, val: float = 0.15, test: float = 0.15,
                seed: int = 0, eligible: np.ndarray | None = None,
                class_names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Boolean masks ``train``/``val``/``test`` over ``n`` rows.

    Args:
        labels: integer class per row for a stratified split (each class split in the same
            proportions), or ``None`` for a plain random split.
        eligible: rows that may be used at all (e.g. rows with a finite regression target).
        class_names: names of the class codes (messages only).

    Raises:
        ConfigError: fractions outside (0, 1) or summing to 1 or more.
        DataCheckError: too few rows for the splits, or a class too small to appear in every split.
    """
    val, test = check_fractions(val, test, allow_zero=True)
    rng = np.random.default_rng(seed)
    idx_all = np.arange(n) if eligible is None else np.flatnonzero(eligible)
    need = _min_rows(val, test)
    if len(idx_all) < need:
        raise DataCheckError(f"too few rows for the splits: {len(idx_all)} usable rows, train/val/test "
                             f"(val={val}, test={test}) need at least {need}; use a larger file or raise "
                             "dataset.split.val= / dataset.split.test=")
    if labels is None:
        groups = [idx_all]
    else:
        groups = []
        for c in np.unique(labels[idx_all]):
            idx = idx_all[labels[idx_all] == c]
            if len(idx) < need:
                name = class_names[int(c)] if class_names is not None and 0 <= int(c) < len(class_names) else c
                raise DataCheckError(
                    f"class '{name}' has only {len(idx)} row(s): too few to appear in train, val and test "
                    f"(val={val}, test={test} need {need}); remove or relabel its rows, or give a split with "
                    "dataset.split.column=")
            groups.append(idx)
    masks = {s: np.zeros(n, dtype=bool) for s in SPLITS}
    for idx in groups:
        idx = rng.permutation(idx)
        n_test = max(int(round(test * len(idx))), int(test > 0))
        n_val = max(int(round(val * len(idx))), int(val > 0))
        masks["test"][idx[:n_test]] = True
        masks["val"][idx[n_test:n_test + n_val]] = True
        masks["train"][idx[n_test + n_val:]] = True
    return masks


def check_fractions(val, test, allow_zero: bool = False) -> tuple[float, float]:
    """``dataset.split.val`` / ``dataset.split.test`` as floats in [0, 1) (``(0, 1)`` unless ``allow_zero``)
    summing below 1, else one line naming the key."""
    try:
        val, test = float(val), float(test)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"dataset.split.val={val} / dataset.split.test={test} must be numbers, e.g. 0.15") from exc
    for key, v in (("val", val), ("test", test)):
        if not (0 <= v < 1 if allow_zero else 0 < v < 1):
            raise ConfigError(f"dataset.split.{key}={v:g} must be a fraction in (0, 1), e.g. "
                              f"dataset.split.{key}=0.15 (training monitors val, the metrics come from test)")
    if val + test >= 1:
        raise ConfigError(f"dataset.split.val={val:g} + dataset.split.test={test:g} leave no training rows; "
                          "keep their sum below 1 (e.g. 0.15 each)")
    return val, test


def _min_rows(val: float, test: float) -> int:
    """Smallest group with at least one row in each split asked for (val/test round up to one row)."""
    return 1 + (val > 0) + (test > 0)


def given_split(values: np.ndarray, column: str, labels: np.ndarray | None = None, val: float = 0.15,
                seed: int = 0, eligible: np.ndarray | None = None,
                class_names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Masks from a split column (``train``/``val``/``test``, any letter case; ``validation``/``valid``
    and ``dev`` mean val). With train and test only, a fraction ``val`` of the train rows becomes val
    (stratified by ``labels``, seeded). Rows with an empty value are in no split."""
    n = len(values)
    raw = np.char.lower(np.char.strip(np.asarray(values).astype(str)))
    raw = np.where(np.isin(raw, ["validation", "valid", "dev"]), "val", raw)
    known = np.isin(raw, SPLITS)
    empty = np.isin(raw, ["", "nan", "none", "--"])
    unknown = sorted(set(raw[~known & ~empty].tolist()))
    if unknown:
        raise DataCheckError(f"split column '{column}' has value(s) {unknown[:5]}; use train, val, test "
                             "(or empty to leave a row out)")
    ok = np.ones(n, bool) if eligible is None else eligible.astype(bool)
    masks = {s: (raw == s) & ok for s in SPLITS}
    if not masks["train"].any() or not masks["test"].any():
        raise DataCheckError(f"split column '{column}' must mark some usable rows train and some test "
                             f"(found {', '.join(f'{s}: {int(m.sum())}' for s, m in masks.items())})")
    if not masks["val"].any():
        inner = split_masks(n, labels, val=val, test=0.0, seed=seed, eligible=masks["train"],
                            class_names=class_names)
        masks["val"] = inner["val"]
        masks["train"] = masks["train"] & ~inner["val"]
        log.info("split column '%s': %d train / %d test rows kept; %d val rows carved from train (%.0f %%, "
                 "seed %d)", column, int(masks["train"].sum()), int(masks["test"].sum()), int(masks["val"].sum()),
                 100 * val, seed)
    else:
        log.info("split column '%s' kept: %s", column, ", ".join(f"{s} {int(m.sum())}" for s, m in masks.items()))
    if empty.any():
        log.info("split column '%s': %d rows with no value are in no split", column, int(empty.sum()))
    return masks


def duplicate_policy(keys: np.ndarray, policy: str = "first", what: str = "id") -> tuple[np.ndarray, np.ndarray]:
    """Rows to keep under ``dataset.duplicates`` and the group of each kept row (rows sharing a key share a
    group: a split assigns whole groups, so twins never straddle train and test).

    ``keys``: one value per row (ids) or a 2-D array (rows compared whole).
    Returns ``(keep mask, group index per row)``.
    """
    if policy not in DUPLICATES:
        raise ConfigError(f"dataset.duplicates={policy} is not one of {', '.join(DUPLICATES)}")
    keys = np.asarray(keys)
    axis = 0 if keys.ndim > 1 else None
    if axis is None:
        _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    else:
        _, first, inverse, counts = np.unique(keys, axis=0, return_index=True, return_inverse=True,
                                              return_counts=True)
    inverse = inverse.reshape(-1)
    n = len(inverse)
    n_dup_rows = int(n - len(first))
    keep = np.ones(n, bool)
    if n_dup_rows:
        shared = counts[inverse] > 1
        if policy == "first":
            keep = np.zeros(n, bool)
            keep[first] = True
        elif policy == "drop":
            keep = ~shared
        what_repeats = "an earlier row exactly (no id column)" if what == "row" else f"the {what} of an earlier row"
        log.warning("%d rows repeat %s (%d %ss occur more than once); dataset.duplicates=%s: "
                    "%s", n_dup_rows, what_repeats, int((counts > 1).sum()), what, policy,
                    {"first": "kept the first of each", "drop": f"dropped all {int(shared.sum())} rows involved",
                     "keep": "kept all, each group in one split"}[policy])
        if not keep.any():
            raise DataCheckError(f"dataset.duplicates=drop removes every row (every {what} repeats); use "
                                 "dataset.duplicates=first")
    return keep, inverse


def threshold_labels(values: np.ndarray, column: str, threshold: float,
                     ignore: Sequence[float] | None = None) -> tuple[np.ndarray, int]:
    """Probability labels binarised: ``"1"`` where ``value >= threshold``, ``"0"`` below, ``""`` (no label:
    neither trained nor scored) for NaN and for values inside the open ``ignore`` band ``(lo, hi)``.
    Returns the labels and the number of rows in the band."""
    try:
        v = np.asarray(values, dtype=np.float64)
    except ValueError as exc:
        raise DataCheckError(f"dataset.target_threshold needs a numeric target; '{column}' is not numeric") from exc
    out = np.where(v >= threshold, "1", "0").astype("<U1")
    out[~np.isfinite(v)] = ""
    n_band = 0
    if ignore is not None:
        lo, hi = (float(x) for x in ignore)
        if not lo <= threshold <= hi:
            raise ConfigError(f"dataset.target_ignore=[{lo}, {hi}] must contain dataset.target_threshold={threshold}")
        band = (v > lo) & (v < hi)
        n_band = int(band.sum())
        out[band] = ""
    log.info("target '%s' binarised at %g: %d rows 1, %d rows 0, %d in the ignore band %s (not trained, not "
             "scored)", column, threshold, int((out == "1").sum()), int((out == "0").sum()), n_band,
             list(ignore) if ignore is not None else "none")
    return out, n_band


def check_constant_features(x: np.ndarray, names: Sequence[str], n_rows: int | None = None,
                            hint: str = "") -> None:
    """Refuse a feature that is constant over the training rows ``x`` (it carries no information and its
    standardisation divides by zero)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        return
    spread = np.nanmax(x, axis=0) - np.nanmin(x, axis=0)
    const = [i for i, s in enumerate(spread) if not s > 0]
    if const:
        i = const[0]
        more = f" (also {', '.join(names[j] for j in const[1:])})" if len(const) > 1 else ""
        raise DataCheckError(f"feature '{names[i]}' is constant ({x[0, i]:g}) over the {len(x)} training rows"
                             f"{more}; it carries no information: {hint or 'remove its input column from the file'}")
