"""Spinors, currents and polarisation vectors against their defining properties."""

import numpy as np
import pytest

from alpfusion.samples.dirac import (
    current,
    eps4,
    eps_vector,
    mdot,
    msq,
    polarisations,
    u_spinor,
    v_spinor,
)

I2, Z2 = np.eye(2), np.zeros((2, 2))
PAULI = [np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.array([[1, 0], [0, -1]])]
GAMMA = [np.block([[Z2, I2], [I2, Z2]]).astype(complex)] + [np.block([[Z2, s], [-s, Z2]]) for s in PAULI]


def slash(p):
    return p[0] * GAMMA[0] - p[1] * GAMMA[1] - p[2] * GAMMA[2] - p[3] * GAMMA[3]


def random_momenta(n, mass, seed, scale=3.0):
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(n, 3)) * scale
    return np.concatenate([np.sqrt(mass**2 + np.sum(p * p, axis=1))[:, None], p], axis=1)


@pytest.mark.parametrize("mass", [0.0, 0.000511, 1.777])
def test_dirac_equation_and_completeness(mass):
    p = random_momenta(20, mass, seed=1)
    p = np.concatenate([p, [[abs(mass) + 2.0, 0, 0, -2.0 if mass == 0 else -np.sqrt(4 + 2 * mass * 2)]]])
    p[-1, 0] = np.sqrt(mass**2 + p[-1, 3] ** 2)  # along -z: the special case of chi
    u, v = u_spinor(p, mass), v_spinor(p, mass)
    for i in range(len(p)):
        ps = slash(p[i])
        for lam in range(2):
            assert np.allclose((ps - mass * np.eye(4)) @ u[i, lam], 0, atol=1e-12)
            assert np.allclose((ps + mass * np.eye(4)) @ v[i, lam], 0, atol=1e-12)
        sum_u = sum(np.outer(u[i, lam], np.conj(u[i, lam]) @ GAMMA[0]) for lam in range(2))
        sum_v = sum(np.outer(v[i, lam], np.conj(v[i, lam]) @ GAMMA[0]) for lam in range(2))
        assert np.allclose(sum_u, ps + mass * np.eye(4), atol=1e-12)
        assert np.allclose(sum_v, ps - mass * np.eye(4), atol=1e-12)


def test_helicity_eigenstates():
    """Massless u(p, l) has chirality l: helicity -1 lives in the upper (left-handed) block."""
    p = random_momenta(10, 0.0, seed=2)
    u = u_spinor(p, 0.0)
    assert np.allclose(u[:, 0, 2:], 0) and np.allclose(u[:, 1, :2], 0)
    pabs = np.linalg.norm(p[:, 1:], axis=1)
    for i in range(10):
        helicity = sum(p[i, k + 1] * np.kron(I2, PAULI[k]) for k in range(3)) / pabs[i]
        for lam, sign in ((0, -1), (1, 1)):
            assert np.allclose(helicity @ u[i, lam], sign * u[i, lam], atol=1e-12)


def test_current_matches_explicit_gamma_matrices():
    p1, p3 = random_momenta(5, 0.3, seed=3), random_momenta(5, 0.3, seed=4)
    u1, u3 = u_spinor(p1, 0.3), u_spinor(p3, 0.3)
    j = current(u3, u1)
    for n in range(5):
        for a in range(2):
            for b in range(2):
                explicit = [np.conj(u3[n, a]) @ GAMMA[0] @ GAMMA[mu] @ u1[n, b] for mu in range(4)]
                assert np.allclose(j[n, a, b], explicit, atol=1e-12)


@pytest.mark.parametrize("mass", [0.0, 0.000511, 0.5])
def test_currents_are_conserved(mass):
    """Ward identity of the virtual photons: q.J = 0 for q the momentum the current carries.

    ubar(p3) qslash u(p1) with q = p1 - p3 vanishes by the Dirac equation; likewise for
    vbar(p2) qslash v(p4) (q = p2 - p4) and the annihilation currents (q = p1 + p2).
    """
    p1, p2 = random_momenta(50, mass, seed=5), random_momenta(50, mass, seed=6)
    u1, u2, v1, v2 = u_spinor(p1, mass), u_spinor(p2, mass), v_spinor(p1, mass), v_spinor(p2, mass)
    scale = np.einsum("ni,ni->n", p1, p1 * [1, 1, 1, 1]) + np.einsum("ni,ni->n", p2, p2 * [1, 1, 1, 1])
    for j, q in (
        (current(u2, u1), p1 - p2),
        (current(v1, v2), p1 - p2),
        (current(v2, u1), p1 + p2),
        (current(u2, v1), p1 + p2),
    ):
        ward = mdot(j, q[:, None, None, :])
        assert np.max(np.abs(ward) / scale[:, None, None]) < 1e-13
        assert np.max(np.abs(j)) > 1.0  # the currents themselves are not zero


def test_polarisation_vectors():
    k = random_momenta(30, 0.0, seed=7)
    eps = polarisations(k)
    # transverse, normalised (eps.eps* = -1), orthogonal helicities
    assert np.allclose(mdot(eps, k[:, None, :]), 0, atol=1e-12)
    assert np.allclose(mdot(eps, np.conj(eps)), -1, atol=1e-12)
    assert np.allclose(mdot(eps[:, 0], np.conj(eps[:, 1])), 0, atol=1e-12)
    # completeness: sum eps^mu eps*^nu = -g^{mu nu} + (k^mu n^nu + n^mu k^nu)/(k.n), n = (1, -k/|k|)
    n = np.concatenate([np.ones((30, 1)), -k[:, 1:] / k[:, :1]], axis=1)
    g = np.diag([1.0, -1.0, -1.0, -1.0])
    for i in range(30):
        total = sum(np.outer(eps[i, lam], np.conj(eps[i, lam])) for lam in range(2))
        expected = -g + (np.outer(k[i], n[i]) + np.outer(n[i], k[i])) / mdot(k[i], n[i])
        assert np.allclose(total, expected, atol=1e-12)


def test_levi_civita():
    e = np.eye(4)
    assert eps4(e[0], e[1], e[2], e[3]) == -1.0  # eps_{0123} = -1 for eps^{0123} = +1
    rng = np.random.default_rng(8)
    a, b, c, d = rng.normal(size=(4, 10, 4))
    assert np.allclose(eps4(a, b, c, d), -eps4(b, a, c, d))
    assert np.allclose(eps4(a, b, c, d), eps4(c, d, a, b))
    # the ALP vertex vanishes when either photon's polarisation is its own momentum
    assert np.allclose(eps_vector(c, c, d), 0) and np.allclose(eps_vector(d, c, d), 0)
    # eps_{mu nu rho sigma} with lowered index equals the determinant form
    assert np.allclose(eps4(a, b, c, d), -np.linalg.det(np.stack([a, b, c, d], axis=1)))
    assert np.allclose(msq(a), a[:, 0] ** 2 - np.sum(a[:, 1:] ** 2, axis=1))
