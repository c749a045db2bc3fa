"""Cut optimisation: the 90% signal constraint, physical ranges, and a case with a known answer."""

import hist
import numpy as np
import pytest

from alpfusion.processors.optimise import optimise_cuts

SQRT_S = 10.58


def box_histogram():
    return hist.Hist(
        hist.axis.Regular(50, 0, 5, name="abs_z"),
        hist.axis.Regular(53, 0, 10.6, name="e_below_max"),
        hist.axis.Regular(25, 0, 5, name="abs_eta"),
        storage=hist.storage.Weight(),
    )


def e_max(m_a):
    return (SQRT_S**2 + m_a**2) / (2 * SQRT_S)


def test_known_optimum():
    """Signal at |z| = 0.5, E*_miss = E_max - 0.3, |eta| = 0.5 (bins [0.5, 0.6), [0.2, 0.4), [0.4, 0.6));
    100 background events at |z| = 1.7. Every box that holds all the signal and stops below
    |z| = 1.7 has Z = 10 / sqrt(0 + 0 + 1); the tie goes to the tightest: kappa = 0.6,
    E_low = E_max - 0.4, eta_high = 0.6."""
    s, b = box_histogram(), box_histogram()
    s.fill(abs_z=[0.5] * 10, e_below_max=[0.3] * 10, abs_eta=[0.5] * 10, weight=np.full(10, 1.0))
    b.fill(abs_z=[1.7], e_below_max=[0.3], abs_eta=[0.5], weight=[100.0])
    cuts = optimise_cuts(1.0, SQRT_S, s, b)
    assert cuts.signal == pytest.approx(10.0) and cuts.background == 0.0
    assert (cuts.kappa, cuts.e_low, cuts.eta_high) == pytest.approx((0.6, e_max(1.0) - 0.4, 0.6))
    assert cuts.figure_of_merit == pytest.approx(10.0)
    # a background event in the signal's own bins cannot be cut away: the optimum pays for it
    b.fill(abs_z=[0.55], e_below_max=[0.35], abs_eta=[0.45], weight=[50.0])
    assert optimise_cuts(1.0, SQRT_S, s, b).background == pytest.approx(50.0)


@pytest.mark.parametrize("m_a", [0.5, 3.0, 8.0])
def test_keeps_ninety_percent_and_physical_ranges(m_a):
    rng = np.random.default_rng(2)
    top = e_max(m_a)
    s, b = box_histogram(), box_histogram()
    n = 20_000
    s.fill(
        abs_z=np.abs(rng.normal(0, 0.7, n)),
        e_below_max=top - rng.uniform(2, top, n),
        abs_eta=np.abs(rng.normal(0, 0.6, n)),
        weight=np.full(n, 1e-3),
    )
    b.fill(
        abs_z=rng.uniform(0, 5, n),
        e_below_max=top - rng.uniform(0, 10.6, n),
        abs_eta=np.abs(rng.normal(0, 2, n)),
        weight=np.full(n, 0.5),
    )
    cuts = optimise_cuts(m_a, SQRT_S, s, b)
    assert cuts.signal_fraction >= 0.9
    assert 0 < cuts.kappa <= 5 and 0 <= cuts.e_low < top and 0 < cuts.eta_high <= 5
    assert cuts.background < b.values().sum() / 5  # the cuts do reject background
    assert cuts.background_error == pytest.approx(np.sqrt(cuts.background * 0.5))  # weights 0.5


def test_impossible_constraint_is_an_error():
    s = box_histogram()
    s.fill(abs_z=[0.1], e_below_max=[-0.5], abs_eta=[0.1], weight=[1.0])  # beyond E_max
    with pytest.raises(ValueError, match="90%"):
        optimise_cuts(1.0, SQRT_S, s, None)


def test_e_low_stays_above_where_a_background_was_generated():
    """Signal at E*_miss = 1.2 GeV (5%) and 3 GeV: without a bound the box keeps all of it (the
    larger signal wins the tie), E_low below 1.2 GeV; with E_low >= 2 GeV (a background generated
    from there) it keeps 95%; with E_low >= 4 GeV nothing keeps 90%, and the error says why."""
    s = box_histogram()
    top = e_max(1.0)
    s.fill(abs_z=[0.5] * 20, e_below_max=[top - 1.2] + [top - 3.0] * 19, abs_eta=[0.5] * 20, weight=np.ones(20))
    assert optimise_cuts(1.0, SQRT_S, s, None).e_low < 1.2
    bounded = optimise_cuts(1.0, SQRT_S, s, None, e_low_min=2.0)
    assert 2.0 <= bounded.e_low <= 3.0 and bounded.signal_fraction == pytest.approx(0.95)
    with pytest.raises(ValueError, match="E_low >= 4 GeV"):
        optimise_cuts(1.0, SQRT_S, s, None, e_low_min=4.0)
