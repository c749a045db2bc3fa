"""Limit criteria: Lambda by hand, CLs on a counting experiment with a known answer."""

import json
import math
from pathlib import Path

import numpy as np
import pyhf
import pytest

from alpfusion.fits.cls import expected_limit
from alpfusion.fits.poisson import (
    coupling_from_mu,
    lambda_bound,
    lambda_carriers,
    lambda_per_bin,
    mu_at_lambda,
    poisson_lambda,
)


def test_lambda_by_hand():
    # bin 1: S = 2, B = 3: 2 [2 - 3 ln(5/3)];  bin 2: S = 1.5, B = 0: 2 * 1.5;  bin 3: nothing
    expected = 2 * (2 - 3 * math.log(5 / 3)) + 3.0
    assert poisson_lambda([2.0, 1.5, 0.0], [3.0, 0.0, 7.0]) == pytest.approx(expected, rel=1e-14)
    terms = lambda_per_bin([2.0, 1.5, 0.0], [3.0, 0.0, 7.0])  # each bin's part of the same sum
    assert terms == pytest.approx([2 * (2 - 3 * math.log(5 / 3)), 3.0, 0.0], rel=1e-14, abs=1e-300)
    # the log-likelihood ratio written out from L(S, B) = (S+B)^B / B! e^-(S+B) (B integer here)
    s, b = 2.0, 3.0
    log_l = lambda sig: b * math.log(sig + b) - math.lgamma(b + 1) - (sig + b)
    assert poisson_lambda([s], [b]) == pytest.approx(-2 * (log_l(s) - log_l(0)), rel=1e-14)


def test_the_bins_that_carry_lambda():
    """At Lambda = 4 (mu S = 1.98 events per bin here) a background-free bin gives 2 mu S = 3.96, B = 100
    2 [mu S - B ln(1 + mu S / B)] = 0.039, B = 10^4 0.0004, no signal nothing: shares 0.990, 0.0097,
    10^-4, 0. The fewest bins carrying a share of Lambda, largest terms first."""
    s, b = [1.0, 1.0, 1.0, 0.0], [1e4, 0.0, 1e2, 0.0]
    mu_s = mu_at_lambda(s, b)
    terms = [2 * (mu_s - b_i * math.log1p(mu_s / b_i)) for b_i in (1e4, 1e2)]  # the two bins with B
    terms.insert(1, 4.0 - sum(terms))  # Lambda = 4: the background-free bin gives the rest, 2 mu S
    assert terms[1] == pytest.approx(2 * mu_s) and np.array(terms) / 4 == pytest.approx(
        [9.8e-5, 0.990, 0.0097], rel=0.01
    )
    assert list(lambda_carriers(s, b, 0.5)) == [1]
    assert list(lambda_carriers(s, b, 0.999)) == [1, 2]
    assert list(lambda_carriers(s, b, 0.99995)) == [1, 2, 0]


def test_lambda_limits_and_coupling():
    # background-free: Lambda = 2 mu S = 4 at mu S = 2 events
    assert mu_at_lambda([0.5, 0.5], [0.0, 0.0]) == pytest.approx(2.0)
    # large background: Lambda ~ (mu S)^2 / B, so mu S = 2 sqrt(B)
    assert mu_at_lambda([1.0], [1e6]) == pytest.approx(2 * math.sqrt(1e6), rel=1e-3)
    mu = mu_at_lambda([1.0, 2.0], [3.0, 0.5])
    assert poisson_lambda([mu, 2 * mu], [3.0, 0.5]) == pytest.approx(4.0, rel=1e-9)
    assert mu_at_lambda([0.0], [1.0]) == math.inf
    assert coupling_from_mu(4.0, 1e-4) == pytest.approx(2e-4)
    with pytest.raises(ValueError):
        poisson_lambda([1.0], [-1.0])


