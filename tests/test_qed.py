"""QED amplitudes of e+e- -> e+e- + photons against what is known independently: Bhabha's and Moller's
formulae, the massless single-bremsstrahlung formula, crossing, the Ward identity, Lorentz invariance,
Bose symmetry, and the soft and collinear limits."""

import math

import numpy as np
import pytest

from alpfusion.constants import M_ELECTRON
from alpfusion.samples.dirac import mdot, polarisations
from alpfusion.samples.phasespace import beams, boost_from_rest, from_angles, two_body_momentum
from alpfusion.samples.qed import amplitudes_bhabha_photons, me2_bhabha_photons, soft_photon_exponent

SQRT_S = 10.58
ALPHA = 1.0 / 137.036
M = M_ELECTRON


def decay(parent, parent_mass, m_a, m_b, rng):
    """Isotropic two-body decay of parents (N, 4) of masses parent_mass into masses m_a, m_b."""
    n = len(parent)
    p = two_body_momentum(parent_mass, m_a, m_b)
    cos_t, phi = rng.uniform(-1, 1, n), rng.uniform(0, 2 * math.pi, n)
    a_rest = from_angles(np.sqrt(p * p + m_a * m_a), p, cos_t, phi)
    b_rest = np.concatenate([np.sqrt(p * p + m_b * m_b)[:, None], -a_rest[:, 1:]], axis=1)
    return boost_from_rest(a_rest, parent, parent_mass), boost_from_rest(b_rest, parent, parent_mass)


def final_state(total, n_photons, rng):
    """e-(p3) e+(p4) and n photons with total four-momentum ``total`` (N, 4), from sequential decays."""
    mass = np.sqrt(mdot(total, total))
    if n_photons == 0:
        return (*decay(total, mass, M, M, rng), [])
    r1 = rng.uniform(M + 0.5, mass - M - 0.5)  # (e+ photons) system
    p3, rest = decay(total, mass, M, r1, rng)
    if n_photons == 1:
        p4, k = decay(rest, r1, M, 0.0, rng)
        return p3, p4, [k]
    r2 = rng.uniform(0.3, r1 - M - 0.1)  # the photon pair
    p4, pair = decay(rest, r1, M, r2, rng)
    k1, k2 = decay(pair, r2, 0.0, 0.0, rng)
    return p3, p4, [k1, k2]


def events(n, n_photons, seed):
    rng = np.random.default_rng(seed)
    p1, p2 = beams(SQRT_S, M, n)
    return (p1, p2, *final_state(p1 + p2, n_photons, rng))


def test_bhabha_agrees_with_its_formula():
    """|M|^2 = 2 e^4 [(s^2 + u^2)/t^2 + 2 u^2/(s t) + (u^2 + t^2)/s^2] (massless; Peskin & Schroeder
    problem 5.2), to (m_e/E)^2 ~ 1e-8 at large angles."""
    p1, p2, p3, p4, _ = events(200, 0, 1)
    s, t, u = mdot(p1 + p2, p1 + p2), mdot(p1 - p3, p1 - p3), mdot(p1 - p4, p1 - p4)
    e4 = (4 * math.pi * ALPHA) ** 2
    formula = 2 * e4 * ((s * s + u * u) / t**2 + 2 * u * u / (s * t) + (u * u + t * t) / s**2)
    me2 = me2_bhabha_photons(p1, p2, p3, p4, [], alpha=ALPHA, electron_mass=M)
    large = np.abs(p3[:, 3] / np.linalg.norm(p3[:, 1:], axis=1)) < 0.9
    assert large.sum() > 50
    assert np.allclose(me2[large], formula[large], rtol=1e-6)


def mandelstam(p1, p2, p3, p4):
    return mdot(p1 + p2, p1 + p2), mdot(p1 - p3, p1 - p3), mdot(p1 - p4, p1 - p4)


def test_crossed_to_moller_it_agrees_with_moller_formula():
    """Crossing the incoming e+ (p2 = -q4) and the outgoing e+ (p4 = -q2) turns Bhabha into Moller
    scattering e-(q1) e-(q2) -> e-(q3) e-(q4): |M|^2 = 2 e^4 [(s^2 + u^2)/t^2 + (s^2 + t^2)/u^2 +
    2 s^2/(t u)] (massless; Peskin & Schroeder problem 5.2), a function the Bhabha diagrams never
    evaluate at physical momenta (u-channel propagators)."""
    q1, q2, q3, q4, _ = events(200, 0, 8)
    s, t, u = mandelstam(q1, q2, q3, q4)
    formula = 2 * (4 * math.pi * ALPHA) ** 2 * ((s * s + u * u) / t**2 + (s * s + t * t) / u**2 + 2 * s * s / (t * u))
    me2 = me2_bhabha_photons(q1, -q4, q3, -q2, [], alpha=ALPHA, electron_mass=M)
    assert np.allclose(me2, formula, rtol=1e-6)


