"""The design's ``create_analysis_pipeline``: catalog file → features → model → predictions.

Trains on a labelled Gaia catalog, then predicts for another catalog file of the same survey (here both
are generated Gaia DR3-format FITS files; use your own query results the same way).

Run: python examples/analysis_pipeline.py [workdir]
"""

import sys
import tempfile
from pathlib import Path

from astrolab.data.synthetic.gaia_clusters import generate_gaia_catalog
from astrolab.training import create_analysis_pipeline


def main(workdir: str | None = None, n_stars: int = 2500, max_epochs: int = 20):
    work = Path(workdir or tempfile.mkdtemp(prefix="astrolab-pipeline-"))
    train_file = generate_gaia_catalog(work / "train.fits", n_stars=n_stars, seed=1)
    new_file = generate_gaia_catalog(work / "new_field.fits", n_stars=n_stars // 2, seed=2)
    pipeline = create_analysis_pipeline("gaia", model_type="node", path=train_file, hidden_dim=32,
                                        conv_type="sage", dataset={"use_cache": False})
    pipeline.fit(max_epochs=max_epochs)
    print(f"test metrics: {pipeline.test()}")
    table = pipeline.predict(new_file)
    out = work / "new_field_predictions.ecsv"
    table.write(out, overwrite=True)
    print(f"{len(table)} predictions -> {out}")
    return table


if __name__ == "__main__":
    main(*sys.argv[1:2])
