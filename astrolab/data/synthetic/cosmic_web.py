"""Embedded sample for ``dataset=cosmic_web``: tracer particles of a periodic box labelled by the T-web.

Physical model:

1. Linear density field: a Gaussian random field on an ``grid³`` periodic grid of side ``boxsize``
   (Mpc/h) with a power-law spectrum ``P(k) ∝ kⁿ`` (default ``n = -1.5``, the effective slope of the
   ΛCDM spectrum at k ≈ 0.2 h/Mpc), normalised so that the rms linear overdensity in top-hat spheres of
   8 Mpc/h is ``sigma_8`` (default 0.9; Planck 2018 gives 0.81), built with numpy's FFT.
2. Zel'dovich (1970) approximation: one particle per grid cell at the Lagrangian position ``q`` moves to
   ``x = q + ψ(q)`` with ``ψ = -∇∇⁻²δ`` (growth factor 1 at the output time), wrapped into the box.
3. T-web (Hahn et al. 2007; Forero-Romero et al. 2009): the particles' cloud-in-cell density contrast is
   smoothed with a Gaussian of ``smoothing`` Mpc/h, the potential solves ``∇²φ = δ`` (in units of
   ``4πGρ̄a²``), and the tidal tensor ``T_ij = ∂_i∂_j φ`` is diagonalised in each cell. A particle's class
   is the number of eigenvalues of its cell above ``lambda_th`` (default 0.3): 0 void, 1 sheet,
   2 filament, 3 knot.
4. The catalog is ``n_particles`` tracers drawn at random from the ``grid³`` mass particles (so it samples
   the mass, like a dark-matter particle subsample); labels come from the full-resolution field, never from
   the tracers' own positions.

File: Parquet, one row per tracer; columns ``id`` (int64), ``x, y, z`` (Mpc/h, comoving, in
``[0, boxsize)``), ``web_type`` (int 0–3), ``web_class`` (void | sheet | filament | knot). The table's
metadata holds ``BOXSIZE`` (Mpc/h), ``SIGMA_8``, ``N_S``, ``SMOOTH`` and ``LAMBDA_TH``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

WEB_CLASSES = ("void", "sheet", "filament", "knot")


def _kgrid(n: int, boxsize: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = 2 * np.pi * np.fft.fftfreq(n, d=boxsize / n)
    kz = 2 * np.pi * np.fft.rfftfreq(n, d=boxsize / n)
    return np.meshgrid(k, k, kz, indexing="ij")


def _tophat(kr: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        w = 3 * (np.sin(kr) - kr * np.cos(kr)) / kr ** 3
    return np.where(kr > 1e-8, w, 1.0)


def gaussian_random_field(n: int, boxsize: float, spectral_index: float = -1.5, sigma_8: float = 0.9,
                          seed: int = 0) -> np.ndarray:
    """Linear overdensity ``δ`` on an ``n³`` grid with ``P(k) ∝ k^spectral_index``, rms ``sigma_8`` in
    8 Mpc/h top-hat spheres."""
    rng = np.random.default_rng(seed)
    kx, ky, kz = _kgrid(n, boxsize)
    k = np.sqrt(kx ** 2 + ky ** 2 + kz ** 2)
    with np.errstate(divide="ignore"):
        amp = np.where(k > 0, k ** (spectral_index / 2.0), 0.0)
    white = np.fft.rfftn(rng.normal(size=(n, n, n)))
    dk = white * amp
    smoothed = np.fft.irfftn(dk * _tophat(k * 8.0), s=(n, n, n))
    return np.fft.irfftn(dk, s=(n, n, n)) * (sigma_8 / smoothed.std())


def zeldovich_positions(delta: np.ndarray, boxsize: float) -> np.ndarray:
    """Particle positions ``[n³, 3]`` (Mpc/h, wrapped) after the Zel'dovich displacement of a grid."""
    n = delta.shape[0]
    kx, ky, kz = _kgrid(n, boxsize)
    k2 = kx ** 2 + ky ** 2 + kz ** 2
    k2[0, 0, 0] = 1.0
    dk = np.fft.rfftn(delta)
    q = (np.indices((n, n, n)).reshape(3, -1).T + 0.5) * (boxsize / n)
    disp = np.stack([np.fft.irfftn(1j * kk * dk / k2, s=delta.shape).reshape(-1) for kk in (kx, ky, kz)], 1)
    return np.mod(q + disp, boxsize)


