"""Embedded sample for ``dataset=galaxies``: 3-D star-particle clouds of galaxies by morphology.

Each cloud is ``n_points`` star particles of one galaxy, galaxy-centred, in kpc, seen at a random
orientation (a uniform random rotation) and a random distance. Every particle carries the component it
was drawn from (``bulge``, ``disk``, ``halo``, ``stream``: the segmentation labels) and every cloud a
morphology (``spiral``, ``lenticular``, ``elliptical``, ``irregular``, ``merger``: the classification
labels). Labels are the generator's truth, never computed from positions.

Physical model (numbers are drawn per galaxy from the ranges given):

- Exponential disk (Freeman 1970): surface density ``Σ(R) ∝ exp(-R/R_d)`` (R drawn from a Gamma(2, R_d)
  law), vertical ``sech²(z/z_0)`` profile (van der Kruit & Searle 1981); ``R_d`` 2–4 kpc (Milky Way
  2.6 ± 0.5 kpc, Bland-Hawthorn & Gerhard 2016), ``z_0`` 0.25–0.4 kpc (spirals), 0.5–0.8 kpc
  (lenticulars). Spirals put 40–60 % of the disk in two (or three) logarithmic arms of pitch angle
  10–25° with 0.3 rad azimuthal spread.
- Bulge: Hernquist (1990) sphere ``ρ ∝ 1 / (r (r + a)³)`` — whose projection follows a de Vaucouleurs
  (Sérsic n = 4) profile closely — with ``a`` 0.3–0.8 kpc; bulge-to-total 0.10–0.20 (spiral), 0.35–0.50
  (lenticular).
- Elliptical: triaxial Hernquist spheroid (``a`` 1.5–3 kpc) with axis ratios ``b/a`` 0.7–0.95 and
  ``c/a`` 0.5–``b/a`` (labelled ``bulge``: it is all spheroid).
- Irregular: 5–10 Gaussian star-forming clumps (σ 0.3–0.9 kpc) on a thick disk (``R_d`` 1–2 kpc,
  ``z_0`` 0.5 kpc) plus a diffuse component of the same disk (labelled ``disk``).
- Merger: a disk galaxy (bulge + disk as a spiral without arms) with a satellite core (Hernquist,
  ``a`` 0.3–0.6 kpc, labelled ``bulge``) 8–20 kpc away and a tidal stream: particles along an arc of
  the satellite's orbit (radius 10–25 kpc, 120–240° long, in a random plane; 0.3–0.8 kpc wide).
  Stream fraction 15–25 %.
- Stellar halo for every galaxy: 8–12 % of the particles, ``ρ ∝ r^-3.5`` between 2 and 40 kpc
  (Deason et al. 2011), flattened ``q`` = 0.7.

Observation: the galaxy is rotated by a uniform random rotation and placed at a distance drawn
uniformly in 5–50 Mpc; positions get Gaussian errors of ``distance × 0.5 arcsec`` (0.01–0.12 kpc).

File: Parquet, one row per particle. Columns:

=============  ======  ================================================================
cloud_id       int64   galaxy id (one cloud)
particle_id    int64   particle index within the cloud
x, y, z        kpc     galaxy-centred observed position (float64)
distance_mpc   Mpc     distance of the galaxy (same for a whole cloud)
component      str     bulge | disk | halo | stream (segmentation label)
morphology     str     spiral | lenticular | elliptical | irregular | merger (cloud label)
=============  ======  ================================================================
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MORPHOLOGIES = ("spiral", "lenticular", "elliptical", "irregular", "merger")
COMPONENTS = ("bulge", "disk", "halo", "stream")
ARCSEC = np.pi / 180 / 3600


def _directions(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def hernquist(rng: np.random.Generator, n: int, a: float, r_max: float | None = None) -> np.ndarray:
    """``n`` positions from a Hernquist sphere of scale ``a`` (inverse of ``M(<r) = r² / (r + a)²``)."""
    u = rng.uniform(0, 1, n)
    if r_max is not None:
        u = u * (r_max / (r_max + a)) ** 2
    s = np.sqrt(u)
    r = a * s / (1 - s)
    return r[:, None] * _directions(rng, n)


def exponential_disk(rng: np.random.Generator, n: int, r_d: float, z0: float, arms: int = 0,
                     arm_frac: float = 0.0, pitch_deg: float = 15.0) -> np.ndarray:
    """Exponential disk with ``sech²`` vertical profile and optional logarithmic spiral arms."""
    r = rng.gamma(2.0, r_d, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    if arms:
        in_arm = rng.uniform(size=n) < arm_frac
        arm = rng.integers(0, arms, n)
        phi_arm = np.log(np.maximum(r, 0.05) / r_d) / np.tan(np.deg2rad(pitch_deg)) + 2 * np.pi * arm / arms
        phi = np.where(in_arm, phi_arm + rng.normal(0, 0.3, n), phi)
    z = z0 * np.arctanh(np.clip(2 * rng.uniform(size=n) - 1, -0.999999, 0.999999))
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def stellar_halo(rng: np.random.Generator, n: int, r_min: float = 2.0, r_max: float = 40.0,
                 slope: float = 3.5, q: float = 0.7) -> np.ndarray:
    """Power-law halo ``ρ ∝ r^-slope`` between ``r_min`` and ``r_max``, flattened by ``q`` along z."""
    p = 3.0 - slope  # M(<r) ∝ r^p
    u = rng.uniform(size=n)
    r = (r_min ** p + u * (r_max ** p - r_min ** p)) ** (1 / p)
    pos = r[:, None] * _directions(rng, n)
    pos[:, 2] *= q
    return pos


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.random(random_state=rng).as_matrix()


def _counts(rng: np.random.Generator, n: int, fracs: dict[str, float]) -> dict[str, int]:
    names = list(fracs)
    p = np.array([fracs[k] for k in names], dtype=float)
    c = rng.multinomial(n, p / p.sum())
    return dict(zip(names, c.tolist()))


def galaxy(rng: np.random.Generator, morphology: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``[n, 3]`` (kpc, face-on frame) and component codes ``[n]`` of one galaxy."""
    halo = rng.uniform(0.08, 0.12)
    parts: list[tuple[np.ndarray, int]] = []
    if morphology == "spiral":
        bt = rng.uniform(0.10, 0.20)
        c = _counts(rng, n, {"bulge": bt, "disk": 1 - bt - halo, "halo": halo})
        parts.append((hernquist(rng, c["bulge"], rng.uniform(0.3, 0.8), 10.0), 0))
        parts.append((exponential_disk(rng, c["disk"], rng.uniform(2, 4), rng.uniform(0.25, 0.4),
                                       arms=int(rng.choice([2, 2, 3])), arm_frac=rng.uniform(0.4, 0.6),
                                       pitch_deg=rng.uniform(10, 25)), 1))
    elif morphology == "lenticular":
        bt = rng.uniform(0.35, 0.50)
        c = _counts(rng, n, {"bulge": bt, "disk": 1 - bt - halo, "halo": halo})
        parts.append((hernquist(rng, c["bulge"], rng.uniform(0.3, 0.8), 10.0), 0))
        parts.append((exponential_disk(rng, c["disk"], rng.uniform(2, 4), rng.uniform(0.5, 0.8)), 1))
    elif morphology == "elliptical":
        c = _counts(rng, n, {"bulge": 1 - halo, "halo": halo})
        b = rng.uniform(0.7, 0.95)
        cc = rng.uniform(0.5, b)
        pos = hernquist(rng, c["bulge"], rng.uniform(1.5, 3.0), 30.0) * np.array([1.0, b, cc])
        parts.append((pos, 0))
    elif morphology == "irregular":
        c = _counts(rng, n, {"disk": 1 - halo, "halo": halo})
        n_disk = c["disk"]
        r_d = rng.uniform(1.0, 2.0)
        n_clumps = int(rng.integers(5, 11))
        in_clump = rng.uniform(size=n_disk) < rng.uniform(0.4, 0.7)
        centres = exponential_disk(rng, n_clumps, r_d, 0.5)
        weights = rng.dirichlet(np.ones(n_clumps))
        which = rng.choice(n_clumps, size=n_disk, p=weights)
        sig = rng.uniform(0.3, 0.9, n_clumps)
        clumpy = centres[which] + rng.normal(size=(n_disk, 3)) * sig[which, None]
        diffuse = exponential_disk(rng, n_disk, r_d, 0.5)
        parts.append((np.where(in_clump[:, None], clumpy, diffuse), 1))
    elif morphology == "merger":
        fs = rng.uniform(0.15, 0.25)
        c = _counts(rng, n, {"bulge": 0.12, "disk": 0.55 - fs + 0.2, "sat": 0.08, "stream": fs, "halo": halo})
        parts.append((hernquist(rng, c["bulge"], rng.uniform(0.3, 0.8), 10.0), 0))
        parts.append((exponential_disk(rng, c["disk"], rng.uniform(2, 4), rng.uniform(0.25, 0.5)), 1))
        # the satellite's orbit: a circle of radius r_orb in a random plane, stream along an arc of it
        normal = _directions(rng, 1)[0]
        e1 = np.cross(normal, [0.0, 0.0, 1.0] if abs(normal[2]) < 0.9 else [1.0, 0.0, 0.0])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(normal, e1)
        r_orb = rng.uniform(10, 25)
        length = np.deg2rad(rng.uniform(120, 240))
        t_sat = rng.uniform(0, 2 * np.pi)
        sat_r = rng.uniform(8, 20)
        sat_centre = sat_r * (np.cos(t_sat) * e1 + np.sin(t_sat) * e2)
        parts.append((sat_centre + hernquist(rng, c["sat"], rng.uniform(0.3, 0.6), 5.0), 0))
        t = t_sat - rng.uniform(0, length, c["stream"])  # trailing arm behind the satellite
        rad = sat_r + (r_orb - sat_r) * (t_sat - t) / length
        width = rng.uniform(0.3, 0.8)
        arc = rad[:, None] * (np.cos(t)[:, None] * e1 + np.sin(t)[:, None] * e2)
        parts.append((arc + rng.normal(0, width, (c["stream"], 3)), 3))
    else:
        raise ValueError(f"unknown morphology '{morphology}'")
    parts.append((stellar_halo(rng, n - sum(len(p) for p, _ in parts)), 2))
    pos = np.concatenate([p for p, _ in parts])
    comp = np.concatenate([np.full(len(p), code, dtype=np.int64) for p, code in parts])
    perm = rng.permutation(n)
    return pos[perm], comp[perm]


