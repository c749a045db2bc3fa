"""The tau-pair background: e+e- -> gamma*/Z -> tau+ tau-, tau -> e nu nu, spin-correlated.

Momenta: e-(p1) e+(p2) -> tau-(k1) tau+(k2), tau- -> nu_tau(q1) e-(l1) nubar_e(n1),
tau+ -> nubar_tau(q2) e+(l2) nu_e(n2). The taus are on shell (narrow width) and the whole chain
is one amplitude, so every spin correlation between production and both decays is exact:

    M = sum_chi C(lambda, chi) [vbar2 g^mu P_lambda u1]
        * [ubar(q1) Dslash1 P_L (k1slash + m) g_mu P_chi (-k2slash + m) Dslash2 P_L v(q2)] * (2 sqrt2 G_F)^2

with the V-A decay currents D1 = ubar(l1) g P_L v(n1), D2 = ubar(n2) g P_L v(l2), and the
gamma + Z couplings (charges Q = -1, g_L = -1/2 + sin^2 theta_W, g_R = sin^2 theta_W)

    C(lambda, chi) = e^2 [ Q_e Q_tau / s + g_lambda g_chi / (sin^2 cos^2 theta_W (s - m_Z^2 + i m_Z Gamma_Z)) ].

The narrow-width limit |1/(k^2 - m^2 + i m Gamma)|^2 -> pi/(m Gamma) delta(k^2 - m^2) turns each
tau propagator into 1/(2 m Gamma_tau) after the dk^2/(2 pi) integral, and with
Gamma_tau = Gamma(tau -> e nu nu) / BR, Gamma(tau -> e nu nu) = G_F^2 m^5 / (192 pi^3):

    dsigma = BR^2 |M|^2 / (2 s (2 m Gamma_e)^2) dPhi_2(tau tau) dPhi_3(tau-) dPhi_3(tau+),

whose integral over the decays is sigma(e+e- -> tau tau) BR^2 (a test checks it against
`lowest_order_cross_section`). The electrons are massless in the decays and the beams; the
cross section is the bare lowest order with alpha(0) (0.772 nb at 10.58 GeV), not the measured
0.92 nb that vacuum polarisation and radiation give: `sigma_override_pb` rescales to any value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import constants
from ..config import Acceptance, Config
from ..kinematics import in_acceptance
from .dirac import PROJ_L, PROJ_R, bar, current, slash, u_spinor, v_spinor
from .phasespace import TWO_PI, beams, boost_from_rest, from_angles, rotate_y, rotate_z, two_body_momentum

ENDPOINT_POWER = 3.0
"""The power of the corner mappings (:meth:`TauPairChannel._towards_corners`). Measured with
benchmarks/background_bias.py (10^6 draws, no bias, the two endpoint channels): 2.5 times more effective MC
events per CPU-second in the signal-rich bins at m_a = 1 GeV than no mapping (power 1), the same at 6 GeV."""

TRUTH = ("tau_minus", "tau_plus", "nu_tau", "nu_e_bar", "nu_e", "nu_tau_bar")
PARTICLES = ("e_minus", "e_plus", "invisible") + TRUTH


@dataclass(frozen=True)
class TauPairSettings:
    """Everything that fixes the tau-pair sample."""

    sqrt_s: float
    alpha: float
    acceptance: Acceptance
    both_electrons_in_acceptance: bool
    sigma_override_pb: float | None = None
    m_tau: float = constants.M_TAU
    m_z: float = constants.M_Z
    gamma_z: float = constants.GAMMA_Z
    sin2_theta_w: float = constants.SIN2_THETA_W
    br_enunu: float = constants.BR_TAU_TO_ENUNU

    @classmethod
    def from_config(cls, cfg: Config, *, both_electrons_in_acceptance: bool | None = None) -> TauPairSettings:
        tt = cfg.backgrounds.tautau
        restrict = (
            tt.both_electrons_in_acceptance if both_electrons_in_acceptance is None else both_electrons_in_acceptance
        )
        return cls(
            sqrt_s=cfg.beam.sqrt_s,
            alpha=cfg.beam.alpha_value,
            acceptance=cfg.acceptance,
            both_electrons_in_acceptance=restrict,
            sigma_override_pb=tt.sigma_override_pb,
        )

    def couplings(self) -> np.ndarray:
        """C[lambda, chi] of the module docstring in GeV^-2, lambda, chi = L (0), R (1)."""
        s, sw2 = self.sqrt_s**2, self.sin2_theta_w
        e2 = 4.0 * math.pi * self.alpha
        g = np.array([-0.5 + sw2, sw2])
        z = 1.0 / (sw2 * (1.0 - sw2) * (s - self.m_z**2 + 1j * self.m_z * self.gamma_z))
        return e2 * (1.0 / s + np.outer(g, g) * z)


def lowest_order_cross_section(st: TauPairSettings) -> float:
    """sigma(e+e- -> gamma*/Z -> tau+ tau-) at lowest order in pb, taus on shell, no decays.

    sigma = (4 pi alpha^2 / 3 s) beta [ (3 - beta^2)/2 C1 + beta^2 C2 ],
    C1 = Q^4 + 2 Q^2 v^2 Re chi + (v^2 + a^2) v^2 |chi|^2,  C2 = (v^2 + a^2) a^2 |chi|^2,
    v = -1/2 + 2 sin^2 theta_W, a = -1/2, chi = s / (4 sin^2 cos^2 theta_W (s - m_Z^2 + i m_Z Gamma_Z))
    (e.g. the PDG review "Cross-section formulae for specific processes", with Q_e = Q_tau = -1).
    """
    s, sw2, m = st.sqrt_s**2, st.sin2_theta_w, st.m_tau
    beta = math.sqrt(1.0 - 4.0 * m * m / s)
    v, a = -0.5 + 2.0 * sw2, -0.5
    chi = s / (4.0 * sw2 * (1.0 - sw2) * (s - st.m_z**2 + 1j * st.m_z * st.gamma_z))
    c1 = 1.0 + 2.0 * v * v * chi.real + (v * v + a * a) * v * v * abs(chi) ** 2
    c2 = (v * v + a * a) * a * a * abs(chi) ** 2
    sigma = 4.0 * math.pi * st.alpha**2 / (3.0 * s) * beta * ((3.0 - beta**2) / 2.0 * c1 + beta**2 * c2)
    return constants.GEV2_TO_PB * sigma


def me2_tau_pair(p1, p2, k1, k2, q1, l1, n1, q2, l2, n2, st: TauPairSettings) -> np.ndarray:
    """|M|^2 of the full chain (module docstring), averaged over the beam spins.

    Only the helicities the V-A currents allow contribute: left-handed nu_tau, e-, nu_e and
    right-handed nubar_e, e+, nubar_tau (massless); the beams' two chiralities are summed.
    """
    m = st.m_tau
    d1 = current(u_spinor(l1, 0.0), v_spinor(n1, 0.0))[:, 0, 1, :]
    d2 = current(u_spinor(n2, 0.0), v_spinor(l2, 0.0))[:, 0, 1, :]
    eye = np.eye(4)
    # ubar(q1) Dslash1 P_L (k1slash + m)  and  (-k2slash + m) Dslash2 P_L v(q2)
    left = bar(u_spinor(q1, 0.0)[:, 0, :])[:, None, :] @ slash(d1) @ PROJ_L @ (slash(k1) + m * eye)
    right = (m * eye - slash(k2)) @ slash(d2) @ PROJ_L @ v_spinor(q2, 0.0)[:, 1, :, None]
    j_in = current(v_spinor(p2, 0.0), u_spinor(p1, 0.0))
    coupling = st.couplings()
    total = np.zeros(len(p1))
    for lam, j in ((0, j_in[:, 1, 0, :]), (1, j_in[:, 0, 1, :])):
        vertex = coupling[lam, 0] * PROJ_L + coupling[lam, 1] * PROJ_R
        amp = (left @ slash(j) @ vertex @ right)[:, 0, 0]
        total += np.abs(amp) ** 2
    return 0.25 * total * (2.0 * math.sqrt(2.0) * constants.G_FERMI) ** 4


def _tau_decay(y, tau, m, cos_t, azimuth):
    """tau -> e + (nu nu) -> e nu nu in the tau rest frame, boosted with the tau.

    Variables: Q^2 = m_nunu^2 flat in [0, m^2]; the e direction in the tau rest frame, its polar
    angle measured from the tau's flight direction (polar angle theta = acos(cos_t) and azimuth
    in the centre-of-mass frame); the first neutrino's direction in the nu-nu rest frame. Returns
    (e, nu_a, nu_b, dPhi_3/dy): dPhi_3 = dPhi_2(m; 0, Q) dQ^2/(2 pi) dPhi_2(Q; 0, 0),
    dPhi_2(M) = |p*|/(16 pi^2 M) dOmega. Measuring the angle from the flight direction is a rotation
    (Jacobian 1), under which the electron's lab energy E = gamma E* (1 + beta cos theta*) depends on
    two variables only: the decay endpoint (Q^2 -> 0, cos theta* -> 1: a soft neutrino pair) is a
    corner of the unit cube that vegas can follow.
    """
    q2 = m * m * y[:, 0]
    q = np.sqrt(q2)
    e_e = (m * m - q2) / (2.0 * m)
    along_tau = from_angles(e_e, e_e, 2.0 * y[:, 1] - 1.0, TWO_PI * y[:, 2])
    electron = rotate_z(rotate_y(along_tau, cos_t), azimuth)
    pair = np.concatenate([(m - e_e)[:, None], -electron[:, 1:]], axis=1)
    nu_rest = from_angles(0.5 * q, 0.5 * q, 2.0 * y[:, 3] - 1.0, TWO_PI * y[:, 4])
    nu_a = boost_from_rest(nu_rest, pair, q)
    nu_b = pair - nu_a
    to_lab = [boost_from_rest(p, tau, m) for p in (electron, nu_a, nu_b)]
    weight = e_e / (16.0 * math.pi**2 * m) * 4.0 * math.pi * m * m / TWO_PI * 0.5 / (16.0 * math.pi**2) * 4.0 * math.pi
    return (*to_lab, weight)


CORNERS = {"tau- endpoint": (1, 0), "tau+ endpoint": (0, 1), "soft electrons": (-1, -1)}
"""The tau-pair channels by name: for the tau- and the tau+, the corner of its decay that the channel's
map crowds towards (:meth:`TauPairChannel._towards_corners`): +1 the endpoint (Q^2 -> 0, cos theta* -> 1:
the electron takes the whole tau momentum, the neutrinos are soft; small missing masses), -1 the
opposite (Q^2 -> 0, cos theta* -> -1: the softest electron; missing masses near s), 0 none."""


@dataclass(frozen=True)
class TauPairChannel:
    """e+e- -> tau+ tau- (cos theta of the tau-) times the two three-body decays: dim 11, mapped towards
    the corners named by ``corners`` (:data:`CORNERS`)."""

    sqrt_s: float
    m_tau: float
    name: str
    corners: tuple[int, int]
    power: float = ENDPOINT_POWER
    dim: int = 11

    def _towards_corners(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each tau with a corner c = +-1: Q^2 / m^2 = t^p and (1 - c cos theta*) / 2 = t'^p from
        uniform t, t' (p = power), so that draws crowd into the corner; the Jacobian is the product of
        p t^(p-1) p t'^(p-1)."""
        p = self.power
        mapped = y.copy()
        jacobian = np.ones(len(y))
        for first, corner in zip((1, 6), self.corners):
            if corner == 0:
                continue
            t = y[:, first]
            t_prime = y[:, first + 1] if corner < 0 else 1.0 - y[:, first + 1]
            mapped[:, first] = t**p
            mapped[:, first + 1] = t_prime**p if corner < 0 else 1.0 - t_prime**p
            jacobian *= p * p * (t * t_prime) ** (p - 1.0)
        return mapped, jacobian

    def __call__(self, y, azimuth):
        rs, m = self.sqrt_s, self.m_tau
        y, jacobian = self._towards_corners(y)
        ptau = float(two_body_momentum(rs, m, m))
        cos_t = 2.0 * y[:, 0] - 1.0
        tau_minus = from_angles(np.full_like(cos_t, 0.5 * rs), ptau, cos_t, azimuth)
        tau_plus = np.concatenate([rs - tau_minus[:, :1], -tau_minus[:, 1:]], axis=1)
        e_minus, nu_tau, nu_e_bar, w_minus = _tau_decay(y[:, 1:6], tau_minus, m, cos_t, azimuth)
        e_plus, nu_tau_bar, nu_e, w_plus = _tau_decay(y[:, 6:11], tau_plus, m, -cos_t, azimuth + math.pi)
        weight = ptau / (16.0 * math.pi**2 * rs) * 2.0 * TWO_PI * w_minus * w_plus * jacobian
        momenta = {
            "e_minus": e_minus,
            "e_plus": e_plus,
            "invisible": nu_tau + nu_e_bar + nu_e + nu_tau_bar,
            "tau_minus": tau_minus,
            "tau_plus": tau_plus,
            "nu_tau": nu_tau,
            "nu_e_bar": nu_e_bar,
            "nu_e": nu_e,
            "nu_tau_bar": nu_tau_bar,
        }
        return momenta, weight


