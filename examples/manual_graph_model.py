"""The design's "Manual Model Creation" example: a graph-level GNN built directly.

Run: python examples/manual_graph_model.py
"""

from astrolab.models import AstroGraphGNN


def main() -> AstroGraphGNN:
    model = AstroGraphGNN(
        num_features=128,
        num_classes=7,
        hidden_dim=256,
        num_layers=3,
        conv_type="gat",
        heads=4,
        pooling="mean",
        dropout=0.2,
    )
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{type(model).__name__}: task={model.task.name}, outputs={model.num_outputs}, parameters={n_params}")
    return model


if __name__ == "__main__":
    main()