def cic_density(points: np.ndarray, n: int, boxsize: float) -> np.ndarray:
    """Cloud-in-cell density contrast ``δ`` of ``points`` on a periodic ``n³`` grid."""
    g = np.mod(points, boxsize) / (boxsize / n) - 0.5
    i0 = np.floor(g).astype(np.int64)
    f = g - i0
    rho = np.zeros(n ** 3)
    for dx in (0, 1):
        wx = f[:, 0] if dx else 1 - f[:, 0]
        for dy in (0, 1):
            wy = f[:, 1] if dy else 1 - f[:, 1]
            for dz in (0, 1):
                wz = f[:, 2] if dz else 1 - f[:, 2]
                idx = (((i0[:, 0] + dx) % n) * n + (i0[:, 1] + dy) % n) * n + (i0[:, 2] + dz) % n
                rho += np.bincount(idx, weights=wx * wy * wz, minlength=n ** 3)
    rho = rho.reshape(n, n, n)
    return rho / rho.mean() - 1.0


def tidal_eigenvalues(delta: np.ndarray, boxsize: float, smoothing: float) -> np.ndarray:
    """Eigenvalues ``[n, n, n, 3]`` (ascending) of the tidal tensor ``∂_i∂_j φ`` with ``∇²φ = δ_s``, δ
    smoothed by a Gaussian of ``smoothing`` (same unit as ``boxsize``). Their sum is ``δ_s``."""
    n = delta.shape[0]
    kx, ky, kz = _kgrid(n, boxsize)
    k2 = kx ** 2 + ky ** 2 + kz ** 2
    dk = np.fft.rfftn(delta) * np.exp(-0.5 * k2 * smoothing ** 2)
    k2[0, 0, 0] = 1.0
    dk[0, 0, 0] = 0.0
    ks = (kx, ky, kz)
    t = np.empty((n, n, n, 3, 3))
    for i in range(3):
        for j in range(i, 3):
            # ∂_i∂_j φ = F⁻¹[ -k_i k_j φ_k ] and φ_k = -δ_k / k²
            t[..., i, j] = t[..., j, i] = np.fft.irfftn(ks[i] * ks[j] * dk / k2, s=delta.shape)
    return np.linalg.eigvalsh(t)


def tweb_classes(eigenvalues: np.ndarray, lambda_th: float) -> np.ndarray:
    """Number of eigenvalues above ``lambda_th``: 0 void, 1 sheet, 2 filament, 3 knot."""
    return (eigenvalues > lambda_th).sum(-1).astype(np.int64)


def sample_grid(values: np.ndarray, points: np.ndarray, boxsize: float) -> np.ndarray:
    """Values of the grid cell each point falls in (periodic)."""
    n = values.shape[0]
    i = np.floor(np.mod(points, boxsize) / (boxsize / n)).astype(np.int64) % n
    return values[i[:, 0], i[:, 1], i[:, 2]]


def tweb_labels(points: np.ndarray, boxsize: float, grid: int = 64, smoothing: float = 2.0,
                lambda_th: float = 0.3, mass_points: np.ndarray | None = None) -> np.ndarray:
    """T-web class of each point; the density comes from ``mass_points`` (default: ``points``)."""
    delta = cic_density(points if mass_points is None else mass_points, grid, boxsize)
    return tweb_classes(sample_grid(tidal_eigenvalues(delta, boxsize, smoothing), points, boxsize), lambda_th)


def generate_cosmic_web_table(boxsize: float = 80.0, grid: int = 64, n_particles: int = 12000,
                              spectral_index: float = -1.5, sigma_8: float = 0.9, smoothing: float = 2.5,
                              lambda_th: float = 0.3, seed: int = 0):
    """The tracer table (astropy ``Table``) of one Zel'dovich box labelled by the T-web."""
    from astropy.table import Table

    delta = gaussian_random_field(grid, boxsize, spectral_index, sigma_8, seed)
    pos = zeldovich_positions(delta, boxsize)
    eig = tidal_eigenvalues(cic_density(pos, grid, boxsize), boxsize, smoothing)
    rng = np.random.default_rng(seed + 1)
    pick = np.sort(rng.choice(len(pos), size=min(n_particles, len(pos)), replace=False))
    tracers = pos[pick]
    labels = tweb_classes(sample_grid(eig, tracers, boxsize), lambda_th)
    t = Table()
    t["id"] = pick.astype(np.int64)
    for i, c in enumerate("xyz"):
        t[c] = tracers[:, i]
        t[c].unit = "Mpc/h"  # comoving, h-scaled (astropy parses it as a composite unit string)
    t["web_type"] = labels
    t["web_class"] = np.array(WEB_CLASSES)[labels]
    t.meta.update({"BOXSIZE": boxsize, "SIGMA_8": sigma_8, "N_S": spectral_index, "SMOOTH": smoothing,
                   "LAMBDA_TH": lambda_th, "GRID": grid, "SEED": seed})
    return t


def generate_cosmic_web(path: str | Path, **kwargs) -> Path:
    """Write the embedded cosmic-web box to ``path`` (Parquet)."""
    from astrolab.data.io import write_table

    table = generate_cosmic_web_table(**kwargs)
    log.info("writing %d cosmic-web tracers to %s", len(table), path)
    return write_table(table, path)
