"""Pseudo-experiments with the MC-statistical parameters profiled in closed form, against pyhf's fits."""

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pyhf
import pytest
from pyhf.infer.calculators import EmpiricalDistribution, ToyCalculator

from alpfusion.fits import LimitError
from alpfusion.fits.cls import expected_limit
from alpfusion.fits.toys import StatErrorModel, ToyRanks, cls_quantiles, crossing, toy_band


def staterror_model():
    """Four bins: background-free, small, medium and large background, each with MC-statistical errors."""
    signal = {
        "name": "signal",
        "data": [2.0, 1.0, 0.5, 3.0],
        "modifiers": [
            {"name": "mu", "type": "normfactor", "data": None},
            {"name": "stat", "type": "staterror", "data": [0.2, 0.1, 0.1, 0.3]},
        ],
    }
    background = {
        "name": "bkg",
        "data": [0.0, 4.0, 20.0, 400.0],
        "modifiers": [{"name": "stat", "type": "staterror", "data": [0.0, 1.0, 2.0, 20.0]}],
    }
    return pyhf.Model({"channels": [{"name": "c", "samples": [signal, background]}]}, poi_name="mu")


@pytest.fixture
def minuit():
    """pyhf's fits with MINUIT converged far below the test's tolerance, the backend restored after."""
    backend = pyhf.get_backend()
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0, tolerance=1e-4))
    yield
    pyhf.set_backend(*backend)


def test_q_mu_tilde_agrees_with_pyhf_fits_toy_by_toy(minuit):
    """q~_mu from the closed-form profile equals pyhf's `qmu_tilde` (two MINUIT fits over mu and every
    gamma) on signal-plus-background and background-only toys, including toys with mu_hat > mu (q = 0),
    mu_hat at 0 and counts in the background-free bin."""
    model = staterror_model()
    binned = StatErrorModel.from_pyhf(model)
    rng = np.random.default_rng(3)
    counts, aux = (np.concatenate(pair) for pair in zip(*(binned.toys(m, 30, rng) for m in (3.0, 0.0))))
    ours = binned.qmu_tilde(3.0, counts, aux)
    bounds = [(0.0, 100.0), *[tuple(b) for b in model.config.suggested_bounds()[1:]]]
    init, fixed = model.config.suggested_init(), model.config.suggested_fixed()
    toys = (np.concatenate([n, a]) for n, a in zip(counts, aux))
    theirs = [float(pyhf.infer.test_statistics.qmu_tilde(3.0, x, model, init, bounds, fixed)) for x in toys]
    assert np.allclose(ours, theirs, rtol=0.0, atol=1e-5)
    assert (ours == 0).any() and (ours > 1).any() and (counts[:, 0] > 0).any()


def test_free_mu_is_the_zero_of_the_profiled_slope():
    """mu_hat from regula falsi equals a scalar root finder's zero of the slope toy by toy, to the
    tolerance, and sits on the bounds where the slope does not change sign; the slope is the derivative
    of the profiled -2 ln L (envelope theorem), checked by finite differences."""
    from scipy.optimize import brentq

    from alpfusion.fits.toys import MU_TOLERANCE

    binned = StatErrorModel.from_pyhf(staterror_model())
    rng = np.random.default_rng(5)
    counts, aux = (np.concatenate(pair) for pair in zip(*(binned.toys(m, 200, rng) for m in (3.0, 0.0))))
    upper = 4.0
    assert np.isinf(binned.slope(np.zeros(len(counts)), counts, aux)).any()  # counts in the background-free bin
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an infinite slope bisects, quietly
        mu_hat = binned.free_mu(upper, counts, aux)
    for n, a, found in zip(counts, aux, mu_hat):

        def slope(mu, n=n, a=a):
            return binned.slope(np.array([mu]), n[None], a[None])[0]

        if slope(0.0) >= 0:
            assert found == 0.0
        elif slope(upper) <= 0:
            assert found == upper
        else:
            assert abs(found - brentq(slope, 0.0, upper, xtol=1e-15, rtol=1e-15)) <= MU_TOLERANCE * upper
    inside = (mu_hat > 0) & (mu_hat < upper)
    assert inside.sum() > 100 and (mu_hat == 0).any() and (mu_hat == upper).any()
    mu, h = np.full(len(counts), 1.3), 1e-5
    numeric = (binned.twice_nll(mu + h, counts, aux) - binned.twice_nll(mu - h, counts, aux)) / (2 * h)
    assert np.allclose(binned.slope(mu, counts, aux), numeric, rtol=1e-6, atol=1e-6)


def test_conditional_gammas_are_pyhf_conditional_fit(minuit):
    """The toys' nuisance parameters: pyhf's fit at fixed mu on the background-only Asimov data."""
    model = staterror_model()
    binned = StatErrorModel.from_pyhf(model)
    data = model.expected_data([0.0, 1.0, 1.0, 1.0, 1.0])
    fitted = pyhf.infer.mle.fixed_poi_fit(2.0, data, model)
    ours = binned.conditional_gamma(2.0, binned.background[None, :], np.ones((1, 4)))[0]
    assert np.allclose(ours, fitted[1:], atol=1e-5)
    assert not np.allclose(ours, 1.0, atol=1e-3)  # the signal pulls them away from nominal


