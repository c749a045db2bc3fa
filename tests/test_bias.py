"""Biased generation: exact weights whatever the bias, the bias part of a sample's identity."""

import math

import numpy as np
import pytest
import vegas

from alpfusion import workflow
from alpfusion.config import ConfigError, Vegas, load_config
from alpfusion.observables import compute_observables, diagonal_side, four_momenta, missing_pt_fraction
from alpfusion.samples.bias import truth_observables
from alpfusion.samples.generator import Generator, _jacobian, _mixture_bounds
from alpfusion.samples.production import produce, up_to_date
from alpfusion.samples.rootio import read_metadata, read_sample

TAIL = 0.05  # the rare region x < TAIL of the toy integrand


class ToyChannel:
    """The unit interval as 'phase space': x -> a four-vector (x, 0, 0, 0), unit weight."""

    name = "toy"
    dim = 1

    def __call__(self, y, azimuth):
        x = y[:, 0]
        return {"e_minus": np.stack([x, 0 * x, 0 * x, 0 * x], axis=1)}, np.ones(len(x))


class ToyProcess:
    """dsigma/dx = 3 x^2 on [0, 1]: sigma = 1, and 1.25e-4 of it below x = 0.05."""

    name = "toy"
    particles = ("e_minus",)
    channels = (ToyChannel(),)

    def differential(self, channel, momenta, ps_weight):
        x = momenta["e_minus"][:, 0]
        return 3.0 * x * x * ps_weight

    def metadata(self):
        return {"process": "toy"}


def tail_bias(momenta):
    return np.where(momenta["e_minus"][:, 0] < TAIL, 1e4, 1.0)


def estimates(seed, bias, n=20_000, defensive=0.0, maps=1):
    """(sigma, tail sigma, tail error) from the weights of n draws."""
    gen = Generator(ToyProcess(), Vegas(nitn=5, neval=2000, ninc=100, alpha=0.5), seed, bias, defensive, maps)
    chunk = next(iter(gen.events(n, n).chunks()))
    x, w = chunk["e_minus_E"], chunk["weight"]
    # the weights of all n draws: those not written are zero
    tail = x < TAIL
    tail_sum = w[tail].sum()
    tail_error = math.sqrt(max((w[tail] ** 2).sum() - tail_sum**2 / n, 0.0))
    return w.sum(), tail_sum, tail_error


@pytest.mark.parametrize(("defensive", "maps"), [(0.0, 1), (0.2, 1), (0.2, 3)])
def test_a_strong_bias_is_recovered_exactly_in_expectation(defensive, maps):
    """1D toy with a known integral: the bias (10^4 below x = 0.05) moves the MC there, the weights
    keep every estimate unbiased: the mean over seeds agrees with the exact value within its error,
    and the tail's MC error shrinks by far; the estimates stay unbiased with a defensive share of draws
    from the plain map too (which costs the tail some of its draws), and with the draws of three
    biased maps, each weight dsigma over the whole mixture's density."""
    exact_tail = TAIL**3
    biased = np.array([estimates(seed, tail_bias, defensive=defensive, maps=maps) for seed in range(12)])
    plain = np.array([estimates(seed, None) for seed in range(12)])
    for values in (biased, plain):
        mean_total = values[:, 0].mean()
        assert abs(mean_total - 1.0) < 4 * values[:, 0].std(ddof=1) / math.sqrt(len(values)) + 1e-12
    mean_tail, spread = biased[:, 1].mean(), biased[:, 1].std(ddof=1) / math.sqrt(len(biased))
    assert abs(mean_tail - exact_tail) < 4 * spread
    if defensive == 0:
        assert np.median(biased[:, 2]) < 0.1 * np.median(plain[:, 2])  # at least 10 times smaller MC error


class HalvesProcess(ToyProcess):
    """The toy's dsigma/dx = 3 x^2 split into two channels: x < 1/2 (sigma 1/8) and x >= 1/2 (7/8)."""

    channels = (ToyChannel(), ToyChannel())

    def differential(self, channel, momenta, ps_weight):
        lower = momenta["e_minus"][:, 0] < 0.5
        return super().differential(channel, momenta, ps_weight) * (lower if channel == 0 else ~lower)


