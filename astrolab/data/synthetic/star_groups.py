r"""Seeded star groups cut from a synthetic Gaia DR3 catalog: open clusters with ages, random field
asterisms, and clusters with an injected unphysical population (anomalies).

The groups are written as ONE Gaia-format member table (real ``gaia_source`` column names and units) with
a ``group_id`` column and per-group target columns repeated on every row, exactly like an open-cluster
membership catalog (e.g. Cantat-Gaudin et al. 2018/2020, Hunt & Reffert 2023) joined to Gaia, and read
back through :func:`astrolab.data.io.read_catalog` like a user's file.

Public API
==========

``make_star_groups_table(n_clusters=300, n_asterisms=300, anomaly_fraction=0.2, seed=0, ...) -> Table``
``generate_star_groups(path, **same) -> pathlib.Path``  (format from the suffix, atomic write)

Physical model
==============

Parent catalog
    One catalog from the foundation's generator
    (:func:`astrolab.data.synthetic.gaia_clusters.make_gaia_table`): Galactic thin-disc field stars in an
    18 deg cone towards (l, b) = (150, -10) deg, Kroupa (2001) IMF, Gaia DR3 error model, and
    ``n_clusters`` Plummer-sphere open clusters at 150-1000 pc, here with the optional cluster ages
    ``log_age_range`` (default log10(t/yr) ~ U(8.0, 9.8)): the main-sequence turn-off mass is
    M_TO = (t / 10 Gyr)**-0.4 Msun, stars near the turn-off are brightened, slightly more massive stars are
    red-clump giants and heavier ones remnants (see that module's docstring).  Roughly 70 visible members
    per cluster and ``n_field`` field stars.

Cluster groups (``is_cluster = 1``)
    A membership list as a survey would produce it: the ``m ~ U{min_size, max_size}`` members nearest the
    cluster centre on the sky (all, if the cluster has fewer), plus local field contamination: the
    ``c = round(m * U(0.05, 0.25))`` field stars nearest the cluster centre in 3-D (observed positions,
    distance = 1 / parallax), i.e. the interlopers that a spatial membership cut lets in (contamination of
    5-25 %, typical of astrometric membership lists).  Targets: ``log_age`` (the cluster's true
    log10 age / yr) and ``distance_pc`` (true centre distance).

Field asterisms (``is_cluster = 0``)
    A random field star at 150-1000 pc (the cluster distance range) is the centre, and the
    ``m (1 + U(0.05, 0.25))`` field stars nearest it in 3-D form the group: same size distribution, same
    selection, no physical association.  ``log_age`` is NaN, ``distance_pc`` the centre star's true distance.

Anomalies (``is_anomaly = 1``, a fraction ``anomaly_fraction`` of the cluster groups; ``anomaly_type``)
    ``second_turnoff``: 40-60 % as many stars as the group has members are taken from a donor cluster whose
    age differs by >= 0.8 dex, moved to the host's distance (G, BP, RP shifted by the distance-modulus and
    extinction differences, E(BP-RP) = A_G / 1.9) and given the sky position, parallax and proper motion of
    random host members plus noise at their Gaia errors: a second turn-off in a kinematically single
    cluster, which a coeval population cannot have.
    ``pm_subgroup``: 40-60 % of the members get a common extra tangential velocity of 5-10 km/s in a random
    direction (proper motion offset dv / (4.74 d)), i.e. a kinematic sub-group 5-30 times the 0.3-1 km/s
    internal dispersion at the same position and parallax, which a bound cluster cannot have.
    Normal cluster groups have ``is_anomaly = 0``; asterisms ``-1`` (not applicable; excluded from
    anomaly detection).

Columns: the Gaia DR3 columns of :data:`~astrolab.data.synthetic.gaia_clusters.GAIA_COLUMNS`, then
``group_id`` (int64), ``is_cluster`` (int16), ``log_age`` (float64, dex), ``distance_pc`` (float64, pc),
``is_anomaly`` (int16), ``anomaly_type`` (str) and ``member_type`` (str: member / field / injected; truth for
checks only).  A field star may belong to several groups (overlapping membership lists), so ``source_id`` is
unique within a group, not across the table; injected stars get fresh ids above the parent catalog's.
Every random number comes from ``numpy.random.default_rng(seed)`` (the parent catalog uses ``seed`` too),
so the same arguments give a bit-identical table.
"""

