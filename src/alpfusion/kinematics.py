"""Kinematic definitions shared by the generators' cuts and the processors (physics.md section 3).

Everything here acts on plain numpy arrays of four-vectors, shape (N, 4) = (E, px, py, pz), in
the centre-of-mass frame with the e- beam along +z. This module is the one place where the
acceptance is defined.
"""

from __future__ import annotations

import math

import numpy as np

from .config import Acceptance


def momentum(p: np.ndarray) -> np.ndarray:
    """|p|, the length of the three-momentum."""
    return np.sqrt(p[..., 1] ** 2 + p[..., 2] ** 2 + p[..., 3] ** 2)


def cos_theta(p: np.ndarray) -> np.ndarray:
    """cos(theta), the polar angle to the e- beam (+z) direction."""
    return p[..., 3] / momentum(p)


def pseudorapidity(p: np.ndarray) -> np.ndarray:
    """eta = -ln tan(theta/2) = atanh(pz/|p|)."""
    return np.arctanh(cos_theta(p))


def delta_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Delta R = sqrt(Delta eta^2 + Delta phi^2), Delta phi wrapped into [-pi, pi]."""
    deta = pseudorapidity(a) - pseudorapidity(b)
    dphi = np.arctan2(a[..., 2], a[..., 1]) - np.arctan2(b[..., 2], b[..., 1])
    dphi = (dphi + np.pi) % (2.0 * np.pi) - np.pi
    return np.hypot(deta, dphi)


def in_acceptance(p: np.ndarray, acc: Acceptance) -> np.ndarray:
    """True where a particle is visible: theta_min <= theta <= theta_max and E >= E_min."""
    lo, hi = acc.cos_theta_range
    c = cos_theta(p)
    return (c >= lo) & (c <= hi) & (p[..., 0] >= acc.energy_min)


def pair_separated(a: np.ndarray, b: np.ndarray, acc: Acceptance) -> np.ndarray:
    """True where two visible particles are resolved: Delta R >= delta_r_ee_min."""
    if acc.delta_r_ee_min <= 0:
        return np.ones(a.shape[:-1], dtype=bool)
    return delta_r(a, b) >= acc.delta_r_ee_min


def min_pair_mass(acc: Acceptance, electron_mass: float) -> float:
    """A safe lower bound on m_ee for two accepted electrons separated by Delta R >= R.

    Two particles of energy >= E_min at opening angle psi have m^2 >= 2 E_min^2 (1 - cos psi)
    (massless). On the sphere ds^2 = sin^2(theta) (d eta^2 + d phi^2), so nearby directions in
    the polar acceptance have psi ~ R sin(theta_min); since great circles can bend towards the
    poles, half of that is used, a deliberately loose bound (checked by brute force in the
    tests). It only sets the lower edge of a sampling range: too low costs a little efficiency,
    too high would cut physical phase space.
    """
    bound = 2.0 * electron_mass
    if acc.delta_r_ee_min > 0 and acc.energy_min > 0:
        sin_min = math.sin(math.radians(acc.edge_deg))
        psi = min(0.5 * acc.delta_r_ee_min * sin_min, math.pi)
        bound = max(bound, acc.energy_min * math.sqrt(2.0 * (1.0 - math.cos(psi))))
    return bound
