"""The QED background e+e- -> e+e- gamma gamma with both photons lost, as dsigma/dy for vegas.

Both electrons inside the acceptance; each photon fails it (outside the polar range, or below the
energy threshold) and has at least ``photon_energy_min``, at least ``photon_angle_min_deg`` from
either beam (0: the electron mass regulates), and the two together carry at least
``missing_energy_min`` (E_gamma1 + E_gamma2 = E*_miss). |M|^2 is the tree-level amplitude of
``qed`` with every diagram and the electron mass kept.

Phase space: each photon in the centre-of-mass frame by its energy, drawn log-uniformly (the 1/E soft
peak), and its polar angle in one of three regions (``photon_in_region``): near the +z beam, near the -z
beam (u = 1 - beta cos theta from the beam's side drawn log-uniformly: the 1/(p_beam.k) peak, regulated
by beta = |p_beam|/E_beam at angles of order m_e/E), or central (then below the energy threshold). Both
photons near beams (``LostPhotonsChannel``, four ordered pairs of beams): the e- direction drawn in the
acceptance, its momentum from the e+ on-shell condition; or (``PairMassChannel``, four) the pair mass
m_ee^2 drawn log-uniformly and the pair decaying isotropically: the s-channel photon's 1/m_ee^2 peak of
a converted photon; or, near opposite beams (``MissingEnergyChannel``, two), by their total energy and
its sharing: the 1/s' peak of the pair left by two hard photons, and the balance that makes their
missing momentum central. One photon drawn around an outgoing lepton, whose 1/(p.k) peak it follows,
the other near a beam (24: which photon, its region, which beam for the other, which lepton): a
central soft photon (``LeptonPhotonChannel``), or a photon beyond the edge of the acceptance close to
a lepton inside it (``EdgeLeptonPhotonChannel``: the lepton's direction and the photon's around it
drawn so that the edge is where the variables end, ``photon_beyond_edge``). A central soft photon
around one lepton and the other photon beyond the edge around the other lepton or the same one
(``TwoLeptonPhotonChannel``, 16: which photon is central, its lepton, the other's beam and lepton).
Two central photons cannot carry the missing energy. The regions do not overlap; within a pair of
regions the channels share |M|^2 (multichannel by peaks, as MadEvent's diagram weights): each photon's
emitters (the beam on its side, if it is near a beam, and the two leptons) have shares f_e =
(1/p_e.k) / sum_j (1/p_j.k) (``emitter_share``); the beam channels take a1 a2 (a_i the beam's share of
photon i; split among the maps, ``conversion_share``, ``hard_share``), a lepton channel its lepton's
share b of its photon times a + (1 - a)/2 of the other (both photons near leptons: half to each
photon's lepton channels); for a central photon b a, and the two-lepton channels b b' (b' a lepton's
share of the other photon). So the channels add up to the cross section (tested against massive RAMBO with
|M|^2 = 1); the photons are identical, hence the factor 1/2. ``LostPhotonsChannel`` with a central
region is the direct map of that region, kept as an independent check of the lepton channels
(tests/test_lostphotons.py):

    dPhi_4 = d^3k1 / ((2 pi)^3 2 E1)  d^3k2 / ((2 pi)^3 2 E2)  dPhi_2(P - k1 - k2; m_e, m_e),
    dsigma = GEV2_TO_PB |M|^2 / (2 sqrt(lambda(s, m^2, m^2))) dPhi_4 / 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import constants
from ..config import Acceptance, Config
from ..kinematics import cos_theta, in_acceptance
from ..observables import missing_pt_fraction
from . import ProcessSettingsError
from .dirac import mdot
from .phasespace import (
    TWO_PI,
    beams,
    boost_from_rest,
    cm_momentum,
    from_angles,
    kallen,
    recoil,
    rotate_y,
    rotate_z,
    two_body_momentum,
)
from .qed import me2_bhabha_photons

REGIONS = ("+z", "-z", "central")


@dataclass(frozen=True)
class LostPhotonCuts:
    """The generation cuts of the lost photons (GeV, degrees)."""

    photon_energy_min: float
    missing_energy_min: float
    photon_angle_min_deg: float = 0.0


@dataclass(frozen=True)
class LostPhotonsSettings:
    """Everything that fixes the e+e- -> e+e- gamma gamma sample."""

    sqrt_s: float
    alpha: float
    acceptance: Acceptance
    cuts: LostPhotonCuts
    electron_mass: float = constants.M_ELECTRON

    @classmethod
    def from_config(cls, cfg: Config) -> LostPhotonsSettings:
        """The settings of ``backgrounds.qed2`` (which must be configured)."""
        qed = cfg.backgrounds.qed2
        if qed is None:
            raise ProcessSettingsError("backgrounds.qed2 is null: the QED background is not configured")
        cuts = LostPhotonCuts(qed.photon_energy_min, qed.missing_energy_min, qed.photon_angle_min_deg)
        return cls(cfg.beam.sqrt_s, cfg.beam.alpha_value, cfg.acceptance, cuts)


def photon_direction(st: LostPhotonsSettings, y_angle, phi, region: str):
    """(direction n = (1, n_vec) (N, 4), d cos(theta) / dy) of a photon in a region of ``REGIONS`` from
    a uniform y_angle (module docstring): uniform in cos(theta) inside the acceptance, or near a beam
    with u = 1 - beta cos(theta) from the beam's side log-uniform."""
    cos_lo, cos_hi = st.acceptance.cos_theta_range
    if region == "central":
        cos_t = cos_lo + (cos_hi - cos_lo) * y_angle
        angle_weight = np.full_like(y_angle, cos_hi - cos_lo)
    else:
        beta = math.sqrt(1.0 - (2.0 * st.electron_mass / st.sqrt_s) ** 2)
        closest = math.cos(math.radians(st.cuts.photon_angle_min_deg))
        edge = cos_hi if region == "+z" else -cos_lo  # cos of the acceptance edge, seen from this beam
        u_lo, u_hi = 1.0 - beta * closest, 1.0 - beta * edge
        u = u_lo * (u_hi / u_lo) ** y_angle
        from_beam = (1.0 - u) / beta
        cos_t = from_beam if region == "+z" else -from_beam
        angle_weight = u * math.log(u_hi / u_lo) / beta
    ones = np.ones_like(cos_t)
    return from_angles(ones, ones, cos_t, phi), angle_weight


def photon_energy(st: LostPhotonsSettings, y_energy, region: str):
    """(E, E dE/dy / 2 = E^2 ln(E_hi / E_lo) / 2, the energy part of d^3k / (2 E)) of a photon in a
    region of ``REGIONS`` from a uniform y_energy: log-uniform (the soft peak) from
    ``photon_energy_min`` to the energy threshold for a central photon, to sqrt(s)/2 for a lost one."""
    e_lo = st.cuts.photon_energy_min
    e_hi = st.acceptance.energy_min if region == "central" else 0.5 * st.sqrt_s
    energy = e_lo * (e_hi / e_lo) ** y_energy
    return energy, energy * energy * math.log(e_hi / e_lo) / 2.0


