"""Tree-level helicity amplitudes of the ALP signal processes, vectorised over events.

Momenta: e-(p1) e+(p2) -> ..., with p1 along +z in the centre-of-mass frame. All amplitudes
share the conventions of `dirac` and one a-gamma-gamma vertex (physics.md section 1):

    V^{mu nu}(k1, k2) = g eps^{mu nu rho sigma} k1_rho k2_sigma,

with *both* photon momenta k1, k2 flowing into the vertex (an outgoing photon of momentum q
enters as -q). The common factors i, the photon propagators' -i, and the QED vertices' -i e are
identical in every diagram of a process and drop out of |M|^2; what is kept is each diagram's
sign relative to the others.

e+e- -> e+e- a (e-(p3), e+(p4), a(k)) has two topologies:

    fusion  M_F = e^2 [ubar3 g^mu u1] [vbar2 g^nu v4] V_{mu nu}(q1, q2) / (q1^2 q2^2),
                  q1 = p1 - p3, q2 = p2 - p4
    Dalitz  M_D = e^2 [vbar2 g^mu u1] [ubar3 g^nu v4] V_{mu nu}(P, -q) / (P^2 q^2),
                  P = p1 + p2, q = p3 + p4

and M = M_F - M_D: the two diagrams differ by exchanging the outgoing electron with the
incoming positron, which costs the Fermi minus sign of Bhabha scattering (Peskin & Schroeder,
problem 5.2): M_Bhabha = e^2 ( [ubar3 g u1][vbar2 g v4]/t - [vbar2 g u1][ubar3 g v4]/s ).
"""

from __future__ import annotations

import math

import numpy as np

from ..config import COMPONENTS
from .dirac import current, eps_vector, msq, polarisations, u_spinor, v_spinor


def _check_component(component: str) -> None:
    if component not in COMPONENTS:
        raise ValueError(f"component must be one of {COMPONENTS}, got '{component}'")


def amplitudes_ee_to_gamma_a(p1, p2, k, *, g, alpha, electron_mass=0.0):
    """Helicity amplitudes of e-(p1) e+(p2) -> gamma(k) a, shape (N, h1, h2, lambda).

        M = e g [vbar2 g^mu u1] V_{mu nu}(P, -k) eps*^nu(k, lambda) / s

    (ALP-strahlung through an s-channel photon).
    """
    e = math.sqrt(4.0 * math.pi * alpha)
    big_p = p1 + p2
    j_in = current(v_spinor(p2, electron_mass), u_spinor(p1, electron_mass))  # [h2, h1]
    j_in = np.swapaxes(j_in, 1, 2)[:, :, :, None, :]  # [h1, h2, 1]
    eps_out = np.conj(polarisations(k))  # [lambda]
    x = eps_vector(eps_out, big_p, -k)[:, None, None, :, :]
    return e * g * np.sum(j_in * x, axis=-1) / msq(big_p)[:, None, None, None]


def me2_ee_to_gamma_a(p1, p2, k, *, g, alpha, electron_mass=0.0):
    """Spin-summed and initial-spin-averaged |M|^2 of e+e- -> gamma a."""
    amp = amplitudes_ee_to_gamma_a(p1, p2, k, g=g, alpha=alpha, electron_mass=electron_mass)
    return 0.25 * np.sum(np.abs(amp) ** 2, axis=(1, 2, 3))


def _pair_contract(j_a: np.ndarray, x_b: np.ndarray) -> np.ndarray:
    """sum_mu J_a^mu[i, j] X_b,mu[k, l] for all helicity indices: shape (N, i, j, k, l)."""
    n = j_a.shape[0]
    out = np.matmul(j_a.reshape(n, 4, 4), np.swapaxes(x_b.reshape(n, 4, 4), 1, 2))
    return out.reshape(n, 2, 2, 2, 2)


def amplitudes_ee_to_eea(p1, p2, p3, p4, *, g, alpha, electron_mass=0.0):
    """Helicity amplitudes (M_F, M_D) of e-(p1) e+(p2) -> e-(p3) e+(p4) a.

    Each has shape (N, h1, h2, h3, h4); the full amplitude is M_F - M_D (module docstring).
    """
    e2 = 4.0 * math.pi * alpha
    m = electron_mass
    u1, v2 = u_spinor(p1, m), v_spinor(p2, m)
    u3, v4 = u_spinor(p3, m), v_spinor(p4, m)
    q1, q2 = p1 - p3, p2 - p4
    big_p, q = p1 + p2, p3 + p4

    j13 = np.swapaxes(current(u3, u1), 1, 2)  # [h1, h3]
    x_f = eps_vector(current(v2, v4), q1, q2)  # [h2, h4]
    m_f = _pair_contract(j13, x_f).transpose(0, 1, 3, 2, 4)  # [h1, h2, h3, h4]
    m_f *= (e2 * g / (msq(q1) * msq(q2)))[:, None, None, None, None]

    j21 = np.swapaxes(current(v2, u1), 1, 2)  # [h1, h2]
    x_d = eps_vector(current(u3, v4), big_p, -q)  # [h3, h4]
    m_d = _pair_contract(j21, x_d)
    m_d *= (e2 * g / (msq(big_p) * msq(q)))[:, None, None, None, None]
    return m_f, m_d


def me2_ee_to_eea(p1, p2, p3, p4, *, g, alpha, electron_mass=0.0, component="both"):
    """Spin-averaged |M|^2 of e+e- -> e+e- a and the two diagrams' own |M|^2.

    Returns (me2, me2_fusion, me2_dalitz); `me2` is |M_F - M_D|^2, |M_F|^2 or |M_D|^2 as
    `component` asks ('both', 'fusion', 'dalitz'). The diagram-wise values serve as
    multi-channel weights.
    """
    _check_component(component)
    m_f, m_d = amplitudes_ee_to_eea(p1, p2, p3, p4, g=g, alpha=alpha, electron_mass=electron_mass)
    axes = (1, 2, 3, 4)
    fusion = 0.25 * np.sum(np.abs(m_f) ** 2, axis=axes)
    dalitz = 0.25 * np.sum(np.abs(m_d) ** 2, axis=axes)
    if component == "fusion":
        return fusion, fusion, dalitz
    if component == "dalitz":
        return dalitz, fusion, dalitz
    return 0.25 * np.sum(np.abs(m_f - m_d) ** 2, axis=axes), fusion, dalitz
