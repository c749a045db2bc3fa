"""Phase-space parametrisations ("channels") of the unit hypercube, for vegas.

A channel maps y in [0, 1]^dim (and one extra azimuth, the overall rotation about the beam
axis, on which no unpolarised cross section depends) to the outgoing four-momenta in the
centre-of-mass frame and to the phase-space density

    w(y) = d Phi_n / d^dim y,   Phi_n with the (2 pi)^4 delta^4 / prod_i (2 pi)^3 2 E_i convention,

so that sigma = integral d^dim y  w(y) |M|^2 / flux. Points a channel cannot reach get w = 0.
Each channel follows the peaks of one class of diagrams; vegas adapts its grid on top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import ProcessSettingsError

TWO_PI = 2.0 * math.pi


def kallen(a, b, c):
    """Kallen function lambda(a, b, c) = a^2 + b^2 + c^2 - 2ab - 2bc - 2ca."""
    return a * a + b * b + c * c - 2.0 * (a * b + b * c + c * a)


def two_body_momentum(m_parent, m1, m2):
    """|p| of either daughter in the rest frame of a parent of mass m_parent."""
    lam = kallen(m_parent**2, m1**2, m2**2)
    return np.sqrt(np.maximum(lam, 0.0)) / (2.0 * m_parent)


def beams(sqrt_s: float, mass: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Incoming e-(+z) and e+(-z) four-momenta at centre-of-mass energy sqrt_s, shape (n, 4)."""
    e = 0.5 * sqrt_s
    pz = math.sqrt(e * e - mass * mass)
    return np.tile([e, 0.0, 0.0, pz], (n, 1)), np.tile([e, 0.0, 0.0, -pz], (n, 1))


def cm_momentum(sqrt_s: float, n: int) -> np.ndarray:
    """The centre-of-mass four-momentum P = (sqrt_s, 0, 0, 0), shape (n, 4)."""
    total = np.zeros((n, 4))
    total[:, 0] = sqrt_s
    return total


def recoil(sqrt_s: float, momenta: np.ndarray) -> np.ndarray:
    """P - momenta: what the particles of four-momenta ``momenta`` (shape (n, 4)) leave of the
    centre-of-mass four-momentum P = (sqrt_s, 0, 0, 0)."""
    rest = -momenta
    rest[:, 0] += sqrt_s
    return rest


def from_angles(energy, pabs, cos_t, phi):
    """Four-vector (E, |p| sin th cos ph, |p| sin th sin ph, |p| cos th)."""
    sin_t = np.sqrt(np.maximum(1.0 - cos_t * cos_t, 0.0))
    return np.stack([energy, pabs * sin_t * np.cos(phi), pabs * sin_t * np.sin(phi), pabs * cos_t], axis=-1)


