"""Multi-band Lomb–Scargle periods (astrolab.data.periods), per-object light-curve features
(astrolab.data.lc_features), the temporal model's feature branch and the feature baseline.

Generated data: a pulsating star observed in two bands, m_b(t) = m0_b + A_b sin(2π t / P + φ_b) (band
amplitude ratio 0.6 and a colour offset, as for RR Lyrae / Miras), Gaussian errors σ = 0.05 mag, epochs at
random times over a 1000-d baseline.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from astrolab.data.periods import (PeriodSearch, cached_periods, frequency_grid, multiband_power, search_one,
                                   time_resolution)


def _star(period: float, n: int = 240, baseline: float = 1000.0, seed: int = 0, amp: float = 0.5):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, baseline, n))
    band = rng.integers(0, 2, n)
    y = (np.where(band == 0, 15.0, 15.8) + amp * np.where(band == 0, 1.0, 0.6) * np.sin(2 * np.pi * t / period
         + 0.3 * band) + rng.normal(0, 0.05, n))
    return t, y, np.full(n, 0.05), band


@pytest.mark.parametrize("period,tol", [(0.61, 1e-3), (0.0435, 1e-3), (21.47, 5e-3), (300.0, 0.05)])
def test_multiband_search_recovers_the_period(period, tol):
    t, y, dy, band = _star(period)
    res = search_one(t, y, dy, band, PeriodSearch(min_period=0.02, nterms=1))
    assert res["period"][0] == pytest.approx(period, rel=tol)
    assert res["power"][0] > 0.8 and res["log_fap"][0] < -20  # a clear detection
    assert res["power"][1] < res["power"][0]  # peaks sorted, distinct


def test_grid_from_baseline_and_cadence():
    t, *_ = _star(1.0, baseline=900.0)
    ps = PeriodSearch(min_period=0.05, samples_per_peak=5)
    fmin, df, n = frequency_grid(t, ps)
    T = t.max() - t.min()
    assert fmin == pytest.approx(1 / T) and df == pytest.approx(1 / (5 * T))  # periods up to the baseline
    assert fmin + df * (n - 1) == pytest.approx(1 / 0.05, rel=1e-3)
    # irregular sampling: the Nyquist limit is the time-stamp resolution, not the mean interval
    assert time_resolution(np.array([0.0, 1.0, 3.0])) == 1.0
    f_daily = frequency_grid(np.arange(0.0, 400.0, 1.0), ps)
    assert f_daily[0] + f_daily[1] * (f_daily[2] - 1) <= 0.5 + 1e-9  # integer days: f_max = 0.5 c/d


def test_joint_power_is_astropy_multiband_and_backends_agree():
    from astropy.timeseries import LombScargleMultiband

    t, y, dy, band = _star(0.61, n=120)
    ps = PeriodSearch(min_period=0.2, nterms=1, screen="bands")
    f, p_nifty, _ = multiband_power(t, y, dy, band, ps, "nifty-ls")
    _, p_astropy, _ = multiband_power(t, y, dy, band, ps, "astropy")
    assert np.abs(p_nifty - p_astropy).max() < 1e-5
    ref = LombScargleMultiband(t, y, band, dy, nterms_base=0, nterms_band=1).power(f[::97], method="flexible")
    assert np.abs(ref - p_nifty[::97]).max() < 1e-4


def test_harmonic_reranking_finds_a_sawtooth_period():
    """RRab-like sawtooth (rise in 15 % of the cycle): the one-harmonic periodogram may prefer an alias;
    the 3-harmonic multi-band re-ranking returns the true period."""
    rng = np.random.default_rng(4)
    P, n = 0.5731, 110
    t = np.sort(rng.choice(np.arange(0, 2900), n) + rng.uniform(0.1, 0.2, n))  # one epoch per night
    band = rng.integers(0, 3, n)
    ph = np.mod(t / P, 1.0)
    shape = np.where(ph < 0.15, ph / 0.15, 1 - (ph - 0.15) / 0.85)
    y = 16 + 0.2 * band - 0.8 * shape + rng.normal(0, 0.03, n)
    res = search_one(t, y, np.full(n, 0.03), band, PeriodSearch(min_period=0.1, nterms=3))
    assert res["period"][0] == pytest.approx(P, rel=1e-3)


def test_chunked_nufft_equals_one_nifty_ls_transform():
    """The chunked NUFFT with cached plans (astrolab.data.ls_nufft) is nifty-ls's periodogram, at least as
    close to an accurate one (upsampling 2, eps 1e-13): series with weight-0 epochs, with and without a
    fitted mean, a grid that is not a multiple of the chunk."""
    import nifty_ls

    from astrolab.data import ls_nufft

    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 800, 150))
    y, dy = rng.normal(size=(2, 150)), rng.uniform(0.02, 0.1, (2, 150))
    dy[0, ::3] = np.inf
    fmin, df, n = 1 / 800, 1 / 4000, 9001
    for fit_mean in (False, True):
        kw = dict(fmin=fmin, fmax=fmin + df * (n - 1), Nf=n, center_data=fit_mean, fit_mean=fit_mean, nthreads=1)
        one = nifty_ls.lombscargle(t, y, dy, **kw).power
        exact = nifty_ls.lombscargle(t, y, dy, **kw, finufft_kwargs={"eps": 1e-13, "upsampfac": 2.0}).power
        chunked = ls_nufft.power(t, y, dy, fmin, df, n, fit_mean, chunk=1000)
        assert chunked.shape == (2, n) and np.abs(chunked - one).max() < 1e-8
        assert np.abs(chunked - exact).max() <= max(np.abs(one - exact).max(), 1e-10)
        assert np.abs(ls_nufft.power(t, y, dy, fmin, df, n, fit_mean, chunk=None) - exact).max() < 1e-9
    plans = dict(ls_nufft._cache("plans"))
    ls_nufft.power(t + 1.0, y, dy, fmin, df, n + 500, True, chunk=1000)  # another curve, 10 chunks too
    after = ls_nufft._cache("plans")
    assert after.keys() == plans.keys() and all(after[k] is v for k, v in plans.items())


def _direct_harmonic_power(t, y, dy, band, freqs, nterms):
    """Reference: per-band weighted least squares on the explicit design matrix [1, cos kωt, sin kωt]."""
    chi, chi0 = np.zeros(len(freqs)), 0.0
    for b in np.unique(band):
        sel = band == b
        w = 1 / dy[sel] ** 2
        yb = y[sel] - np.sum(w * y[sel]) / np.sum(w)
        chi0 += np.sum(w * yb**2)
        for i, f in enumerate(freqs):
            ph = 2 * np.pi * f * t[sel][:, None] * np.arange(1, nterms + 1)
            x = np.hstack([np.ones((sel.sum(), 1)), np.cos(ph), np.sin(ph)]) * np.sqrt(w)[:, None]
            coef = np.linalg.lstsq(x, yb * np.sqrt(w), rcond=None)[0]
            chi[i] += np.sum((yb * np.sqrt(w) - x @ coef) ** 2)
    return 1 - chi / chi0


def test_harmonic_power_from_phasor_recurrences_is_the_direct_least_squares():
    from astrolab.data.periods import _harmonic_bands, _harmonic_power, multiband_harmonic_power

    t, y, dy, band = _star(0.61, n=90, seed=2)
    y = y + 0.2 * np.sin(4 * np.pi * t / 0.61)  # a second harmonic
    freqs = 1 / 0.61 + 2e-4 * np.arange(-4, 5)
    for nterms in (1, 3):
        ref = _direct_harmonic_power(t, y, dy, band, freqs, nterms)
        assert np.abs(multiband_harmonic_power(t, y, dy, band, freqs, nterms) - ref).max() < 1e-9
        prep = _harmonic_bands(t, y, dy, band, nterms)  # e^{iωt} built as e^{iω0 t} (e^{iδt})^j
        z = np.exp(2j * np.pi * freqs[0] * prep[0]) * np.exp(2j * np.pi * 2e-4 * prep[0]) ** np.arange(9)[:, None]
        assert np.abs(_harmonic_power(z, prep, nterms) - ref).max() < 1e-9


def test_partial_sort_top_peaks_equal_the_full_sort():
    from astrolab.data.periods import _top_peaks, top_peaks

    def full_sort(freq, power, k, min_sep):
        inner = (power[1:-1] >= power[:-2]) & (power[1:-1] > power[2:])
        cand = np.flatnonzero(inner) + 1
        chosen = []
        for i in cand[np.argsort(power[cand])[::-1]]:
            if all(abs(freq[i] - freq[j]) >= min_sep for j in chosen):
                chosen.append(i)
                if len(chosen) == k:
                    break
        return np.asarray(chosen)

    rng = np.random.default_rng(0)
    power = np.convolve(rng.random(20000), np.ones(3) / 3, "same")
    freq = 0.01 + 1e-3 * np.arange(len(power))
    for k, sep in ((3, 0.0), (20, 5e-3), (40, 0.5)):  # sep=0.5: most of the highest maxima are rejected
        ref = full_sort(freq, power, k, sep)
        np.testing.assert_array_equal(top_peaks(freq, power, k, sep), ref)
        np.testing.assert_array_equal(_top_peaks(power, k, sep, lambda i: 0.01 + 1e-3 * i), ref)


def test_fap_is_the_beta_tail_without_scipy_stats(monkeypatch):
    """log10 FAP from scipy.special's incomplete beta equals scipy.stats.beta.logsf (the exact formula)
    and does not call it (its median search was most of the cost of a light curve's FAP)."""
    from scipy.stats import beta

    from astrolab.data.periods import log10_fap

    z = np.r_[np.linspace(0, 1, 101), 1 - 1e-9, 1 - 1e-15]
    ref = {}
    for n, k, nterms in ((300, 5, 3), (60, 1, 1), (12, 2, 3)):
        d2 = max(n - (2 * nterms + 1) * k, 1)
        logsf = beta.logsf(np.clip(z, 0, 1 - 1e-15), max(nterms * k, 1), d2 / 2) / np.log(10)
        ref[n] = np.minimum(0.0, np.log10((10 - 0.001) * 3000) + logsf)
    monkeypatch.setattr(beta, "logsf", lambda *a, **k: pytest.fail("scipy.stats.beta.logsf called"))
    for n, k, nterms in ((300, 5, 3), (60, 1, 1), (12, 2, 3)):
        got = log10_fap(z, n, k, 0.001, 10, 3000, nterms)
        fin = np.isfinite(ref[n])
        assert np.isfinite(got).all()  # where scipy's tail underflows to -inf too (test below)
        assert np.abs(got[fin] - ref[n][fin]).max() < 1e-12


def test_fap_of_strong_peaks_is_finite_and_exact():
    """A strong peak of a long curve has a tail below float64's range: its log FAP stays finite, exact
    (against mpmath's arbitrary-precision incomplete beta) and keeps the order of the powers, instead of
    -inf (which became NaN, i.e. the median of the training split, in the feature vector)."""
    import mpmath

    from astrolab.data.periods import log10_fap

    n, k, nterms = 450, 2, 1
    z = np.array([0.9, 0.95, 0.98, 0.99, 0.999, 1 - 1e-9])
    got = log10_fap(z, n, k, 0.01, 50, 1000, nterms)
    a, b = float(nterms * k), (n - (2 * nterms + 1) * k) / 2
    mpmath.mp.dps = 30
    for zi, gi in zip(z, got):
        # the upper tail of Beta(a, b) above z = the lower tail of Beta(b, a) below 1 - z (no cancellation)
        sf = mpmath.betainc(b, a, 0, 1 - mpmath.mpf(float(zi)), regularized=True)
        want = float(mpmath.log10(sf)) + np.log10((50 - 0.01) * 1000)
        assert abs(gi - want) < 1e-9 * abs(want), (zi, gi, want)
    assert got[-1] < -1000 and np.all(np.diff(got) < 0)


def test_workers_give_the_numbers_of_one_process(tmp_path):
    from astrolab.data.periods import search_many
    from astrolab.errors import ConfigError

    periods = (0.61, 3.3, 0.29, 12.0)
    curves = [_star(p, n=50, baseline=300.0, seed=i) for i, p in enumerate(periods)]
    t, y, dy, band = (np.concatenate([c[k] for c in curves]) for k in range(4))
    start, counts = np.arange(4) * 50, np.full(4, 50)
    one, info = cached_periods(tmp_path, t, y, dy, band, start, counts, PeriodSearch(min_period=0.2))
    two = search_many(t, y, dy, band, start, counts, PeriodSearch.from_config({"min_period": 0.2, "workers": 2}))
    for key in one:
        np.testing.assert_array_equal(one[key], two[key])
    assert one["period"][:, 0] == pytest.approx(periods, rel=1e-2)
    # the cache entry does not depend on the number of processes; entries of version 1 are not trusted
    hit = cached_periods(tmp_path, t, y, dy, band, start, counts, PeriodSearch(min_period=0.2, workers=2))[1]
    assert hit["cache"] == "hit" and hit["key"] == info["key"] and info["settings"]["version"] == 3
    with pytest.raises(ConfigError, match="workers must be >= 1"):
        PeriodSearch.from_config({"workers": 0})
    with pytest.raises(ConfigError, match="unknown dataset.period_search key.*worker"):
        PeriodSearch.from_config({"worker": 2})


def test_results_are_cached_under_the_input_checksum_and_verified(tmp_path, caplog):
    curves = [_star(p, n=80, seed=i) for i, p in enumerate((0.61, 3.3))]
    t = np.concatenate([c[0] for c in curves])
    y, dy, band = (np.concatenate([c[k] for c in curves]) for k in (1, 2, 3))
    start, counts = np.array([0, 80]), np.array([80, 80])
    ps = PeriodSearch(min_period=0.1)
    r1, i1 = cached_periods(tmp_path, t, y, dy, band, start, counts, ps)
    r2, i2 = cached_periods(tmp_path, t, y, dy, band, start, counts, ps)
    assert (i1["cache"], i2["cache"]) == ("built", "hit")
    np.testing.assert_array_equal(r1["period"], r2["period"])
    y2 = y.copy()
    y2[0] += 0.1  # other input bytes: another entry
    assert cached_periods(tmp_path, t, y2, dy, band, start, counts, ps)[1]["cache"] == "built"
    # a damaged entry is detected by its checksum and recomputed
    entry = tmp_path / "periods" / i1["key"]
    npy = sorted(entry.glob("*.npy"))[0]
    arr = np.load(npy)
    arr.reshape(-1)[0] += 1
    np.save(npy, arr)
    r3, i3 = cached_periods(tmp_path, t, y, dy, band, start, counts, ps)
    assert i3["cache"] == "built" and "damaged" in caplog.text
    np.testing.assert_array_equal(r1["period"], r3["period"])


def test_object_features_shapes_and_values():
    from astrolab.data.lc_features import object_features

    stars = [_star(0.61, n=60, seed=1, amp=0.5), _star(5.0, n=60, seed=2, amp=0.1)]
    t = np.concatenate([s[0] for s in stars])
    y, dy, band = (np.concatenate([s[k] for s in stars]) for k in (1, 2, 3))
    obj = np.repeat([0, 1], 60)
    ps = PeriodSearch(min_period=0.1, n_peaks=2)
    peaks = cached_periods(None, t, y, dy, band, np.array([0, 60]), np.array([60, 60]), ps)[0]
    x, names = object_features(["periods", "fourier", "amplitude", "stetson_k"], t, y, dy, band,
                               np.ones(len(t), bool), obj, 2, ["g", "r"], peaks)
    assert x.shape == (2, 2 * 3 + 2 * (4 + 2)) and len(names) == x.shape[1]
    assert names[:3] == ["log_period_1", "ls_power_1", "log_fap_1"] and "amplitude_r" in names
    col = {n: x[:, i] for i, n in enumerate(names)}
    assert 10 ** col["log_period_1"][0] == pytest.approx(0.61, rel=1e-3)
    assert col["fourier_A1_g"][0] == pytest.approx(0.5, rel=0.1)  # the g amplitude of the model
    assert col["fourier_A1_r"][1] == pytest.approx(0.06, rel=0.3)
    assert col["amplitude_g"][0] > col["amplitude_g"][1]


def test_colours_are_the_band_median_difference_and_the_pulsation_amplitude_ratio():
    """The generated star has g − r = 15.0 − 15.8 = −0.8 and A_g / A_r = 1 / 0.6; a second, achromatic one
    (the same amplitude in both bands, as an eclipse) has a log ratio near 0."""
    from astrolab.data.lc_features import object_features

    pulsator = _star(0.61, n=120, seed=3, amp=0.5)
    rng = np.random.default_rng(4)
    t2 = np.sort(rng.uniform(0, 1000, 120))
    b2 = rng.integers(0, 2, 120)
    y2 = np.where(b2 == 0, 16.0, 15.5) + 0.4 * np.sin(2 * np.pi * t2 / 0.37) + rng.normal(0, 0.05, 120)
    t, y, band = np.r_[pulsator[0], t2], np.r_[pulsator[1], y2], np.r_[pulsator[3], b2]
    dy = np.full(len(t), 0.05)
    obj = np.repeat([0, 1], 120)
    peaks = cached_periods(None, t, y, dy, band, np.array([0, 120]), np.array([120, 120]),
                           PeriodSearch(min_period=0.1, n_peaks=1))[0]
    x, names = object_features(["periods", "colours"], t, y, dy, band, np.ones(len(t), bool), obj, 2,
                               ["g", "r"], peaks)
    assert names == ["log_period_1", "ls_power_1", "log_fap_1", "colour_g_r", "log_amp_ratio_g_r"]
    col = {n: x[:, i] for i, n in enumerate(names)}
    assert col["colour_g_r"] == pytest.approx([-0.8, 0.5], abs=0.05)
    assert col["log_amp_ratio_g_r"][0] == pytest.approx(np.log10(1 / 0.6), abs=0.04)
    assert abs(col["log_amp_ratio_g_r"][1]) < 0.04
    # one band: no pair, no colour columns
    _, one = object_features(["colours"], t, y, dy, np.zeros(len(t), int), np.ones(len(t), bool), obj, 2,
                             ["g"], peaks)
    assert one == []


def test_unknown_feature_is_one_line():
    from astrolab.errors import ConfigError
    from astrolab.data.lc_features import check_names

    with pytest.raises(ConfigError, match="unknown dataset.features"):
        check_names(["periods", "not_a_feature"])


def test_feature_branch_shapes():
    from tensordict import TensorDict

    from astrolab.errors import ConfigError
    from astrolab.models import AstroTemporalGNN
    from task_helpers import time_series_classification as TimeSeriesClassification

    B, L = 5, 9
    seq = TensorDict({"x": torch.randn(B, L, 4), "time": torch.cumsum(torch.rand(B, L), 1),
                      "band": torch.zeros(B, L, dtype=torch.long), "mask": torch.ones(B, L, dtype=torch.bool)},
                     batch_size=[B, L])
    objs = TensorDict({"y": torch.zeros(B, dtype=torch.long), "seed": torch.ones(B, dtype=torch.bool),
                       "features": torch.randn(B, 7)}, batch_size=[B])
    batch = TensorDict({"sequence": seq, "objects": objs}, batch_size=[])
    model = AstroTemporalGNN(task=TimeSeriesClassification(num_classes=3), num_features=4, hidden_dim=16,
                             num_object_features=7)
    out = model(batch)
    assert out.shape == (B, 3) and model.feature_branch is not None
    out.sum().backward()
    assert model.feature_branch.net[0].weight.grad.abs().sum() > 0  # the features reach the head
    off = AstroTemporalGNN(task=TimeSeriesClassification(num_classes=3), num_features=4, hidden_dim=16,
                           num_object_features=7, object_features=False)
    assert off.feature_branch is None and off(batch).shape == (B, 3)
    del batch["objects", "features"]
    with pytest.raises(ConfigError, match="dataset.features"):
        model(batch)


def test_data_module_exposes_object_features_and_folds_at_the_catalogue_period(tmp_path):
    from astrolab.data.datamodules.lightcurves import LightCurveDataModule
    from astrolab.data.synthetic.lightcurves import generate_lightcurves

    ep, ob = generate_lightcurves(tmp_path / "e.csv", tmp_path / "o.csv", n_objects=24, min_epochs=30,
                                  max_epochs=50, seed=5)
    dm = LightCurveDataModule(path=str(ep), objects=str(ob), use_cache=False, batch_size=8,
                              features=["periods", "amplitude"], period_search={"min_period": 0.1, "n_peaks": 2})
    dm.setup()
    names = dm.object_feature_names
    assert names == ["log_period_1", "ls_power_1", "log_fap_1", "log_period_2", "ls_power_2", "log_fap_2",
                     "amplitude_g", "amplitude_r"]
    assert dm.model_inputs() == {"num_object_features": 8}
    batch = next(iter(dm.train_dataloader()))
    assert batch["objects", "features"].shape == (batch["objects"].batch_size[0], 8)
    feats = dm.td["objects", "features"][dm.td["objects", "train_mask"]]
    assert torch.allclose(feats.mean(0), torch.zeros(8), atol=1e-5)  # standardised on the training split
    x = dm.baseline_features("test")
    assert x.shape == (len(dm.targets("test")), 8)
    assert dm.preprocessing()["object_scaler"]["feature_names"] == names
    pc = dm.td["objects", "period_catalogue"]
    ids = dm.td["objects", "id"]
    with_p, without = ids[torch.isfinite(pc)][:1].tolist(), ids[~torch.isfinite(pc)][:1].tolist()  # non-variables
    curves = dm.light_curves(with_p + without)
    assert [c["period_source"] for c in curves] == ["catalogue", "periodogram"][:len(curves)]
    assert curves[0]["period"] == pytest.approx(float(pc[torch.isfinite(pc)][0]))
    none = LightCurveDataModule(path=str(ep), objects=str(ob), use_cache=False, period_column=None)
    none.setup()
    assert none.model_inputs() == {} and none.baseline_features("test") is None
    assert none.light_curves(none.td["objects", "id"][:1].tolist())[0]["period_source"] == "periodogram"


@pytest.mark.parametrize("bands, order", [
    (["g", "i", "r", "u", "z"], ["u", "g", "r", "i", "z"]),        # SDSS, as the data module sorts them
    (["BP", "G", "RP"], ["BP", "G", "RP"]),                       # Gaia epoch photometry: G is not SDSS g
    (["ZTF_r", "ztfg", "ZTF_i"], ["ztfg", "ZTF_r", "ZTF_i"]),
    (["V", "B"], ["B", "V"]),
    (["c", "o"], ["c", "o"]),                                     # ATLAS cyan, orange
])
def test_colours_pair_bands_in_wavelength_order(bands, order):
    from astrolab.data.bands import wavelength_order

    assert [bands[i] for i in wavelength_order(bands)] == order
    assert wavelength_order(["g", "mystery"]) is None  # an unknown name: no order is trusted


def test_sdss_colours_are_u_g_g_r_r_i_i_z():
    from astrolab.data.lc_features import object_features

    rng = np.random.default_rng(5)
    n = 250
    t = np.sort(rng.uniform(0, 1000, n))
    band = rng.integers(0, 5, n)  # index into the sorted SDSS names g i r u z
    level = np.array([15.0, 14.6, 14.8, 16.2, 14.5])[band]
    y = level + 0.3 * np.sin(2 * np.pi * t / 0.55) + rng.normal(0, 0.03, n)
    dy = np.full(n, 0.03)
    peaks = cached_periods(None, t, y, dy, band, np.array([0]), np.array([n]), PeriodSearch(min_period=0.1))[0]
    x, names = object_features(["periods", "colours"], t, y, dy, band, np.ones(n, bool), np.zeros(n, int), 1,
                               ["g", "i", "r", "u", "z"], peaks)
    col = dict(zip(names, x[0]))
    assert [k for k in names if k.startswith("colour_")] == ["colour_u_g", "colour_g_r", "colour_r_i", "colour_i_z"]
    assert col["colour_u_g"] == pytest.approx(1.2, abs=0.05) and col["colour_i_z"] == pytest.approx(0.1, abs=0.05)