def single_bremsstrahlung(p1, p2, p3, p4, k):
    """|M(e-(p1) e+(p2) -> e-(p3) e+(p4) gamma(k))|^2 for massless electrons (Berends et al., Phys. Lett.
    103B (1981) 124; CALKUL): e^6 W [s s'(s^2 + s'^2) + t t'(t^2 + t'^2) + u u'(u^2 + u'^2)]/(s s' t t'),
    s = (p1 + p2)^2, s' = (p3 + p4)^2, t = (p2 - p4)^2, t' = (p1 - p3)^2, u = (p2 - p3)^2,
    u' = (p1 - p4)^2 and W = s/(p1.k p2.k) + s'/(p3.k p4.k) - t/(p2.k p4.k) - t'/(p1.k p3.k)
    + u/(p2.k p3.k) + u'/(p1.k p4.k), the massless eikonal factor. A function of invariants only, so
    it holds for crossed momenta as well."""
    s, t_, u_ = mandelstam(p1, p2, p3, p4)
    s_, t, u = mdot(p3 + p4, p3 + p4), mdot(p2 - p4, p2 - p4), mdot(p2 - p3, p2 - p3)
    k1, k2, k3, k4 = (mdot(p, k) for p in (p1, p2, p3, p4))
    w = s / (k1 * k2) + s_ / (k3 * k4) - t / (k2 * k4) - t_ / (k1 * k3) + u / (k2 * k3) + u_ / (k1 * k4)
    x = s * s_ * (s * s + s_ * s_) + t * t_ * (t * t + t_ * t_) + u * u_ * (u * u + u_ * u_)
    return (4 * math.pi * ALPHA) ** 3 * w * x / (s * s_ * t * t_)


@pytest.mark.parametrize("crossed", [False, True], ids=["bhabha", "moller"])
def test_one_photon_agrees_with_the_massless_formula_and_crosses(crossed):
    """All 8 diagrams of e+e- -> e+e- gamma and their relative signs against the massless formula,
    in Bhabha kinematics and crossed to Moller scattering with a photon (p2 = -q4, p4 = -q2). The
    electron mass is kept here and not there: the difference is of the order of the mass terms the
    formula drops, the eikonal factor's sum p^2/(p.k)^2 relative to it and m^2 over the smallest
    two-lepton invariant (together 1e-8 to 2e-5 on these events; their coefficients are of order 1)."""
    q1, q2, q3, q4, (k,) = events(300, 1, 9)
    legs = (q1, -q4, q3, -q2) if crossed else (q1, q2, q3, q4)
    me2 = me2_bhabha_photons(*legs, [k], alpha=ALPHA, electron_mass=M)
    charged = [(1.0, legs[0]), (-1.0, legs[1]), (-1.0, legs[2]), (1.0, legs[3])]
    eikonal_mass = sum(mdot(p, p) / mdot(p, k) ** 2 for _, p in charged) / eikonal(charged, k)
    pairs = [
        (legs[i], sign * legs[j])
        for i, j, sign in ((0, 1, 1), (2, 3, 1), (0, 2, -1), (1, 3, -1), (0, 3, -1), (1, 2, -1))
    ]
    invariant_mass = M * M / np.min([np.abs(mdot(a + b, a + b)) for a, b in pairs], axis=0)
    deviation = np.abs(me2 / single_bremsstrahlung(*legs, k) - 1)
    assert np.all(deviation < 10 * (np.abs(eikonal_mass) + invariant_mass))
    assert np.median(deviation) < 1e-6


@pytest.mark.parametrize("n_photons", [1, 2])
def test_every_photon_obeys_the_ward_identity(n_photons):
    """k_mu M^mu = 0 for each photon (the others physical), electron mass kept: the sum over all
    diagrams vanishes where single diagrams are of the size of the amplitude."""
    p1, p2, p3, p4, ks = events(50, n_photons, 2)
    physical = amplitudes_bhabha_photons(p1, p2, p3, p4, ks, alpha=ALPHA, electron_mass=M)
    scale = np.max(np.abs(physical), axis=tuple(range(1, physical.ndim)))
    for i, k in enumerate(ks):
        vectors = [np.conj(polarisations(q)) for q in ks]
        vectors[i] = (k / k[:, :1])[:, None, :]  # k / E_k: the size of a polarisation vector
        ward = amplitudes_bhabha_photons(p1, p2, p3, p4, ks, alpha=ALPHA, electron_mass=M, photon_vectors=vectors)
        worst = np.max(np.abs(ward), axis=tuple(range(1, ward.ndim))) / scale
        assert np.all(worst < 1e-9)


