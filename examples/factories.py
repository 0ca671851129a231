"""The design's "Factory Pattern" example: models by type and by task.

``create_model('node', ...)`` and ``create_model_for_task('node_classification', ...)`` work with every
installation; the graph / TensorDict models need their families (skipped with a note otherwise).

Run: python examples/factories.py
"""

import torch
from tensordict import TensorDict

from astrolab.errors import ConfigError
from astrolab.models import create_model, create_model_for_task


def random_star_graph(n: int = 200, num_features: int = 128, k: int = 8) -> TensorDict:
    """A batch in the node-graph layout (nodes/x and edges/index) with random features."""
    edges = torch.stack([torch.arange(n).repeat_interleave(k), torch.randint(0, n, (n * k,))], 1)
    return TensorDict({"nodes": TensorDict({"x": torch.randn(n, num_features)}, [n]),
                       "edges": TensorDict({"index": edges}, [n * k])}, [])


def main() -> dict:
    out = {}
    # Create by task: the family whose supported_tasks include it
    model = create_model_for_task("node_classification", num_features=128, num_classes=7)
    logits = model(random_star_graph())
    print(f"create_model_for_task('node_classification') -> {type(model).__name__}, output {tuple(logits.shape)}")
    out["by_task"] = model
    # Create by model type
    node = create_model("node", num_features=128, num_classes=7, conv_type="sage", hidden_dim=64)
    print(f"create_model('node') -> {type(node).__name__} ({node.hparams.conv_type})")
    out["node"] = node
    try:
        graph = create_model("graph", num_features=128, num_classes=7)
        print(f"create_model('graph') -> {type(graph).__name__}")
        out["graph"] = graph
    except ConfigError as exc:
        print(f"create_model('graph'): {exc}")
    try:
        from astrolab.models import create_tensordict_model

        td_model = create_tensordict_model(model_type="graph", in_keys=["coordinates", "features"],
                                           out_keys=["predictions"], num_features=128, num_classes=7)
        print(f"create_tensordict_model(...) -> {type(td_model).__name__}")
        out["tensordict"] = td_model
    except ImportError as exc:
        print(f"create_tensordict_model: {exc}")
    return out


if __name__ == "__main__":
    main()