def photon_in_region(st: LostPhotonsSettings, y_energy, y_angle, phi, region: str):
    """(four-momentum, d^3k / (2 E) weight without the azimuth) of one photon in a region of ``REGIONS``
    from uniform y_energy, y_angle (module docstring): the direction from ``photon_direction``, the
    energy from ``photon_energy``."""
    direction, angle_weight = photon_direction(st, y_angle, phi, region)
    energy, energy_weight = photon_energy(st, y_energy, region)
    return direction * energy[:, None], energy_weight * angle_weight


def in_region(st: LostPhotonsSettings, k: np.ndarray, region: str) -> np.ndarray:
    """Photons (N, 4) whose polar angle lies in a region of ``REGIONS`` (the +z or -z side of the
    polar acceptance, or inside it)."""
    cos_lo, cos_hi = st.acceptance.cos_theta_range
    cos_t = cos_theta(k)
    if region == "+z":
        return cos_t > cos_hi
    if region == "-z":
        return cos_t < cos_lo
    return (cos_t >= cos_lo) & (cos_t <= cos_hi)


def lost_pt_share_max(acceptance: Acceptance) -> float:
    """The largest p_T / E of a photon outside the polar acceptance: the sine of its edge,
    max(sin theta_min, sin theta_max) (sin 22 deg = 0.375 for Belle II); two such photons keep
    p_T,miss / E*_miss below it (``observables.missing_pt_fraction``)."""
    return math.sin(math.radians(acceptance.edge_deg))


def lost_pt_max(e_miss, acceptance: Acceptance, soft_energy=0.0) -> np.ndarray:
    """The largest transverse momentum that lost photons of total energy E*_miss can carry:
    E*_miss s + (1 - s) E_soft, s = :func:`lost_pt_share_max`, a photon outside the polar acceptance
    carrying p_T <= E s and those inside it (lost below the energy threshold, ``soft_energy`` E_soft
    their total energy) at most their energy."""
    s = lost_pt_share_max(acceptance)
    return np.asarray(e_miss, dtype=float) * s + (1.0 - s) * np.asarray(soft_energy, dtype=float)


def missing_pt_excess(e_miss, m2_miss, eta_miss, acceptance: Acceptance) -> np.ndarray:
    """p_T,miss - :func:`lost_pt_max` (E*_miss, one soft photon at the energy threshold), GeV, with
    p_T,miss = sqrt(E*_miss^2 - m2_miss) / cosh(eta*_miss): how far the missing momentum lies beyond
    the reach of two lost photons, negative within it (``-inf`` where m2_miss > E*_miss^2, no p_T).

    Two photons can both lie inside the acceptance below its threshold only with E*_miss below twice
    the threshold, under the QED sample's ``missing_energy_min``; with one soft photon at most the bound
    is exact at tree level (paper section IV A; the same inequality as :func:`missing_mass2_bound`,
    event by event instead of over an |eta*_miss| slice and a missing-mass window)."""
    e_miss = np.asarray(e_miss, dtype=float)
    p_t = missing_pt_fraction(e_miss, m2_miss, eta_miss) * e_miss
    return np.nan_to_num(p_t - lost_pt_max(e_miss, acceptance, acceptance.energy_min), nan=-np.inf)


def missing_mass2_bound(e_miss, eta_miss, acceptance: Acceptance, soft_energy=0.0) -> np.ndarray:
    """The smallest m2_miss that lost photons of total energy E*_miss can have with their momentum at
    eta*_miss (paper section IV A, generalised to any eta*_miss):

        m2_miss >= E*_miss^2 - [E*_miss s + (1 - s) E_soft]^2 cosh^2(eta*_miss),

    s = max(sin theta_min, sin theta_max): a photon outside the polar acceptance carries p_T <= E s, one
    inside it (lost below the energy threshold; ``soft_energy`` E_soft their total energy) at most its
    energy, and |p| = p_T cosh(eta). For central missing momentum without soft photons it is
    m_miss >= E*_miss cos(theta_min); it vanishes at cosh(eta*_miss) = 1 / s (|eta*_miss| = 1.64 for
    22-158 deg), beyond which a pair of photons near one beam gives any small mass."""
    e_miss = np.asarray(e_miss, dtype=float)
    p_max = lost_pt_max(e_miss, acceptance, soft_energy) * np.cosh(eta_miss)
    return e_miss**2 - p_max**2


def emitter_share(st: LostPhotonsSettings, momenta: dict[str, np.ndarray], photon: int, region: str, emitter: str):
    """f_e = (1/p_e.k) / sum_j (1/p_j.k) of photon ``photon`` (0 or 1) in ``region`` for the emitter
    ``emitter``: "beam" (the beam on the region's side) or an outgoing lepton ("e_minus", "e_plus"); the
    emitters of a central photon are the two leptons. Over a region's emitters the shares add up to 1."""
    k = momenta[f"photon_{photon + 1}"]
    p1, p2 = beams(st.sqrt_s, st.electron_mass, len(k))
    inverse = {name: 1.0 / mdot(momenta[name], k) for name in ("e_minus", "e_plus")}
    if region != "central":
        inverse["beam"] = 1.0 / mdot(p1 if region == "+z" else p2, k)
    return inverse[emitter] / sum(inverse.values())


def beam_share(st: LostPhotonsSettings, momenta: dict[str, np.ndarray], regions: tuple[str, str]) -> np.ndarray:
    """a1 a2, a_i the beam's share of photon i in its region (``emitter_share``): the part of |M|^2
    that the channels with both photons drawn near beams take."""
    a1, a2 = (emitter_share(st, momenta, i, regions[i], "beam") for i in (0, 1))
    return a1 * a2


def pair_in_acceptance(st: LostPhotonsSettings, q: np.ndarray, y: np.ndarray, azimuth: np.ndarray):
    """An e+e- pair of total momentum q (N, 4) from three uniform variables y (N, 3): the e- direction
    uniform inside the polar acceptance in the centre-of-mass frame (where the Bhabha peak at its edge
    is a function of one variable), |p_e-| from the e+ on-shell condition (``pair_along``). Returns
    (e-, e+, weight) with weight = dPhi_2(Q; m, m) / dy (0 where impossible)."""
    cos_lo, cos_hi = st.acceptance.cos_theta_range
    ones = np.ones(len(q))
    direction = from_angles(ones, ones, cos_lo + (cos_hi - cos_lo) * y[:, 0], azimuth + TWO_PI * y[:, 1])
    e_minus, e_plus, weight = pair_along(st, q, direction, y[:, 2])
    return e_minus, e_plus, weight * (cos_hi - cos_lo) * TWO_PI


