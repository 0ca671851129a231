"""``AstroTensorDictModule``: the base of astrolab's ``tensordict.nn`` components.

A subclass implements :meth:`compute` on plain tensors; the base reads ``in_keys`` from the TensorDict
(nested keys as tuples, e.g. ``("spectrum", "flux")``; a key missing from the TensorDict is passed as
``None`` so optional inputs — a spectrum that is absent from photometry-only data — are natural), and
writes the results to ``out_keys``. Works inside :class:`tensordict.nn.TensorDictSequential`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tensordict.nn import TensorDictModuleBase
from torch import Tensor

from astrolab.models.components.utils import reset_all

Key = str | tuple[str, ...]


def as_key(key: Any) -> Key:
    """``"a"`` stays a string; lists/tuples (Hydra gives lists) become nested-key tuples; ``"a.b"`` too."""
    if isinstance(key, str):
        return tuple(key.split(".")) if "." in key else key
    key = tuple(str(k) for k in key)
    return key[0] if len(key) == 1 else key


def as_keys(keys: Sequence[Any] | Any) -> list[Key]:
    if isinstance(keys, str):
        keys = [keys]
    return [as_key(k) for k in keys]


class AstroTensorDictModule(TensorDictModuleBase):
    """A ``tensordict.nn`` module with explicit ``in_keys``/``out_keys`` and ``reset_parameters()``.

    Args:
        in_keys: keys read, in the order :meth:`compute` takes them.
        out_keys: keys written, in the order :meth:`compute` returns them.
    """

    def __init__(self, in_keys: Sequence[Any], out_keys: Sequence[Any]) -> None:
        super().__init__()
        self.in_keys = as_keys(in_keys)
        self.out_keys = as_keys(out_keys)

    def compute(self, *inputs: Tensor | None) -> Tensor | tuple[Tensor, ...]:
        raise NotImplementedError

    def forward(self, tensordict, **kwargs: Any):
        inputs = [tensordict.get(k, None) for k in self.in_keys]
        out = self.compute(*inputs)
        if not isinstance(out, tuple):
            out = (out,)
        for key, value in zip(self.out_keys, out):
            tensordict.set(key, value)
        return tensordict

    def reset_parameters(self) -> None:
        reset_all(self)


class TensorDictPipeline(AstroTensorDictModule):
    """Several tensordict modules run in order (the union of their keys), with ``reset_parameters()``."""

    def __init__(self, *modules: TensorDictModuleBase) -> None:
        in_keys: list[Key] = []
        out_keys: list[Key] = []
        for m in modules:
            in_keys += [k for k in m.in_keys if k not in in_keys and k not in out_keys]
            out_keys += [k for k in m.out_keys if k not in out_keys]
        super().__init__(in_keys, out_keys)
        from torch import nn

        self.stages = nn.ModuleList(modules)

    def forward(self, tensordict, **kwargs: Any):
        for m in self.stages:
            tensordict = m(tensordict)
        return tensordict


class HeadModule(AstroTensorDictModule):
    """An output head (any ``nn.Module`` on one tensor) as a tensordict module."""

    def __init__(self, head, in_key: Any, out_key: Any) -> None:
        super().__init__([in_key], [out_key])
        self.head = head

    def compute(self, x: Tensor) -> Tensor:
        return self.head(x)
