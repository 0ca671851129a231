"""TensorDict components, fusion with missing spectra, photo-z metrics, factories, end-to-end CLI runs."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictModuleBase

from astrolab.models.components import (
    FUSION_MODES,
    AstroTensorDictModule,
    MultiModalFusion,
    PhotometricEncoder,
    SpatialAttention,
    SpectralEncoder,
)
from astrolab.tasks import ObjectClassification, PhotoZ
from astrolab.tasks.photo_z_metrics import OutlierFraction, PhotoZBias, SigmaNMAD


def _batch(n: int = 12, f: int = 20, length: int = 64, seed: int = 0) -> TensorDict:
    g = torch.Generator().manual_seed(seed)
    has = torch.arange(n) % 3 != 0
    mask = (torch.rand(n, length, generator=g) > 0.1) & has[:, None]
    flux = torch.where(mask, torch.randn(n, length, generator=g), torch.zeros(n, length))
    return TensorDict({"photometry": {"features": torch.randn(n, f, generator=g)},
                       "spectrum": {"flux": flux, "mask": mask}, "has_spectrum": has,
                       "coordinates": torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=1),
                       "y": torch.randint(0, 3, (n,), generator=g)}, batch_size=[n])


def test_sigma_nmad_hand_computed():
    pred = torch.tensor([0.1, 0.5, 1.0, 2.0])
    z = torch.tensor([0.1, 0.4, 1.2, 1.0])
    # dz = [0, 0.1, -0.2, 1.0]; median(dz) = 0.05; |dz - 0.05| / (1 + z) = [0.04545, 0.03571, 0.11364, 0.475]
    # median = (0.04545 + 0.11364) / 2 = 0.079545; x 1.48 = 0.117727
    assert float(SigmaNMAD()(pred, z)) == pytest.approx(1.48 * (0.05 / 1.1 + 0.25 / 2.2) / 2, rel=1e-5)
    assert float(OutlierFraction()(pred, z)) == pytest.approx(0.25)  # only 1.0 / 2.0 > 0.15
    assert float(PhotoZBias()(pred, z)) == pytest.approx((0 + 0.1 / 1.4 - 0.2 / 2.2 + 0.5) / 4, rel=1e-5)
    m = SigmaNMAD()
    m.update(pred[:2], z[:2])
    m.update(pred[2:], z[2:])  # accumulates over batches
    assert float(m.compute()) == pytest.approx(0.117727, rel=1e-4)


def test_photo_z_loss_and_baseline():
    task = PhotoZ(target_mean=0.5, target_std=0.4)
    loss = task.configure_losses()
    z = torch.tensor([0.1, 1.0, 2.0])
    perfect = (z - 0.5) / 0.4  # model outputs are standardised; the loss sees the physical redshift
    assert float(task.compute_loss(loss, perfect, z, None, "train")) == pytest.approx(0.0, abs=1e-6)
    off = task.compute_loss(loss, perfect + 0.5, z, None, "train")  # Δz = 0.2 everywhere
    dz = 0.2 / (1 + z)
    assert float(off) == pytest.approx(float(torch.nn.functional.huber_loss(dz, 0 * dz, delta=0.05)), rel=1e-5)
    base = task.baseline_metrics(torch.tensor([0.1, 0.2, 0.3, 5.0]), z)
    # the baseline predicts the training median (0.25) everywhere
    assert base["bias"] == pytest.approx(((0.25 - 0.1) / 1.1 + (0.25 - 1) / 2 + (0.25 - 2) / 3) / 3, rel=1e-4)


def test_classification_metrics_include_per_class_recall():
    task = ObjectClassification(num_classes=3, class_names=["GALAXY", "QSO", "STAR"])
    m = task.configure_metrics()
    m.update(torch.tensor([[5.0, 0, 0], [0, 5.0, 0], [5.0, 0, 0], [0, 0, 5.0]]), torch.tensor([0, 1, 1, 2]))
    out = m.compute()
    assert float(out["recall_QSO"]) == pytest.approx(0.5) and float(out["recall_STAR"]) == 1.0
    assert float(out["acc"]) == pytest.approx(0.75)


def test_masked_bad_pixels_do_not_change_the_spectral_encoding():
    enc = SpectralEncoder(32, (8, 16), kernel_size=5).eval()
    td = _batch()
    ref = enc(td.clone())["spectrum", "embedding"]
    garbage = td.clone()
    bad = ~garbage["spectrum", "mask"]
    flux = garbage["spectrum", "flux"]
    flux[bad] = torch.randn(int(bad.sum())) * 1e6
    flux[bad & (torch.rand_like(flux) > 0.5)] = float("nan")
    out = enc(garbage)["spectrum", "embedding"]
    assert torch.isfinite(out).all()
    assert torch.allclose(out, ref, atol=1e-6)
    changed = td.clone()
    good = changed["spectrum", "mask"][1].nonzero()[5]
    changed["spectrum", "flux"][1, good] += 10.0
    assert not torch.allclose(enc(changed)["spectrum", "embedding"][1], ref[1])


@pytest.mark.parametrize("mode", FUSION_MODES)
def test_fusion_ignores_garbage_in_missing_spectrum_slots(mode):
    torch.manual_seed(0)
    fusion = MultiModalFusion({"photometry": 16, "spectrum": 24}, 16, mode).eval()
    has = torch.tensor([True, False, True, False, False])
    td = TensorDict({"photometry": {"embedding": torch.randn(5, 16)},
                     "spectrum": {"embedding": torch.randn(5, 24)}, "has_spectrum": has}, batch_size=[5])
    ref = fusion(td.clone())["fusion", "embedding"]
    g = td.clone()
    g["spectrum", "embedding"][~has] = torch.tensor(float("nan"))
    out = fusion(g)["fusion", "embedding"]
    assert torch.isfinite(out).all()
    assert torch.allclose(out[~has], ref[~has], atol=1e-6)
    # with the modality absent altogether, objects without a spectrum get the same output
    only_phot = TensorDict({"photometry": {"embedding": td["photometry", "embedding"]}}, batch_size=[5])
    assert torch.allclose(fusion(only_phot)["fusion", "embedding"][~has], ref[~has], atol=1e-5)
    # and the spectrum does matter for objects that have one
    g2 = td.clone()
    g2["spectrum", "embedding"][has] += 3.0
    assert not torch.allclose(fusion(g2)["fusion", "embedding"][has], ref[has])


def test_model_outputs_for_objects_without_spectrum_ignore_their_spectrum_slots():
    from astrolab.models.multimodal import create_multimodal_model

    torch.manual_seed(0)
    model = create_multimodal_model(20, task=ObjectClassification(num_classes=3), hidden_dim=32,
                                    spectral_channels=[8, 16], fusion="cross_attention").eval()
    td = _batch()
    has = td["has_spectrum"]
    with torch.no_grad():
        ref = model(td)
        g = td.clone()
        g["spectrum", "flux"][~has] = torch.randn(int((~has).sum()), 64) * 1e4
        g["spectrum", "mask"][~has] = True  # even a "valid-looking" mask in a missing slot is ignored
        out = model(g)
        phot_only = model(td.exclude("spectrum"))
    assert torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(phot_only[~has], ref[~has], atol=1e-5)
    assert "embedding" not in td["photometry"].keys()  # the batch is not modified


def test_components_are_tensordict_modules_with_reset():
    comps = [PhotometricEncoder(20, 16), SpectralEncoder(16, (8,)),
             SpatialAttention(16, heads=2, k=4, in_keys=[("photometry", "embedding"), "coordinates"]),
             MultiModalFusion({"photometry": 16, "spectrum": 16}, 16, "concat")]
    for c in comps:
        assert isinstance(c, TensorDictModuleBase) and isinstance(c, AstroTensorDictModule)
        assert c.in_keys and c.out_keys
        before = [p.detach().clone() for p in c.parameters()]
        c.reset_parameters()
        after = list(c.parameters())
        assert any(not torch.equal(a, b) for a, b in zip(before, after) if a.numel() > 4), type(c).__name__


def test_spatial_attention_is_permutation_equivariant_and_local():
    torch.manual_seed(0)
    att = SpatialAttention(16, heads=4, k=3, in_keys=["x", "pos"], out_keys=["y"]).eval()
    x, pos = torch.randn(20, 16), torch.randn(20, 3)
    y = att(TensorDict({"x": x, "pos": pos}, batch_size=[20]))["y"]
    perm = torch.randperm(20)
    yp = att(TensorDict({"x": x[perm], "pos": pos[perm]}, batch_size=[20]))["y"]
    assert torch.allclose(yp, y[perm], atol=1e-5)
    far = int(torch.cdist(pos[:1], pos).argmax())
    x2 = x.clone()
    x2[far] += 100.0  # the farthest object is not among object 0's 3 nearest neighbours
    y2 = att(TensorDict({"x": x2, "pos": pos}, batch_size=[20]))["y"]
    assert torch.allclose(y2[0], y[0], atol=1e-5)


def test_create_tensordict_model_design_example():
    from astrolab.models.multimodal import create_tensordict_model

    model = create_tensordict_model(model_type="graph", in_keys=["coordinates", "features"],
                                    out_keys=["predictions"], num_features=128, num_classes=7)
    assert isinstance(model, TensorDictModuleBase)
    assert model.in_keys == ["coordinates", "features"] and model.out_keys == ["predictions"]
    td = TensorDict({"coordinates": torch.randn(50, 3), "features": torch.randn(50, 128)}, batch_size=[50])
    out = model(td)["predictions"]
    assert out.shape == (50, 7) and torch.isfinite(out).all()
    mm = create_tensordict_model("multimodal", [("photometry", "features"), ("spectrum", "flux"),
                                                ("spectrum", "mask"), "has_spectrum"], ["logits"], 20, 3)
    assert mm(_batch())["logits"].shape == (12, 3)


def test_create_survey_specific_model():
    from astrolab.errors import ConfigError
    from astrolab.models import AstroMultiModalModel, AstroNodeGNN
    from astrolab.models.multimodal import create_survey_specific_model

    sdss = create_survey_specific_model("sdss")
    assert isinstance(sdss, AstroMultiModalModel)
    assert sdss.eval()(_batch()).shape == (12, 3)
    z = create_survey_specific_model("sdss", task="photo_z")
    assert z.eval()(_batch()).shape == (12,)
    assert isinstance(create_survey_specific_model("gaia"), AstroNodeGNN)
    assert type(create_survey_specific_model("lightcurves")).__name__ == "AstroTemporalGNN"
    with pytest.raises(ConfigError, match="sdss"):
        create_survey_specific_model("hubble")


def test_survey_model_defaults_match_the_data_feature_lists():
    """models/ duplicates the embedded samples' feature counts (it may not import data/): keep them equal."""
    from astrolab.data.surveys.gaia import FEATURES
    from astrolab.data.surveys.sdss import BANDS
    from astrolab.models.multimodal import DEFAULT_NUM_FEATURES

    assert DEFAULT_NUM_FEATURES["gaia"] == len(FEATURES)
    assert DEFAULT_NUM_FEATURES["sdss"] == 4 * len(BANDS)  # mags, colours, psf-model, log errors, petroRad