from __future__ import annotations

import logging
import os
import pathlib
import time

import numpy as np
from astropy import units as u
from astropy.table import Table
from scipy.spatial import cKDTree

from astrolab.data.synthetic.gaia_clusters import (
    EXTINCTION_RATIO_G_EBR,
    G_LIMIT,
    GAIA_COLUMNS,
    make_gaia_table,
    parallax_error_model,
)
from astrolab.errors import ConfigError

__all__ = ["make_star_groups_table", "generate_star_groups", "GROUP_COLUMNS"]

logger = logging.getLogger(__name__)

K_TANGENTIAL = 4.740470463533348  # km/s per (mas/yr * kpc)
MEMBERS_PER_CLUSTER = 70
CONTAMINATION_RANGE = (0.05, 0.25)
INJECT_FRACTION_RANGE = (0.4, 0.6)
PM_SUBGROUP_KMS = (5.0, 10.0)
MIN_DONOR_AGE_GAP = 0.8
ASTERISM_DIST_RANGE_PC = (150.0, 1000.0)

#: per-group columns (name -> description)
GROUP_COLUMNS = {
    "group_id": "Group (cluster or asterism) identifier",
    "is_cluster": "1: real open cluster, 0: random field asterism (truth)",
    "log_age": "True cluster log10(age / yr); NaN for asterisms",
    "distance_pc": "True distance of the group centre (pc)",
    "is_anomaly": "1: injected unphysical population, 0: normal cluster, -1: asterism (not applicable)",
    "anomaly_type": "none | second_turnoff | pm_subgroup (asterisms: none)",
    "member_type": "member | field | injected (truth for checks; not a feature)",
}