def channel_share(channel: int, momenta: dict[str, np.ndarray]) -> np.ndarray:
    """f_c = g_c / (g_0 + g_1 + g_2), with g = 1/E_nu-^2, 1/E_nu+^2 and 1/(E_e- E_e+) (lab energies of
    the tau-'s and the tau+'s neutrino pairs and of the electrons, :data:`CORNERS` order): each channel
    takes the events near its corner, the bulk is shared, and the shares add up to 1 everywhere (a
    smooth partition, which vegas follows better than a sharp one)."""
    pair_minus = momenta["nu_tau"][:, 0] + momenta["nu_e_bar"][:, 0]
    pair_plus = momenta["nu_tau_bar"][:, 0] + momenta["nu_e"][:, 0]
    g = (1.0 / pair_minus**2, 1.0 / pair_plus**2, 1.0 / (momenta["e_minus"][:, 0] * momenta["e_plus"][:, 0]))
    return g[channel] / (g[0] + g[1] + g[2])


class TauPairProcess:
    """e+e- -> tau+ tau- -> e+ e- + 4 nu as dsigma/dy for vegas (the `processes` interface).

    Three channels share the phase space (:func:`channel_share`, :data:`CORNERS`). Where the selection
    looks at small missing masses, one tau decays at its endpoint (electron forward, neutrinos soft) and
    the other does not; at missing masses near s both electrons are soft. In its own channel each such
    region is one corner of the cube, where a single separable vegas map would need several.
    """

    def __init__(self, settings: TauPairSettings):
        self.settings = settings
        self.particles: tuple[str, ...] = PARTICLES
        self.channels = tuple(
            TauPairChannel(settings.sqrt_s, settings.m_tau, name, corners) for name, corners in CORNERS.items()
        )
        st = settings
        gamma_e = constants.G_FERMI**2 * st.m_tau**5 / (192.0 * math.pi**3)
        self._norm = constants.GEV2_TO_PB * st.br_enunu**2 / (2.0 * st.sqrt_s**2 * (2.0 * st.m_tau * gamma_e) ** 2)
        self.sigma_lowest_order_pb = lowest_order_cross_section(st)
        if st.sigma_override_pb is not None:
            self._norm *= st.sigma_override_pb / self.sigma_lowest_order_pb

    @property
    def name(self) -> str:
        return "ee_to_tautau"

    def accepted(self, momenta: dict[str, np.ndarray]) -> np.ndarray:
        """Both electrons inside the acceptance (when the generation is restricted to them)."""
        if not self.settings.both_electrons_in_acceptance:
            return np.ones(len(momenta["e_minus"]), dtype=bool)
        acc = self.settings.acceptance
        return in_acceptance(momenta["e_minus"], acc) & in_acceptance(momenta["e_plus"], acc)

    def differential(self, channel: int, momenta: dict[str, np.ndarray], ps_weight: np.ndarray) -> np.ndarray:
        keep = self.accepted(momenta)
        out = np.zeros_like(ps_weight)
        if not np.any(keep):
            return out
        sub = {k: v[keep] for k, v in momenta.items()}
        p1, p2 = beams(self.settings.sqrt_s, 0.0, int(np.count_nonzero(keep)))
        me2 = me2_tau_pair(
            p1,
            p2,
            sub["tau_minus"],
            sub["tau_plus"],
            sub["nu_tau"],
            sub["e_minus"],
            sub["nu_e_bar"],
            sub["nu_tau_bar"],
            sub["e_plus"],
            sub["nu_e"],
            self.settings,
        )
        out[keep] = self._norm * me2 * ps_weight[keep] * channel_share(channel, sub)
        return out

    def metadata(self) -> dict:
        st = self.settings
        acc = st.acceptance
        restricted = st.both_electrons_in_acceptance
        return {
            "process": "ee_to_tautau",
            "decay": "tau -> e nu nu (both), spin-correlated, narrow width",
            "m_a": None,
            "g_ref": None,
            "sqrt_s": st.sqrt_s,
            "alpha": st.alpha,
            "m_tau": st.m_tau,
            "br_tau_enunu": st.br_enunu,
            "sigma_tautau_lowest_order_pb": self.sigma_lowest_order_pb,
            "normalisation": "override" if st.sigma_override_pb is not None else "lowest order, alpha(0)",
            "sigma_override_pb": st.sigma_override_pb,
            "cuts": (
                {
                    "theta_min_deg": acc.theta_min_deg,
                    "theta_max_deg": acc.theta_max_deg,
                    "energy_min": acc.energy_min,
                    "applies_to": "e- and e+",
                }
                if restricted
                else {}
            ),
        }