def boost(p, beta):
    """Boost four-vectors by velocity beta (3-vector)."""
    b = np.asarray(beta)
    b2 = b @ b
    gamma = 1 / math.sqrt(1 - b2)
    bp = p[..., 1:] @ b
    energy = gamma * (p[..., 0] + bp)
    space = p[..., 1:] + ((gamma - 1) * bp / b2 + gamma * p[..., 0])[..., None] * b
    return np.concatenate([energy[..., None], space], axis=-1)


@pytest.mark.parametrize("n_photons", [0, 1, 2])
def test_lorentz_invariance(n_photons):
    """|M|^2 is the same in a frame boosted by 0.9 c in an oblique direction."""
    p1, p2, p3, p4, ks = events(30, n_photons, 3)
    me2 = me2_bhabha_photons(p1, p2, p3, p4, ks, alpha=ALPHA, electron_mass=M)
    beta = 0.9 * np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    moved = [boost(p, beta) for p in (p1, p2, p3, p4)]
    me2_boosted = me2_bhabha_photons(*moved, [boost(k, beta) for k in ks], alpha=ALPHA, electron_mass=M)
    assert np.allclose(me2_boosted, me2, rtol=1e-8)


def test_the_two_photons_are_interchangeable():
    p1, p2, p3, p4, (k1, k2) = events(30, 2, 4)
    a = me2_bhabha_photons(p1, p2, p3, p4, [k1, k2], alpha=ALPHA, electron_mass=M)
    b = me2_bhabha_photons(p1, p2, p3, p4, [k2, k1], alpha=ALPHA, electron_mass=M)
    assert np.allclose(a, b, rtol=1e-10)


def eikonal(charged, k):
    """-J.J, J^mu = sum_i Q_i eta_i p_i^mu / (p_i.k) (Q = -1 for e-, +1 for e+; eta = -1 incoming,
    +1 outgoing): the soft-photon factor of |M|^2, summed over the photon's polarisations, per e^2."""
    current = sum(q * p / mdot(p, k)[:, None] for q, p in charged)
    return -mdot(current, current)


def test_the_soft_photon_exponent_is_the_eikonal_factor_integrated_over_directions():
    """beta of soft_photon_exponent against a direct quadrature of alpha / (4 pi^2) times E^2
    (-J.J) over the photon's directions (dP = beta dE/E), for random final states of a heavy lepton
    (mass 1.5 GeV: the collinear peaks, of width m/E, resolved by the grid)."""
    rng = np.random.default_rng(11)
    mass = 1.5
    p1, p2 = beams(SQRT_S, mass, 3)
    pabs = two_body_momentum(SQRT_S, mass, mass)
    cos_t, phi = rng.uniform(-0.9, 0.9, 3), rng.uniform(0, 2 * math.pi, 3)
    p3 = from_angles(np.full(3, math.sqrt(pabs**2 + mass**2)), np.full(3, pabs), cos_t, phi)
    p4 = np.concatenate([p3[:, :1], -p3[:, 1:]], axis=1)
    cos_k = np.linspace(-1, 1, 1601)
    phi_k = np.linspace(0, 2 * math.pi, 801)
    cc, pp = np.meshgrid(cos_k, phi_k, indexing="ij")
    n_hat = from_angles(np.ones(cc.size), np.ones(cc.size), cc.ravel(), pp.ravel())  # k / E_k
    for i in range(3):
        legs = [(q, np.tile(v[i], (len(n_hat), 1))) for q, v in ((1, p1), (-1, p2), (-1, p3), (1, p4))]
        density = (
            ALPHA / (4 * math.pi**2) * eikonal(legs, n_hat).reshape(cc.shape)
        )  # e^2 / (2 (2 pi)^3) = alpha / (4 pi^2)
        quadrature = np.trapezoid(np.trapezoid(density, phi_k, axis=1), cos_k)
        beta = soft_photon_exponent(
            p1[i : i + 1], p2[i : i + 1], p3[i : i + 1], p4[i : i + 1], alpha=ALPHA, electron_mass=mass
        )
        assert beta[0] == pytest.approx(quadrature, rel=1e-4)


