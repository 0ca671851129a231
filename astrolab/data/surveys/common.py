"""Helpers shared by survey schemas: column mapping with clear errors, unit conversion, labels."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping, Sequence

import numpy as np

from astrolab.errors import DataError, MissingColumnError

log = logging.getLogger(__name__)


def _hint(catalog, name: str, file_col: str, aliases, unavailable=frozenset()) -> str:
    # a column already read as another input (or the label) is never suggested: pmra=ra would train
    available = [c for c in catalog.names if c not in unavailable]
    guess = [a for a in (aliases or {}).get(name, ()) if a in available]
    guess = guess or [c for c in available if c.lower() == file_col.lower()]
    guess = guess or difflib.get_close_matches(file_col, available, n=1, cutoff=0.6)
    return f"dataset.columns.{name}={guess[0] if guess else '<column>'}"


def _missing_error(catalog, missing: list[tuple[str, str]], aliases, unavailable=frozenset()) -> MissingColumnError:
    available = list(catalog.names)
    shown = ", ".join(available[:25]) + (" …" if len(available) > 25 else "")
    hints = " ".join(_hint(catalog, name, file_col, aliases, unavailable) for name, file_col in missing)
    return MissingColumnError(
        f"{catalog.path.name}: missing required column(s) {', '.join(f for _, f in missing)}; the file has: "
        f"{shown}; map them with {hints}")


def recognise_columns(catalog, canonical: Sequence[str], required: Sequence[str],
                      mapping: Mapping[str, str | None] | None,
                      spellings: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
                      exclude: Sequence[str] = (), what: str = "") -> tuple[dict[str, str], dict[str, str]]:
    """Map canonical names to the file's columns, recognising known spellings without a mapping.

    Order per canonical name: an explicit ``mapping[name]`` (always wins; a mapped column that is absent
    is an error), the canonical name itself, each spelling in ``spellings`` (``{spelling name: {canonical:
    (file names, ...)}}``, first match wins), then the canonical name in another letter case. Columns in
    ``exclude`` (the label) and columns already taken are never used. One log line says which spelling
    was recognised. Raises :class:`MissingColumnError` naming every missing required column and the
    ``dataset.columns.X=`` fix.

    Returns:
        ``({canonical: file column}, {canonical: spelling name})`` for the columns found.
    """
    mapping = {k: v for k, v in dict(mapping or {}).items() if v}
    spellings = dict(spellings or {})
    excluded = set(exclude)
    lower = {}
    for c in catalog.names:
        lower.setdefault(c.lower(), c)
    found: dict[str, str] = {}
    used_spelling: dict[str, str] = {}
    missing: list[tuple[str, str]] = []
    taken = set(mapping.values())
    for name in canonical:
        if name in mapping:
            if mapping[name] in catalog:
                found[name] = mapping[name]
                used_spelling[name] = "dataset.columns"
            else:
                missing.append((name, mapping[name]))
            continue
        candidates: list[tuple[str, str]] = [(name, "canonical")]
        for spelling, names in spellings.items():
            candidates += [(c, spelling) for c in names.get(name, ())]
        if name.lower() in lower:
            candidates.append((lower[name.lower()], "canonical (other letter case)"))
        for col, spelling in candidates:
            if col in catalog and col not in excluded and col not in taken:
                found[name] = col
                used_spelling[name] = spelling
                taken.add(col)
                break
        else:
            if name in required:
                missing.append((name, name))
    if missing:
        aliases: dict[str, list[str]] = {}
        for names in spellings.values():
            for k, v in names.items():
                aliases.setdefault(k, []).extend(v)
        raise _missing_error(catalog, missing, aliases, taken | excluded)
    recognised: dict[str, list[str]] = {}
    for name, spelling in used_spelling.items():
        if spelling not in ("canonical", "dataset.columns"):
            recognised.setdefault(spelling, []).append(f"{found[name]}→{name}")
    for spelling, pairs in recognised.items():
        log.info("%s%s: recognised %s column spellings: %s", what, catalog.path.name, spelling, ", ".join(pairs))
    return found, used_spelling


def resolve_columns(catalog, canonical: Sequence[str], required: Sequence[str],
                    mapping: Mapping[str, str | None] | None,
                    aliases: Mapping[str, Sequence[str]] | None = None) -> dict[str, str]:
    """Map canonical names to the file's columns (explicit ``mapping`` or the canonical name only).

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
        raise _missing_error(catalog, missing, aliases, set(found.values()))
    return found


def require_target(catalog, target: str) -> None:
    """A missing label column: one line naming it, the columns there are and the ``dataset.target=`` fix."""
    if target in catalog:
        return
    available = list(catalog.names)
    guess = difflib.get_close_matches(target, available, n=1, cutoff=0.6)
    shown = ", ".join(available[:25]) + (" …" if len(available) > 25 else "")
    raise MissingColumnError(f"{catalog.path.name} has no label column '{target}'; name the label with "
                             f"dataset.target={guess[0] if guess else '<column>'} (the file has: {shown})")


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