def _unit_vectors(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    ra, dec = np.deg2rad(ra), np.deg2rad(dec)
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


def make_star_groups_table(n_clusters: int = 300, n_asterisms: int = 300, anomaly_fraction: float = 0.2,
                           seed: int = 0, min_size: int = 20, max_size: int = 60, n_field: int = 40_000,
                           log_age_range: tuple[float, float] = (8.0, 9.8)) -> Table:
    """Build the member table of all groups (see the module docstring)."""
    if n_clusters < 2 or n_asterisms < 0 or not 0 <= anomaly_fraction < 1:
        raise ConfigError("star groups need n_clusters >= 2, n_asterisms >= 0 and 0 <= anomaly_fraction < 1")
    if not 3 <= min_size <= max_size:
        raise ConfigError(f"star groups need 3 <= min_size <= max_size, got {min_size}, {max_size}")
    t0 = time.perf_counter()
    n_members = n_clusters * MEMBERS_PER_CLUSTER
    parent = make_gaia_table(n_stars=n_members + int(n_field), seed=int(seed), n_clusters=int(n_clusters),
                             cluster_fraction=n_members / (n_members + int(n_field)),
                             log_age_range=tuple(log_age_range))
    rng = np.random.default_rng([int(seed), 1])
    cols = {name: np.asarray(parent[name]) for name in GAIA_COLUMNS}
    labels = np.asarray(parent["cluster_label"]).astype(str)
    true_d = np.asarray(parent["true_distance_pc"], float)
    true_ag = np.asarray(parent["true_a_g"], float)
    ages = np.asarray(parent["true_log_age"], float)
    unit = _unit_vectors(cols["ra"], cols["dec"])
    with np.errstate(divide="ignore", invalid="ignore"):
        d_obs = np.where(cols["parallax"] > 0, 1000.0 / cols["parallax"], 1e5)
    xyz_obs = unit * d_obs[:, None]
    field = np.flatnonzero(labels == "field")
    field_tree = cKDTree(xyz_obs[field])
    names = sorted(set(labels[labels != "field"]), key=lambda s: (len(s), s))
    info = {}
    for name in names:
        idx = np.flatnonzero(labels == name)
        centre = unit[idx].mean(0)
        centre /= np.linalg.norm(centre)
        info[name] = {"idx": idx, "centre": centre, "d": float(np.median(true_d[idx])),
                      "age": float(ages[idx][0]), "a_g": float(np.median(true_ag[idx]))}

    n_anom = int(round(anomaly_fraction * len(names)))
    anomalous = set(rng.choice(len(names), n_anom, replace=False).tolist()) if n_anom else set()
    next_id = int(cols["source_id"].max()) + 1
    pieces: list[dict] = []

    def add(rows_cols: dict[str, np.ndarray], member_type: np.ndarray, gid: int, is_cluster: int,
            log_age: float, dist: float, is_anomaly: int, anomaly_type: str) -> None:
        n = len(member_type)
        pieces.append({**rows_cols, "group_id": np.full(n, gid, np.int64),
                       "is_cluster": np.full(n, is_cluster, np.int16), "log_age": np.full(n, log_age),
                       "distance_pc": np.full(n, dist), "is_anomaly": np.full(n, is_anomaly, np.int16),
                       "anomaly_type": np.full(n, anomaly_type, dtype="U14"), "member_type": member_type})

    def take(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v[idx].copy() for k, v in cols.items()}

    gid = 0
    for ci, name in enumerate(names):
        c = info[name]
        idx = c["idx"]
        m = min(int(rng.integers(min_size, max_size + 1)), len(idx))
        sep = unit[idx] @ c["centre"]
        members = idx[np.argsort(-sep, kind="stable")[:m]]
        n_cont = int(round(m * rng.uniform(*CONTAMINATION_RANGE)))
        _, near = field_tree.query(c["centre"] * c["d"], k=max(n_cont, 1))
        contam = field[np.atleast_1d(near)[:n_cont]]
        group = {k: np.concatenate([v[members], v[contam]]) for k, v in cols.items()}
        mtype = np.array(["member"] * len(members) + ["field"] * len(contam), dtype="U8")
        atype = "none"
        if ci in anomalous:
            atype = "second_turnoff" if rng.random() < 0.5 else "pm_subgroup"
            n_inj = max(3, int(round(rng.uniform(*INJECT_FRACTION_RANGE) * m)))
            if atype == "pm_subgroup":
                sub = rng.choice(len(members), min(n_inj, len(members)), replace=False)
                dv = rng.uniform(*PM_SUBGROUP_KMS)
                phi = rng.uniform(0, 2 * np.pi)
                dmu = dv / (K_TANGENTIAL * c["d"] / 1000.0)
                group["pmra"][sub] += dmu * np.cos(phi)
                group["pmdec"][sub] += dmu * np.sin(phi)
            else:
                donors = [n for n in names if abs(info[n]["age"] - c["age"]) >= MIN_DONOR_AGE_GAP]
                if not donors:  # all clusters nearly coeval: fall back to a kinematic anomaly
                    donors = [n for n in names if n != name]
                dn = info[donors[int(rng.integers(len(donors)))]]
                pick = rng.choice(dn["idx"], min(n_inj, len(dn["idx"])), replace=False)
                inj = take(pick)
                d_a = c["a_g"] - dn["a_g"]
                shift = 5.0 * np.log10(c["d"] / dn["d"]) + d_a
                d_e = d_a / EXTINCTION_RATIO_G_EBR
                inj["phot_g_mean_mag"] = (inj["phot_g_mean_mag"] + shift).astype(np.float32)
                inj["phot_bp_mean_mag"] = (inj["phot_bp_mean_mag"] + shift + 0.5 * d_e).astype(np.float32)
                inj["phot_rp_mean_mag"] = (inj["phot_rp_mean_mag"] + shift - 0.5 * d_e).astype(np.float32)
                inj["bp_rp"] = inj["phot_bp_mean_mag"] - inj["phot_rp_mean_mag"]
                host = rng.choice(members, len(pick))
                sig = (parallax_error_model(inj["phot_g_mean_mag"].astype(float))
                       * np.exp(rng.normal(0.0, 0.1, len(pick))))
                inj["parallax_error"] = sig.astype(np.float32)
                inj["pmra_error"] = (1.15 * sig).astype(np.float32)
                inj["pmdec_error"] = (1.05 * sig).astype(np.float32)
                jitter_deg = 0.3 * np.degrees(np.std(np.arccos(np.clip(unit[members] @ c["centre"], -1, 1))))
                inj["ra"] = cols["ra"][host] + rng.normal(0, jitter_deg, len(pick)) / np.cos(
                    np.deg2rad(cols["dec"][host]))
                inj["dec"] = cols["dec"][host] + rng.normal(0, jitter_deg, len(pick))
                inj["parallax"] = cols["parallax"][host] + rng.normal(0, 1, len(pick)) * sig
                inj["parallax_over_error"] = (inj["parallax"] / sig).astype(np.float32)
                inj["pmra"] = cols["pmra"][host] + rng.normal(0, 1, len(pick)) * 1.15 * sig
                inj["pmdec"] = cols["pmdec"][host] + rng.normal(0, 1, len(pick)) * 1.05 * sig
                inj["source_id"] = np.arange(next_id, next_id + len(pick), dtype=np.int64)
                next_id += len(pick)
                visible = inj["phot_g_mean_mag"] < G_LIMIT
                inj = {k: v[visible] for k, v in inj.items()}
                group = {k: np.concatenate([group[k], inj[k]]) for k in group}
                mtype = np.concatenate([mtype, np.full(int(visible.sum()), "injected", dtype="U8")])
        add(group, mtype, gid, 1, c["age"], c["d"], int(ci in anomalous), atype)
        gid += 1

    in_range = field[(true_d[field] >= ASTERISM_DIST_RANGE_PC[0]) & (true_d[field] <= ASTERISM_DIST_RANGE_PC[1])]
    for _ in range(int(n_asterisms)):
        seed_star = int(rng.choice(in_range))
        m = int(rng.integers(min_size, max_size + 1))
        n = int(round(m * (1.0 + rng.uniform(*CONTAMINATION_RANGE))))
        _, near = field_tree.query(xyz_obs[seed_star], k=n)
        idx = field[np.atleast_1d(near)]
        add(take(idx), np.full(len(idx), "field", dtype="U8"), gid, 0, np.nan, float(true_d[seed_star]), -1,
            "none")
        gid += 1

    keys = list(pieces[0])
    allc = {k: np.concatenate([p[k] for p in pieces]) for k in keys}
    table = Table()
    for name, (dtype, unit_, desc) in GAIA_COLUMNS.items():
        table[name] = np.asarray(allc[name], dtype=dtype)
        table[name].unit = unit_
        table[name].description = desc
    for name, desc in GROUP_COLUMNS.items():
        table[name] = allc[name]
        table[name].description = desc
    table["distance_pc"].unit = u.pc
    table.meta.update({"ORIGIN": "astrolab synthetic star groups (Gaia DR3-like)", "SEED": int(seed),
                       "NCLUSTER": int(n_clusters), "NASTER": int(n_asterisms),
                       "ANOMFRAC": float(anomaly_fraction)})
    logger.info("star groups: %d clusters (%d anomalous), %d asterisms, %d rows, seed %d, %.2f s",
                len(names), len(anomalous), n_asterisms, len(table), seed, time.perf_counter() - t0)
    return table


def generate_star_groups(path: str | os.PathLike, **kwargs) -> pathlib.Path:
    """Write :func:`make_star_groups_table` to ``path`` (format from the suffix) atomically."""
    from astrolab.data.io import write_table

    return pathlib.Path(write_table(make_star_groups_table(**kwargs), path))