def test_merged_bins_never_have_more_lambda():
    """Lambda is twice the Kullback-Leibler divergence of Pois(B) from Pois(B + S) summed over bins, and a
    sum of Poisson counts is Poisson: merging bins cannot raise it (data-processing inequality), so the
    limit of merged bins bounds the fine bins' from above, and lambda_bound takes the tighter bound."""
    rng = np.random.default_rng(11)
    for _ in range(200):
        n = rng.integers(2, 40)
        s = rng.exponential(1.0, n) * (rng.random(n) < 0.8)
        b = rng.exponential(10.0, n) ** 2 * (rng.random(n) < 0.7)  # some bins background-free
        group = rng.integers(0, rng.integers(1, n + 1), n)
        s_merged, b_merged = np.bincount(group, s), np.bincount(group, b)
        for mu in (0.1, 1.0, 30.0):
            assert poisson_lambda(mu * s_merged, b_merged) <= poisson_lambda(mu * s, b) * (1 + 1e-12) + 1e-12
        if s.sum() > 0:
            assert mu_at_lambda(s_merged, b_merged) >= mu_at_lambda(s, b) * (1 - 1e-9)
    # a KL divergence by hand: Lambda of one bin from the Poisson probabilities summed over the counts
    k = np.arange(200)
    log_p = lambda lam: k * np.log(lam) - lam - np.array([math.lgamma(x + 1) for x in k])
    kl = np.sum(np.exp(log_p(3.0)) * (log_p(3.0) - log_p(5.0)))
    assert poisson_lambda([2.0], [3.0]) == pytest.approx(2 * kl, rel=1e-12)
    measured = [3.0, 0.5]  # every merged group holds background MC
    assert lambda_bound(2e-4, 1e-4, measured) == 1e-4 and lambda_bound(1e-4, 2e-4, measured) == 1e-4
    assert lambda_bound(1e-4, math.nan, measured) == 1e-4 and lambda_bound(1e-4, math.inf, measured) == 1e-4
    assert lambda_bound(2e-4, 1e-4, [3.0, 0.0]) == 2e-4  # a group without MC measures nothing: no bound


def counting_model():
    """One bin, a signal of 1 event per unit mu, no background and no uncertainty."""
    spec = {
        "channels": [
            {
                "name": "count",
                "samples": [
                    {"name": "signal", "data": [1.0], "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]}
                ],
            }
        ]
    }
    return pyhf.Model(spec, poi_name="mu")


def test_cls_counting_experiment_with_toys():
    """With no background, CLs = CLs+b = P(n = 0 | s) = exp(-s): the limit is -ln 0.05 = 2.996 events.

    Estimated from toys at mu = 2.8 and 3.2 (ln CLs interpolated linearly: exact for exp(-s)); the
    error of the toy CLs, sqrt(p (1 - p) / N), maps to an error on mu of that divided by p
    (dCLs/dmu = -CLs).
    """
    ntoys = 3000
    limit = expected_limit(counting_model(), method="toys", scan=[2.8, 3.2], ntoys=ntoys, seed=1)
    error = math.sqrt(0.05 * 0.95 / ntoys) / 0.05
    assert abs(limit.median - (-math.log(0.05))) < 3 * error


def test_toys_where_the_limit_is_far_below_mu_1():
    """A signal of 1000 events per unit mu puts the limit at mu = 3.0e-3, where the POI's range ends far
    below the model's initial mu = 1: the pseudo-experiments start inside it and give the same answer
    (scaled by 1000) as the counting experiment above."""
    spec = counting_model().spec
    spec["channels"][0]["samples"][0]["data"] = [1000.0]
    model = pyhf.Model(spec, poi_name="mu")
    ntoys = 1000
    limit = expected_limit(model, method="toys", ntoys=ntoys, seed=2)
    error = math.sqrt(0.05 * 0.95 / ntoys) / 0.05
    assert abs(1000.0 * limit.median - (-math.log(0.05))) < 3 * error


def test_cls_counting_experiment_asymptotic_differs():
    """The asymptotic formulae give 1.96^2 / 2 = 1.92 events here, not 3.0: on background-free Asimov
    data q = 2 mu and CLs = 2 (1 - Phi(sqrt q)); asymptotics fail for zero background (documented)."""
    limit = expected_limit(counting_model())
    assert limit.median == pytest.approx(1.959964**2 / 2, rel=1e-3)
    assert limit.band[0] < limit.band[1] < limit.median < limit.band[3] < limit.band[4]


def test_cls_large_background_matches_gaussian():
    """For B >> 1 asymptotics hold: the median expected limit is mu S = 1.96 sqrt(B) (CLs on Asimov)."""
    spec = {
        "channels": [
            {
                "name": "c",
                "samples": [
                    {
                        "name": "signal",
                        "data": [1.0],
                        "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                    },
                    {"name": "bkg", "data": [10000.0], "modifiers": []},
                ],
            }
        ]
    }
    limit = expected_limit(pyhf.Model(spec, poi_name="mu"))
    assert limit.median == pytest.approx(1.96 * 100, rel=0.01)


def test_asymptotic_band_agrees_with_pyhf_root_finding():
    """The closed-form band (eq. 89 of arXiv:1007.1727, the profile in closed form) against pyhf's
    toms748 root finding over `hypotest` with tightly converged MINUIT fits, on a model with
    MC-statistical uncertainties."""
    spec = {
        "channels": [
            {
                "name": "c",
                "samples": [
                    {
                        "name": "signal",
                        "data": [2.0, 1.0, 0.5],
                        "modifiers": [
                            {"name": "mu", "type": "normfactor", "data": None},
                            {"name": "stat", "type": "staterror", "data": [0.2, 0.1, 0.1]},
                        ],
                    },
                    {
                        "name": "bkg",
                        "data": [1.0, 4.0, 20.0],
                        "modifiers": [{"name": "stat", "type": "staterror", "data": [0.5, 1.0, 2.0]}],
                    },
                ],
            }
        ]
    }
    model = pyhf.Model(spec, poi_name="mu")
    ours = expected_limit(model)
    data = model.expected_data(
        np.array([0.0 if i == model.config.poi_index else v for i, v in enumerate(model.config.suggested_init())])
    )
    backend = pyhf.get_backend()
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0, tolerance=1e-5))
    try:
        _, theirs = pyhf.infer.intervals.upper_limits.upper_limit(data, model, scan=None, rtol=1e-8)
    finally:
        pyhf.set_backend(*backend)
    assert np.allclose(ours.band, [float(t) for t in theirs], rtol=1e-5)  # measured: 4e-7


