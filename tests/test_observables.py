"""Observables of physics.md section 4 on hand-built events with known answers."""

import numpy as np
import pytest

from alpfusion.config import CPHI_ESTIMATORS
from alpfusion.constants import M_ELECTRON, M_TAU
from alpfusion.kinematics import pseudorapidity
from alpfusion.observables import (
    TAU_AXES,
    TAU_LIKE,
    MissingTruthError,
    antler_mass,
    compute_observables,
    decay_plane_cosine,
    four_momenta,
    tau_axis,
    tau_like_cphi,
)

from .fakes import SQRT_S, signal_like, tau_pairs


def vec(p):
    return four_momenta(*np.asarray(p).T)


@pytest.mark.parametrize("m_a, electron_mass", [(0.1, 0.0), (1.0, M_ELECTRON), (6.0, M_ELECTRON), (9.0, 0.0)])
def test_signal_kinematics_give_the_alp_mass_and_the_invisible_momentum(m_a, electron_mass):
    ev = signal_like(2000, np.random.default_rng(1), m_a, electron_mass=electron_mass)
    obs = compute_observables(vec(ev["e_minus"]), vec(ev["e_plus"]), SQRT_S, "pair_axis")
    k = ev["invisible"]
    assert np.allclose(obs.m2_miss, m_a**2, rtol=0, atol=1e-11)
    assert np.allclose(obs.e_miss, k[:, 0], rtol=1e-13, atol=0)
    assert np.allclose(obs.eta_miss, pseudorapidity(k), rtol=1e-9, atol=1e-9)
    pair = ev["e_minus"] + ev["e_plus"]
    assert np.allclose(obs.m_ee, np.sqrt(pair[:, 0] ** 2 - np.sum(pair[:, 1:] ** 2, axis=1)), rtol=1e-9)


def test_missing_mass_keeps_its_sign():
    # two electrons of 5 GeV at 90 degrees: E_miss = 0.58 GeV, |p_miss| = 5 sqrt(2) GeV
    e_minus, e_plus = vec([[5.0, 5.0, 0.0, 0.0]]), vec([[5.0, 0.0, 5.0, 0.0]])
    obs = compute_observables(e_minus, e_plus, SQRT_S, "beam_axis")
    assert obs.m2_miss[0] == pytest.approx((SQRT_S - 10.0) ** 2 - 50.0)
    assert obs.m2_miss[0] < 0
    assert obs.eta_miss[0] == 0.0 and obs.m_ee[0] == pytest.approx(np.sqrt(50.0))


def test_antler_mass_equals_m_ee_for_exact_tau_pairs_with_the_truth_axis():
    ev = tau_pairs(20_000, np.random.default_rng(2))
    e_minus, e_plus = vec(ev["e_minus"]), vec(ev["e_plus"])
    obs = compute_observables(e_minus, e_plus, SQRT_S, "truth", tau_minus=vec(ev["tau_minus"]))
    assert np.allclose(obs.m_ee_tau, obs.m_ee, rtol=1e-9, atol=1e-9)
    # the radicands of M_+- are negative for exact kinematics: the complex roots are needed
    energies = np.concatenate([ev["e_minus"][:, 0], ev["e_plus"][:, 0]])
    assert np.all(M_TAU**2 - 2 * energies * SQRT_S + 4 * energies**2 < 1e-12)
    # the sign convention matters: the opposite sign of c_phi misses m_ee
    flipped = antler_mass(ev["e_minus"][:, 0], ev["e_plus"][:, 0], -obs.c_phi, SQRT_S)
    assert np.median(np.abs(flipped - obs.m_ee)) > 1e-2
    # the tau+ axis (opposite orientation) gives the same c_phi
    reverse = decay_plane_cosine(tau_axis("truth", e_minus, e_plus, vec(ev["tau_plus"])), e_minus, e_plus)
    assert np.allclose(reverse, obs.c_phi, rtol=0, atol=1e-12)


def test_massive_neutrino_pairs_break_the_identity():
    ev = tau_pairs(2000, np.random.default_rng(3), m_nunu=0.8)
    obs = compute_observables(vec(ev["e_minus"]), vec(ev["e_plus"]), SQRT_S, "truth", tau_minus=vec(ev["tau_minus"]))
    assert np.median(np.abs(obs.m_ee_tau - obs.m_ee)) > 1e-3


