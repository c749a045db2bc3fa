"""The cosmology behind the reach plot's context (physics.md section 7): the coupling at which an ALP
mediator gives the observed dark-matter density through resonant freeze-out. (The N_eff bound is a
number of the configuration, ``reach_plot.neff_dm_mass_min``, with its sources in
``plotting.NEFF_CITATION``.)

Dark matter chi of mass M = r m_a annihilates through the ALP, chi chi -> a -> gamma gamma, close to
the resonance (fine tuning F.T. = 1/2 - r). The paper's eq. (4) gives its thermally averaged cross
section; setting it equal to the thermal relic cross section at freeze-out, x_f = M / T_f, gives
the target coupling g_agg(m_a). The relic cross section is computed here in the instantaneous
freeze-out approximation with the Standard Model's tabulated degrees of freedom, and checked against
the precise numerical result of Steigman, Dasgupta and Beacom (2012), shipped as package data.

Units: GeV, and cm^3 s^-1 for <sigma v> where the name says so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np
from scipy import integrate, interpolate, optimize, special
from scipy.constants import c as SPEED_OF_LIGHT
from scipy.constants import physical_constants

from .constants import GEV2_TO_PB, M_ELECTRON

__all__ = [
    "DM_DOF",
    "OMEGA_DM_H2",
    "RelicTable",
    "degrees_of_freedom",
    "freeze_out_coupling",
    "freeze_out_x",
    "g_star_half",
    "relic_abundance",
    "relic_cross_section",
    "relic_table",
    "resonant_sigmav",
]

M_PLANCK = physical_constants["Planck mass energy equivalent in GeV"][0]
"""Planck mass G^-1/2, GeV (CODATA, through scipy.constants)."""

GEV2_TO_CM3_PER_S = GEV2_TO_PB * 1e-36 * SPEED_OF_LIGHT * 100.0
"""A <sigma v> in GeV^-2 (v = c) times this is in cm^3 s^-1: (hbar c)^2 c."""

ENTROPY_TODAY = 2891.2
"""Entropy density of the Universe today, s_0 / k_B in cm^-3 (T_0 = 2.7255 K, PDG)."""

CRITICAL_DENSITY_H2 = 1.05375e-5
"""Critical density over h^2, GeV cm^-3 (PDG)."""

OMEGA_DM_H2 = 0.11
"""The dark-matter density Omega_DM h^2 that Steigman, Dasgupta and Beacom (2012) assume."""

DM_DOF = 2
"""Internal degrees of freedom of a self-conjugate (Majorana) fermion, as in the relic table."""

FREEZE_OUT_C = 0.5
"""c in the freeze-out condition Y - Y_eq = c Y_eq (Kolb and Turner, The Early Universe, sec. 5.2)."""

_T_NEUTRINO_DECOUPLING = 1e-3
"""GeV: below it the table of Borsanyi et al. ends and the plasma is photons, e+- and decoupled
neutrinos (instantaneous decoupling)."""


@dataclass(frozen=True)
class RelicTable:
    """Steigman, Dasgupta, Beacom (2012), Fig. 5: <sigma v> [cm^3 s^-1] versus the DM mass [GeV]."""

    mass: np.ndarray
    sigmav: np.ndarray


def _data_rows(name: str) -> np.ndarray:
    """The numeric rows of a package-data CSV: comment lines (#) and the header line skipped."""
    text = resources.files("alpfusion").joinpath(f"data/{name}").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return np.array([[float(v) for v in line.split(",")] for line in lines[1:]])


@functools.cache
def relic_table() -> RelicTable:
    """The shipped relic table (package data ``relic_steigman2012.csv``, its source in the header)."""
    rows = _data_rows("relic_steigman2012.csv")
    return RelicTable(rows[:, 0], rows[:, 1])


# --------------------------------------------------------------------------------------------------
# the Standard Model plasma


def _electron_fractions(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Energy density and entropy of e+e- (4 states) at z = m_e / T, in units of their massless
    values: f_rho = rho / (7/8 4 pi^2/30 T^4), f_s = s / (7/8 4 2pi^2/45 T^3), with s = (rho + p) / T."""
    norm = 120.0 / (7.0 * np.pi**4)

    def moments(zi: float) -> tuple[float, float]:
        energy = lambda u: np.sqrt(u * u + zi * zi)
        rho = integrate.quad(lambda u: u * u * energy(u) / (np.exp(energy(u)) + 1.0), 0.0, 60.0)[0]
        pressure = integrate.quad(lambda u: u**4 / (3.0 * energy(u)) / (np.exp(energy(u)) + 1.0), 0.0, 60.0)[0]
        return norm * rho, 0.75 * norm * (rho + pressure)

    f_rho, f_s = np.array([moments(float(zi)) for zi in np.atleast_1d(z)]).T
    return f_rho, f_s


@functools.cache
def _log_dof_splines() -> tuple[interpolate.PchipInterpolator, interpolate.PchipInterpolator]:
    """ln g_rho and ln g_s as monotone cubic interpolants in ln T [GeV].

    Above 1 MeV: Borsanyi et al. (2016), Table S2 (package data ``dof_borsanyi2016.csv``). Below:
    photons, e+e- (exact Fermi-Dirac integrals) and three neutrino species decoupled at 1 MeV, whose
    temperature follows from the separate conservation of the photon-electron entropy,
    (T_nu / T)^3 = (2 + 7/2 f_s) / (11/2) (Kolb and Turner, sec. 3.4).
    """
    table = _data_rows("dof_borsanyi2016.csv")
    t_high = 1e-3 * 10.0 ** table[:, 0]
    g_rho_high = table[:, 1]
    g_s_high = table[:, 1] / table[:, 2]
    t_low = np.geomspace(1e-6, 0.5 * _T_NEUTRINO_DECOUPLING, 30)
    f_rho, f_s = _electron_fractions(M_ELECTRON / t_low)
    t_nu3 = (2.0 + 3.5 * f_s) / 5.5
    g_rho_low = 2.0 + 3.5 * f_rho + 5.25 * t_nu3 ** (4.0 / 3.0)
    g_s_low = 2.0 + 3.5 * f_s + 5.25 * t_nu3
    log_t = np.log(np.concatenate([t_low, t_high]))
    return (
        interpolate.PchipInterpolator(log_t, np.log(np.concatenate([g_rho_low, g_rho_high])), extrapolate=True),
        interpolate.PchipInterpolator(log_t, np.log(np.concatenate([g_s_low, g_s_high])), extrapolate=True),
    )


def degrees_of_freedom(temperature):
    """(g_rho, g_s) of the Standard Model plasma at the photon temperature T [GeV]: rho = pi^2/30 g_rho
    T^4, s = 2 pi^2/45 g_s T^3."""
    log_g_rho, log_g_s = _log_dof_splines()
    log_t = np.log(temperature)
    return np.exp(log_g_rho(log_t)), np.exp(log_g_s(log_t))


def g_star_half(temperature):
    """g_*^1/2 = g_s / sqrt(g_rho) (1 + 1/3 dln g_s / dln T), the factor of the annihilation rate in
    the Boltzmann equation for Y = n / s (P. Gondolo, G. Gelmini, Nucl. Phys. B 360 (1991) 145)."""
    g_rho, g_s = degrees_of_freedom(temperature)
    dlog_g_s = _log_dof_splines()[1].derivative()(np.log(temperature))
    return g_s / np.sqrt(g_rho) * (1.0 + dlog_g_s / 3.0)


# --------------------------------------------------------------------------------------------------
# freeze-out


def freeze_out_x(mass: float, sigmav_cm3_s: float, dof: int = DM_DOF) -> float:
    """x_f = M / T_f from the freeze-out condition Y - Y_eq = c Y_eq for an s-wave <sigma v>
    (Kolb and Turner, eq. 5.43, with g_rho at T_f):

        x_f = ln[ c (c + 2) sqrt(45/8) / (2 pi^3) g M M_Pl <sigma v> / sqrt(g_rho(T_f) x_f) ],

    solved by iteration (the right side varies slowly with x_f)."""
    sigmav = sigmav_cm3_s / GEV2_TO_CM3_PER_S
    scale = FREEZE_OUT_C * (FREEZE_OUT_C + 2.0) * np.sqrt(45.0 / 8.0) / (2.0 * np.pi**3)
    argument = scale * dof * mass * M_PLANCK * sigmav
    x = 20.0
    for _ in range(50):
        x_new = float(np.log(argument / np.sqrt(degrees_of_freedom(mass / x)[0] * x)))
        if abs(x_new - x) < 1e-10:
            break
        x = x_new
    return x


def relic_abundance(mass: float, sigmav_cm3_s: float, dof: int = DM_DOF) -> float:
    """Omega h^2 of a self-conjugate particle with an s-wave <sigma v>, instantaneous freeze-out at
    x_f (:func:`freeze_out_x`), where Y = (1 + c) Y_eq, followed by annihilation alone:

        1 / Y_inf = 1 / Y(x_f) + sqrt(pi/45) M_Pl <sigma v> integral_0^T_f g_*^1/2(T) dT,
        Y_eq(x) = 45 g / (4 sqrt(2) pi^7/2 g_s) x^3/2 exp(-x),
        Omega h^2 = M s_0 Y_inf / (rho_c / h^2)

    (Kolb and Turner, sec. 5.2; Gondolo and Gelmini 1991)."""
    sigmav = sigmav_cm3_s / GEV2_TO_CM3_PER_S
    x_f = freeze_out_x(mass, sigmav_cm3_s, dof)
    t_freeze = mass / x_f
    y_freeze = (
        (1.0 + FREEZE_OUT_C)
        * 45.0
        * dof
        / (4.0 * np.sqrt(2.0) * np.pi**3.5 * degrees_of_freedom(t_freeze)[1])
        * x_f**1.5
        * np.exp(-x_f)
    )
    log_t = np.linspace(np.log(1e-7), np.log(t_freeze), 2000)
    temperature = np.exp(log_t)
    integral = np.trapezoid(g_star_half(temperature) * temperature, log_t)
    y_inf = 1.0 / (1.0 / y_freeze + np.sqrt(np.pi / 45.0) * M_PLANCK * sigmav * integral)
    return float(mass * ENTROPY_TODAY * y_inf / CRITICAL_DENSITY_H2)


def relic_cross_section(mass: float, omega_h2: float = OMEGA_DM_H2, dof: int = DM_DOF) -> float:
    """The s-wave <sigma v> [cm^3 s^-1] that gives the dark-matter density ``omega_h2``."""
    log_sigmav = optimize.brentq(
        lambda log_s: np.log(relic_abundance(mass, np.exp(log_s), dof) / omega_h2), np.log(1e-28), np.log(1e-23)
    )
    return float(np.exp(log_sigmav))


def resonant_sigmav(g_agg: float, x: float, r: float) -> float:
    """<sigma v> [cm^3 s^-1] of chi chi -> a -> gamma gamma near the resonance, DM mass M = r m_a, at
    x = M / T (the paper's eq. 4):

        <sigma v> = pi/64 g^2 x / r^5 K_1(x / r) / K_2(x)^2,

    evaluated with exponentially scaled Bessel functions (K_1(x/r) / K_2(x)^2 = k1e / kve(2)^2
    exp(2x - x/r))."""
    ratio = special.k1e(x / r) / special.kve(2, x) ** 2 * np.exp(2.0 * x - x / r)
    return float(np.pi / 64.0 * g_agg**2 * x / r**5 * ratio * GEV2_TO_CM3_PER_S)


def freeze_out_coupling(m_a, fine_tuning: float, omega_h2: float = OMEGA_DM_H2):
    """g_agg [GeV^-1] at which resonant freeze-out through the ALP gives ``omega_h2``: the DM mass is
    M = r m_a with r = 1/2 - F.T., and eq. (4) at the freeze-out x_f of M equals the relic <sigma v>
    of M. As F.T. -> 0 the Boltzmann suppression of eq. (4) goes away and g saturates at its minimum
    (the paper's section II)."""
    if not 0.0 < fine_tuning < 0.5:
        raise ValueError(f"fine tuning 1/2 - M/m_a must lie in (0, 1/2), got {fine_tuning}")
    r = 0.5 - fine_tuning

    def one(m: float) -> float:
        mass = r * m
        target = relic_cross_section(mass, omega_h2)
        x_f = freeze_out_x(mass, target)
        return float(np.sqrt(target / resonant_sigmav(1.0, x_f, r)))

    return np.vectorize(one, otypes=[float])(m_a)