def test_incompatible_pairs_fail_in_one_line():
    from omegaconf import OmegaConf

    from astrolab.config import conf_dir
    from astrolab.errors import IncompatibleError
    from astrolab.training.build import check_compatible

    load = lambda g, n: OmegaConf.load(conf_dir() / g / f"{n}.yaml")  # noqa: E731
    cfg = OmegaConf.create({"model": load("model", "multimodal"), "dataset": load("dataset", "gaia"),
                            "task": load("task", "classification")})
    with pytest.raises(IncompatibleError, match="datasets for model=multimodal: .*sdss"):
        check_compatible(cfg, {"model": "multimodal", "dataset": "gaia"})
    cfg = OmegaConf.create({"model": load("model", "multimodal"), "dataset": load("dataset", "sdss"),
                            "task": load("task", "node_regression")})
    with pytest.raises(IncompatibleError, match="classification, photo_z"):
        check_compatible(cfg, {"model": "multimodal", "task": "node_regression"})


TINY = ["model=multimodal", "dataset=sdss", "dataset.n_objects=300", "dataset.spectrum_rebin=16",
        "dataset.batch_size=64", "model.hidden_dim=32", "model.spectral_channels=[8,16]",
        "trainer.max_epochs=4", "trainer.enable_model_summary=false", "callbacks.early_stopping=null"]