def test_channels_share_the_draws_as_the_biased_integrals():
    """With a bias of 100 on x < 1/2, the draws follow b dsigma across channels too: channel 0 gets
    100/8 / (100/8 + 7/8) = 93.5% of them (not its 12.5% of sigma), and the weights still add up to
    sigma = 1 within their error."""
    n = 40_000
    lower_bias = lambda momenta: np.where(momenta["e_minus"][:, 0] < 0.5, 100.0, 1.0)
    gen = Generator(HalvesProcess(), Vegas(nitn=5, neval=2000, ninc=100, alpha=0.5), 3, lower_bias)
    stream = gen.events(n, n)
    chunk = next(iter(stream.chunks()))
    share = np.mean(chunk["e_minus_E"] < 0.5)
    expected = 12.5 / 13.375
    assert abs(share - expected) < 5 * math.sqrt(expected * (1 - expected) / n)
    xs = stream.cross_section()
    assert abs(xs.sigma - 1.0) < 4 * xs.error


class SquareChannel:
    """The unit square as 'phase space': (x, y) -> a four-vector (x, y, 0, 0), unit weight."""

    name = "square"
    dim = 2

    def __call__(self, y, azimuth):
        return {"e_minus": np.stack([y[:, 0], y[:, 1], 0 * y[:, 0], 0 * y[:, 0]], axis=1)}, np.ones(len(y))


class SquareProcess(ToyProcess):
    """dsigma/dx dy = 1 on the unit square: sigma = 1, no peak anywhere."""

    channels = (SquareChannel(),)

    def differential(self, channel, momenta, ps_weight):
        return ps_weight


def corner_bias(momenta):
    """10^6 in the corner x, y < 0.02 (4e-4 of the square): b dsigma lives there, dsigma does not."""
    p = momenta["e_minus"]
    return np.where((p[:, 0] < 0.02) & (p[:, 1] < 0.02), 1e6, 1.0)


def square_weights(seed, defensive, n=20_000):
    gen = Generator(SquareProcess(), Vegas(nitn=10, neval=4000, ninc=100, alpha=0.5), seed, corner_bias, defensive)
    stream = gen.events(n, n)
    return next(iter(stream.chunks()))["weight"] * n, stream.cross_section()


def test_a_defensive_share_bounds_the_weights_where_the_bias_is_small():
    """A separable map adapted to a bias of 10^6 in a corner starves the rest of the square: its draws
    there weigh tens to hundreds of times the mean. With a share f = 0.2 of the draws from a map
    adapted to dsigma alone (uniform here), no weight exceeds 1/f times the unbiased sample's (1 for
    a uniform integrand, up to that map's adaptation noise), the corner still gets most draws, and the
    weights still add up to sigma within their error."""
    starved, _ = square_weights(1, 0.0)
    assert starved.max() > 50
    for seed in (1, 2, 3):
        weights, xs = square_weights(seed, 0.2)
        assert weights.max() < 1.1 / 0.2
        assert abs(xs.sigma - 1.0) < 4 * xs.error
        assert np.mean(weights < 0.01) > 0.5  # the corner's draws, each far lighter than the mean


class SpikeProcess(ToyProcess):
    """dsigma/dx = 1 on [0, 1] plus a spike of integral 1 and width 2e-4 at x = 0.7: sigma = 2. A
    vegas training of 5 x 1000 points hits the spike in a few of them only, so whether its map
    follows it is the training's luck."""

    def differential(self, channel, momenta, ps_weight):
        x = momenta["e_minus"][:, 0]
        return (1.0 + np.where(np.abs(x - 0.7) < 1e-4, 5000.0, 0.0)) * ps_weight


def spike_sigmas(maps, seeds=range(20), n=20_000):
    flat = lambda momenta: np.ones(len(momenta["e_minus"]))  # b = 1: every map follows dsigma
    sigmas = []
    for seed in seeds:
        gen = Generator(SpikeProcess(), Vegas(nitn=5, neval=1000, ninc=50, alpha=0.5), seed, flat, 0.0, maps)
        stream = gen.events(n, n)
        sigmas.append(next(iter(stream.chunks()))["weight"].sum())
    return np.array(sigmas)


