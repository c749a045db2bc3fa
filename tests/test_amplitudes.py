"""Matrix elements: analytic limits, gauge invariance, Lorentz invariance and CP symmetry."""

import math

import numpy as np
import pytest

from alpfusion import constants
from alpfusion.samples import amplitudes
from alpfusion.samples.amplitudes import me2_ee_to_eea, me2_ee_to_gamma_a

from .conftest import SQRT_S, random_eea_event, random_gamma_a_event

ALPHA, G = constants.ALPHA_THOMSON, 1e-4


@pytest.mark.parametrize("m_a", [0.0, 1.0, 6.0, 10.0])
def test_gamma_a_differential_cross_section(m_a):
    """dsigma/dcos = (alpha g^2 / 64)(1 - m^2/s)^3 (1 + cos^2) (physics.md section 1), point by point.

    dsigma/dcos = |M|^2 / (2 s) * |k| / (8 pi sqrt(s)) for the two-body phase space.
    """
    p1, p2, k, _ = random_gamma_a_event(50, m_a, seed=1)
    s = SQRT_S**2
    dsig = me2_ee_to_gamma_a(p1, p2, k, g=G, alpha=ALPHA) / (2 * s) * k[:, 0] / (8 * math.pi * SQRT_S)
    cos = k[:, 3] / k[:, 0]
    expected = ALPHA * G**2 / 64 * (1 - m_a**2 / s) ** 3 * (1 + cos**2)
    assert np.allclose(dsig, expected, rtol=1e-12, atol=0)


def _lorentz(seed):
    """A random proper orthochronous Lorentz transformation: rotation times boost."""
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = rng.uniform(0, 2 * np.pi)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(4)
    rot[1:, 1:] = np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k
    beta = rng.normal(size=3)
    beta *= rng.uniform(0.1, 0.95) / np.linalg.norm(beta)
    gamma = 1 / math.sqrt(1 - beta @ beta)
    boost = np.eye(4)
    boost[0, 0] = gamma
    boost[0, 1:] = boost[1:, 0] = gamma * beta
    boost[1:, 1:] += (gamma - 1) * np.outer(beta, beta) / (beta @ beta)
    return rot @ boost


@pytest.mark.parametrize("electron_mass", [0.0, constants.M_ELECTRON])
@pytest.mark.parametrize("component", ["both", "fusion", "dalitz"])
def test_eea_lorentz_invariance(electron_mass, component):
    moms = random_eea_event(40, 1.0, electron_mass, seed=2)[:4]
    ref = me2_ee_to_eea(*moms, g=G, alpha=ALPHA, electron_mass=electron_mass, component=component)[0]
    for seed in range(3):
        lam = _lorentz(seed)
        moved = [p @ lam.T for p in moms]
        val = me2_ee_to_eea(*moved, g=G, alpha=ALPHA, electron_mass=electron_mass, component=component)[0]
        assert np.allclose(val, ref, rtol=1e-8, atol=0)


def test_gamma_a_lorentz_invariance():
    p1, p2, k, _ = random_gamma_a_event(40, 2.0, seed=3)
    ref = me2_ee_to_gamma_a(p1, p2, k, g=G, alpha=ALPHA)
    lam = _lorentz(7)
    assert np.allclose(me2_ee_to_gamma_a(p1 @ lam.T, p2 @ lam.T, k @ lam.T, g=G, alpha=ALPHA), ref, rtol=1e-9, atol=0)


