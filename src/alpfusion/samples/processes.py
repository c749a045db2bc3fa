"""Processes: a matrix element, its phase-space channels and the acceptance, as dsigma/dy in pb.

A process exposes `channels` (phase-space maps of the unit hypercube, `phasespace`) and
`differential(i, momenta, ps_weight)`, the contribution of channel i to dsigma/d^dim y in pb:

    dsigma/dy = GEV2_TO_PB * |M|^2 * f_i / flux * w(y) * cuts,   flux = 2 sqrt(lambda(s, m^2, m^2))

With several channels the matrix element is split by diagram (MadEvent's single-diagram
enhancement, Maltoni & Stelzer, hep-ph/0208156): f_i = |M_i|^2 / sum_j |M_j|^2 sums to one, so
the channels' integrals add up to the full cross section, interference included, while each
channel only has to follow the peaks of its own diagram.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import constants
from ..config import Acceptance, Config
from ..kinematics import in_acceptance, min_pair_mass, pair_separated
from . import ProcessSettingsError
from .amplitudes import COMPONENTS, me2_ee_to_eea, me2_ee_to_gamma_a
from .phasespace import ForwardBackwardPair, SequentialPair, TwoBody, beams, kallen

PROCESSES = ("ee_to_eea", "ee_to_gamma_a")


FULL_ACCEPTANCE = Acceptance(theta_min_deg=0.0, theta_max_deg=180.0, energy_min=0.0, delta_r_ee_min=0.0)


@dataclass(frozen=True)
class SignalSettings:
    """Everything that fixes a signal cross section (the part of the configuration that matters)."""

    process: str
    m_a: float
    g: float
    sqrt_s: float
    alpha: float
    acceptance: Acceptance
    electron_mass: float = 0.0
    component: str = "both"

    @classmethod
    def from_config(
        cls,
        cfg: Config,
        process: str,
        m_a: float,
        *,
        component: str | None = None,
        theta_min_deg: float | None = None,
        inclusive: bool = False,
    ) -> SignalSettings:
        """Settings for one process and mass from the configuration, with study overrides.

        `theta_min_deg` moves the polar acceptance symmetrically (theta_max = 180 - theta_min);
        `inclusive` drops every acceptance cut (needs the electron mass for e+e- -> e+e- a).
        """
        acc = cfg.acceptance
        if inclusive:
            acc = FULL_ACCEPTANCE
        elif theta_min_deg is not None:
            polar = {"theta_min_deg": theta_min_deg, "theta_max_deg": 180.0 - theta_min_deg}
            acc = cfg.replace(acceptance=polar).acceptance
        return cls(
            process=process,
            m_a=m_a,
            g=cfg.signal.g_ref,
            sqrt_s=cfg.beam.sqrt_s,
            alpha=cfg.beam.alpha_value,
            acceptance=acc,
            electron_mass=constants.M_ELECTRON if cfg.signal.electron_mass else 0.0,
            component=component or cfg.signal.component,
        )

    def __post_init__(self):
        if self.process not in PROCESSES:
            raise ProcessSettingsError(f"unknown process '{self.process}' (known: {', '.join(PROCESSES)})")
        if self.component not in COMPONENTS:
            raise ProcessSettingsError(f"component must be one of {COMPONENTS}, got '{self.component}'")
        if not 0 <= self.m_a < self.sqrt_s:
            raise ProcessSettingsError(f"m_a = {self.m_a} GeV must lie in [0, sqrt_s = {self.sqrt_s} GeV)")


class SignalProcess:
    """e+e- -> gamma a or e+e- -> e+e- a in a given acceptance, ready for vegas."""

    def __init__(self, settings: SignalSettings):
        self.settings = st = settings
        acc = st.acceptance
        lo, hi = acc.cos_theta_range
        self.particles: tuple[str, ...]
        self.channels: tuple[Any, ...]
        if st.process == "ee_to_gamma_a":
            self.particles = ("photon", "invisible")
            self.channels = (TwoBody(st.sqrt_s, (0.0, st.m_a), self.particles, lo, hi),)
            return
        self.particles = particles = ("e_minus", "e_plus", "invisible")
        if st.electron_mass == 0 and (acc.theta_min_deg == 0 or acc.theta_max_deg == 180):
            raise ProcessSettingsError(
                "e+e- -> e+e- a without a polar-angle cut diverges for massless electrons: "
                "keep the electron mass (signal.electron_mass: true)"
            )
        channels: list[ForwardBackwardPair | SequentialPair] = []
        if st.component in ("both", "fusion"):
            channels.append(
                ForwardBackwardPair(
                    st.sqrt_s, st.electron_mass, st.m_a, lo, hi, acc.energy_min, particles, name="fusion"
                )
            )
        if st.component in ("both", "dalitz"):
            channels.append(
                SequentialPair(
                    st.sqrt_s,
                    st.electron_mass,
                    st.m_a,
                    min_pair_mass(acc, st.electron_mass),
                    particles,
                    name="dalitz",
                )
            )
        self.channels = tuple(channels)

    @property
    def name(self) -> str:
        return self.settings.process

    def metadata(self) -> dict:
        """The process's part of a sample's metadata: what it is and which cuts made it."""
        st = self.settings
        acc = st.acceptance
        return {
            "process": st.process,
            "component": st.component if st.process == "ee_to_eea" else None,
            "m_a": st.m_a,
            "g_ref": st.g,
            "sqrt_s": st.sqrt_s,
            "alpha": st.alpha,
            "electron_mass": st.electron_mass,
            "cuts": {
                "theta_min_deg": acc.theta_min_deg,
                "theta_max_deg": acc.theta_max_deg,
                "energy_min": acc.energy_min,
                "delta_r_ee_min": acc.delta_r_ee_min,
            },
        }

    def _flux(self) -> float:
        s, m = self.settings.sqrt_s**2, self.settings.electron_mass
        return 2.0 * math.sqrt(kallen(s, m * m, m * m))

    def accepted(self, momenta: dict[str, np.ndarray]) -> np.ndarray:
        """The acceptance of physics.md section 3 applied to the visible final state."""
        acc = self.settings.acceptance
        if self.settings.process == "ee_to_gamma_a":
            return in_acceptance(momenta["photon"], acc)
        em, ep = momenta["e_minus"], momenta["e_plus"]
        return in_acceptance(em, acc) & in_acceptance(ep, acc) & pair_separated(em, ep, acc)

    def differential(self, channel: int, momenta: dict[str, np.ndarray], ps_weight: np.ndarray) -> np.ndarray:
        """dsigma/d^dim y in pb for points of channel `channel` (module docstring)."""
        st = self.settings
        keep = (ps_weight > 0) & self.accepted(momenta)
        out = np.zeros_like(ps_weight)
        if not np.any(keep):
            return out
        sub = {k: v[keep] for k, v in momenta.items()}
        p1, p2 = beams(st.sqrt_s, st.electron_mass, int(np.count_nonzero(keep)))
        if st.process == "ee_to_gamma_a":
            me2 = me2_ee_to_gamma_a(p1, p2, sub["photon"], g=st.g, alpha=st.alpha, electron_mass=st.electron_mass)
        else:
            me2, fusion, dalitz = me2_ee_to_eea(
                p1,
                p2,
                sub["e_minus"],
                sub["e_plus"],
                g=st.g,
                alpha=st.alpha,
                electron_mass=st.electron_mass,
                component=st.component,
            )
            if len(self.channels) > 1:
                me2 = me2 * (fusion if self.channels[channel].name == "fusion" else dalitz) / (fusion + dalitz)
        out[keep] = constants.GEV2_TO_PB * me2 / self._flux() * ps_weight[keep]
        return out
