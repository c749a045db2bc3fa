"""Phase-space channels: volumes, conservation laws and the shared acceptance helpers."""

import math

import numpy as np
import pytest

from alpfusion import constants
from alpfusion.kinematics import in_acceptance, min_pair_mass, pair_separated
from alpfusion.samples.dirac import msq
from alpfusion.samples.phasespace import (
    ForwardBackwardPair,
    SequentialPair,
    TwoBody,
    boost_from_rest,
)

from .conftest import SQRT_S

ME = constants.M_ELECTRON


def volume(channel, n, seed, cut=None):
    """Monte Carlo estimate of the channel's phase-space volume and its error."""
    rng = np.random.default_rng(seed)
    momenta, w = channel(rng.random((n, channel.dim)), rng.uniform(0, 2 * np.pi, n))
    if cut is not None:
        w = w * cut(momenta)
    return w.mean(), w.std() / math.sqrt(n), momenta, w


def test_massless_three_body_volume():
    """Phi_3 = s / (256 pi^3) for three massless particles (e.g. Byckling & Kajantie)."""
    exact = SQRT_S**2 / (256 * math.pi**3)
    chan = SequentialPair(SQRT_S, 0.0, 0.0, m_ee_min=1e-9)
    mean, err, *_ = volume(chan, 400_000, seed=1)
    assert abs(mean - exact) < 4 * err


@pytest.mark.parametrize("m_x", [0.0, 1.0, 6.0])
def test_channels_agree_on_massive_volume(m_x):
    """Two different parametrisations of the same phase space give the same volume."""
    fb = volume(ForwardBackwardPair(SQRT_S, ME, m_x, -1.0, 1.0, 0.0), 1_000_000, seed=2)
    seq = volume(SequentialPair(SQRT_S, ME, m_x, 2 * ME), 400_000, seed=3)
    assert abs(fb[0] - seq[0]) < 4 * math.hypot(fb[1], seq[1])


def test_channels_agree_inside_acceptance(cfg):
    acc = cfg.acceptance.__class__(theta_min_deg=22, theta_max_deg=158, energy_min=0.25, delta_r_ee_min=0.4)
    lo, hi = acc.cos_theta_range

    def cut(m):
        em, ep = m["e_minus"], m["e_plus"]
        return in_acceptance(em, acc) & in_acceptance(ep, acc) & pair_separated(em, ep, acc)

    fb = volume(ForwardBackwardPair(SQRT_S, 0.0, 1.0, lo, hi, acc.energy_min), 400_000, 4, cut)
    seq = volume(SequentialPair(SQRT_S, 0.0, 1.0, min_pair_mass(acc, 0.0)), 400_000, 5, cut)
    assert abs(fb[0] - seq[0]) < 4 * math.hypot(fb[1], seq[1])


@pytest.mark.parametrize(
    "make",
    [
        lambda: ForwardBackwardPair(SQRT_S, ME, 2.0, -0.9, 0.9, 0.25),
        lambda: ForwardBackwardPair(SQRT_S, 0.0, 2.0, -0.9, 0.9, 0.25),
        lambda: SequentialPair(SQRT_S, ME, 2.0, 2 * ME),
        lambda: TwoBody(SQRT_S, (0.0, 2.0), ("photon", "invisible"), -0.5, 0.9),
    ],
)
def test_momentum_conservation_and_mass_shells(make):
    chan = make()
    _, _, momenta, w = volume(chan, 20_000, seed=6)
    ok = w > 0
    total = sum(momenta.values())[ok]
    assert np.allclose(total, [SQRT_S, 0, 0, 0], atol=1e-10)
    masses = {"e_minus": chan.m_e if hasattr(chan, "m_e") else 0.0, "photon": 0.0}
    for name, mass in masses.items():
        if name in momenta:
            assert np.allclose(msq(momenta[name][ok]), mass**2, atol=1e-9)
    assert np.allclose(np.sqrt(np.maximum(msq(momenta["invisible"][ok]), 0)), 2.0, atol=1e-8)


def test_forward_backward_cuts_are_built_in():
    chan = ForwardBackwardPair(SQRT_S, ME, 1.0, -0.8, 0.7, 0.5)
    _, _, momenta, w = volume(chan, 50_000, seed=7)
    for name in ("e_minus", "e_plus"):
        p = momenta[name][w > 0]
        cos = p[:, 3] / np.linalg.norm(p[:, 1:], axis=1)
        assert cos.min() >= -0.8 - 1e-12 and cos.max() <= 0.7 + 1e-12 and p[:, 0].min() >= 0.5


def test_boost_from_rest():
    rng = np.random.default_rng(8)
    parent = np.array([[5.0, 1.0, -2.0, 3.0]] * 10)
    m = math.sqrt(msq(parent[0]))
    rest = np.concatenate([np.full((10, 1), m), np.zeros((10, 3))], axis=1)
    assert np.allclose(boost_from_rest(rest, parent, m), parent)
    p = rng.normal(size=(10, 4))
    p[:, 0] = np.abs(p[:, 0]) + 3
    assert np.allclose(msq(boost_from_rest(p, parent, m)), msq(p))


def test_min_pair_mass_is_a_lower_bound(cfg):
    """Brute force: no accepted, separated pair of electrons lies below the bound."""
    acc = cfg.acceptance.__class__(theta_min_deg=22, theta_max_deg=158, energy_min=0.25, delta_r_ee_min=0.4)
    rng = np.random.default_rng(9)
    n = 1_000_000
    cos = rng.uniform(*acc.cos_theta_range, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    sin = np.sqrt(1 - cos**2)
    a = np.stack([np.full(n, 0.25), 0.25 * sin * np.cos(phi), 0.25 * sin * np.sin(phi), 0.25 * cos], -1)
    d = a[:, 1:] + rng.normal(size=(n, 3)) * 0.05
    b = np.concatenate([np.full((n, 1), 0.25), 0.25 * d / np.linalg.norm(d, axis=1)[:, None]], axis=1)
    ok = in_acceptance(a, acc) & in_acceptance(b, acc) & pair_separated(a, b, acc)
    m = np.sqrt(np.maximum(msq(a + b), 0))
    assert ok.sum() > 10_000
    assert m[ok].min() > min_pair_mass(acc, 0.0)