def test_several_maps_average_the_luck_of_their_trainings():
    """One map per channel misses the spike in some trainings: its few draws there then weigh 5000
    times the others', and sigma scatters from seed to seed far beyond the draws' own error. Four
    maps from independent trainings, each weight dsigma over the mixture's density, cover the spike
    whenever one of them found it: sigma stays unbiased and scatters much less."""
    one, four = spike_sigmas(1), spike_sigmas(4)
    for sigmas in (one, four):
        assert abs(sigmas.mean() - 2.0) < 4 * sigmas.std(ddof=1) / math.sqrt(len(sigmas))
    assert four.std(ddof=1) < 0.75 * one.std(ddof=1)


def test_the_draws_of_a_mixture_follow_its_shares():
    assert _mixture_bounds(10, (1.0,)) == [0, 10]
    assert _mixture_bounds(10, (0.25, 0.75)) == [0, 2, 10]  # round half to even, as the defensive split
    assert _mixture_bounds(7, (0.2, 0.8 / 3, 0.8 / 3, 0.8 / 3)) == [0, 1, 3, 5, 7]


def test_the_density_of_a_vegas_map_at_its_points():
    """The Jacobian of a vegas map at a point x, from its grid, equals the one vegas gives when it maps
    y to x, also for maps whose dimensions have different numbers of increments (vegas's training
    leaves 198 in one dimension and 200 in the others of some QED channels)."""
    rng = np.random.default_rng(4)
    grids = [np.sort(np.r_[0.0, rng.random(n - 1) ** 3, 1.0]) for n in (198, 200, 37)]
    amap = vegas.AdaptiveMap(grids)
    y = rng.random((50_000, 3))
    x, jac = np.empty_like(y), np.empty(len(y))
    amap.map(y, x, jac)
    assert _jacobian(amap, x) == pytest.approx(jac, rel=1e-9)


def test_the_defensive_share_must_lie_in_zero_to_one():
    with pytest.raises(ValueError, match="defensive share"):
        Generator(SquareProcess(), Vegas(nitn=2, neval=1000, ninc=10, alpha=0.5), 1, corner_bias, 1.0)


def tau_config(bias, events=60_000):
    return load_config().replace(
        generation={"vegas": {"nitn": 4, "neval": 10000, "ninc": 100}},
        backgrounds={"tautau": {"events": events, "bias": bias}},
    )


SMALL_M2 = {"factors": [{"observable": "m2_miss", "points": [[3.0, 1000.0], [20.0, 1.0]]}]}


@pytest.fixture(scope="module")
def tau_samples(tmp_path_factory):
    out = tmp_path_factory.mktemp("bias")
    samples = {}
    for name, bias in (("plain", None), ("biased", SMALL_M2)):
        (job,) = workflow.plan_samples(tau_config(bias), out / name, process="ee_to_tautau")
        produce(job)
        samples[name] = (job, *read_sample(job.path))
    return samples


