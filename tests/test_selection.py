"""The per-mass selection: the contiguous windows of m2_miss-sorted events keep what `passes` keeps."""

import numpy as np

from alpfusion.processors.selection import MassHypothesis, missing_mass2_resolution


def test_sorted_windows_select_the_same_events():
    rng = np.random.default_rng(4)
    n = 50_000
    m2 = rng.uniform(-5.0, 100.0, n)  # every mass window of the grid holds events
    m2[:50] = 1.0 + 2.0 * missing_mass2_resolution(1.0)  # exactly on the upper edge of m_a = 1: kept
    m2[50:100] = 1.0 - 2.0 * missing_mass2_resolution(1.0)  # exactly on the lower edge: kept
    e, eta = rng.uniform(0, 10.58, n), rng.normal(0, 2, n)
    order = np.argsort(m2, kind="stable")
    for m_a in (0.1, 1.0, 3.0, 9.5):
        hyp = MassHypothesis(m_a, 2.0, 1.0, 2.5, 10.58)
        first, second, third = hyp.passes(m2, e, eta)
        start, stop = hyp.window(m2[order])
        window = order[start:stop]
        energy, both = hyp.energy_eta(e[window], eta[window])
        assert np.array_equal(np.sort(window), first)
        assert np.array_equal(np.sort(window[energy]), second) and np.array_equal(np.sort(window[both]), third)
        assert len(third) > 0
    assert np.all(np.isin(np.arange(100), MassHypothesis(1.0, 2.0, 0.0, 99.0, 10.58).passes(m2, e, eta)[0]))
