"""``EnhancedMLPBlock``: a multi-layer perceptron with normalisation, dropout and residual connections."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from astrolab.models.components.utils import make_activation, make_norm, reset_all


class EnhancedMLPBlock(nn.Module):
    """Linear → norm → activation → dropout, repeated, with a residual path where widths match.

    Args:
        in_dim: input width.
        hidden_dims: widths of the hidden layers (an int repeats ``num_layers`` times).
        out_dim: output width (``None``: the last hidden width).
        num_layers: used when ``hidden_dims`` is an int.
        activation: ``relu``, ``gelu``, ``silu``, ``elu``, ``leaky_relu``.
        norm: ``batch``, ``layer`` or ``none``.
        dropout: dropout probability after each hidden layer.
        residual: add the layer input to its output when shapes match.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dims: int | Sequence[int] = 64,
        out_dim: int | None = None,
        num_layers: int = 2,
        activation: str = "gelu",
        norm: str = "layer",
        dropout: float = 0.0,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(hidden_dims, int):
            hidden_dims = [hidden_dims] * max(num_layers, 1)
        dims = [in_dim, *hidden_dims]
        self.layers = nn.ModuleList()
        for a, b in zip(dims[:-1], dims[1:]):
            self.layers.append(nn.Sequential(nn.Linear(a, b), make_norm(norm, b),
                                             make_activation(activation), nn.Dropout(dropout)))
        self.residual = residual
        self.out = nn.Linear(dims[-1], out_dim) if out_dim is not None else nn.Identity()
        self.in_dim, self.out_dim = in_dim, out_dim if out_dim is not None else dims[-1]

    def reset_parameters(self) -> None:
        reset_all(self)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            y = layer(x)
            x = x + y if self.residual and y.shape == x.shape else y
        return self.out(x)