def test_estimators():
    assert (*TAU_AXES, TAU_LIKE) == CPHI_ESTIMATORS
    ev = tau_pairs(1000, np.random.default_rng(4))
    e_minus, e_plus = vec(ev["e_minus"]), vec(ev["e_plus"])
    # the pair axis lies in the plane of the electrons: both decay planes are that plane
    pair = decay_plane_cosine(tau_axis("pair_axis", e_minus, e_plus), e_minus, e_plus)
    assert np.allclose(pair, 1.0, rtol=0, atol=1e-9)
    # the beam axis: cosine of the azimuth difference
    beam = decay_plane_cosine(tau_axis("beam_axis", e_minus, e_plus), e_minus, e_plus)
    dphi = np.arctan2(ev["e_minus"][:, 2], ev["e_minus"][:, 1]) - np.arctan2(ev["e_plus"][:, 2], ev["e_plus"][:, 1])
    assert np.allclose(beam, np.cos(dphi), rtol=0, atol=1e-12)
    with pytest.raises(MissingTruthError, match="tau_minus"):
        compute_observables(e_minus, e_plus, SQRT_S, "truth")
    with pytest.raises(ValueError, match="unknown c_phi estimator 'thrust'"):
        tau_axis("thrust", e_minus, e_plus)


def test_antler_mass_by_hand():
    # E+ = E- = sqrt(s)/4 (decays perpendicular to the axis): M^2 = m^2 - s/4 < 0
    e = np.array([SQRT_S / 4])
    s, m2 = SQRT_S**2, M_TAU**2
    for c_phi in (-1.0, 0.0, 0.5, 1.0):
        radicand = m2 - s / 4
        mass2 = (
            2 / (s - 4 * m2) * (m2 * m2 - SQRT_S * m2 * 2 * e[0] + 2 * e[0] ** 2 * (s - 2 * m2) + m2 * c_phi * radicand)
        )
        assert antler_mass(e, e, np.array([c_phi]), SQRT_S)[0] == pytest.approx(np.sqrt(abs(mass2)), rel=1e-12)


def test_antler_mass_with_one_positive_radicand_is_the_modulus():
    s, m2 = SQRT_S**2, M_TAU**2
    e_minus, e_plus, c_phi = SQRT_S / 4, 0.1, 0.3
    r_minus, r_plus = m2 - 2 * e_minus * SQRT_S + 4 * e_minus**2, m2 - 2 * e_plus * SQRT_S + 4 * e_plus**2
    assert r_minus < 0 < r_plus
    real = 2 / (s - 4 * m2) * (m2 * m2 - SQRT_S * m2 * (e_minus + e_plus) + 2 * e_minus * e_plus * (s - 2 * m2))
    imag = 2 / (s - 4 * m2) * m2 * c_phi * np.sqrt(-r_minus) * np.sqrt(r_plus)
    expected = (real**2 + imag**2) ** 0.25
    assert antler_mass(np.array([e_minus]), np.array([e_plus]), np.array([c_phi]), SQRT_S)[0] == pytest.approx(
        expected, rel=1e-12
    )


