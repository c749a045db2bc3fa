"""Tree-level QED amplitudes of e+e- -> e+e- + n photons (n = 0, 1, 2), electron mass kept everywhere.

Momenta: e-(p1) e+(p2) -> e-(p3) e+(p4) gamma(k_1) ... gamma(k_n); conventions of `dirac`. Bhabha
scattering has two topologies, each with two fermion lines joined by one photon:

    t-channel: [ubar3 ... u1] and [vbar2 ... v4], photon momentum q = p1 - p3 - (photons on that line)
    s-channel: [vbar2 ... u1] and [ubar3 ... v4], photon momentum q = p1 + p2 - (photons on that line)

and M = M_t - M_s (the Fermi sign of Bhabha scattering, Peskin & Schroeder problem 5.2; the same
relative sign as the signal's fusion and Dalitz diagrams in `amplitudes`). Every real photon is
attached to every fermion line in every position: a line carrying the photons P and the internal
vertex is, for each ordering of those vertices along the fermion arrow,

    bra  V_r S(q_{r-1}) ... S(q_1) V_1  ket,      S(q) = (qslash + m) / (q^2 - m^2),

with V = epsslash*(k, lambda) for a real photon and gamma^mu for the internal one, q_j the momentum
along the arrow after the j-th vertex (the ket's momentum minus what the vertices so far emitted). The
ket/bra momenta along the arrow are p1 for u1, p3 for ubar3, -p4 for v4 and -p2 for vbar2. Each diagram
has n + 2 vertices (-i e), n fermion propagators (i) and one photon propagator (-i g/q^2): the same
phase for all, dropped; what stays is e^(n+2), the propagators' denominators and each topology's sign.
This is the whole of tree-level QED for this final state: 2 diagrams for Bhabha, 8 with one photon,
40 with two.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .dirac import GAMMA, METRIC, bar, msq, polarisations, slash, u_spinor, v_spinor

__all__ = ["amplitudes_bhabha_photons", "me2_bhabha_photons"]

INTERNAL = -1
"""The internal photon's vertex in an ordering of a fermion line's vertices."""


def _apply(matrices: np.ndarray, state: np.ndarray) -> np.ndarray:
    """Per event, a 4x4 matrix (N, 4, 4) times every spinor of a state (N, ..., 4): one batched matmul."""
    n = len(state)
    return np.matmul(state.reshape(n, -1, 4), matrices.transpose(0, 2, 1)).reshape(state.shape)


_GAMMA_ROWS = GAMMA.transpose(2, 0, 1).reshape(4, 16)
"""gamma^mu as one (4, 16) matrix: spinor @ _GAMMA_ROWS = (gamma^0 psi, ..., gamma^3 psi), flattened."""


def _line_current(bra, p_out, ket, p_in, photons, on_line, mass):
    """J^mu of one fermion line: shape (N, bra helicity, ket helicity, lambda_1, ..., lambda_n, mu).

    A photon axis has the length of that photon's vectors (``amplitudes_bhabha_photons``). ``photons``
    are the (momentum, epsslash*) pairs of all real photons, ``on_line`` the indices of those attached
    to this line (axes of the others have length 1). Returns (J, q) with q the momentum the internal
    photon carries away from the line.
    """
    n_events, n_photons = len(p_in), len(photons)
    q_out = p_in - p_out - sum((photons[i][0] for i in on_line), np.zeros_like(p_in))
    total = 0
    for order in itertools.permutations((*on_line, INTERNAL)):
        # state axes: event, ket helicity, one per photon, mu, spinor component
        state = ket.reshape(n_events, 2, *([1] * n_photons), 1, 4)
        momentum = p_in
        for step, vertex in enumerate(order):
            if step > 0:
                propagator = (slash(momentum) + mass * np.eye(4)) / (msq(momentum) - mass * mass)[:, None, None]
                state = _apply(propagator, state)
            if vertex == INTERNAL:
                state = (state[..., 0, :] @ _GAMMA_ROWS).reshape(*state.shape[:-2], 4, 4)
                momentum = momentum - q_out
            else:
                k, eps_slash = photons[vertex]
                axis = 2 + vertex
                squeezed = np.take(state, 0, axis=axis)
                state = np.stack([_apply(eps_slash[:, p], squeezed) for p in range(eps_slash.shape[1])], axis=axis)
                momentum = momentum - k
        total = total + state
    bras = bar(bra)  # (N, 2, 4)
    flat = np.matmul(bras, total.reshape(n_events, -1, 4).transpose(0, 2, 1))
    return flat.reshape(n_events, 2, *total.shape[1:-1]), q_out


def _contract(j_a, j_b):
    """sum_mu J_a^mu J_b,mu over lines a and b: (N, a bra, a ket, b bra, b ket, lambda_1, ..., lambda_n)."""
    a = j_a[:, :, :, None, None]
    b = j_b[:, None, None]
    return np.sum(a * b * METRIC, axis=-1)


def amplitudes_bhabha_photons(p1, p2, p3, p4, photons_k, *, alpha, electron_mass, photon_vectors=None):
    """Helicity amplitudes of e-(p1) e+(p2) -> e-(p3) e+(p4) + photons of momenta ``photons_k``
    (a sequence of (N, 4) arrays, 0 to 2 of them): shape (N, h1, h2, h3, h4, lambda_1, ...).

    M = e^(n+2) (M_t - M_s), every photon on every line in every order (module docstring). Each photon
    is contracted with its vectors ``photon_vectors[i]``, shape (N, P, 4) with an upper index (default:
    eps*(k, lambda), lambda = -1, +1); the photon's momentum itself there tests the Ward identity.
    """
    m = electron_mass
    e = math.sqrt(4.0 * math.pi * alpha)
    u1, v2, u3, v4 = u_spinor(p1, m), v_spinor(p2, m), u_spinor(p3, m), v_spinor(p4, m)
    if photon_vectors is None:
        photon_vectors = [np.conj(polarisations(k)) for k in photons_k]
    photons = [(k, slash(vectors)) for k, vectors in zip(photons_k, photon_vectors)]
    n = len(photons)
    lines = {
        "t": ((u3, p3, u1, p1), (v2, -p2, v4, -p4)),
        "s": ((v2, -p2, u1, p1), (u3, p3, v4, -p4)),
    }
    amplitude = {}
    for name, (first, second) in lines.items():
        total = 0
        for assignment in itertools.product((0, 1), repeat=n):
            on_first = tuple(i for i in range(n) if assignment[i] == 0)
            on_second = tuple(i for i in range(n) if assignment[i] == 1)
            j_a, q = _line_current(*first, photons, on_first, m)
            j_b, _ = _line_current(*second, photons, on_second, m)
            total = total + _contract(j_a, j_b) / msq(q).reshape(-1, *([1] * (4 + n)))
        amplitude[name] = total
    # t: (N, h3, h1, h2, h4, ...) and s: (N, h2, h1, h3, h4, ...) -> (N, h1, h2, h3, h4, ...)
    rest = tuple(range(5, 5 + n))
    m_t = amplitude["t"].transpose(0, 2, 3, 1, 4, *rest)
    m_s = amplitude["s"].transpose(0, 2, 1, 3, 4, *rest)
    return e ** (n + 2) * (m_t - m_s)


def me2_bhabha_photons(p1, p2, p3, p4, photons_k, *, alpha, electron_mass):
    """|M|^2 of e+e- -> e+e- + photons, summed over final and averaged over initial helicities."""
    amp = amplitudes_bhabha_photons(p1, p2, p3, p4, photons_k, alpha=alpha, electron_mass=electron_mass)
    return 0.25 * np.sum(np.abs(amp) ** 2, axis=tuple(range(1, amp.ndim)))
