"""Building blocks of tree-level helicity amplitudes, vectorised over batches of events.

Conventions
-----------
* Metric (+, -, -, -); four-vectors are arrays of shape (..., 4) holding (E, px, py, pz).
* Chiral (Weyl) basis: gamma^0 = [[0, 1], [1, 0]], gamma^i = [[0, sigma^i], [-sigma^i, 0]],
  gamma^5 = diag(-1, 1); a Dirac spinor is (psi_L, psi_R).
* Helicity spinors as in HELAS (Murayama, Watanabe, Hagiwara, KEK-91-11, eqs. 2.10-2.13):

      u(p, l) = ( sqrt(E - l|p|) chi_l(p),  sqrt(E + l|p|) chi_l(p) )
      v(p, l) = ( -l sqrt(E + l|p|) chi_-l(p),  l sqrt(E - l|p|) chi_-l(p) )

  with the two-component helicity eigenstates chi_+-(p) of HELAS. They obey the Dirac equation
  and the completeness relations sum_l u ubar = pslash + m, sum_l v vbar = pslash - m.
* Levi-Civita: eps^{0123} = +1, so eps_{0123} = -1.

Arrays of spinors carry the helicity as an axis of length 2 (index 0: l = -1, index 1: l = +1).
"""

from __future__ import annotations

import numba
import numpy as np

HELICITIES = np.array([-1.0, 1.0])
METRIC = np.array([1.0, -1.0, -1.0, -1.0])

_PAULI = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])
GAMMA = np.zeros((4, 4, 4), dtype=complex)
"""gamma^mu in the chiral basis, GAMMA[mu] (upper index)."""
GAMMA[0, :2, 2:] = GAMMA[0, 2:, :2] = np.eye(2)
GAMMA[1:, :2, 2:] = _PAULI
GAMMA[1:, 2:, :2] = -_PAULI
PROJ_L = np.diag([1.0, 1.0, 0.0, 0.0]).astype(complex)
"""P_L = (1 - gamma^5) / 2: the upper (left-handed) block."""
PROJ_R = np.diag([0.0, 0.0, 1.0, 1.0]).astype(complex)


def mdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Minkowski product a.b = a^0 b^0 - a.b (no complex conjugation), over the last axis."""
    return a[..., 0] * b[..., 0] - a[..., 1] * b[..., 1] - a[..., 2] * b[..., 2] - a[..., 3] * b[..., 3]


def msq(p: np.ndarray) -> np.ndarray:
    """Invariant mass squared p.p."""
    return mdot(p, p)


def slash(p: np.ndarray) -> np.ndarray:
    """pslash = p_mu gamma^mu = p^0 gamma^0 - p^i gamma^i, shape (..., 4, 4); p may be complex."""
    return np.tensordot(p * METRIC, GAMMA, axes=([-1], [0]))


def bar(spinor: np.ndarray) -> np.ndarray:
    """The Dirac adjoint psibar = psi^dagger gamma^0 as a row vector, shape (..., 4)."""
    return np.conj(spinor) @ GAMMA[0]


def _chi(p: np.ndarray) -> np.ndarray:
    """Two-component helicity eigenstates chi_-(p), chi_+(p): shape (..., 2 helicities, 2).

    chi_+ = (|p| + pz, px + i py) / sqrt(2|p|(|p| + pz)),
    chi_- = (-px + i py, |p| + pz) / sqrt(2|p|(|p| + pz)),
    with chi_+ = (0, 1), chi_- = (-1, 0) for p along -z. |p| + pz is computed as
    pT^2 / (|p| - pz) for pz < 0 to keep its precision for momenta close to the -z axis.
    """
    px, py, pz = p[..., 1], p[..., 2], p[..., 3]
    pabs = np.sqrt(px * px + py * py + pz * pz)
    pt2 = px * px + py * py
    with np.errstate(divide="ignore", invalid="ignore"):
        ppz = np.where(pz >= 0, pabs + pz, pt2 / (pabs - pz))
        norm = np.sqrt(2.0 * pabs * ppz)
        on_minus_z = norm <= 0
        norm = np.where(on_minus_z, 1.0, norm)
        a = np.where(on_minus_z, 0.0, ppz / norm)
        b = np.where(on_minus_z, 1.0 + 0j, (px + 1j * py) / norm)
        c = np.where(on_minus_z, -1.0 + 0j, (-px + 1j * py) / norm)
    chi = np.empty(p.shape[:-1] + (2, 2), dtype=complex)
    chi[..., 1, 0] = a
    chi[..., 1, 1] = b
    chi[..., 0, 0] = c
    chi[..., 0, 1] = a
    return chi


def _sqrt_e_minus_plus(p: np.ndarray, mass: float) -> tuple[np.ndarray, np.ndarray]:
    """sqrt(E - |p|) and sqrt(E + |p|), the first as m / sqrt(E + |p|) to keep its precision."""
    pabs = np.sqrt(p[..., 1] ** 2 + p[..., 2] ** 2 + p[..., 3] ** 2)
    plus = np.sqrt(p[..., 0] + pabs)
    return mass / plus, plus


def u_spinor(p: np.ndarray, mass: float) -> np.ndarray:
    """Incoming-fermion spinors u(p, l) for l = -1, +1: shape (..., 2, 4)."""
    chi = _chi(p)
    lo, hi = _sqrt_e_minus_plus(p, mass)
    out = np.empty(p.shape[:-1] + (2, 4), dtype=complex)
    # l = -1: sqrt(E + |p|) upper, sqrt(E - |p|) lower
    out[..., 0, :2] = hi[..., None] * chi[..., 0, :]
    out[..., 0, 2:] = lo[..., None] * chi[..., 0, :]
    out[..., 1, :2] = lo[..., None] * chi[..., 1, :]
    out[..., 1, 2:] = hi[..., None] * chi[..., 1, :]
    return out


def v_spinor(p: np.ndarray, mass: float) -> np.ndarray:
    """Incoming-antifermion spinors v(p, l) for l = -1, +1: shape (..., 2, 4)."""
    chi = _chi(p)
    lo, hi = _sqrt_e_minus_plus(p, mass)
    out = np.empty(p.shape[:-1] + (2, 4), dtype=complex)
    # l = -1: ( sqrt(E - |p|) chi_+, -sqrt(E + |p|) chi_+ )
    out[..., 0, :2] = lo[..., None] * chi[..., 1, :]
    out[..., 0, 2:] = -hi[..., None] * chi[..., 1, :]
    # l = +1: ( -sqrt(E + |p|) chi_-, sqrt(E - |p|) chi_- )
    out[..., 1, :2] = -hi[..., None] * chi[..., 0, :]
    out[..., 1, 2:] = lo[..., None] * chi[..., 0, :]
    return out


def current(bra: np.ndarray, ket: np.ndarray) -> np.ndarray:
    """Fermion current  psibar_bra gamma^mu psi_ket  for all helicity pairs.

    `bra` and `ket` are spinor arrays of shape (N, 2, 4) (u or v); the result has shape
    (N, 2, 2, 4) indexed [event, bra helicity, ket helicity, mu] with an upper Lorentz index.
    In the chiral basis gamma^0 gamma^mu = diag(sigmabar^mu, sigma^mu), so
    J^mu = bra_L^dagger sigmabar^mu ket_L + bra_R^dagger sigma^mu ket_R,
    sigma^mu = (1, sigma), sigmabar^mu = (1, -sigma).
    """
    return _current_kernel(np.ascontiguousarray(bra), np.ascontiguousarray(ket))


@numba.njit(cache=True)
def _current_kernel(bra, ket):  # pragma: no cover - compiled
    n = bra.shape[0]
    out = np.empty((n, 2, 2, 4), dtype=np.complex128)
    for e in range(n):
        for i in range(2):
            b0, b1 = bra[e, i, 0].conjugate(), bra[e, i, 1].conjugate()
            b2, b3 = bra[e, i, 2].conjugate(), bra[e, i, 3].conjugate()
            for j in range(2):
                k0, k1, k2, k3 = ket[e, j, 0], ket[e, j, 1], ket[e, j, 2], ket[e, j, 3]
                l00, l01, l10, l11 = b0 * k0, b0 * k1, b1 * k0, b1 * k1
                r00, r01, r10, r11 = b2 * k2, b2 * k3, b3 * k2, b3 * k3
                out[e, i, j, 0] = l00 + l11 + r00 + r11
                out[e, i, j, 1] = r01 + r10 - l01 - l10
                out[e, i, j, 2] = -1j * (r01 - r10 - l01 + l10)
                out[e, i, j, 3] = r00 - r11 - l00 + l11
    return out


def polarisations(k: np.ndarray) -> np.ndarray:
    """Transverse polarisation vectors eps^mu(k, l) of a massless vector boson, l = -1, +1.

    eps(k, +-) = (-+ e1 - i e2) / sqrt(2) with e1 = (0, cos th cos ph, cos th sin ph, -sin th),
    e2 = (0, -sin ph, cos ph, 0) (HELAS vxxxxx). Shape (..., 2, 4), upper index. For an outgoing
    boson use the complex conjugate.
    """
    px, py, pz = k[..., 1], k[..., 2], k[..., 3]
    pabs = np.sqrt(px * px + py * py + pz * pz)
    pt = np.sqrt(px * px + py * py)
    cth, sth = pz / pabs, pt / pabs
    safe_pt = np.where(pt > 0, pt, 1.0)
    cph = np.where(pt > 0, px / safe_pt, 1.0)
    sph = np.where(pt > 0, py / safe_pt, 0.0)
    zero = np.zeros_like(pabs)
    e1 = np.stack([zero, cth * cph, cth * sph, -sth], axis=-1)
    e2 = np.stack([zero, -sph, cph, zero], axis=-1)
    lam = HELICITIES.reshape((1,) * (k.ndim - 1) + (2, 1))
    return (-lam * e1[..., None, :] - 1j * e2[..., None, :]) / np.sqrt(2.0)


def eps_vector(b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """X_mu = eps_{mu nu rho sigma} b^nu c^rho d^sigma (lower index), eps^{0123} = +1.

    Then eps_{mu nu rho sigma} a^mu b^nu c^rho d^sigma = sum_mu a^mu X_mu (plain sum, the index
    already lowered). c and d have shape (..., 4); b has the same leading axes and possibly
    extra (helicity) axes before its Lorentz index: the minors of (c, d) are computed once per
    event and applied to all of them. With w^{rho sigma} = c^rho d^sigma - c^sigma d^rho,
    M_{mu nu} = eps_{mu nu rho sigma} c^rho d^sigma has M_01 = -w23, M_02 = w13, M_03 = -w12,
    M_12 = -w03, M_13 = w02, M_23 = -w01 (antisymmetric), and X_mu = M_{mu nu} b^nu.
    """
    c, d = np.broadcast_arrays(np.asarray(c, dtype=float), np.asarray(d, dtype=float))
    lead = c.shape[:-1]
    n = int(np.prod(lead, dtype=int))
    b = np.asarray(b)
    flat_b = np.ascontiguousarray(b.reshape(n, -1, 4))
    out = _eps_vector_kernel(flat_b, np.ascontiguousarray(c.reshape(n, 4)), np.ascontiguousarray(d.reshape(n, 4)))
    return out.reshape(b.shape)


@numba.njit(cache=True)
def _eps_vector_kernel(b, c, d):  # pragma: no cover - compiled
    out = np.empty_like(b)
    for e in range(b.shape[0]):
        w01 = c[e, 0] * d[e, 1] - c[e, 1] * d[e, 0]
        w02 = c[e, 0] * d[e, 2] - c[e, 2] * d[e, 0]
        w03 = c[e, 0] * d[e, 3] - c[e, 3] * d[e, 0]
        w12 = c[e, 1] * d[e, 2] - c[e, 2] * d[e, 1]
        w13 = c[e, 1] * d[e, 3] - c[e, 3] * d[e, 1]
        w23 = c[e, 2] * d[e, 3] - c[e, 3] * d[e, 2]
        for k in range(b.shape[1]):
            b0, b1, b2, b3 = b[e, k, 0], b[e, k, 1], b[e, k, 2], b[e, k, 3]
            out[e, k, 0] = -w23 * b1 + w13 * b2 - w12 * b3
            out[e, k, 1] = w23 * b0 - w03 * b2 + w02 * b3
            out[e, k, 2] = -w13 * b0 + w03 * b1 - w01 * b3
            out[e, k, 3] = w12 * b0 - w02 * b1 + w01 * b2
    return out


def eps4(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """eps_{mu nu rho sigma} a^mu b^nu c^rho d^sigma with eps^{0123} = +1."""
    return np.sum(a * eps_vector(b, c, d), axis=-1)
