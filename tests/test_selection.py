"""The per-mass selection: the processor's compiled kernel keeps exactly what MassHypothesis.passes keeps."""

import numpy as np

from alpfusion.processors.kernels import select_kernel
from alpfusion.processors.selection import MassHypothesis, missing_mass2_resolution


def test_kernel_matches_passes():
    rng = np.random.default_rng(4)
    n = 50_000
    m2 = rng.uniform(-5.0, 100.0, n)  # every mass window of the grid holds events
    m2[:50] = 1.0 + 2.0 * missing_mass2_resolution(1.0)  # exactly on the edges of m_a = 1: kept
    m2[50:100] = 1.0 - 2.0 * missing_mass2_resolution(1.0)
    e, eta = rng.uniform(0, 10.58, n), rng.normal(0, 2, n)
    m2[100:110], e[110:120], eta[120:130] = np.nan, np.nan, np.nan  # NaN never passes
    y = rng.integers(1, 5, n).astype(float)  # integers: sums exact in any order
    cell = rng.integers(0, 16, n)
    hyps = [MassHypothesis(m_a, 2.0, 1.0, 2.5, 10.58) for m_a in (0.1, 1.0, 3.0, 9.5)]
    bounds = np.array([(*h.m2_window, *h.e_miss_window, h.eta_high) for h in hyps])
    sums, flow, raw = np.zeros((4 * 16, 3)), np.zeros((4, 3, 2)), np.zeros((4, 3), dtype=np.int64)
    select_kernel(m2, e, eta, y, np.arange(n + 1), cell, bounds, 16, 1.0, sums, flow, raw)
    for k, hyp in enumerate(hyps):
        stages = hyp.passes(m2, e, eta)
        assert [len(s) for s in stages] == list(raw[k]) and len(stages[2]) > 0
        assert np.array_equal([y[s].sum() for s in stages], flow[k, :, 0])
        assert np.array_equal([(y[s] ** 2).sum() for s in stages], flow[k, :, 1])
        plane = np.bincount(cell[stages[2]], y[stages[2]], 16)
        assert np.array_equal(plane, sums[k * 16 : (k + 1) * 16, 0])
        assert np.array_equal(np.bincount(cell[stages[2]], y[stages[2]] ** 2, 16), sums[k * 16 : (k + 1) * 16, 1])
        assert not sums[k * 16 : (k + 1) * 16, 2].any()  # y^2 a multiple of the quantum: no fine part
    assert np.isin(np.arange(100), MassHypothesis(1.0, 2.0, 0.0, 99.0, 10.58).passes(m2, e, eta)[0]).all()
