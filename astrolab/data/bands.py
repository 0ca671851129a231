"""Photometric band names → effective wavelengths, to put a survey's bands in wavelength order.

Light-curve tables name bands as their survey does (``g``/``r`` for ZTF and SDSS, ``u g r i z y`` for LSST,
``G``/``BP``/``RP`` for Gaia epoch photometry, ``B``/``V`` for ASAS, ``c``/``o`` for ATLAS, often with a
survey prefix such as ``ztfg`` or ``ZTF_r``). The data modules index bands in sorted order (``g i r u z``),
which is no order at all for colours; :func:`wavelength_order` gives the blue-to-red order where every name
is recognised. Values are effective wavelengths in nm, rounded (SVO Filter Profile Service; Bessell 2005,
ARA&A 43, 293 for Johnson–Cousins; Gaia DR3 passbands; Tonry et al. 2018 for ATLAS); only their order is used.
"""

from __future__ import annotations

import re

#: names whose case matters (Gaia G against SDSS g; Johnson–Cousins capitals)
EXACT_NM = {"G": 640, "U": 365, "B": 445, "V": 551, "R": 658, "I": 806, "Y": 1020, "J": 1235, "H": 1662,
            "K": 2159, "Ks": 2159, "BP": 511, "RP": 777}
#: lower-case names after a survey prefix is removed
LOWER_NM = {"fuv": 152, "nuv": 231, "u": 355, "b": 445, "g": 470, "c": 533, "v": 551, "r": 620, "o": 679,
            "i": 750, "z": 880, "y": 1000, "j": 1235, "h": 1662, "k": 2159, "ks": 2159, "bp": 511, "rp": 777,
            "w1": 3400, "w2": 4600, "w3": 12000, "w4": 22000}
#: survey prefixes seen on band names (``ztfg``, ``ZTF_r``, ``lsst_u``, ``ps1::g``, ``sdss-i``)
PREFIXES = ("panstarrs", "skymapper", "decam", "atlas", "gaia", "sdss", "lsst", "wise", "ps1", "ztf", "des",
            "hsc", "ps")


def wavelength_nm(name: str) -> float | None:
    """Effective wavelength of a band name in nm, or ``None`` when the name is not recognised."""
    name = str(name).strip()
    if name in EXACT_NM:
        return float(EXACT_NM[name])
    key = re.sub(r"[\s_:\-.]", "", name.lower())
    key = re.sub(r"(mag|band)$", "", key) or key
    for p in PREFIXES:
        if key.startswith(p) and len(key) > len(p):
            rest = key[len(p):]
            if p == "gaia" and rest == "g":
                return float(EXACT_NM["G"])
            key = rest
            break
    value = LOWER_NM.get(key)
    return None if value is None else float(value)


def wavelength_order(bands: list[str]) -> list[int] | None:
    """Indices of ``bands`` from blue to red, or ``None`` when a name is not recognised (or two share a
    wavelength) and no order can be trusted."""
    nm = [wavelength_nm(b) for b in bands]
    if any(v is None for v in nm) or len(set(nm)) < len(nm):
        return None
    return sorted(range(len(bands)), key=lambda i: nm[i])
