"""Astronomical data augmentation on batch ``TensorDict``s (train-time only; see
``AstronomicalAugmentationMixin``).

Each operation reads and writes keys of the batch that the config names, so one set of functions serves
every data family. Keys are tuples (``["nodes", "x"]``) and ``cols`` pick columns of a feature matrix.
Operations (config name → function):

- ``resample``: ``v += scale · σ · N(0, 1)`` with σ the reported error column/key (magnitudes,
  parallaxes, proper motions resampled within their errors), or a constant ``sigma``.
- ``rotate_sky``: a random rotation of the celestial sphere applied to (ra, dec) in degrees.
- ``rotate_3d``: a random 3-D rotation of Cartesian positions (and velocities, ``cols`` in groups of 3).
- ``redden``: ``v += E · vector`` with ``E ~ U(0, max_ebv)`` per object: extinction moves stars along the
  reddening vector (e.g. for Gaia, ``A_G ≈ 2.74 E(B-V)`` and ``E(BP-RP) ≈ 1.34 E(B-V)``; Casagrande &
  VandenBerg 2018), so colour and magnitude shift together.
- ``time_shift``: a random offset of observation times (light curves are shift invariant).
- ``epoch_dropout``: drop observed epochs at random by clearing a mask.
- ``subsample_epochs``: keep each real epoch of a light curve with probability ``1 − p`` (``p`` drawn per
  object from ``U(0, max_drop)``), move the kept epochs to the front and recompute the time-step feature
  (``dt_feature``, standardised with ``dt_scale``): the same star seen by a sparser survey.
- ``rescale_errors``: multiply reported errors by ``U(low, high)``.
- ``redshift``: ``z += sigma · (1 + z) · N(0, 1)`` (redshift perturbation for spectra / photo-z).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from astrolab.utils.sequences import compact_epochs

Key = str | Sequence[str]


def _key(k: Key) -> str | tuple[str, ...]:
    return k if isinstance(k, str) else tuple(k)


def _cols(t: Tensor, cols: Sequence[int] | None) -> list[int]:
    return list(range(t.shape[-1])) if cols is None else [int(c) for c in cols]


def random_rotation_matrix(generator: torch.Generator | None = None, dtype=torch.float32) -> Tensor:
    """A uniformly random 3-D rotation (QR of a Gaussian matrix with the sign fixed)."""
    a = torch.randn(3, 3, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q.to(dtype)


def resample(batch, key: Key, cols: Sequence[int] | None = None, error_key: Key | None = None,
             error_cols: Sequence[int] | None = None, sigma: float | None = None, scale: float = 1.0,
             generator=None):
    v = batch.get(_key(key)).clone()
    c = _cols(v, cols)
    if error_key is not None:
        err = batch.get(_key(error_key))
        err = err[..., _cols(err, error_cols)] if err.dim() > 1 else err
    else:
        err = torch.full_like(v[..., c] if v.dim() > 1 else v, float(sigma if sigma is not None else 0.0))
    noise = torch.randn(err.shape, generator=generator, dtype=v.dtype).to(v.device) * err.to(v.dtype) * scale
    if v.dim() > 1:
        v[..., c] = v[..., c] + noise
    else:
        v = v + noise
    batch.set(_key(key), v)
    return batch


def rotate_sky(batch, ra_key: Key, dec_key: Key, generator=None):
    ra = torch.deg2rad(batch.get(_key(ra_key)).double())
    dec = torch.deg2rad(batch.get(_key(dec_key)).double())
    xyz = torch.stack([dec.cos() * ra.cos(), dec.cos() * ra.sin(), dec.sin()], -1)
    xyz = xyz @ random_rotation_matrix(generator, torch.float64).T
    new_ra = torch.rad2deg(torch.atan2(xyz[..., 1], xyz[..., 0])) % 360.0
    new_dec = torch.rad2deg(torch.asin(xyz[..., 2].clamp(-1, 1)))
    dtype = batch.get(_key(ra_key)).dtype
    batch.set(_key(ra_key), new_ra.to(dtype))
    batch.set(_key(dec_key), new_dec.to(dtype))
    return batch


def rotate_3d(batch, key: Key, cols: Sequence[int] = (0, 1, 2), generator=None):
    v = batch.get(_key(key)).clone()
    c = _cols(v, cols)
    if len(c) % 3:
        from astrolab.errors import ConfigError

        raise ConfigError(f"rotate_3d needs columns in groups of 3 (x, y, z), got cols={list(c)}")
    rot = random_rotation_matrix(generator, v.dtype).to(v.device)
    for i in range(0, len(c), 3):
        g = c[i:i + 3]
        v[..., g] = v[..., g] @ rot.T
    batch.set(_key(key), v)
    return batch


def redden(batch, key: Key, cols: Sequence[int], vector: Sequence[float], max_ebv: float = 0.1, generator=None):
    v = batch.get(_key(key)).clone()
    n = v.shape[0]
    ebv = torch.rand(n, generator=generator, dtype=v.dtype).to(v.device) * float(max_ebv)
    vec = torch.as_tensor(vector, dtype=v.dtype, device=v.device)
    v[..., list(cols)] = v[..., list(cols)] + ebv.unsqueeze(-1) * vec
    batch.set(_key(key), v)
    return batch


def time_shift(batch, key: Key, max_shift: float, generator=None):
    t = batch.get(_key(key))
    n = t.shape[0]
    shift = (torch.rand(n, generator=generator, dtype=torch.float64) * 2 - 1) * float(max_shift)
    shift = shift.to(t.dtype).to(t.device).reshape((n,) + (1,) * (t.dim() - 1))
    batch.set(_key(key), t + shift)
    return batch


def epoch_dropout(batch, mask_key: Key, p: float = 0.1, generator=None):
    m = batch.get(_key(mask_key))
    keep = torch.rand(m.shape, generator=generator) >= float(p)
    batch.set(_key(mask_key), m & keep.to(m.device))
    return batch


def subsample_epochs(batch, key: Key = "sequence", max_drop: float = 0.3, min_keep: int = 10,
                     dt_feature: int | None = 0, dt_scale: Sequence[float] | None = None, generator=None):
    seq = batch.get(_key(key))
    x, time, band, mask = seq["x"], seq["time"], seq["band"], seq["mask"].bool()
    B, L = mask.shape
    p = torch.rand(B, 1, generator=generator) * float(max_drop)
    keep = (torch.rand(B, L, generator=generator) >= p).to(mask.device) & mask
    # never below min_keep epochs (or all of a shorter curve): such objects keep their full curve
    short = keep.sum(1) < torch.clamp(mask.sum(1), max=int(min_keep))
    keep = torch.where(short.unsqueeze(1), mask, keep)
    if dt_feature is not None and dt_scale is None:
        from astrolab.errors import ConfigError

        raise ConfigError("augmentation subsample_epochs needs dt_scale (the data module's log_dt mean "
                          "and std), or dt_feature=null")
    nx, nt, nb, new_mask = compact_epochs(x, time, band, keep, None, dt_feature, dt_scale or (0.0, 1.0))
    seq.set("x", nx)
    seq.set("time", nt)
    seq.set("band", nb)
    seq.set("mask", new_mask.to(seq["mask"].dtype))
    return batch


def rescale_errors(batch, key: Key, low: float = 0.8, high: float = 1.25, cols: Sequence[int] | None = None,
                   generator=None):
    e = batch.get(_key(key)).clone()
    f = low + (high - low) * torch.rand(e.shape[0], generator=generator, dtype=torch.float64)
    f = f.to(e.dtype).to(e.device).reshape((e.shape[0],) + (1,) * (e.dim() - 1))
    if e.dim() > 1 and cols is not None:
        e[..., list(cols)] = e[..., list(cols)] * f
    else:
        e = e * f
    batch.set(_key(key), e)
    return batch


def perturb_redshift(batch, key: Key, sigma: float = 0.01, generator=None):
    z = batch.get(_key(key))
    dz = torch.randn(z.shape, generator=generator, dtype=torch.float64).to(z.dtype).to(z.device)
    batch.set(_key(key), (z + float(sigma) * (1 + z) * dz).clamp(min=0.0))
    return batch


OPERATIONS: dict[str, Callable[..., Any]] = {
    "resample": resample,
    "rotate_sky": rotate_sky,
    "rotate_3d": rotate_3d,
    "redden": redden,
    "time_shift": time_shift,
    "epoch_dropout": epoch_dropout,
    "rescale_errors": rescale_errors,
    "subsample_epochs": subsample_epochs,
    "redshift": perturb_redshift,
}


def apply_augmentations(batch, spec: dict[str, dict[str, Any]] | None, generator=None):
    """Apply the operations of ``spec`` (``{name: {param: value}}``, or ``{alias: {op: name, ...}}``)
    to a *copy* of ``batch``; operations with ``p`` < 1 run with that probability."""
    if not spec:
        return batch
    out = batch.clone(recurse=False) if hasattr(batch, "clone") else batch
    # TensorDict.clone(recurse=False) shares tensors; operations always write new tensors
    for name, params in spec.items():
        if params is None or params is False:
            continue
        params = dict(params) if not isinstance(params, bool) else {}
        op = params.pop("op", name)
        if op not in OPERATIONS:
            from astrolab.errors import ConfigError

            raise ConfigError(f"unknown augmentation '{op}'; use one of {', '.join(OPERATIONS)}")
        prob = float(params.pop("prob", 1.0))
        if prob < 1.0 and float(torch.rand((), generator=generator)) >= prob:
            continue
        OPERATIONS[op](out, generator=generator, **params)
    return out


__all__ = [
    "OPERATIONS", "apply_augmentations", "random_rotation_matrix", "resample", "rotate_sky", "rotate_3d",
    "redden", "time_shift", "epoch_dropout", "subsample_epochs", "rescale_errors", "perturb_redshift"]