@pytest.mark.parametrize("seed", [5, 6])
def test_tau_like_estimator_puts_every_exact_tau_pair_on_the_diagonal(seed):
    """Massless neutrino pairs: the true c_phi gives |m_ee^tau| = m_ee, so the closest one does too,
    whatever the (unmeasured) tau axis."""
    ev = tau_pairs(5000, np.random.default_rng(seed))
    obs = compute_observables(vec(ev["e_minus"]), vec(ev["e_plus"]), SQRT_S, TAU_LIKE)
    assert np.all(np.abs(obs.c_phi) <= 1.0)
    assert np.allclose(obs.m_ee_tau, obs.m_ee, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("m_a", [0.1, 1.0, 6.0])
def test_tau_like_estimator_on_signal_is_the_closest_c_phi(m_a):
    """On signal events the chosen c_phi gives the formula's value there, and no c_phi in [-1, 1]
    (a fine scan) comes closer to m_ee."""
    ev = signal_like(3000, np.random.default_rng(7), m_a)
    obs = compute_observables(vec(ev["e_minus"]), vec(ev["e_plus"]), SQRT_S, TAU_LIKE)
    e_minus, e_plus = ev["e_minus"][:, 0], ev["e_plus"][:, 0]
    assert np.allclose(obs.m_ee_tau, antler_mass(e_minus, e_plus, obs.c_phi, SQRT_S), rtol=1e-12)
    grid = np.linspace(-1.0, 1.0, 2001)
    scanned = np.abs(antler_mass(e_minus[:, None], e_plus[:, None], grid[None, :], SQRT_S) - obs.m_ee[:, None])
    best = np.abs(obs.m_ee_tau - obs.m_ee)
    assert np.all(best <= scanned.min(axis=1) + 1e-9)
    assert np.mean(best > 1e-6) > 0.3  # the signal is mostly off the diagonal: the test can fail


def test_tau_like_estimator_by_hand():
    """A radicand at zero (K = 0 up to rounding): every c_phi gives the same mass, sqrt(|A|); and a
    case with both radicands positive where m_ee is out of reach takes the closer end."""
    s, m2 = SQRT_S**2, M_TAU**2
    e_zero = (2 * SQRT_S - np.sqrt(4 * s - 16 * m2)) / 8  # m^2 - 2 E sqrt(s) + 4 E^2 = 0
    real = 2 / (s - 4 * m2) * (m2 * m2 - SQRT_S * m2 * (e_zero + 2.0) + 2 * e_zero * 2.0 * (s - 2 * m2))
    e_m, e_p = np.array([e_zero]), np.array([2.0])
    c = tau_like_cphi(e_m, e_p, np.array([1.0]), SQRT_S)
    assert abs(c[0]) <= 1 and antler_mass(e_m, e_p, c, SQRT_S)[0] == pytest.approx(np.sqrt(abs(real)), rel=1e-6)
    small = np.array([0.05])  # both radicands positive for E << m_tau^2 / (2 sqrt(s))
    far = tau_like_cphi(small, small, np.array([5.0]), SQRT_S)
    ends = antler_mass(small, small, np.array([-1.0, 1.0]), SQRT_S)
    assert far[0] == (1.0 if ends[1] >= ends[0] else -1.0)


@pytest.mark.parametrize("m_nunu", [0.0, 0.3, 1.0, 1.5])
def test_a_tau_at_its_endpoint_puts_tau_pairs_below_the_diagonal(m_nunu):
    """The tau-pair edge at small missing mass (docs/processing.md): when the tau- decays at its
    endpoint (massless neutrino pair opposite the electron, E_e = (E_tau + p_tau)/2, the electron along
    the tau), M_- = 0, so K = 0 and |m_ee^tau| does not depend on c_phi: every estimator gives the same
    mass. The antler formula takes the tau+ neutrino pair massless, i.e. a wider angle between the e+
    and the tau+ than a massive pair of mass m_nunu leaves: |m_ee^tau| = m_ee for m_nunu = 0 and
    |m_ee^tau| < m_ee for every m_nunu > 0, for every e+ a massless pair could give, E_e+ >= (E_tau -
    p_tau)/2 = 0.155 GeV (the acceptance's 0.25 GeV keeps only those)."""
    ev = tau_pairs(5000, np.random.default_rng(7), m_nunu=m_nunu)
    ev = {k: v[ev["e_plus"][:, 0] >= 0.25] for k, v in ev.items()}
    tau = ev["tau_minus"]
    p_tau = np.linalg.norm(tau[:, 1:], axis=1)
    endpoint = 0.5 * (tau[:, 0] + p_tau)
    ev["e_minus"] = endpoint[:, None] * np.column_stack([np.ones(len(tau)), tau[:, 1:] / p_tau[:, None]])
    assert len(tau) > 3000
    e_minus, e_plus = vec(ev["e_minus"]), vec(ev["e_plus"])
    masses = [compute_observables(e_minus, e_plus, SQRT_S, est, tau_minus=vec(tau)).m_ee_tau for est in CPHI_ESTIMATORS]
    for c in (-1.0, 0.0, 1.0):
        masses.append(antler_mass(ev["e_minus"][:, 0], ev["e_plus"][:, 0], np.full(len(tau), c), SQRT_S))
    m_ee = compute_observables(e_minus, e_plus, SQRT_S, "beam_axis").m_ee
    for m in masses:
        assert np.allclose(m, masses[0], rtol=1e-6)
    if m_nunu == 0.0:
        assert np.allclose(masses[0], m_ee, rtol=1e-6)
    else:
        assert np.all(masses[0] < m_ee)