@pytest.mark.parametrize("estimator", ["tau_like", "beam_axis", "pair_axis"])
def test_the_bias_observables_are_the_processors_bit_for_bit(estimator):
    """The bias computes the processor's observables on vector's numpy backend (its speed): the same
    numbers as the processor's awkward path, exactly, for every c_phi estimator."""
    rng = np.random.default_rng(5)
    momenta = {}
    for name in ("e_minus", "e_plus"):
        p = rng.normal(0.0, 2.0, (500, 3))
        momenta[name] = np.column_stack([np.linalg.norm(p, axis=1) + 1e-3, p])
    ours = truth_observables(momenta, 10.58, estimator)
    ref = compute_observables(*(four_momenta(*momenta[n].T) for n in ("e_minus", "e_plus")), 10.58, estimator)
    for name, values in (("e_miss", ref.e_miss), ("m2_miss", ref.m2_miss), ("m_ee", ref.m_ee)):
        assert np.array_equal(ours[name], values), name
    assert np.array_equal(ours["abs_eta_miss"], np.abs(ref.eta_miss))
    assert np.array_equal(ours["diagonal_side"], diagonal_side(ref.m_ee, ref.m_ee_tau), equal_nan=True)
    missing = -(momenta["e_minus"] + momenta["e_plus"])
    missing[:, 0] += 10.58
    p_t = np.hypot(missing[:, 1], missing[:, 2])
    expected = np.where(missing[:, 0] > 0, p_t / missing[:, 0], np.nan)  # these electrons may exceed sqrt(s)
    assert np.allclose(ours["pt_fraction_miss"], expected, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert np.isnan(missing_pt_fraction(np.array([0.0, -1.0, 1.0]), np.array([-1.0, -1.0, 2.0]), 0.0)).all()


def test_biased_and_plain_tau_pairs_agree(tau_samples):
    """The same cross section, and the same E*_miss distribution where both are populated, within MC
    errors; the biased sample has more events at small m2_miss."""
    sums = {}
    for name, (_, arrays, _meta) in tau_samples.items():
        w = arrays["weight"]
        momenta = {
            p: np.stack([arrays[f"{p}_{c}"] for c in ("E", "px", "py", "pz")], axis=1) for p in ("e_minus", "e_plus")
        }
        obs = truth_observables(momenta, 10.58, "beam_axis")
        edges = np.linspace(0.0, 10.0, 11)
        values, _ = np.histogram(obs["e_miss"], edges, weights=w)
        variances, _ = np.histogram(obs["e_miss"], edges, weights=w * w)
        small = np.abs(obs["m2_miss"]) < 3.0
        sums[name] = (w.sum(), math.sqrt((w * w).sum()), values, variances, small.sum())
    (s1, e1, v1, var1, n1), (s2, e2, v2, var2, n2) = sums["plain"], sums["biased"]
    assert abs(s1 - s2) < 3 * math.hypot(e1, e2) * 1.0
    both = (var1 > 0) & (var2 > 0)
    chi2 = np.sum((v1[both] - v2[both]) ** 2 / (var1[both] + var2[both]))
    ndf = int(both.sum())
    assert chi2 < ndf + 4 * math.sqrt(2 * ndf)
    assert n2 > 2 * n1  # the bias moved the MC where it was asked to


def test_the_bias_is_part_of_the_sample_identity(tau_samples, tmp_path):
    job, _, meta = tau_samples["biased"]
    assert meta["bias"]["bias"]["factors"][0]["observable"] == "m2_miss" and meta["sample_key"] == job.key
    assert read_metadata(job.path)["sample_key"] == job.key
    folder = job.path.parent
    (same,) = workflow.plan_samples(tau_config(SMALL_M2), folder, process="ee_to_tautau")
    assert up_to_date(same)
    other_bias = {"factors": [{"observable": "m2_miss", "points": [[3.0, 100.0], [20.0, 1.0]]}]}
    default_estimator = tau_config(SMALL_M2).observables.cphi_estimator
    other_estimator = "beam_axis" if default_estimator == "tau_like" else "tau_like"
    for cfg in (
        tau_config(other_bias),
        tau_config(None),
        tau_config(SMALL_M2).replace(observables={"cphi_estimator": other_estimator}),
    ):
        (changed,) = workflow.plan_samples(cfg, folder, process="ee_to_tautau")
        assert not up_to_date(changed)
    (plain,) = workflow.plan_samples(tau_config(None), tmp_path, process="ee_to_tautau")
    assert "bias" not in plain.identity  # samples without a bias keep the keys they had


@pytest.mark.parametrize(
    "points, problem",
    [
        ([[0.0, 0.5], [1.0, 2.0]], "at least 1"),
        ([[1.0, 1.0], [0.5, 2.0]], "strictly increasing"),
        ([[1.0, 1.0]], "at least 2 entries"),
    ],
)
def test_bad_biases_are_refused(points, problem):
    with pytest.raises(ConfigError, match=problem):
        tau_config({"factors": [{"observable": "m_ee", "points": points}]})


def test_a_biased_sample_cannot_be_unweighted(tmp_path):
    with pytest.raises(workflow.WorkflowError, match="cannot be unweighted"):
        workflow.plan_samples(tau_config(SMALL_M2), tmp_path, process="ee_to_tautau", unweight=True)