def test_the_soft_photon_exponent_of_bhabha_scattering():
    """With the electron mass, beta tends to (4 alpha / pi) [ln(s / m^2) - 1 + ln(t / u)] (the
    radiator of Bhabha scattering: four legs and their interference), and it vanishes without
    scattering (p3 = p1, p4 = p2: no charge changes its motion, nothing radiates)."""
    p1, p2 = beams(SQRT_S, M, 5)
    theta = np.array([0.4, 0.8, 1.2, 1.9, 2.7])
    energy, pabs = 0.5 * SQRT_S, p1[0, 3]
    p3 = from_angles(np.full(5, energy), np.full(5, pabs), np.cos(theta), np.zeros(5))
    p4 = np.concatenate([p3[:, :1], -p3[:, 1:]], axis=1)
    s, t, u = SQRT_S**2, mdot(p1 - p3, p1 - p3), mdot(p1 - p4, p1 - p4)
    radiator = 4 * ALPHA / math.pi * (np.log(s / M**2) - 1 + np.log(t / u))
    assert soft_photon_exponent(p1, p2, p3, p4, alpha=ALPHA, electron_mass=M) == pytest.approx(radiator, rel=1e-6)
    assert soft_photon_exponent(p1, p2, p1, p2, alpha=ALPHA, electron_mass=M) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("n_hard", [0, 1])
def test_a_soft_photon_factorises(n_hard):
    """As the photon's energy goes to zero, |M(ee -> ee + n + 1 photons)|^2 -> e^2 eikonal x
    |M(ee -> ee + n photons)|^2, the electron mass kept (the eikonal factor's p^2/(p.k)^2 terms);
    the approach is linear in the photon's energy."""
    n = 40
    p1, p2 = beams(SQRT_S, M, n)
    deviations = []
    for energy in (1e-4, 1e-5):  # GeV; the same directions and hard configurations for both
        rng = np.random.default_rng(5)
        direction = from_angles(np.ones(n), np.ones(n), rng.uniform(-0.9, 0.9, n), rng.uniform(0, 2 * math.pi, n))
        k = energy * direction
        p3, p4, hard = final_state(p1 + p2 - k, n_hard, rng)
        full = me2_bhabha_photons(p1, p2, p3, p4, [*hard, k], alpha=ALPHA, electron_mass=M)
        reduced = me2_bhabha_photons(p1, p2, p3, p4, hard, alpha=ALPHA, electron_mass=M)
        charged = [(1.0, p1), (-1.0, p2), (-1.0, p3), (1.0, p4)]  # Q eta: e- in, e+ in, e- out, e+ out
        factor = 4 * math.pi * ALPHA * eikonal(charged, k)
        deviations.append(np.abs(full / (factor * reduced) - 1))
    assert np.max(deviations[1]) < 1e-3
    ratio = np.median(deviations[1] / deviations[0])
    assert 0.05 < ratio < 0.2  # linear in the photon's energy: the limit is approached, not a constant


@pytest.mark.parametrize("theta", [1e-4, 3e-5])
def test_an_initial_state_photon_collinear_with_the_beam_factorises(theta):
    """A photon of energy (1 - x) E at an angle theta ~ m_e/E to the e- beam: |M(ee -> ee gamma)|^2 ->
    e^2 / (x p1.k) [(1 + x^2)/(1 - x) - x m^2/(p1.k)] |M(ee -> ee)|^2 at x p1, the quasi-collinear
    splitting function with the electron mass (Catani, Dittmaier, Trocsanyi, hep-ph/0011222); at x -> 1
    it is the eikonal factor's p1 terms, 2/((1 - x) p1.k) - m^2/(p1.k)^2. At these angles the mass term
    is 26-90% of the massless one: without it the factorisation fails."""
    n = 20
    p1, p2 = beams(SQRT_S, M, n)
    phi = np.random.default_rng(1).uniform(0, 2 * math.pi, n)
    for x in (0.3, 0.6, 0.9):
        e_k = (1 - x) * p1[0, 0]
        k = e_k * np.stack(
            [np.ones(n), math.sin(theta) * np.cos(phi), math.sin(theta) * np.sin(phi), np.full(n, math.cos(theta))],
            axis=1,
        )
        p3, p4, _ = final_state(p1 + p2 - k, 0, np.random.default_rng(4))
        full = me2_bhabha_photons(p1, p2, p3, p4, [k], alpha=ALPHA, electron_mass=M)
        reduced = me2_bhabha_photons(x * p1, p2, p3, p4, [], alpha=ALPHA, electron_mass=M)
        pk = mdot(p1, k)
        massless, mass = (1 + x * x) / (1 - x), x * M * M / pk
        ratio = full * x * pk / (4 * math.pi * ALPHA * reduced)
        # the two terms cancel in part: compare on the scale of their magnitudes (neglected: O(theta), O(m/E))
        assert np.all(np.abs(ratio - (massless - mass)) < 2e-3 * (massless + mass))
        assert np.all(mass > 0.2 * massless)
