"""Which anomalies does a star-group anomaly detector find? AUROC per injected anomaly type.

After ``astrolab train model=graph_gnn dataset=clusters task=anomaly_detection``, the run's
``predictions_test.csv`` holds one anomaly score per test group. The embedded sample records how each
anomalous group was made (``anomaly_type``: ``second_turnoff`` or ``pm_subgroup``); this script joins the
two on the group column and reports the test AUROC of each type against the normal groups, plus the
overall figure (which should equal ``test/auroc`` in the run's summary.json).

Run: python examples/anomaly_by_type.py <run directory>
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from torchmetrics.functional.classification import binary_auroc

from astrolab.data.io import read_catalog


def auroc_by_type(run_dir: str | Path) -> dict[str, tuple[float, int]]:
    run_dir = Path(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    group = summary["data"].get("group", "group_id")
    pred = read_catalog(run_dir / "predictions_test.csv")
    source = read_catalog(summary["data"]["source"])
    if "anomaly_type" not in source.names:
        raise SystemExit(f"{summary['data']['source']} has no anomaly_type column (only the embedded sample has)")
    ids, first = np.unique(source.column(group), return_index=True)
    type_of = dict(zip(ids.tolist(), np.asarray(source.column("anomaly_type"))[first].astype(str)))
    kinds = np.array([type_of[g] for g in np.asarray(pred.column(group)).tolist()])
    score = torch.as_tensor(np.asarray(pred.column("anomaly_score"), dtype=np.float64))
    true = torch.as_tensor(np.asarray(pred.column("true"), dtype=np.int64))
    out = {"all": (float(binary_auroc(score, true)), int(true.sum()))}
    normal = true == 0
    for kind in sorted(set(kinds[true.numpy() == 1])):
        sel = normal | torch.as_tensor(kinds == kind)
        out[kind] = (float(binary_auroc(score[sel], true[sel])), int((kinds == kind).sum()))
    return out


if __name__ == "__main__":
    for name, (value, n) in auroc_by_type(sys.argv[1]).items():
        print(f"{name:16s} AUROC {value:.3f}  ({n} anomalous test groups)")