def test_toys_leave_the_global_random_state_and_backend_alone():
    """The toys draw from their own seeded generator, not numpy's global random state; pyhf's backend
    is not touched."""
    import pyhf

    np.random.seed(99)
    state, backend = np.random.get_state(), pyhf.get_backend()
    first = expected_limit(counting_model(), method="toys", scan=[2.8, 3.2], ntoys=200, seed=3)
    after = np.random.get_state()
    assert after[0] == state[0] and np.array_equal(after[1], state[1]) and after[2:] == state[2:]
    assert pyhf.get_backend() == backend
    assert expected_limit(counting_model(), method="toys", scan=[2.8, 3.2], ntoys=200, seed=3) == first


def test_the_asymptotic_limit_where_pyhfs_fits_fail():
    """A mass point of the default run with the QED sample of half its generation cuts (3e10 background
    events, two signal events at the limit, one background-free S/B group), where MINUIT's fits at
    pyhf's default tolerance stopped short of the minimum: the closed-form profile has no minimiser to
    fail, and the median lies where a background-free limit must, at 1.92 / 2 of the Lambda = 4 signal
    strength (up to the staterrors and the other groups)."""
    spec = json.loads((Path(__file__).parent / "data" / "minuit_edm_ma0p200.json").read_text())
    model = pyhf.Workspace(spec).model()
    limit = expected_limit(model)
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    pars[model.config.poi_index] = 0.0
    background = model.expected_actualdata(pars)
    pars[model.config.poi_index] = 1.0
    lambda_mu = mu_at_lambda(model.expected_actualdata(pars) - background, background)
    assert 0.9 < limit.median / lambda_mu < 1.0


def test_a_model_of_another_structure_is_refused():
    """The closed-form profile holds for per-bin staterror only: a shapesys is refused with the reason."""
    from alpfusion.fits import LimitError

    model = pyhf.simplemodels.uncorrelated_background(signal=[1.0], bkg=[2.0], bkg_uncertainty=[1.0])
    with pytest.raises(LimitError, match="staterror"):
        expected_limit(model)
