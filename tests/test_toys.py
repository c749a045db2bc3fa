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
from alpfusion.fits.toys import StatErrorModel, cls_quantiles, crossing


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
