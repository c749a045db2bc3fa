"""Shared fixtures: the default configuration and random kinematics."""

import numpy as np
import pytest

from alpfusion.config import load_config
from alpfusion.samples.phasespace import ForwardBackwardPair, TwoBody, beams

SQRT_S = 10.58


@pytest.fixture(scope="session")
def cfg():
    return load_config()


def random_eea_event(n, m_a, electron_mass, seed):
    """n random e-(p1) e+(p2) -> e-(p3) e+(p4) a(k) configurations at sqrt(s) = 10.58 GeV."""
    rng = np.random.default_rng(seed)
    chan = ForwardBackwardPair(SQRT_S, electron_mass, m_a, -0.95, 0.95, 0.1)
    momenta, weight = chan(rng.random((4 * n, chan.dim)), rng.uniform(0, 2 * np.pi, 4 * n))
    ok = np.flatnonzero(weight > 0)[:n]
    p1, p2 = beams(SQRT_S, electron_mass, len(ok))
    return p1, p2, momenta["e_minus"][ok], momenta["e_plus"][ok], momenta["invisible"][ok]


def random_gamma_a_event(n, m_a, seed):
    """n random e-(p1) e+(p2) -> gamma(k) a configurations."""
    rng = np.random.default_rng(seed)
    chan = TwoBody(SQRT_S, (0.0, m_a), ("photon", "invisible"))
    momenta, _ = chan(rng.random((n, 1)), rng.uniform(0, 2 * np.pi, n))
    p1, p2 = beams(SQRT_S, 0.0, n)
    return p1, p2, momenta["photon"], momenta["invisible"]