def test_cls_quantiles_are_pyhfs_expected_pvalues():
    """The vectorised expected CLs equal pyhf's ToyCalculator.expected_pvalues, ties included."""
    rng = np.random.default_rng(7)
    signal_like = np.round(rng.exponential(1.0, 500), 1)
    background_like = np.round(rng.exponential(3.0, 400), 1)
    calculator = ToyCalculator(staterror_model().expected_data([0.0, 1.0, 1.0, 1.0, 1.0]), staterror_model())
    theirs = calculator.expected_pvalues(EmpiricalDistribution(signal_like), EmpiricalDistribution(background_like))
    assert np.allclose(cls_quantiles(signal_like, background_like), [float(c) for c in theirs[2]], rtol=1e-12)


def test_crossing_is_exact_for_the_background_free_cls():
    """CLs = exp(-s) is linear in ln CLs: the crossing is -ln 0.05 whatever the scan's spacing."""
    mu = np.array([1.0, 2.0, 2.5, 4.5, 6.0])
    assert crossing(mu, np.exp(-mu), 1e-4) == pytest.approx(-math.log(0.05), rel=1e-12)
    assert crossing(mu, np.full(5, 0.5), 1e-4) == 6.0  # never below: the scan's last point
    assert crossing(mu, np.full(5, 0.01), 1e-4) == 1.0  # below from the start: its first point


def test_a_resampling_of_ranked_toys_gives_cls_quantiles_median():
    """ToyRanks.median_cls, from counts per toy, is cls_quantiles' median on the resampled toys themselves,
    ties between and within the two sets of toys included."""
    rng = np.random.default_rng(3)
    for trial in range(100):
        n = int(rng.integers(5, 60))
        signal_like, background_like = (np.round(rng.exponential(size=n), 1) for _ in range(2))
        if trial % 3 == 0:  # many toys at one q, as where nothing is observed
            signal_like[: n // 2] = background_like[: n // 3] = background_like[0]
        pick_s, pick_b = rng.integers(0, n, n), rng.integers(0, n, n)
        rank_s = np.empty(n, dtype=int)
        rank_s[np.argsort(signal_like, kind="stable")] = np.arange(n)
        ranked = ToyRanks.of(signal_like, background_like)
        ours = ranked.median_cls(np.bincount(rank_s[pick_s], minlength=n), np.bincount(pick_b, minlength=n))
        assert ours == pytest.approx(cls_quantiles(signal_like[pick_s], background_like[pick_b])[2], rel=1e-12)


def counting_model(background: float) -> StatErrorModel:
    """One bin: signal 1 at mu = 1 and ``background``, known exactly (no MC-statistical constraint)."""
    one = np.ones(1)
    return StatErrorModel(one, np.full(1, background), np.zeros(1), one, one)


@pytest.mark.parametrize(
    ("background", "scan", "ntoys"), [(0.0, np.geomspace(1.0, 8.0, 17), 2000), (3.0, np.geomspace(2.0, 16.0, 17), 500)]
)
def test_toys_median_error_is_their_scatter_over_seeds(background, scan, ntoys):
    """The bootstrap's error of the toys' median limit, averaged over 60 seeds, is the scatter of that
    median over the same seeds, within three combined standard errors (a standard deviation from n values
    is known to 1 / sqrt(2 (n - 1)); the bootstrap's own scatter from seed to seed is measured).
    Without background CLs at mu is the fraction of signal-plus-background toys that observe nothing, a
    binomial estimate of exp(-mu): interpolated between the two tested mu around the limit it alone would
    give 0.069 here; taking the first mu where CLs falls below 0.05 makes it 0.082 (200 seeds)."""
    n = 60
    bands = [toy_band(counting_model(background), scan, ntoys, seed) for seed in range(n)]
    scatter = np.std([b.band[2] for b in bands], ddof=1)
    errors = np.array([b.median_error for b in bands])
    tolerance = 3.0 * math.hypot(1.0 / math.sqrt(2 * (n - 1)), errors.std(ddof=1) / math.sqrt(n) / errors.mean())
    assert errors.mean() == pytest.approx(scatter, rel=tolerance)


def test_a_model_with_other_nuisance_parameters_is_refused():
    model = pyhf.simplemodels.uncorrelated_background(signal=[1.0], bkg=[2.0], bkg_uncertainty=[1.0])
    with pytest.raises(LimitError, match="staterror"):
        StatErrorModel.from_pyhf(model)


def test_toys_on_a_mass_point_where_pyhfs_fits_fail():
    """A mass point of the default run (3e10 background events in its last S/B group, two signal events
    at the limit, one background-free group), where pyhf's SLSQP returned wrong q~_mu for one toy in six
    and MINUIT failed to converge: the limit is the background-free counting experiment's, -ln 0.05 =
    3.0 signal events in the background-free group (the other groups lower it slightly), within three
    times the toys' error, sqrt(0.05 0.95 / N) / 0.05 in events. Asymptotically: 1.92 events."""
    spec = json.loads((Path(__file__).parent / "data" / "minuit_edm_ma0p200.json").read_text())
    model = pyhf.Workspace(spec).model()
    binned = StatErrorModel.from_pyhf(model)
    free_signal = binned.signal[binned.background == 0].sum()
    ntoys = 1000
    limit = expected_limit(model, method="toys", ntoys=ntoys, seed=2)
    error = math.sqrt(0.05 * 0.95 / ntoys) / 0.05
    assert limit.median * free_signal == pytest.approx(-math.log(0.05), abs=3 * error)
    assert limit.band[0] < limit.band[1] <= limit.median <= limit.band[3] < limit.band[4]
