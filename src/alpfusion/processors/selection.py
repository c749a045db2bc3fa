"""The per-mass selection of physics.md section 5 and the names of its regions.

For an ALP mass hypothesis m_a with cut values (kappa, E_low, eta_high):

    |m2_miss - m_a^2| <= kappa * delta_m2(m_a),   delta_m2(m) = [1 - (m / 10 GeV)^4] GeV^2
    E_low <= E*_miss <= (s + m_a^2) / (2 sqrt(s))
    |eta*_miss| <= eta_high

applied in this order after the acceptance; the cut flow records the stages of :data:`CUTS`.
The cut values come from the configuration's ``selection`` section (defaults and per-mass
overrides).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Config
from ..constants import DELTA_M2_MASS_SCALE
from . import ProcessingError

__all__ = [
    "CUTS",
    "MassHypothesis",
    "e_miss_max",
    "mass_hypotheses",
    "missing_mass2_resolution",
    "region_name",
]

CUTS = ("all", "acceptance", "missing_mass", "e_miss", "eta_miss")
"""The cut-flow stages, each including the ones before it."""


def missing_mass2_resolution(m_a: float) -> float:
    """delta_m2(m_a) = 1 - (m_a / 10 GeV)^4, in GeV^2 (physics.md section 4)."""
    return 1.0 - (m_a / DELTA_M2_MASS_SCALE) ** 4


def missing_energy(m2_miss, m_ee, sqrt_s: float):
    """E*_miss = (s + m2_miss - m_ee^2) / (2 sqrt(s)): the missing energy in the centre-of-mass frame of an
    e+e- pair of mass m_ee recoiling against a missing mass m2_miss (energy-momentum conservation)."""
    return (sqrt_s * sqrt_s + m2_miss - np.square(m_ee)) / (2.0 * sqrt_s)


def e_miss_max(m_a: float, sqrt_s: float) -> float:
    """(s + m_a^2) / (2 sqrt(s)): the largest E*_miss of e+e- -> e+e- a (a massless e+e- pair)."""
    return float(missing_energy(m_a * m_a, 0.0, sqrt_s))


def region_name(m_a: float) -> str:
    """The region of a mass hypothesis: 'ma' + m_a in GeV with 3 decimals, '.' -> 'p' (ma1p000)."""
    return "ma" + f"{m_a:.3f}".replace(".", "p")


@dataclass(frozen=True)
class MassHypothesis:
    """One mass hypothesis and its cuts (GeV)."""

    m_a: float
    kappa: float
    e_low: float
    eta_high: float
    sqrt_s: float

    @property
    def region(self) -> str:
        return region_name(self.m_a)

    @property
    def m2_window(self) -> tuple[float, float]:
        """(lo, hi) of the accepted m2_miss."""
        half = self.kappa * missing_mass2_resolution(self.m_a)
        return (self.m_a**2 - half, self.m_a**2 + half)

    @property
    def e_miss_window(self) -> tuple[float, float]:
        """(E_low, (s + m_a^2) / (2 sqrt(s))) of the accepted E*_miss."""
        return (self.e_low, e_miss_max(self.m_a, self.sqrt_s))

    def energy_eta(self, e_miss: np.ndarray, eta_miss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Masks of the E*_miss cut, and of the E*_miss and eta*_miss cuts together."""
        e_lo, e_hi = self.e_miss_window
        energy = (e_miss >= e_lo) & (e_miss <= e_hi)
        return energy, energy & (np.abs(eta_miss) <= self.eta_high)

    def passes(self, m2_miss: np.ndarray, e_miss: np.ndarray, eta_miss: np.ndarray) -> list[np.ndarray]:
        """Indices of the events passing the missing-mass cut, then also E_miss, then also eta_miss."""
        lo, hi = self.m2_window
        first = np.flatnonzero((m2_miss >= lo) & (m2_miss <= hi))
        energy, both = self.energy_eta(e_miss[first], eta_miss[first])
        return [first, first[energy], first[both]]


def mass_hypotheses(cfg: Config) -> tuple[MassHypothesis, ...]:
    """The hypotheses of the mass grid ``signal.masses`` with their cuts from ``selection``."""
    out = []
    for m_a in cfg.signal.masses:
        if missing_mass2_resolution(m_a) <= 0:
            raise ProcessingError(
                f"signal.masses: m_a = {m_a} GeV has no missing-mass window, "
                "delta_m2 = 1 - (m_a / 10 GeV)^4 is not positive"
            )
        out.append(MassHypothesis(m_a, *cfg.selection.for_mass(m_a), cfg.beam.sqrt_s))
    names = [h.region for h in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ProcessingError(f"signal.masses: masses closer than 1 MeV share the region names {duplicates}")
    return tuple(out)