def _metrics_csv_columns(run_dir) -> set[str]:
    files = list(run_dir.rglob("metrics.csv"))
    assert files, "no metrics.csv"
    with open(files[0]) as fh:
        return set(next(csv.reader(fh)))


def test_cli_classification_end_to_end(run_cli, tmp_path):
    from conftest import read_summary

    run_dir = tmp_path / "cls"
    res = run_cli("train", *TINY, "task=classification", "model.fusion=concat", f"hydra.run.dir={run_dir}")
    assert res.returncode == 0, res.stderr[-3000:]
    s = read_summary(run_dir)
    m = s["metrics"]
    for k in ("test/acc", "test/f1_macro", "test/recall_QSO", "baseline/acc", "baseline/f1_macro"):
        assert k in m and math.isfinite(m[k]), k
    assert m["test/f1_macro"] > m["baseline/f1_macro"] + 0.2
    assert s["data"]["spectra"]["used"] and s["monitor"]["metric"] == "val/f1_macro"
    cols = _metrics_csv_columns(run_dir)
    assert {"val/acc", "val/f1_macro", "val/recall_QSO", "train/loss"} <= cols
    with open(run_dir / "predictions_test.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == s["data"]["split_sizes"]["test"] and int(rows[0]["objid"]) > 2**53
    # evaluate restores scaler, class names and task from the checkpoint and reproduces the test metrics
    eval_dir = tmp_path / "eval"
    res = run_cli("evaluate", f"ckpt_path={s['best_checkpoint']}", f"hydra.run.dir={eval_dir}")
    assert res.returncode == 0, res.stderr[-3000:]
    e = read_summary(eval_dir)["metrics"]
    assert e["test/acc"] == pytest.approx(m["test/acc"], abs=1e-6)


def test_cli_photo_z_end_to_end_photometry_only(run_cli, tmp_path):
    from conftest import read_summary

    run_dir = tmp_path / "pz"
    res = run_cli("train", *TINY, "task=photo_z", "dataset.spectra=false", f"hydra.run.dir={run_dir}")
    assert res.returncode == 0, res.stderr[-3000:]
    s = read_summary(run_dir)
    m = s["metrics"]
    for k in ("test/sigma_nmad", "test/outlier_frac", "test/bias", "baseline/sigma_nmad", "baseline/outlier_frac"):
        assert k in m and math.isfinite(m[k]), k
    assert 0 <= m["test/outlier_frac"] <= 1 and m["test/sigma_nmad"] >= 0
    assert not s["data"]["spectra"]["used"] and s["monitor"]["metric"] == "val/sigma_nmad"
    assert {"val/sigma_nmad", "val/outlier_frac", "val/bias"} <= _metrics_csv_columns(run_dir)
