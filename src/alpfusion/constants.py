"""Physical constants and unit conversions (natural units, GeV).

Particle masses and widths come from the PDG tables shipped with the `particle` package
(values in MeV there), so that they follow the maintained PDG data rather than typed numbers.
Quantities the PDG tables do not hold (couplings, branching ratios chosen by the analysis)
are the defaults of ../shared/physics.md and can be overridden in the configuration.
"""

from particle import Particle
from scipy.constants import physical_constants

GEV2_TO_PB = 0.3893794e9
"""(hbar c)^2 in GeV^2 pb: a cross section in GeV^-2 times this is in pb."""

PB_TO_AB = 1.0e6

ALPHA_THOMSON = 1.0 / 137.035999
"""Fine-structure constant in the Thomson limit, alpha(0)."""

ALPHA_MZ = 1.0 / 127.951
"""MS-bar alpha(m_Z) (PDG), an option for the running coupling at high scale."""

SIN2_THETA_W = 0.2312
"""Effective weak mixing angle sin^2(theta_W) (physics.md default)."""

BR_TAU_TO_ENUNU = 0.1782
"""BR(tau -> e nu nu) (physics.md default)."""

DELTA_M2_MASS_SCALE = 10.0
"""GeV: the mass M of the missing-mass resolution delta_m2(m) = [1 - (m / M)^4] GeV^2 (physics.md
section 4); at and above it there is no missing-mass window."""


G_FERMI = physical_constants["Fermi coupling constant"][0]
"""G_F in GeV^-2 (CODATA, through scipy.constants)."""


def _mass_gev(pdgid: int) -> float:
    mass = Particle.from_pdgid(pdgid).mass
    assert mass is not None, pdgid
    return float(mass) / 1000.0


def _width_gev(pdgid: int) -> float:
    width = Particle.from_pdgid(pdgid).width
    assert width is not None, pdgid
    return float(width) / 1000.0


M_ELECTRON = _mass_gev(11)
M_TAU = _mass_gev(15)
M_Z = _mass_gev(23)
GAMMA_Z = _width_gev(23)
