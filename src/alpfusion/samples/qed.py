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

The sum over orderings is computed recursively (Berends & Giele, Nucl. Phys. B306 (1988) 759): each
external spinor with a subset S of the photons attached is an off-shell spinor,

    psi_S = S(p_in - K_S) sum_{i in S} epsslash_i psi_{S - i},     psi_{} = ket,
    chibar_S = [sum_{i in S} chibar_{S - i} epsslash_i] S(p_out + K_S),   chibar_{} = bra,

(K_S the photons' total momentum) computed once per event and shared by both topologies and all
assignments; a line carrying the photons P has the current J^mu = sum_{A in P} chibar_{P - A}
gamma^mu psi_A, every ordering exactly once. Compiled with numba; in the chiral basis every
gamma^mu and every slashed vector has zero diagonal 2x2 blocks, which the kernels use.
"""

from __future__ import annotations

import itertools
import math

import numba
import numpy as np

from .dirac import GAMMA, bar, mdot, polarisations, slash, u_spinor, v_spinor

__all__ = ["amplitudes_bhabha_photons", "me2_bhabha_photons", "soft_photon_exponent"]

# The kernels' floating-point contract: finite values, and the sign of a zero irrelevant. It lets the
# compiler drop the products with the zero imaginary parts of real factors (0 * x = 0 only holds for
# finite x): 4.8 -> 6.2 x 10^4 |M|^2 per CPU-second (benchmarks/qed_generation.py) with bit-identical
# results; no reassociation or contraction, which would change the rounding of the cancellations that
# the kernels avoid by construction.
FAST = {"nnan", "ninf", "nsz"}


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _chiral_matvec(matrix, diagonal, vector, out):  # pragma: no cover - compiled
    """out = (matrix + diagonal) @ vector for a matrix with zero diagonal 2x2 blocks, as every
    gamma^mu and every slashed vector has in the chiral basis (explicit: numba's @ calls BLAS, slow
    at this size, and half the products are zero)."""
    v0, v1, v2, v3 = vector[0], vector[1], vector[2], vector[3]
    out[0] += diagonal * v0 + matrix[0, 2] * v2 + matrix[0, 3] * v3
    out[1] += diagonal * v1 + matrix[1, 2] * v2 + matrix[1, 3] * v3
    out[2] += diagonal * v2 + matrix[2, 0] * v0 + matrix[2, 1] * v1
    out[3] += diagonal * v3 + matrix[3, 0] * v0 + matrix[3, 1] * v1


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _chiral_vecmat(row, matrix, diagonal, out):  # pragma: no cover - compiled
    """out += row @ (matrix + diagonal), the matrix as in :func:`_chiral_matvec`."""
    r0, r1, r2, r3 = row[0], row[1], row[2], row[3]
    out[0] += diagonal * r0 + r2 * matrix[2, 0] + r3 * matrix[3, 0]
    out[1] += diagonal * r1 + r2 * matrix[2, 1] + r3 * matrix[3, 1]
    out[2] += diagonal * r2 + r0 * matrix[0, 2] + r1 * matrix[1, 2]
    out[3] += diagonal * r3 + r0 * matrix[0, 3] + r1 * matrix[1, 3]


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _dot(a, b):  # pragma: no cover - compiled
    return a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3]


@numba.njit(cache=True, fastmath=FAST)
def _propagator(q, denominator, mass, gamma, prop):  # pragma: no cover - compiled
    """prop = qslash / (q^2 - m^2) with q^2 - m^2 = ``denominator``; returns m / (q^2 - m^2), the
    diagonal of S(q)."""
    inverse = 1.0 / denominator
    for r in range(4):
        for c in range(4):
            value = q[0] * gamma[0, r, c] - q[1] * gamma[1, r, c] - q[2] * gamma[2, r, c]
            prop[r, c] = (value - q[3] * gamma[3, r, c]) * inverse
    return mass * inverse


@numba.njit(cache=True, fastmath=FAST)
def _offshell(spinor, momentum, is_bra, ks, vs, mass, gamma, out):  # pragma: no cover - compiled
    """The off-shell spinors of one external spinor (2 helicities, 4) with every subset S of the
    photons attached (module docstring): out[S, helicity, lambda_0, lambda_1, component], the
    lambda of a photon not in S at 0. ``momentum`` is p_in of a ket or p_out of a bra."""
    n_photons, n_vectors = ks.shape[0], vs.shape[1]
    prop = np.empty((4, 4), dtype=np.complex128)
    vertex = np.zeros(4, dtype=np.complex128)
    q = np.empty(4)
    out[:] = 0.0
    out[0, :, 0, 0, :] = spinor
    sign = 1.0 if is_bra else -1.0
    for subset in range(1, 1 << n_photons):
        # q = p -+ K_S and q^2 - m^2 = -+2 p.K_S + K_S^2, without the cancellation of q^2 against m^2
        # (p.k is of order m^2 k/E for a photon collinear with p)
        q[:] = momentum
        denominator = 0.0
        extent = np.ones(2, dtype=np.int64)
        for i in range(n_photons):
            if subset >> i & 1:
                q += sign * ks[i]
                denominator += sign * 2.0 * _dot(momentum, ks[i])
                extent[i] = n_vectors
                for k in range(i):
                    if subset >> k & 1:
                        denominator += 2.0 * _dot(ks[k], ks[i])
        diagonal = _propagator(q, denominator, mass, gamma, prop)
        for h in range(2):
            for a in range(extent[0]):
                for b in range(extent[1]):
                    vertex[:] = 0.0
                    for i in range(n_photons):  # the photon next to the propagator, the rest before it
                        if subset >> i & 1:
                            lam = a if i == 0 else b
                            rest = out[subset & ~(1 << i), h, a if i == 1 else 0, b if i == 0 else 0]
                            if is_bra:
                                _chiral_vecmat(rest, vs[i, lam], 0.0, vertex)
                            else:
                                _chiral_matvec(vs[i, lam], 0.0, rest, vertex)
                    if is_bra:
                        _chiral_vecmat(vertex, prop, diagonal, out[subset, h, a, b])
                    else:
                        _chiral_matvec(prop, diagonal, vertex, out[subset, h, a, b])


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _bilinear(row, col, out):  # pragma: no cover - compiled
    """out^mu += row gamma^mu col (row a barred spinor), chiral basis."""
    a, b, c, d = row[0] * col[2], row[1] * col[3], row[2] * col[0], row[3] * col[1]
    e, f, g, h = row[0] * col[3], row[1] * col[2], row[2] * col[1], row[3] * col[0]
    out[0] += a + b + c + d
    out[1] += e + f - g - h
    out[2] += 1j * (f + g - e - h)
    out[3] += a - b - c + d


@numba.njit(cache=True, fastmath=FAST)
def _line_current(bras, kets, photons, n_photons, n_vectors, j):  # pragma: no cover - compiled
    """j[bra helicity, ket helicity, lambda_0, lambda_1, mu] = sum_{A in P} chibar_{P - A} gamma^mu
    psi_A for the photons P (bits of ``photons``) on a line of off-shell ``bras`` and ``kets``."""
    j[:] = 0.0
    e0 = n_vectors if photons & 1 else 1
    e1 = n_vectors if photons >> 1 & 1 else 1
    for before in range(1 << n_photons):
        if before & ~photons:
            continue
        after = photons & ~before
        for l0 in range(e0):
            k0, b0 = (l0, 0) if before & 1 else (0, l0)
            for l1 in range(e1):
                k1, b1 = (l1, 0) if before >> 1 & 1 else (0, l1)
                for hb in range(2):
                    for hk in range(2):
                        _bilinear(bras[after, hb, b0, b1], kets[before, hk, k0, k1], j[hb, hk, l0, l1])


@numba.njit(cache=True, fastmath=FAST)
def _amplitudes_kernel(u1, v4, bar3, bar2, p1, p2, p3, p4, ks, vs, mass, gamma, out):  # pragma: no cover
    """out[event, h1, h2, h3, h4, lambda_0, lambda_1] = M_t - M_s without the couplings (module
    docstring): for each topology, each assignment of the photons to its two lines, the two line
    currents contracted over the internal photon's index, divided by its virtuality."""
    n_events, n_photons, n_vectors = ks.shape[0], ks.shape[1], vs.shape[2]
    extent0 = n_vectors if n_photons > 0 else 1
    extent1 = n_vectors if n_photons > 1 else 1
    metric = np.array([1.0, -1.0, -1.0, -1.0])
    everyone = (1 << n_photons) - 1
    shape = (1 << n_photons, 2, n_vectors, n_vectors, 4)
    ket1, ket4 = np.empty(shape, dtype=np.complex128), np.empty(shape, dtype=np.complex128)
    bra3, bra2 = np.empty(shape, dtype=np.complex128), np.empty(shape, dtype=np.complex128)
    j_a = np.empty((2, 2, n_vectors, n_vectors, 4), dtype=np.complex128)
    j_b = np.empty_like(j_a)
    for e in range(n_events):
        _offshell(u1[e], p1[e], False, ks[e], vs[e], mass, gamma, ket1)
        _offshell(v4[e], -p4[e], False, ks[e], vs[e], mass, gamma, ket4)
        _offshell(bar3[e], p3[e], True, ks[e], vs[e], mass, gamma, bra3)
        _offshell(bar2[e], -p2[e], True, ks[e], vs[e], mass, gamma, bra2)
        for topology in range(2):  # 0: t (lines ubar3..u1, vbar2..v4), 1: s (vbar2..u1, ubar3..v4)
            sign = 1.0 if topology == 0 else -1.0
            bra_a, p_out_a = (bra3, p3[e]) if topology == 0 else (bra2, -p2[e])
            bra_b = bra2 if topology == 0 else bra3
            for on_b in range(everyone + 1):
                on_a = everyone & ~on_b
                q = p1[e] - p_out_a
                for i in range(n_photons):
                    if on_a >> i & 1:
                        q = q - ks[e, i]
                _line_current(bra_a, ket1, on_a, n_photons, n_vectors, j_a)
                _line_current(bra_b, ket4, on_b, n_photons, n_vectors, j_b)
                factor = sign / _dot(q, q)
                for l0 in range(extent0):
                    a0, b0 = (l0, 0) if on_a & 1 else (0, l0)
                    for l1 in range(extent1):
                        a1, b1 = (l1, 0) if on_a >> 1 & 1 else (0, l1)
                        for ha_bra in range(2):
                            for ha_ket in range(2):
                                for hb_bra in range(2):
                                    for hb_ket in range(2):
                                        x, y = j_a[ha_bra, ha_ket, a0, a1], j_b[hb_bra, hb_ket, b0, b1]
                                        value = factor * (
                                            metric[0] * x[0] * y[0]
                                            + metric[1] * x[1] * y[1]
                                            + metric[2] * x[2] * y[2]
                                            + metric[3] * x[3] * y[3]
                                        )
                                        if topology == 0:  # a: (h3, h1), b: (h2, h4)
                                            out[e, ha_ket, hb_bra, ha_bra, hb_ket, l0, l1] += value
                                        else:  # a: (h2, h1), b: (h3, h4)
                                            out[e, ha_ket, ha_bra, hb_bra, hb_ket, l0, l1] += value


def _leg_spinors(p, mass, spinor, partner):
    """``spinor(p)`` of a fermion leg; for a crossed leg (p^0 < 0) ``partner(-p)``, the spinors of the
    crossed particle (an incoming e+ of momentum p is an outgoing e- of momentum -p: vbar(p) becomes
    ubar(-p)), so that the amplitude is the crossed process's."""
    crossed = p[:, 0] < 0
    if not crossed.any():
        return spinor(p, mass)
    physical = np.where(crossed[:, None], -p, p)
    return np.where(crossed[:, None, None], partner(physical, mass), spinor(physical, mass))


def amplitudes_bhabha_photons(p1, p2, p3, p4, photons_k, *, alpha, electron_mass, photon_vectors=None):
    """Helicity amplitudes of e-(p1) e+(p2) -> e-(p3) e+(p4) + photons of momenta ``photons_k``
    (a sequence of (N, 4) arrays, 0 to 2 of them): shape (N, h1, h2, h3, h4, lambda_1, ...).

    M = e^(n+2) (M_t - M_s), every photon on every line in every order (module docstring), compiled
    (numba). Each photon is contracted with its vectors ``photon_vectors[i]``, shape (N, P, 4) with an
    upper index (default: eps*(k, lambda), lambda = -1, +1); the photon's momentum itself there tests
    the Ward identity.

    A fermion momentum with negative energy is a crossed leg (an incoming e+ of momentum p2 is an
    outgoing e- of momentum -p2): e.g. p2 = -q4, p4 = -q2 gives Moller scattering e-(p1) e-(q2) ->
    e-(p3) e-(q4). Its spinors are the crossed particle's (`_leg_spinors`): the amplitudes are the
    crossed process's.
    """
    m = electron_mass
    n_events, n = len(p1), len(photons_k)
    if n > 2:
        raise ValueError(f"at most two photons, got {n}")
    if photon_vectors is None:
        photon_vectors = [np.conj(polarisations(k)) for k in photons_k]
    counts = [vectors.shape[1] for vectors in photon_vectors]
    n_vectors = max(counts, default=1)
    ks = np.zeros((n_events, n, 4))
    vs = np.zeros((n_events, n, n_vectors, 4, 4), dtype=complex)  # zeros beyond a photon's own vectors
    for i in range(n):
        ks[:, i] = photons_k[i]
        vs[:, i, : counts[i]] = slash(photon_vectors[i])
    out = np.zeros((n_events, 2, 2, 2, 2, n_vectors, n_vectors), dtype=complex)
    _amplitudes_kernel(
        _leg_spinors(p1, m, u_spinor, v_spinor),
        _leg_spinors(p4, m, v_spinor, u_spinor),
        bar(_leg_spinors(p3, m, u_spinor, v_spinor)),
        bar(_leg_spinors(p2, m, v_spinor, u_spinor)),
        *(np.ascontiguousarray(p, dtype=float) for p in (p1, p2, p3, p4)),
        ks,
        vs,
        float(m),
        GAMMA,
        out,
    )
    e = math.sqrt(4.0 * math.pi * alpha)
    photon_axes = tuple(slice(count) for count in counts) + (0,) * (2 - n)
    return e ** (n + 2) * out[(Ellipsis, *photon_axes)]


def me2_bhabha_photons(p1, p2, p3, p4, photons_k, *, alpha, electron_mass):
    """|M|^2 of e+e- -> e+e- + photons, summed over final and averaged over initial helicities.

    With crossed fermion legs (negative energies, `amplitudes_bhabha_photons`) it is the crossed
    process's |M|^2 (the 1/4 averages over its two incoming fermions): each crossed leg's spinors are
    the crossed particle's, so the helicity sum is (-1)^(crossed legs) times the analytic continuation
    of the spin-summed trace, the sign of crossing symmetry (Peskin & Schroeder section 5.4).
    """
    amp = amplitudes_bhabha_photons(p1, p2, p3, p4, photons_k, alpha=alpha, electron_mass=electron_mass)
    return 0.25 * np.sum(np.abs(amp) ** 2, axis=tuple(range(1, amp.ndim)))


def soft_photon_exponent(p1, p2, p3, p4, *, alpha, electron_mass):
    """beta of e+e-(p1, p2) -> e+e-(p3, p4) (+ neutral particles): the rate of one more soft photon per
    unit of ln(photon energy), dP = beta dE/E, summed over its polarisations and integrated over its
    directions in the frame of the momenta, electron mass kept.

    With J = sum_i s_i p_i / (p_i.k), s_i = Q_i eta_i (Q = -1 for e-, +1 for e+; eta = -1 incoming,
    +1 outgoing), dP = e^2 (-J.J) d^3k / ((2 pi)^3 2 E) and the angular integrals
    int dOmega m^2 / (E - p.n)^2 = 4 pi and int dOmega (p_i.p_j) / ((p_i.n)(p_j.n)) = (2 pi / v_ij)
    ln((1 + v_ij) / (1 - v_ij)), v_ij = sqrt(1 - m^4 / (p_i.p_j)^2) (the relative velocity), give

        beta = (alpha / pi) [ sum_{i<j} (-s_i s_j) (1 / v_ij) ln((1 + v_ij) / (1 - v_ij)) - sum_i s_i^2 ]

    (Yennie, Frautschi & Suura, Ann. Phys. 13 (1961) 379; Weinberg, Phys. Rev. 140 (1965) B516). For the
    beams alone it is (2 alpha / pi) [ln(s / m^2) - 1] as s >> m^2, the initial-state radiator.
    Momenta (N, 4) with positive energies; returns beta (N,).
    """
    legs = ((+1.0, p1), (-1.0, p2), (-1.0, p3), (+1.0, p4))  # s_i = Q_i eta_i
    m2 = electron_mass**2
    total = -float(len(legs))
    for (s_a, p_a), (s_b, p_b) in itertools.combinations(legs, 2):
        total = total - s_a * s_b * _velocity_log(np.minimum(m2 * m2 / mdot(p_a, p_b) ** 2, 1.0))
    return alpha / math.pi * total


def _velocity_log(ratio):
    """(1 / v) ln((1 + v) / (1 - v)) from ratio = 1 - v^2, written as ln((1 + v)^2 / ratio) so that it
    keeps its precision where v rounds to 1, and as its series 2 + 2 v^2 / 3 where v -> 0."""
    v = np.sqrt(1.0 - ratio)
    small = v < 1e-4
    safe = np.where(small, 1.0, v)
    return np.where(small, 2.0 + 2.0 * v**2 / 3.0, (2.0 * np.log1p(safe) - np.log(ratio)) / safe)
