"""Helpers shared by survey schemas: column mapping with clear errors, unit conversion, labels."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping, Sequence

import numpy as np

from astrolab.errors import DataError, MissingColumnError

log = logging.getLogger(__name__)


def resolve_columns(catalog, canonical: Sequence[str], required: Sequence[str],
                    mapping: Mapping[str, str | None] | None,
                    aliases: Mapping[str, Sequence[str]] | None = None) -> dict[str, str]:
    """Map canonical names to the file's columns.

    ``mapping[canonical]`` names the file column (default: the canonical name itself). Returns
    ``{canonical: file column}`` for the columns found; raises one error naming every missing
    required column, the columns that exist, and the ``dataset.columns.X=`` fix (suggesting known
    ``aliases`` of a column, e.g. VizieR's spellings, or the closest name in the file).
    """
    mapping = dict(mapping or {})
    found: dict[str, str] = {}
    missing = []
    for name in canonical:
        file_col = mapping.get(name) or name
        if file_col in catalog:
            found[name] = file_col
        elif name in required:
            missing.append((name, file_col))
    if missing:
        available = list(catalog.names)
        hints = []
        for name, file_col in missing:
            guess = [a for a in (aliases or {}).get(name, ()) if a in catalog]
            guess = guess or [c for c in available if c.lower() == file_col.lower()]
            guess = guess or difflib.get_close_matches(file_col, available, n=1, cutoff=0.6)
            hints.append(f"dataset.columns.{name}={guess[0] if guess else '<column>'}")
        shown = ", ".join(available[:25]) + (" …" if len(available) > 25 else "")
        raise MissingColumnError(
            f"{catalog.path.name}: missing required column(s) "
            f"{', '.join(f for _, f in missing)}; the file has: {shown}; map them with "
            + " ".join(hints))
    return found


def column_in_unit(catalog, file_col: str, unit: str | None) -> np.ndarray:
    """A numeric column converted to ``unit`` when the file declares a convertible unit."""
    if file_col not in catalog.data.keys():
        raise DataError(f"column '{file_col}' in {catalog.path.name} is not numeric")
    values = catalog.data[file_col].numpy().astype(np.float64)
    file_unit = catalog.units.get(file_col)
    if unit is None or not file_unit:
        return values
    import astropy.units as u

    try:
        src = u.Unit(file_unit, parse_strict="silent")
        dst = u.Unit(unit)
        if isinstance(src, u.UnrecognizedUnit) or src == dst:
            return values
        return (values * src).to_value(dst)
    except u.UnitConversionError as exc:
        raise DataError(f"column '{file_col}' has unit '{file_unit}', expected something convertible to "
                        f"'{unit}'; map the right column with dataset.columns.*=") from exc


def encode_labels(raw: np.ndarray, class_names: Sequence[str] | None = None,
                  column: str = "target") -> tuple[np.ndarray, list[str], np.ndarray]:
    """Integer class codes for a label column (strings or integers).

    Returns ``(codes, class_names, valid)``; rows with an empty/NaN label get code -1 and
    ``valid=False``. With ``class_names`` given (evaluation of a trained model), the same mapping is
    used and unknown labels are invalid.
    """
    if raw.dtype.kind in "fc":
        valid = np.isfinite(raw)
        if valid.any() and not np.all(np.mod(raw[valid], 1) == 0):
            raise DataError(f"target column '{column}' has non-integer values; for a continuous target "
                            "use a regression task (task=node_regression)")
        as_str = np.array([str(int(v)) if ok else "" for v, ok in zip(raw, valid)])
    else:
        as_str = np.char.strip(raw.astype(str))
        valid = (as_str != "") & (np.char.lower(as_str) != "nan")
    if class_names is None:
        values = np.unique(as_str[valid])
        if values.dtype.kind in "U" and all(v.lstrip("-").isdigit() for v in values):
            values = np.array(sorted(values, key=int))
        class_names = [str(v) for v in values]
    lookup = {name: i for i, name in enumerate(class_names)}
    codes = np.array([lookup.get(v, -1) for v in as_str], dtype=np.int64)
    valid = valid & (codes >= 0)
    return codes, list(class_names), valid