def generate_galaxy_table(n_clouds: int = 500, n_points: int = 1024, seed: int = 0):
    """An astropy ``Table`` of ``n_clouds`` galaxies (balanced over morphologies), one row per particle."""
    from astropy import units as u
    from astropy.table import Table

    rng = np.random.default_rng(seed)
    morph = np.array([MORPHOLOGIES[i % len(MORPHOLOGIES)] for i in range(n_clouds)])
    rng.shuffle(morph)
    xs, comps, dists = [], [], []
    for m in morph:
        pos, comp = galaxy(rng, str(m), n_points)
        pos = pos @ random_rotation(rng).T
        dist = rng.uniform(5, 50)
        pos = pos + rng.normal(0, dist * 1e3 * 0.5 * ARCSEC, pos.shape)
        xs.append(pos)
        comps.append(comp)
        dists.append(dist)
    pos = np.concatenate(xs)
    t = Table()
    t["cloud_id"] = np.repeat(np.arange(n_clouds, dtype=np.int64), n_points)
    t["particle_id"] = np.tile(np.arange(n_points, dtype=np.int64), n_clouds)
    for i, c in enumerate("xyz"):
        t[c] = pos[:, i] * u.kpc
    t["distance_mpc"] = np.repeat(np.asarray(dists), n_points) * u.Mpc
    t["component"] = np.array(COMPONENTS)[np.concatenate(comps)]
    t["morphology"] = np.repeat(morph, n_points)
    t.meta["generator"] = "astrolab.data.synthetic.galaxies"
    t.meta["seed"] = seed
    return t


def generate_galaxies(path: str | Path, n_clouds: int = 500, n_points: int = 1024, seed: int = 0) -> Path:
    """Write the embedded galaxy sample to ``path`` (Parquet)."""
    from astrolab.data.io import write_table

    table = generate_galaxy_table(n_clouds, n_points, seed)
    log.info("writing %d galaxies x %d particles to %s", n_clouds, n_points, path)
    return write_table(table, path)