def rotate_z(p: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Rotate four-vectors by angle phi about the z axis."""
    c, s = np.cos(phi), np.sin(phi)
    return np.stack([p[..., 0], c * p[..., 1] - s * p[..., 2], s * p[..., 1] + c * p[..., 2], p[..., 3]], axis=-1)


def boost_from_rest(p_rest: np.ndarray, parent: np.ndarray, parent_mass: np.ndarray | float) -> np.ndarray:
    """Boost four-vectors given in the rest frame of `parent` into the frame where it has `parent`.

    Pure boost along the parent's velocity b = p/E, gamma = E/m:
    E' = gamma (E* + b.p*),  p' = p* + [(gamma - 1)(b.p*)/b^2 + gamma E*] b.
    The mass is passed in: E^2 - p^2 loses it to rounding for light, fast parents.
    """
    gamma = parent[..., 0] / parent_mass
    b = parent[..., 1:] / parent[..., :1]
    b2 = np.sum(b * b, axis=-1)
    bp = np.sum(b * p_rest[..., 1:], axis=-1)
    safe_b2 = np.where(b2 > 0, b2, 1.0)
    coef = np.where(b2 > 0, (gamma - 1.0) * bp / safe_b2, 0.0) + gamma * p_rest[..., 0]
    energy = gamma * (p_rest[..., 0] + bp)
    return np.concatenate([energy[..., None], p_rest[..., 1:] + coef[..., None] * b], axis=-1)


def _log_map(y, lo, hi):
    """x = exp(ln lo + y ln(hi/lo)) and dx/dy = x ln(hi/lo): flat in ln x on [lo, hi]."""
    span = math.log(hi / lo)
    x = lo * np.exp(y * span)
    return x, x * span


@dataclass(frozen=True)
class TwoBody:
    """a + b with the polar angle of `names[0]` in [cos_lo, cos_hi]: dim 1.

    d Phi_2 = |p| / (16 pi^2 sqrt(s)) d cos(theta) d phi.
    """

    sqrt_s: float
    masses: tuple[float, float]
    names: tuple[str, str]
    cos_lo: float = -1.0
    cos_hi: float = 1.0
    name: str = "two-body"
    dim: int = 1

    def __call__(self, y, azimuth):
        m1, m2 = self.masses
        pabs = float(two_body_momentum(self.sqrt_s, m1, m2))
        e1 = math.sqrt(pabs**2 + m1**2)
        cos_t = self.cos_lo + (self.cos_hi - self.cos_lo) * y[:, 0]
        p_1 = from_angles(np.full_like(cos_t, e1), pabs, cos_t, azimuth)
        p_2 = np.concatenate([self.sqrt_s - p_1[:, :1], -p_1[:, 1:]], axis=1)
        weight = np.full_like(cos_t, pabs / (16.0 * math.pi**2 * self.sqrt_s) * TWO_PI * (self.cos_hi - self.cos_lo))
        return {self.names[0]: p_1, self.names[1]: p_2}, weight


@dataclass(frozen=True)
class ForwardBackwardPair:
    """e-(p3) e+(p4) X for t-channel exchange: e- follows the e- beam (+z), e+ the e+ beam (-z).

    Variables: u3 = ln(1 - b0 cos th3) and u4 = ln(1 + b0 cos th4), flat in the t-channel
    poles 1/(1 -+ b0 cos th) (b0 the beam velocity); phi4 - phi3; E3 between the threshold and
    the largest value that leaves E4 above threshold (`e3_limit`), so that the energy cut on
    both electrons is built in. E4 solves
    f(E4) = (P - p3 - p4)^2 - m_X^2 = 0. With massive electrons f has two roots,
    E4 = (a b +- c sqrt(a^2 - 4 m^2 (b^2 - c^2))) / (2 (b^2 - c^2)) in the notation of the code; the
    "+" root goes over into the massless solution a / (2 (b - c)). A fifth variable picks it with
    probability `first_root_probability` and the other root otherwise, weighted by the inverse
    probability (0 where the chosen root is unphysical). The other root is physical only where
    the e+ is slow in the rest frame of P - p3, next to the e- energy endpoint, so it is drawn
    rarely.

        d Phi_3 = (2 pi)^-5 / 4 * |p3| |p4| / |df/dE4| dE3 dOmega3 dOmega4,
        df/dE4 = -2 (Q0 - (E4/|p4|) Q.n4),  Q = P - p3,  n4 = p4/|p4|.

    Angular ranges [cos_lo, cos_hi] and energies >= e_min are built in.
    """

    sqrt_s: float
    m_e: float
    m_x: float
    cos_lo: float
    cos_hi: float
    e_min: float
    names: tuple[str, str, str] = ("e_minus", "e_plus", "invisible")
    name: str = "forward-backward"
    first_root_probability: float = 0.95

    @property
    def dim(self) -> int:
        return 5 if self.m_e > 0 else 4

    E3_MARGIN = 0.01
    """GeV added to the massless E3 limit when m_e > 0: far above the O(m_e^2 / E_min) ~ 1e-6 GeV
    shift of the massive kinematics; draws beyond the true limit get weight 0."""

    def e3_limit(self, cos3, cos4, dphi):
        """The largest E3 for which E4 >= max(E_min, m_e), at fixed directions of e- and e+.

        For massless electrons E4(E3) = (s - m_X^2 - 2 sqrt(s) E3) / (2 (sqrt(s) - k E3)),
        k = 1 - cos(theta_34), falls monotonically (dE4/dE3 = 2 [s (k - 2) - k m_X^2] / D^2 <= 0),
        so E4 >= E_min is E3 <= (s - m_X^2 - 2 sqrt(s) E_min) / (2 sqrt(s) - 2 k E_min). It is
        capped at the kinematic endpoint (s + m_e^2 - (m_e + m_X)^2) / (2 sqrt(s)).
        """
        rs, m, mx = self.sqrt_s, self.m_e, self.m_x
        endpoint = (rs**2 + m**2 - (m + mx) ** 2) / (2.0 * rs)
        e4_min = max(self.e_min, m)
        if e4_min <= 0:
            return np.full_like(cos3, endpoint)
        sin3, sin4 = np.sqrt(np.maximum(1 - cos3 * cos3, 0)), np.sqrt(np.maximum(1 - cos4 * cos4, 0))
        k = 1.0 - (cos3 * cos4 + sin3 * sin4 * np.cos(dphi))
        limit = (rs**2 - mx**2 - 2.0 * rs * e4_min) / (2.0 * rs - 2.0 * k * e4_min)
        if m > 0:
            limit = limit + self.E3_MARGIN
        return np.minimum(limit, endpoint)

    @property
    def _b0(self) -> float:
        return math.sqrt(1.0 - 4.0 * self.m_e**2 / self.sqrt_s**2) if self.m_e > 0 else 1.0

    def __call__(self, y, azimuth):
        rs, m, mx, b0 = self.sqrt_s, self.m_e, self.m_x, self._b0
        # polar angles with the t-channel poles flattened
        u3_lo, u3_hi = math.log(1.0 - b0 * self.cos_hi), math.log(1.0 - b0 * self.cos_lo)
        u3 = u3_lo + (u3_hi - u3_lo) * y[:, 1]
        cos3 = (1.0 - np.exp(u3)) / b0
        u4_lo, u4_hi = math.log(1.0 + b0 * self.cos_lo), math.log(1.0 + b0 * self.cos_hi)
        u4 = u4_lo + (u4_hi - u4_lo) * y[:, 2]
        cos4 = (np.exp(u4) - 1.0) / b0
        jac_angles = (u3_hi - u3_lo) * np.exp(u3) / b0 * (u4_hi - u4_lo) * np.exp(u4) / b0
        dphi = TWO_PI * y[:, 3]
        # E3 up to where E4 falls to the threshold (see `e3_limit`)
        e3_lo = max(self.e_min, m)
        e3_hi = self.e3_limit(cos3, cos4, dphi)
        e3 = e3_lo + (e3_hi - e3_lo) * y[:, 0]
        p3abs = np.sqrt(np.maximum(e3 * e3 - m * m, 0.0))
        p3 = from_angles(e3, p3abs, cos3, np.zeros_like(e3))
        n4 = from_angles(np.ones_like(e3), 1.0, cos4, dphi)[:, 1:]
        q = recoil(rs, p3)
        a = q[:, 0] ** 2 - np.sum(q[:, 1:] ** 2, axis=1) + m * m - mx * mx
        b = q[:, 0]
        c = np.sum(q[:, 1:] * n4, axis=1)
        if m > 0:
            # 2 (b E4 - c |p4|) = a:  (b^2 - c^2) E4^2 - a b E4 + a^2/4 + c^2 m^2 = 0
            first = y[:, 4] < self.first_root_probability
            root_sign = np.where(first, 1.0, -1.0)
            disc = np.maximum(a * a - 4.0 * m * m * (b * b - c * c), 0.0)
            e4 = (a * b + root_sign * c * np.sqrt(disc)) / (2.0 * (b * b - c * c))
            p4abs = np.sqrt(np.maximum(e4 * e4 - m * m, 0.0))
            # squaring admitted 2 b E4 - a = -2 c |p4| as well: keep the root of the right sign
            valid = (a * a >= 4.0 * m * m * (b * b - c * c)) & (e4 >= m) & ((2.0 * b * e4 - a) * c >= 0)
            root_weight = np.where(first, 1.0 / self.first_root_probability, 1.0 / (1.0 - self.first_root_probability))
            dfde4 = 2.0 * np.abs(b - c * e4 / np.where(p4abs > 0, p4abs, 1.0))
        else:
            denom = b - c
            e4 = a / (2.0 * np.where(denom > 0, denom, 1.0))
            p4abs = e4
            valid = denom > 0
            root_weight = 1.0
            dfde4 = 2.0 * denom
        valid &= (e4 >= max(self.e_min, m)) & (dfde4 > 0) & (e3_hi > e3_lo)
        e4 = np.where(valid, e4, max(self.e_min, m, 1e-3))
        p4abs = np.where(valid, p4abs, e4)
        p4 = np.concatenate([e4[:, None], p4abs[:, None] * n4], axis=1)
        px = recoil(rs, p3 + p4)
        safe = np.where(valid, dfde4, 1.0)
        weight = np.where(
            valid,
            root_weight * (e3_hi - e3_lo) * jac_angles * TWO_PI * TWO_PI * p3abs * p4abs / (4.0 * (TWO_PI**5) * safe),
            0.0,
        )
        momenta = {name: rotate_z(p, azimuth) for name, p in zip(self.names, (p3, p4, px))}
        return momenta, weight


@dataclass(frozen=True)
class SequentialPair:
    """P -> X + (e+e-) -> X e- e+, flat in ln m_ee^2: the s-channel (Dalitz) topology.

        d Phi_3 = d Phi_2(sqrt s; m_ee, m_X) dm_ee^2 / (2 pi) d Phi_2(m_ee; m_e, m_e),
        d Phi_2(M; m1, m2) = |p*| / (16 pi^2 M) dOmega*.

    m_ee runs from m_ee_min (> 0: the collinear pole 1/m_ee^2 needs the electron mass or a
    separation cut) to sqrt(s) - m_X. The e- direction is drawn in the pair rest frame about
    the pair's flight direction (helicity frame).
    """

    sqrt_s: float
    m_e: float
    m_x: float
    m_ee_min: float
    names: tuple[str, str, str] = ("e_minus", "e_plus", "invisible")
    name: str = "sequential"
    dim: int = 4

    def __post_init__(self):
        if not self.m_ee_min > 0:
            raise ProcessSettingsError(
                "the e+e- pair mass needs a lower bound > 0: keep the electron mass or set a "
                "minimum electron separation (acceptance.delta_r_ee_min) with an energy cut"
            )

    def __call__(self, y, azimuth):
        rs, m, mx = self.sqrt_s, self.m_e, self.m_x
        m_hi = rs - mx
        m2, jac_m2 = _log_map(y[:, 0], self.m_ee_min**2, m_hi**2)
        mee = np.sqrt(m2)
        # pair in the CoM frame
        pq = two_body_momentum(rs, mee, mx)
        cos_q = 2.0 * y[:, 1] - 1.0
        pair = from_angles(np.sqrt(pq * pq + m2), pq, cos_q, np.zeros_like(mee))
        # e- in the pair rest frame, angles about the pair direction, then rotated and boosted
        pstar = two_body_momentum(mee, m, m)
        cos_s = 2.0 * y[:, 2] - 1.0
        e_rest = from_angles(np.sqrt(pstar * pstar + m * m), pstar, cos_s, TWO_PI * y[:, 3])
        e_rest = rotate_y(e_rest, cos_q)
        p3 = boost_from_rest(e_rest, pair, mee)
        p4 = pair - p3
        px = recoil(rs, pair)
        weight = (
            pq
            / (16.0 * math.pi**2 * rs)
            * 2.0
            * TWO_PI
            * jac_m2
            / TWO_PI
            * pstar
            / (16.0 * math.pi**2 * mee)
            * 2.0
            * TWO_PI
        )
        momenta = {name: rotate_z(p, azimuth) for name, p in zip(self.names, (p3, p4, px))}
        return momenta, weight


def rotate_y(p: np.ndarray, cos_t: np.ndarray) -> np.ndarray:
    """Rotate about the y axis by theta (cos theta given, sin theta >= 0): +z goes to (sin th, 0, cos th)."""
    sin_t = np.sqrt(np.maximum(1.0 - cos_t * cos_t, 0.0))
    x, z = p[..., 1], p[..., 3]
    return np.stack([p[..., 0], cos_t * x + sin_t * z, p[..., 2], -sin_t * x + cos_t * z], axis=-1)