def pair_along(
    st: LostPhotonsSettings,
    q: np.ndarray,
    direction: np.ndarray,
    y_root: np.ndarray,
    second_mass2: np.ndarray | None = None,
    first_mass2: np.ndarray | None = None,
):
    """A first body (a lepton, or of mass^2 ``first_mass2``, (N,)) and a second one (a lepton, or of
    mass^2 ``second_mass2``) of total momentum q (N, 4), the first along ``direction`` (N, 4; (1, unit
    vector)): its |p| from the second's on-shell condition (Q - p_1)^2 = M_2^2: with a = Q^0, b = Q.n,
    a E - b p = (Q^2 + M_1^2 - M_2^2) / 2, a quadratic in p whose two roots ``y_root`` (uniform)
    chooses (weight 2). Returns (first, second, weight) with

        weight = dPhi_2(Q; M_1, M_2) / dOmega_1 = 2 p^2 / ((2 pi)^2 4 |a p - b E|)   (0 where impossible).
    """
    m2 = st.electron_mass**2
    first2 = m2 if first_mass2 is None else first_mass2
    second2 = m2 if second_mass2 is None else second_mass2
    a, b = q[:, 0], np.sum(q[:, 1:] * direction[:, 1:], axis=1)
    half_q2 = 0.5 * (a * a - np.sum(q[:, 1:] ** 2, axis=1)) + 0.5 * (first2 - second2)
    curvature = a * a - b * b
    discriminant = half_q2 * half_q2 - curvature * first2
    sign = np.where(y_root < 0.5, 1.0, -1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = (b * half_q2 + sign * a * np.sqrt(np.maximum(discriminant, 0.0))) / curvature
        energy = np.sqrt(p * p + first2)
        jacobian = p * p / (4.0 * np.abs(a * p - b * energy))
    possible = (discriminant >= 0) & (curvature > 0) & (half_q2 > 0) & (p > 0) & (a > energy)
    first = np.where(possible[:, None], direction * np.stack([energy, p, p, p], axis=1), direction)
    return first, q - first, np.where(possible, jacobian, 0.0) / TWO_PI**2 * 2.0


def two_photon_event(e_minus: np.ndarray, e_plus: np.ndarray, k1: np.ndarray, k2: np.ndarray) -> dict[str, np.ndarray]:
    """The momenta of an event of ``LostPhotonsProcess``: the leptons, the photons and their sum, the
    invisible system."""
    return {"e_minus": e_minus, "e_plus": e_plus, "invisible": k1 + k2, "photon_1": k1, "photon_2": k2}


def lepton_and_photon(st: LostPhotonsSettings, x: np.ndarray, y: np.ndarray):
    """X (N, 4) -> other lepton + Y, Y -> lepton + photon from five uniform variables y (N, 5):
    M_Y^2 - m^2 = 2 p.k log-uniform between s_min and its largest value (the collinear peak), the
    photon at an angle theta* to Y's flight with 1 + beta_Y cos(theta*) log-uniform (its energy
    E_k = gamma_Y p* (1 + beta_Y cos theta*) then is: the soft peak). Returns (lepton, other, photon,
    weight) with weight = dPhi_3(X) / dy,

        dPhi_3(X) = dPhi_2(X; m, M_Y) dM_Y^2 / (2 pi) dPhi_2(Y; m, 0)   (0 where impossible).
    """
    m = st.electron_mass
    x_mass2 = x[:, 0] ** 2 - np.sum(x[:, 1:] ** 2, axis=1)
    possible = x_mass2 > (2.0 * m + 1e-6) ** 2
    x_mass = np.sqrt(np.where(possible, x_mass2, (2.0 * m + 1.0) ** 2))
    s_hi = np.maximum((x_mass - m) ** 2 - m * m, 2.0 * lepton_photon_mass2_min(st))
    s_y, mass_weight = lepton_photon_mass2(st, s_hi, y[:, 0])
    y_mass = np.sqrt(s_y + m * m)
    p_x = two_body_momentum(x_mass, m, y_mass)
    other_rest = from_angles(np.sqrt(p_x * p_x + m * m), p_x, 2.0 * y[:, 1] - 1.0, TWO_PI * y[:, 2])
    y_rest = np.concatenate([np.sqrt(p_x * p_x + y_mass * y_mass)[:, None], -other_rest[:, 1:]], axis=1)
    x = np.where(possible[:, None], x, np.array([2.0 * m + 1.0, 0.0, 0.0, 0.0]))
    other = boost_from_rest(other_rest, x, x_mass)
    y_system = boost_from_rest(y_rest, x, x_mass)
    lepton, photon, y_decay = photon_from_lepton(st, y_system, s_y, y[:, 3:5])
    x_decay = p_x / (16.0 * math.pi**2 * x_mass) * 4.0 * math.pi
    return lepton, other, photon, x_decay * mass_weight * y_decay * possible


def lepton_photon_mass2_min(st: LostPhotonsSettings) -> float:
    """s_min, half the smallest M_Y^2 - m^2 = 2 p.k of a lepton and a photon above the energy cut:
    2 p.k = 2 E_k (E_l - |p_l| cos) >= 2 E_k m^2 / (E_l + |p_l|) >= 2 E_k m^2 / sqrt(s), reached
    collinear with the lepton."""
    return st.cuts.photon_energy_min * st.electron_mass**2 / st.sqrt_s


def lepton_photon_mass2(st: LostPhotonsSettings, s_hi, y: np.ndarray):
    """(s_y, ds_y / dy / (2 pi)) with s_y = M_Y^2 - m^2 log-uniform from ``lepton_photon_mass2_min``
    to s_hi: the collinear peak 1/(p.k) of a lepton and a photon, and the dM_Y^2 / (2 pi) of the
    phase space split at Y."""
    s_min = lepton_photon_mass2_min(st)
    s_y = s_min * (s_hi / s_min) ** y
    return s_y, s_y * np.log(s_hi / s_min) / TWO_PI


def photon_from_lepton(st: LostPhotonsSettings, y_system: np.ndarray, s_y: np.ndarray, y: np.ndarray):
    """Y (N, 4) of mass M_Y, M_Y^2 - m^2 = s_y (= 2 p.k), -> lepton + photon from two uniform
    variables y (N, 2): the photon at an angle theta* to Y's flight with 1 + beta_Y cos(theta*)
    log-uniform (its energy E_k = gamma_Y p* (1 + beta_Y cos theta*) then is: the soft peak), its
    azimuth about Y's flight uniform. Returns (lepton, photon, weight) with weight = dPhi_2(Y; m, 0) / dy
    = p* / (16 pi^2 M_Y) dOmega* / dy."""
    m = st.electron_mass
    y_mass = np.sqrt(s_y + m * m)
    p_y = 0.5 * s_y / y_mass  # massless photon, lepton of mass m
    # 1 - beta = M^2 / (E (E + |p|)) without cancellation
    y_p = np.sqrt(np.sum(y_system[:, 1:] ** 2, axis=1))
    beta = y_p / y_system[:, 0]
    u_lo = y_mass * y_mass / (y_system[:, 0] * (y_system[:, 0] + y_p))
    u = u_lo * ((1.0 + beta) / u_lo) ** y[:, 0]
    angle_weight = u * np.log((1.0 + beta) / u_lo) / beta * TWO_PI
    along_y = from_angles(p_y, p_y, np.clip((u - 1.0) / beta, -1.0, 1.0), TWO_PI * y[:, 1])
    photon_rest = rotate_z(rotate_y(along_y, y_system[:, 3] / y_p), np.arctan2(y_system[:, 2], y_system[:, 1]))
    lepton_rest = np.concatenate([np.sqrt(p_y * p_y + m * m)[:, None], -photon_rest[:, 1:]], axis=1)
    photon = boost_from_rest(photon_rest, y_system, y_mass)
    lepton = boost_from_rest(lepton_rest, y_system, y_mass)
    return lepton, photon, p_y / (16.0 * math.pi**2 * y_mass) * angle_weight


def photon_beyond_edge(
    st: LostPhotonsSettings,
    x: np.ndarray,
    y: np.ndarray,
    azimuth: np.ndarray,
    region: str,
    other_mass2: np.ndarray | None = None,
    lepton_mass2: np.ndarray | None = None,
):
    """X (N, 4) -> lepton + other + photon, the other a lepton (or a body of mass^2 ``other_mass2``,
    (N,)), the photon in a beam ``region`` ("+z": below theta_min, "-z": above theta_max) at an angle
    alpha from the lepton (or a body of mass^2 ``lepton_mass2``: a lepton with a photon beside it),
    which lies inside the acceptance, from six uniform variables y (N, 6):

    - u = 1 - cos(alpha) from 0 to 2, u + u0 log-uniform (u0 = 2 m^2 / s: the collinear peak
      1/(1 - beta cos alpha) of the lepton, regulated by its mass);
    - the lepton's polar angle, seen from the region's beam, uniform in cos between the near edge of
      the acceptance and alpha beyond it (only there can the photon leave while the lepton stays);
    - the lepton's azimuth, ``azimuth`` + 2 pi y;
    - the photon's azimuth phi around the lepton (0: towards the beam), uniform over the arc
      |phi| < Phi where the photon lies beyond the edge: cos(theta_gamma) = cos(theta_l) cos(alpha) +
      sin(theta_l) sin(alpha) cos(phi) >= cos(theta_edge). The edge cuts the cone around a lepton
      next to it; drawn over the whole cone, vegas meets that cut along a curve of its variables;
    - the photon's energy (``photon_energy``);
    - |p_lepton| from the other's on-shell condition (``pair_along``).

    Returns (lepton, other, photon, weight) with

        weight = d^3k / ((2 pi)^3 2 E_k) dPhi_2(X - k; M_lepton, M_other) / dy
               = E_k^2 ln(E_hi / E_lo) / 2 (u + u0) ln((2 + u0) / u0) 2 Phi / (2 pi)^3
                 x dcos(theta_l) 2 pi dPhi_2 / dOmega_l   (0 where impossible).
    """
    m = st.electron_mass
    side = 1.0 if region == "+z" else -1.0
    theta_lo, theta_hi = (math.radians(st.acceptance.theta_min_deg), math.radians(st.acceptance.theta_max_deg))
    near, far = (theta_lo, theta_hi) if region == "+z" else (math.pi - theta_hi, math.pi - theta_lo)
    u0 = 2.0 * m * m / st.sqrt_s**2
    u = u0 * ((2.0 + u0) / u0) ** y[:, 0] - u0
    cos_a = 1.0 - u
    sin_a = np.sqrt(np.maximum(u * (2.0 - u), 0.0))
    theta_up = np.minimum(near + np.arccos(np.clip(cos_a, -1.0, 1.0)), far)
    cos_near, cos_up = math.cos(near), np.cos(theta_up)
    cos_l = cos_near - (cos_near - cos_up) * y[:, 1]
    sin_l = np.sqrt(np.maximum(1.0 - cos_l * cos_l, 0.0))
    phi_l = azimuth + TWO_PI * y[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        c0 = (cos_near - cos_l * cos_a) / (sin_l * sin_a)
    arc = np.arccos(np.clip(np.nan_to_num(c0, nan=1.0), -1.0, 1.0))
    phi = arc * (2.0 * y[:, 3] - 1.0)
    c_l, s_l = np.cos(phi_l), np.sin(phi_l)
    n_l = np.stack([np.ones_like(cos_l), sin_l * c_l, sin_l * s_l, cos_l], axis=1)
    towards_beam = np.stack([np.zeros_like(cos_l), -cos_l * c_l, -cos_l * s_l, sin_l], axis=1)
    across = np.stack([np.zeros_like(cos_l), -s_l, c_l, np.zeros_like(cos_l)], axis=1)
    n_k = cos_a[:, None] * n_l + (sin_a * np.cos(phi))[:, None] * towards_beam + (sin_a * np.sin(phi))[:, None] * across
    n_k[:, 0] = 1.0
    flip = np.array([1.0, 1.0, 1.0, side])
    n_l, n_k = n_l * flip, n_k * flip
    energy, energy_weight = photon_energy(st, y[:, 4], region)
    photon = n_k * energy[:, None]
    lepton, other, pair_weight = pair_along(st, x - photon, n_l, y[:, 5], other_mass2, lepton_mass2)
    photon_weight = energy_weight * (u + u0) * math.log((2.0 + u0) / u0) * 2.0 * arc
    weight = photon_weight / TWO_PI**3 * (cos_near - cos_up) * TWO_PI * pair_weight
    return lepton, other, photon, weight * in_region(st, photon, region)


@dataclass(frozen=True)
class LostPhotonsChannel:
    """Two photons in the given regions (``REGIONS``) and the e+e- pair: dim 8 (+ the azimuth).

    The e- direction is drawn uniformly inside the polar acceptance in the centre-of-mass frame, where
    the Bhabha peak at its edge is a function of one variable, and |p_e-| solves the on-shell condition
    of the e+, (Q - p_e-)^2 = m^2 with Q = P - k1 - k2: with a = Q^0, b = Q.n (n the e- direction),
    a E - b p = Q^2 / 2, a quadratic in p whose two roots the last variable chooses (weight 2), and

        dPhi_2(Q; m, m) = p^2 dOmega / ((2 pi)^2 4 |a p - b E|).
    """

    settings: LostPhotonsSettings
    regions: tuple[str, str]
    dim: int = 8

    @property
    def name(self) -> str:
        return " ".join(self.regions)

    def __call__(self, y, azimuth):
        st = self.settings
        k1, w1 = photon_in_region(st, y[:, 0], y[:, 1], azimuth, self.regions[0])
        k2, w2 = photon_in_region(st, y[:, 2], y[:, 3], azimuth + TWO_PI * y[:, 4], self.regions[1])
        q = recoil(st.sqrt_s, k1 + k2)
        e_minus, e_plus, pair_weight = pair_in_acceptance(st, q, y[:, 5:8], azimuth)
        weight = w1 * w2 * TWO_PI * TWO_PI / (TWO_PI**3) ** 2 * pair_weight
        return two_photon_event(e_minus, e_plus, k1, k2), weight

    def share(self, momenta: dict[str, np.ndarray]) -> np.ndarray:
        """The channel's part of |M|^2 with both photons near beams: a1 a2 (1 - h), a_i the beam's share
        of photon i (``emitter_share``), h that of the conversion channels (``conversion_share``,
        ``PairMassChannel``), near opposite beams times 1 - r, r that of the missing-energy channels
        (``hard_share``, ``MissingEnergyChannel``); the rest goes to the lepton
        channels (``LeptonPhotonChannel``), which map a photon near a lepton at the edge of the
        acceptance."""
        if "central" in self.regions:  # the direct map of a central photon (a check, not in the process)
            return np.ones(len(momenta["photon_1"]))
        share = (1.0 - conversion_share(self.settings, momenta)) * beam_share(self.settings, momenta, self.regions)
        if self.regions[0] != self.regions[1]:
            share *= 1.0 - hard_share(self.settings, momenta)
        return share


PAIR_MASS2_SCALE = 0.04
"""The smallest mu^2 (GeV^2) of the conversion channels' share h = mu^2 / (mu^2 + m_ee^2)
(``conversion_share``): below a pair mass of about 0.2 GeV the pair is collinear (a converted photon)
and the e- direction map's median weight rises (200-fold from 0.3 GeV to 5 MeV); above, the pair mass
competes with the t-channel Bhabha peak at the edge of the acceptance, which the pair's isotropic decay
does not map."""


def conversion_share(st: LostPhotonsSettings, momenta: dict[str, np.ndarray]) -> np.ndarray:
    """h = mu^2 / (mu^2 + m_ee^2), mu^2 = max(``PAIR_MASS2_SCALE``, |t|), |t| the smaller of the
    momentum transfers |(p_beam - p_lepton)^2| of the e- and the e+ from their beams: the part of the
    both-photons-near-beams share a1 a2 that goes to the channels mapping the pair mass
    (``PairMassChannel``). As propagators weigh the channels of MadEvent: the pair mass's 1/m_ee^2
    (a converted photon, or an s-channel pair recoiling against two unbalanced hard photons) against
    the t-channel's 1/|t| (the Bhabha peak at the edge of the acceptance)."""
    q = momenta["e_minus"] + momenta["e_plus"]
    p1, p2 = beams(st.sqrt_s, st.electron_mass, len(q))
    t_minus, t_plus = (np.abs(mdot(p - k, p - k)) for p, k in ((p1, momenta["e_minus"]), (p2, momenta["e_plus"])))
    scale = np.maximum(PAIR_MASS2_SCALE, np.minimum(t_minus, t_plus))
    return scale / (scale + mdot(q, q))


@dataclass(frozen=True)
class PairMassChannel:
    """Two photons in the given beam regions (``REGIONS``) and the e+e- pair as one body Q of mass
    m_ee, m_ee^2 drawn log-uniformly, decaying isotropically in its rest frame: the s-channel photon's
    1/m_ee^2 peak, a converted photon recoiling against two hard photons near the beams, whose
    collinear pair the e- direction map of ``LostPhotonsChannel`` finds only with weights of order
    (E_ee / m_ee)^2: dim 8 (+ the azimuth).

    Photon 1 as in ``LostPhotonsChannel``; photon 2's direction by its beam's map and its energy from
    the pair's mass, (W - k2)^2 = m_ee^2 with W = P - k1: E2 = (W^2 - m_ee^2) / (2 n2.W), m_ee^2
    between 4 m^2 and the value at E2 = ``photon_energy_min``:

        dPhi_4 = d^3k1 / ((2 pi)^3 2 E1) d^3k2 / ((2 pi)^3 2 E2) 2 pi delta((W - k2)^2 - m_ee^2)
                 dm_ee^2 / (2 pi) dPhi_2(Q; m, m),
        d^3k2 / (2 E2) delta((W - k2)^2 - m_ee^2) = E2 dOmega_2 / (4 n2.W),
        dPhi_2(Q; m, m) = beta* / (8 pi) dOmega* / (4 pi).

    It takes h (``conversion_share``) of the both-photons-near-beams share a1 a2 (``beam_share``),
    ``LostPhotonsChannel`` the rest.
    """

    settings: LostPhotonsSettings
    regions: tuple[str, str]
    dim: int = 8

    @property
    def name(self) -> str:
        return f"{' '.join(self.regions)} (pair mass)"

    def __call__(self, y, azimuth):
        st = self.settings
        m = st.electron_mass
        k1, w1 = photon_in_region(st, y[:, 0], y[:, 1], azimuth, self.regions[0])
        n2, cos_weight = photon_direction(st, y[:, 2], azimuth + TWO_PI * y[:, 3], self.regions[1])
        w = recoil(st.sqrt_s, k1)
        n2_w = mdot(n2, w)
        lo = 4.0 * m * m
        hi = mdot(w, w) - 2.0 * st.cuts.photon_energy_min * n2_w
        possible = hi > lo * (1.0 + 1e-9)
        hi = np.where(possible, hi, 2.0 * lo)
        pair_mass2 = lo * (hi / lo) ** y[:, 4]
        pair_mass = np.sqrt(pair_mass2)
        k2 = n2 * (0.5 * (mdot(w, w) - pair_mass2) / n2_w)[:, None]
        q = w - k2
        p_star = two_body_momentum(pair_mass, m, m)
        e_rest = from_angles(np.sqrt(p_star * p_star + m * m), p_star, 2.0 * y[:, 5] - 1.0, TWO_PI * y[:, 6])
        e_minus = boost_from_rest(e_rest, q, pair_mass)
        w2 = k2[:, 0] * cos_weight * TWO_PI / (4.0 * n2_w)
        decay = p_star / pair_mass / (4.0 * math.pi)  # beta* / (8 pi)
        weight = w1 * w2 * TWO_PI / (TWO_PI**3) ** 2 * pair_mass2 * np.log(hi / lo) * decay * possible
        return two_photon_event(e_minus, q - e_minus, k1, k2), weight

    def share(self, momenta: dict[str, np.ndarray]) -> np.ndarray:
        """h a1 a2 (class docstring)."""
        return conversion_share(self.settings, momenta) * beam_share(self.settings, momenta, self.regions)


def hard_share(st: LostPhotonsSettings, momenta: dict[str, np.ndarray]) -> np.ndarray:
    """r = x1 x2 (x_i = min(2 E_i / sqrt(s), 1)): the part of the share of two photons near opposite
    beams that goes to ``MissingEnergyChannel`` (both photons hard), ``LostPhotonsChannel`` the rest."""
    x1, x2 = (np.minimum(2.0 * momenta[name][:, 0] / st.sqrt_s, 1.0) for name in ("photon_1", "photon_2"))
    return x1 * x2


@dataclass(frozen=True)
class MissingEnergyChannel:
    """Two photons near opposite beams (``regions``) drawn by their total energy E = E1 + E2 = E*_miss
    and photon 1's fraction f = E1 / E of it, the e+e- pair as in ``LostPhotonsChannel``: dim 8 (+ the
    azimuth).

    Two hard photons along the beams leave an e+e- pair of small mass s' = (P - k1 - k2)^2, close to
    (sqrt(s) - E)^2 when they balance, whose scattering peaks as 1/s'; sqrt(s) - E is drawn
    log-uniformly between twice the electrons' energy threshold and sqrt(s) - ``missing_energy_min``.
    Their missing momentum is central only where they balance, |p_z| = |E1 c1 + E2 c2| below their
    p_T (c_i = cos theta_i): a band in f of a width set by the photons' angles, where in (E1, E2), drawn
    apart as by ``LostPhotonsChannel``, it is a narrow diagonal that a separable map cannot follow.
    The directions are drawn first (``photon_direction``), then xi = p_z / E = c2 + f (c1 - c2) =
    w sinh(v) with v uniform and w = (sin theta_1 + sin theta_2) / 2, about p_T / E when they balance,
    so that v is about eta*_miss (each photon above ``photon_energy_min``):

        d^3k1 / (2 E1) d^3k2 / (2 E2) = E1 E2 / 4 E dE df dOmega1 dOmega2,
        df = w cosh(v) dv / |c1 - c2|.

    It takes r (``hard_share``) of the share (1 - h) a1 a2 of ``LostPhotonsChannel``.
    """

    settings: LostPhotonsSettings
    regions: tuple[str, str]
    dim: int = 8

    @property
    def name(self) -> str:
        return f"{' '.join(self.regions)} (missing energy)"

    def __call__(self, y, azimuth):
        st = self.settings
        n1, cos_weight1 = photon_direction(st, y[:, 0], azimuth, self.regions[0])
        n2, cos_weight2 = photon_direction(st, y[:, 2], azimuth + TWO_PI * y[:, 4], self.regions[1])
        rest_lo = 2.0 * max(st.acceptance.energy_min, st.electron_mass)
        rest_hi = st.sqrt_s - max(st.cuts.missing_energy_min, 2.0 * st.cuts.photon_energy_min)
        rest = rest_lo * (rest_hi / rest_lo) ** y[:, 1]
        energy = st.sqrt_s - rest
        f_lo = np.minimum(st.cuts.photon_energy_min / energy, 0.5)
        c1, c2 = n1[:, 3], n2[:, 3]
        width = 0.5 * (np.hypot(n1[:, 1], n1[:, 2]) + np.hypot(n2[:, 1], n2[:, 2]))
        ends = np.stack([c2 + f_lo * (c1 - c2), c1 - f_lo * (c1 - c2)])
        v_lo, v_hi = np.arcsinh(ends.min(axis=0) / width), np.arcsinh(ends.max(axis=0) / width)
        v = v_lo + (v_hi - v_lo) * y[:, 3]
        fraction = (width * np.sinh(v) - c2) / (c1 - c2)
        e1, e2 = fraction * energy, (1.0 - fraction) * energy
        k1, k2 = n1 * e1[:, None], n2 * e2[:, None]
        q = recoil(st.sqrt_s, k1 + k2)
        e_minus, e_plus, pair_weight = pair_in_acceptance(st, q, y[:, 5:8], azimuth)
        fraction_weight = width * np.cosh(v) * (v_hi - v_lo) / np.abs(c1 - c2)
        jacobian = e1 * e2 / 4.0 * energy * rest * math.log(rest_hi / rest_lo) * fraction_weight
        weight = jacobian * cos_weight1 * cos_weight2 * TWO_PI * TWO_PI / (TWO_PI**3) ** 2 * pair_weight
        return two_photon_event(e_minus, e_plus, k1, k2), weight

    def share(self, momenta: dict[str, np.ndarray]) -> np.ndarray:
        """(1 - h) a1 a2 r (class docstring)."""
        return (
            (1.0 - conversion_share(self.settings, momenta))
            * beam_share(self.settings, momenta, self.regions)
            * hard_share(self.settings, momenta)
        )


def photon_regions(mapped: int, mapped_region: str, other_region: str) -> tuple[str, str]:
    """The regions of photon 1 and photon 2 when photon ``mapped`` (0 or 1) is in ``mapped_region``."""
    return (mapped_region, other_region) if mapped == 0 else (other_region, mapped_region)


@dataclass(frozen=True)
class LeptonPhotonChannel:
    """One photon (``mapped``: 0 or 1) drawn around an outgoing lepton (``lepton``: "e_minus" or
    "e_plus"), where its 1/(p.k) peak lies, and kept in ``mapped_region`` (central: soft; or near a
    beam, for a photon close to a lepton at the edge of the acceptance); the other photon near a beam
    (``beam_region``): dim 7.

    What the beam photon leaves, X, decays into the other lepton and Y = lepton + photon, with
    M_Y^2 - m^2 = 2 p.k drawn log-uniformly between s_min and its largest value (the collinear
    peak); then Y decays, the photon at an angle theta* to Y's flight with 1 + beta_Y cos(theta*)
    drawn log-uniformly (its energy E_k = gamma_Y p* (1 + beta_Y cos theta*) then is: the soft peak):

        dPhi_3(X) = dPhi_2(X; m, M_Y) dM_Y^2 / (2 pi) dPhi_2(Y; m, 0).

    The channels of a region's emitters share it (``share``).
    """

    settings: LostPhotonsSettings
    mapped: int
    mapped_region: str
    beam_region: str
    lepton: str
    dim: int = 7

    @property
    def regions(self) -> tuple[str, str]:
        return photon_regions(self.mapped, self.mapped_region, self.beam_region)

    @property
    def name(self) -> str:
        return f"{' '.join(self.regions)} ({self.lepton})"

    def share(self, momenta: dict[str, np.ndarray]) -> np.ndarray:
        """The channel's part of |M|^2: its lepton's share b of the mapped photon, times a function of
        a, the beam's share of the other photon: with both photons near beams, a + (1 - a)/2 (the part
        where both photons are near leptons is split evenly between the two photons' lepton
        channels), so that with ``LostPhotonsChannel.share`` the shares add up to 1; for a central
        photon, a (the leptons' shares of the other photon, 1 - a, ``TwoLeptonPhotonChannel`` takes)."""
        st, other = self.settings, 1 - self.mapped
        share = emitter_share(st, momenta, self.mapped, self.mapped_region, self.lepton)
        beam = emitter_share(st, momenta, other, self.beam_region, "beam")
        if self.mapped_region == "central":
            return share * beam
        return share * (beam + 0.5 * (1.0 - beam))

    def _around_lepton(self, x, y, azimuth):
        """X -> lepton + other + photon with dPhi_3(X) / dy, through Y (``lepton_and_photon``), kept in
        the channel's region."""
        lepton, other, photon, decays = lepton_and_photon(self.settings, x, y)
        return lepton, other, photon, decays * in_region(self.settings, photon, self.mapped_region)

    def __call__(self, y, azimuth):
        st = self.settings
        beam_photon, w_beam = photon_in_region(st, y[:, 0], y[:, 1], azimuth, self.beam_region)
        x = recoil(st.sqrt_s, beam_photon)
        lepton, other, photon, decays = self._around_lepton(x, y[:, 2:], azimuth)
        weight = w_beam * TWO_PI / TWO_PI**3 * decays
        photons = [photon, beam_photon] if self.mapped == 0 else [beam_photon, photon]
        leptons = (lepton, other) if self.lepton == "e_minus" else (other, lepton)
        return two_photon_event(*leptons, *photons), weight


@dataclass(frozen=True)
class EdgeLeptonPhotonChannel(LeptonPhotonChannel):
    """``LeptonPhotonChannel`` for a photon near a beam (``mapped_region`` "+z" or "-z") close to a
    lepton at the edge of the acceptance: the lepton's direction and the photon's around it drawn so
    that the edge, which the photon must cross and the lepton must not, is where the variables end
    (``photon_beyond_edge``); the other photon near a beam (``beam_region``): dim 8. It shares |M|^2
    as ``LeptonPhotonChannel``."""

    dim: int = 8

    def _around_lepton(self, x, y, azimuth):
        """X -> lepton + other + photon with dPhi_3(X) / dy, by ``photon_beyond_edge``."""
        return photon_beyond_edge(self.settings, x, y, azimuth, self.mapped_region)


def partner(lepton: str) -> str:
    """The other outgoing lepton: "e_plus" for "e_minus" and the reverse."""
    return "e_plus" if lepton == "e_minus" else "e_minus"


@dataclass(frozen=True)
class TwoLeptonPhotonChannel:
    """A central soft photon (``mapped``: 0 or 1) drawn around one lepton (``lepton``), the other
    photon beyond the edge of the acceptance (``beam_region``) close to a lepton (``edge_lepton``: the
    other lepton, or the same one): dim 9. Both photons on a lepton's collinear peak, where
    ``LeptonPhotonChannel`` draws the second one by its beam's map and misses that lepton's peak.

    Y = lepton + central photon has the mass M_Y, M_Y^2 - m^2 = 2 p.k drawn log-uniformly between s_min
    (``lepton_photon_mass2``) and 2 E_thr sqrt(s) (a central photon is lost below the energy threshold
    E_thr, and 2 p.k < 2 E_k sqrt(s)). The centre-of-mass system decays into the edge photon, the
    other lepton and Y (``photon_beyond_edge``), the edge photon drawn around the other lepton, or
    around Y when both photons are the same lepton's (Y's flight is that lepton's but for the soft
    photon's recoil); Y decays as in ``LeptonPhotonChannel`` (``photon_from_lepton``):

        dPhi_4 = d^3k / ((2 pi)^3 2 E_k) dPhi_2(P - k; m, M_Y) dM_Y^2 / (2 pi) dPhi_2(Y; m, 0).

    It takes b b' of |M|^2 (b the lepton's share of the central photon, b' the edge lepton's of the
    edge photon; ``emitter_share``), ``LeptonPhotonChannel`` of the central photon b a (a the beam's).
    """

    settings: LostPhotonsSettings
    mapped: int
    beam_region: str
    lepton: str
    edge_lepton: str
    dim: int = 9

    @property
    def regions(self) -> tuple[str, str]:
        return photon_regions(self.mapped, "central", self.beam_region)

    @property
    def name(self) -> str:
        return f"{' '.join(self.regions)} ({self.lepton}, {self.edge_lepton})"

    def share(self, momenta: dict[str, np.ndarray]) -> np.ndarray:
        """b b' (class docstring)."""
        st = self.settings
        central = emitter_share(st, momenta, self.mapped, "central", self.lepton)
        return central * emitter_share(st, momenta, 1 - self.mapped, self.beam_region, self.edge_lepton)

    def __call__(self, y, azimuth):
        st = self.settings
        m = st.electron_mass
        s_y, mass_weight = lepton_photon_mass2(st, 2.0 * st.acceptance.energy_min * st.sqrt_s, y[:, 0])
        total = cm_momentum(st.sqrt_s, len(y))
        if self.edge_lepton == self.lepton:
            y_system, other, edge_photon, edge_weight = photon_beyond_edge(
                st, total, y[:, 1:7], azimuth, self.beam_region, lepton_mass2=s_y + m * m
            )
        else:
            other, y_system, edge_photon, edge_weight = photon_beyond_edge(
                st, total, y[:, 1:7], azimuth, self.beam_region, other_mass2=s_y + m * m
            )
        possible = edge_weight > 0  # elsewhere Y is no physical momentum: a time-like stand-in, weight 0
        y_system = np.where(possible[:, None], y_system, np.array([st.sqrt_s, 0.0, 0.0, 0.5 * st.sqrt_s]))
        lepton, photon, y_decay = photon_from_lepton(st, y_system, s_y, y[:, 7:9])
        weight = edge_weight * mass_weight * y_decay * in_region(st, photon, "central")
        photons = [photon, edge_photon] if self.mapped == 0 else [edge_photon, photon]
        leptons = (lepton, other) if self.lepton == "e_minus" else (other, lepton)
        return two_photon_event(*leptons, *photons), weight


class LostPhotonsProcess:
    """e+e- -> e+e- gamma gamma with both photons lost (the `processes` interface)."""

    particles: tuple[str, ...] = ("e_minus", "e_plus", "invisible", "photon_1", "photon_2")
    photons: tuple[str, ...] = ("photon_1", "photon_2")
    symmetry_factor = 0.5  # identical photons

    def __init__(self, settings: LostPhotonsSettings):
        self.settings = settings
        beam_regions = ("+z", "-z")
        channels: list = [LostPhotonsChannel(settings, (a, b)) for a in beam_regions for b in beam_regions]
        channels += [PairMassChannel(settings, (a, b)) for a in beam_regions for b in beam_regions]
        channels += [MissingEnergyChannel(settings, (a, b)) for a in beam_regions for b in beam_regions if a != b]
        channels += [
            (LeptonPhotonChannel if mapped_region == "central" else EdgeLeptonPhotonChannel)(
                settings, mapped, mapped_region, region, lepton
            )
            for mapped in (0, 1)
            for mapped_region in REGIONS
            for region in beam_regions
            for lepton in ("e_minus", "e_plus")
        ]
        channels += [
            TwoLeptonPhotonChannel(settings, mapped, region, lepton, lepton if same else partner(lepton))
            for same in (False, True)
            for mapped in (0, 1)
            for region in beam_regions
            for lepton in ("e_minus", "e_plus")
        ]
        self.channels = tuple(channels)
        m, s = settings.electron_mass, settings.sqrt_s**2
        self._flux = 2.0 * math.sqrt(kallen(s, m * m, m * m))

    @property
    def name(self) -> str:
        return "ee_to_eegg"

    def accepted(self, momenta: dict[str, np.ndarray]) -> np.ndarray:
        """Both electrons visible; each photon lost, above the energy cut and away from the beams; the
        photons' energies above the missing-energy cut."""
        st = self.settings
        acc, cuts = st.acceptance, st.cuts
        keep = in_acceptance(momenta["e_minus"], acc) & in_acceptance(momenta["e_plus"], acc)
        closest = math.cos(math.radians(cuts.photon_angle_min_deg))
        for name in self.photons:
            k = momenta[name]
            keep &= ~in_acceptance(k, acc) & (k[:, 0] >= cuts.photon_energy_min)
            keep &= np.abs(cos_theta(k)) <= closest
        return keep & (sum(momenta[name][:, 0] for name in self.photons) >= cuts.missing_energy_min)

    def differential(self, channel: int, momenta: dict[str, np.ndarray], ps_weight: np.ndarray) -> np.ndarray:
        keep = self.accepted(momenta) & (ps_weight > 0)
        out = np.zeros_like(ps_weight)
        if not np.any(keep):
            return out
        accepted = {name: v[keep] for name, v in momenta.items()}
        share = self.channels[channel].share(accepted)
        me2 = self.matrix_element(accepted)
        out[keep] = constants.GEV2_TO_PB * me2 / self._flux * ps_weight[keep] * self.symmetry_factor * share
        return out

    def matrix_element(self, momenta: dict[str, np.ndarray]) -> np.ndarray:
        """|M|^2 of e+e- -> e+e- gamma gamma (``qed.me2_bhabha_photons``) at the given final states."""
        st = self.settings
        p1, p2 = beams(st.sqrt_s, st.electron_mass, len(momenta["e_minus"]))
        photons = [momenta[name] for name in self.photons]
        return me2_bhabha_photons(
            p1, p2, momenta["e_minus"], momenta["e_plus"], photons, alpha=st.alpha, electron_mass=st.electron_mass
        )

    def metadata(self) -> dict:
        st = self.settings
        return {
            "process": self.name,
            "m_a": None,
            "g_ref": None,
            "sqrt_s": st.sqrt_s,
            "alpha": st.alpha,
            "electron_mass": st.electron_mass,
            "cuts": {
                "photon_energy_min": st.cuts.photon_energy_min,
                "missing_energy_min": st.cuts.missing_energy_min,
                "photon_angle_min_deg": st.cuts.photon_angle_min_deg,
                "electrons": "both inside the acceptance",
                "photons": "every photon outside it",
            },
        }


@dataclass(frozen=True)
class LostPhotonChannel:
    """e+e- -> e+e- gamma with the photon lost: the photon near a beam (``region``), drawn by the beam's
    map (``photon_in_region``), or around an outgoing lepton (``lepton``: "e_minus" or "e_plus"; None:
    the beam's map), kept in ``region`` (``lepton_and_photon``): dim 5. The photon's emitters share it
    (``emitter_share``): the beam's channel takes the beam's share, a lepton's channel the lepton's."""

    settings: LostPhotonsSettings
    region: str
    lepton: str | None = None
    dim: int = 5

    @property
    def name(self) -> str:
        return self.region if self.lepton is None else f"{self.region} ({self.lepton})"

    def share(self, momenta: dict[str, np.ndarray]) -> np.ndarray:
        return emitter_share(self.settings, momenta, 0, self.region, self.lepton or "beam")

    def __call__(self, y, azimuth):
        st = self.settings
        if self.lepton is None:
            photon, w_photon = photon_in_region(st, y[:, 0], y[:, 1], azimuth, self.region)
            q = recoil(st.sqrt_s, photon)
            e_minus, e_plus, pair_weight = pair_in_acceptance(st, q, y[:, 2:5], azimuth)
            weight = w_photon * TWO_PI / TWO_PI**3 * pair_weight
        else:
            total = cm_momentum(st.sqrt_s, len(y))
            lepton, other, photon, decays = lepton_and_photon(st, total, y)
            e_minus, e_plus = (lepton, other) if self.lepton == "e_minus" else (other, lepton)
            weight = decays * in_region(st, photon, self.region)
        return {"e_minus": e_minus, "e_plus": e_plus, "invisible": photon, "photon_1": photon}, weight


class LostPhotonProcess(LostPhotonsProcess):
    """e+e- -> e+e- gamma with the photon lost (the `processes` interface), with the cuts of
    ``LostPhotonsSettings`` on its one photon (``missing_energy_min`` on its energy): the n = 1 QED
    process, whose missing mass is zero before the smearing. Six channels: a beam's map and the two
    leptons' maps for each side; a central photon, below the energy threshold, cannot carry the
    missing energy."""

    particles: tuple[str, ...] = ("e_minus", "e_plus", "invisible", "photon_1")
    photons: tuple[str, ...] = ("photon_1",)
    symmetry_factor = 1.0

    def __init__(self, settings: LostPhotonsSettings):
        super().__init__(settings)
        self.channels = tuple(
            LostPhotonChannel(settings, region, lepton)
            for region in ("+z", "-z")
            for lepton in (None, "e_minus", "e_plus")
        )

    @property
    def name(self) -> str:
        return "ee_to_eeg"
