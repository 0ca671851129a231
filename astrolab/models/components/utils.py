"""Small helpers shared by components."""

from __future__ import annotations

from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU}
NORMS = ("batch", "layer", "none")


def make_activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        from astrolab.errors import ConfigError

        raise ConfigError(f"unknown activation '{name}'; use one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def make_norm(name: str, dim: int) -> nn.Module:
    if name == "batch":
        return nn.BatchNorm1d(dim)
    if name == "layer":
        return nn.LayerNorm(dim)
    if name == "none":
        return nn.Identity()
    from astrolab.errors import ConfigError

    raise ConfigError(f"unknown norm '{name}'; use one of {', '.join(NORMS)}")


def reset_all(module: nn.Module) -> None:
    """Re-initialise every submodule that knows how (PyG convention: ``reset_parameters``)."""
    for child in module.children():
        if hasattr(child, "reset_parameters"):
            child.reset_parameters()
        else:
            reset_all(child)
