"""Closed-form cross sections of the ALP processes: independent of the generator, which the tests check
against them and the figures draw beside it. Cross sections in pb; g in GeV^-1; s in GeV^2.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import quad

from .constants import GEV2_TO_PB, M_ELECTRON

__all__ = ["kroll_wada_dalitz", "photon_flux", "sigma_eea_epa", "sigma_gamma_a", "width_gamma_gamma"]


def width_gamma_gamma(m_a: float, g: float) -> float:
    """Gamma(a -> gamma gamma) = g^2 m_a^3 / (64 pi), GeV."""
    return g * g * m_a**3 / (64.0 * math.pi)


def sigma_gamma_a(s: float, m_a: float, g: float, alpha: float, cos_max: float = 1.0) -> float:
    """e+e- -> gamma a with |cos theta_gamma| <= cos_max (massless electrons; physics.md section 1):

    sigma = (alpha g^2 / 64) (1 - m_a^2/s)^3 integral_{-c}^{c} (1 + x^2) dx,  alpha g^2 / 24 (...)^3 at c = 1.
    """
    return GEV2_TO_PB * alpha * g * g / 64.0 * (1.0 - m_a * m_a / s) ** 3 * (2.0 * cos_max + 2.0 * cos_max**3 / 3.0)


def kroll_wada_dalitz(s: float, m_a: float, g: float, alpha: float, m_e: float = M_ELECTRON) -> float:
    """The inclusive ALP-Dalitz piece of e+e- -> e+e- a, e+e- -> a gamma*(-> e+e-), from the Kroll-Wada
    factorisation (N. M. Kroll, W. Wada, Phys. Rev. 98 (1955) 1355), the virtual photon of mass^2 q^2
    replacing the real one:

        dsigma/dq^2 = sigma_gamma_a alpha / (3 pi q^2) sqrt(1 - 4m^2/q^2) (1 + 2m^2/q^2)
                      lambda(s, m_a^2, q^2)^3/2 / (s - m_a^2)^3,   4 m^2 <= q^2 <= (sqrt(s) - m_a)^2.
    """
    sigma_real = sigma_gamma_a(s, m_a, g, alpha)

    def per_log_q2(log_q2: float) -> float:
        q2 = math.exp(log_q2)
        lam = s * s + m_a**4 + q2 * q2 - 2.0 * (s * m_a**2 + m_a**2 * q2 + q2 * s)
        ratio = 4.0 * m_e * m_e / q2
        return alpha / (3.0 * math.pi) * math.sqrt(1.0 - ratio) * (1.0 + ratio / 2.0) * lam**1.5 / (s - m_a**2) ** 3

    q2_low, q2_high = math.log(4.0 * m_e * m_e), math.log((math.sqrt(s) - m_a) ** 2)
    return sigma_real * quad(per_log_q2, q2_low, q2_high, limit=200)[0]


def photon_flux(x, scale: float, alpha: float, m_e: float = M_ELECTRON):
    """Equivalent-photon flux of an electron, virtualities from the kinematic minimum
    Q^2_min = m^2 x^2 / (1 - x) to Q^2_max = scale^2 (S. Frixione, M. L. Mangano, P. Nason,
    G. Ridolfi, Phys. Lett. B 319 (1993) 339, eq. 3):

        f(x) = alpha / (2 pi) [ (1 + (1-x)^2) / x ln(Q^2_max / Q^2_min) + 2 m^2 x (1/Q^2_max - 1/Q^2_min) ],

    zero where Q^2_min >= Q^2_max."""
    x = np.asarray(x, dtype=float)
    q2_min = m_e * m_e * x * x / (1.0 - x)
    q2_max = scale * scale
    f = (
        alpha
        / (2.0 * math.pi)
        * ((1.0 + (1.0 - x) ** 2) / x * np.log(q2_max / q2_min) + 2.0 * m_e * m_e * x * (1.0 / q2_max - 1.0 / q2_min))
    )
    return np.where(q2_min < q2_max, f, 0.0)


def sigma_eea_epa(s: float, m_a: float, g: float, alpha: float, scale: float, m_e: float = M_ELECTRON) -> float:
    """Photon fusion e+e- -> e+e- a in the equivalent-photon approximation with factorisation scale
    ``scale`` (GeV): sigma(gamma gamma -> a) = 8 pi^2 Gamma_gg / m_a delta(s_hat - m_a^2) (a spin-0
    resonance) folded with two photon fluxes,

        sigma = 8 pi^2 Gamma_gg / m_a^3 tau integral_tau^1 dx/x f(x) f(tau/x),   tau = m_a^2 / s.
    """
    tau = m_a * m_a / s

    def per_log_x(log_x: float) -> float:
        x = math.exp(log_x)
        return float(photon_flux(x, scale, alpha, m_e) * photon_flux(tau / x, scale, alpha, m_e))

    luminosity = quad(per_log_x, math.log(tau), 0.0, limit=200)[0]
    return GEV2_TO_PB * 8.0 * math.pi**2 * width_gamma_gamma(m_a, g) / m_a**3 * tau * luminosity