@pytest.mark.parametrize("electron_mass", [0.0, constants.M_ELECTRON])
def test_eea_cp_symmetry(electron_mass):
    """CP maps e-(p3) e+(p4) to e-(P p4) e+(P p3) (P: parity, p -> -p) and leaves the beams as they are."""
    p1, p2, p3, p4, _ = random_eea_event(40, 3.0, electron_mass, seed=4)
    parity = np.array([1.0, -1.0, -1.0, -1.0])
    for component in ("both", "fusion", "dalitz"):
        a = me2_ee_to_eea(p1, p2, p3, p4, g=G, alpha=ALPHA, electron_mass=electron_mass, component=component)[0]
        b = me2_ee_to_eea(
            p1, p2, p4 * parity, p3 * parity, g=G, alpha=ALPHA, electron_mass=electron_mass, component=component
        )[0]
        assert np.allclose(a, b, rtol=1e-9, atol=0)
    # a plain exchange of e- and e+ momenta is not a symmetry: the test above can fail
    c = me2_ee_to_eea(p1, p2, p4, p3, g=G, alpha=ALPHA, electron_mass=electron_mass)[0]
    assert not np.allclose(a, c, rtol=1e-3, atol=0)


def test_gamma_a_gauge_invariance(monkeypatch):
    """Replacing the photon polarisation by its momentum makes the amplitude vanish, and
    shifting it by a multiple of the momentum leaves it unchanged."""
    p1, p2, k, _ = random_gamma_a_event(30, 1.0, seed=5)
    original = amplitudes.polarisations
    ref = amplitudes.amplitudes_ee_to_gamma_a(p1, p2, k, g=G, alpha=ALPHA)
    monkeypatch.setattr(amplitudes, "polarisations", lambda kk: np.repeat(kk[:, None, :], 2, axis=1) + 0j)
    assert np.max(np.abs(amplitudes.amplitudes_ee_to_gamma_a(p1, p2, k, g=G, alpha=ALPHA))) < 1e-14 * np.max(
        np.abs(ref)
    )
    monkeypatch.setattr(
        amplitudes, "polarisations", lambda kk: original(kk) + (0.7 - 0.3j) * kk[:, None, :] / kk[:, :1, None]
    )
    assert np.allclose(amplitudes.amplitudes_ee_to_gamma_a(p1, p2, k, g=G, alpha=ALPHA), ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize("electron_mass", [0.0, constants.M_ELECTRON])
def test_eea_gauge_invariance_of_virtual_photons(monkeypatch, electron_mass):
    """A gauge term xi q^mu q^nu / q^2 in every photon propagator changes nothing.

    Emulated by shifting each fermion current by a multiple of the momentum it carries
    (J -> J + c q): the amplitudes of both diagrams must stay the same, because the currents
    are conserved and the vertex is antisymmetric in each photon's index and momentum.
    """
    p1, p2, p3, p4, _ = random_eea_event(30, 1.0, electron_mass, seed=6)
    ref_f, ref_d = amplitudes.amplitudes_ee_to_eea(p1, p2, p3, p4, g=G, alpha=ALPHA, electron_mass=electron_mass)
    shifts = {"31": p1 - p3, "24": p2 - p4, "21": p1 + p2, "34": p3 + p4}
    tags = {}  # id(spinor) -> which external leg it belongs to

    def tagging(make, legs):
        def wrapped(p, m):
            spinor = make(p, m)
            tags[id(spinor)] = legs[id(p)]
            return spinor

        return wrapped

    original_current = amplitudes.current

    def shifted_current(bra, ket):
        q = shifts[tags[id(bra)] + tags[id(ket)]]
        return original_current(bra, ket) + (1.3 + 0.4j) * q[:, None, None, :]

    monkeypatch.setattr(amplitudes, "u_spinor", tagging(amplitudes.u_spinor, {id(p1): "1", id(p3): "3"}))
    monkeypatch.setattr(amplitudes, "v_spinor", tagging(amplitudes.v_spinor, {id(p2): "2", id(p4): "4"}))
    monkeypatch.setattr(amplitudes, "current", shifted_current)
    m_f, m_d = amplitudes.amplitudes_ee_to_eea(p1, p2, p3, p4, g=G, alpha=ALPHA, electron_mass=electron_mass)
    assert len(tags) == 4
    assert np.max(np.abs(m_f - ref_f)) < 1e-10 * np.max(np.abs(ref_f))
    assert np.max(np.abs(m_d - ref_d)) < 1e-10 * np.max(np.abs(ref_d))
