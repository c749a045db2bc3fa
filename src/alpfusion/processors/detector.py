"""The detector model of physics.md section 3: acceptance and Gaussian resolution.

Visible particles are the electrons (``e_minus``, ``e_plus``) and the photons (every particle whose
name starts with ``photon``); everything else (``invisible``, neutrinos, MC-truth taus) is never
seen. An event is *accepted* when both electrons are inside the acceptance
(:func:`alpfusion.kinematics.in_acceptance`, the one definition shared with the generators), the
pair is separated by ``acceptance.delta_r_ee_min`` (:func:`alpfusion.kinematics.pair_separated`) and
no photon is inside the acceptance (a visible photon makes the event something other than
e+e- + invisible; a photon that fails the acceptance is invisible).

Order of operations (``detector.acceptance_on``): ``truth`` (default) decides the acceptance on
the true momenta and smears the accepted particles, as physics.md words it ("smearing of each
visible particle", visibility being defined by the acceptance); it is also what keeps the
processor consistent with samples generated exactly inside the acceptance, where smearing first
would lose events across the boundaries without any coming in. ``smeared`` smears first and
accepts what is measured; use it with samples generated with looser cuts.

Smearing (``detector.smearing``; off leaves the momenta untouched): E, theta and phi of each
visible particle get independent Gaussian deviates,

    sigma_E / E = sqrt( (a / E)^2 + (b / E^(1/4))^2 + c^2 ),   E in GeV,
    a = 0.066%, b = 0.81%, c = 1.34%   (detector.energy_noise, _stochastic, _constant)
    sigma_theta = sigma_phi = 1e-3 rad  (detector.angle_resolution)

and the particle keeps its invariant mass m (from the true four-momentum): |p| = sqrt(E^2 - m^2)
with the smeared E, which is clipped at m (|p| = 0; only possible far below the energy
threshold). A smeared theta outside [0, pi] continues across the pole (the direction is built
from sin and cos of the smeared angles).

Reproducibility: the deviate of (sample, event, particle, component) is a counter-based hash,
independent of chunking, executor and of the other events: the 64-bit key
``sha256("{seed}/{sample}/{particle}/{component}")`` and the ``event`` index go through the
splitmix64 finaliser, ``bits = mix64(key + (event + 1) * 0x9E3779B97F4A7C15)`` (the
SplittableRandom construction), the top 53 bits give a uniform u in (0, 1) and the normal deviate
is the inverse normal CDF ``scipy.special.ndtri(u)``.
"""

from __future__ import annotations

import hashlib

import awkward as ak
import numpy as np
from scipy.special import ndtri

from ..config import Acceptance, Detector
from ..kinematics import in_acceptance, pair_separated
from ..observables import EventObservables, components, four_momenta
from ..samples.lostphotons import lost_pt_share_max, missing_pt_excess

__all__ = [
    "SMEARED_COMPONENTS",
    "accepted",
    "energy_resolution",
    "event_accepted",
    "is_photon",
    "measure",
    "smear",
    "standard_normals",
    "stream_key",
]

SMEARED_COMPONENTS = ("E", "theta", "phi")
"""The smeared quantities of a particle; each has its own random stream."""

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def is_photon(particle: str) -> bool:
    """True for the sample particles that are photons (names starting with 'photon')."""
    return particle.startswith("photon")


def energy_resolution(energy: np.ndarray, det: Detector) -> np.ndarray:
    """sigma_E / E = sqrt((a/E)^2 + (b/E^(1/4))^2 + c^2), E in GeV (physics.md section 3)."""
    return np.sqrt(
        (det.energy_noise / energy) ** 2 + det.energy_stochastic**2 / np.sqrt(energy) + det.energy_constant**2
    )


def pt_excess_resolution(e_minus: ak.Array, e_plus: ak.Array, det: Detector, share: float) -> np.ndarray:
    """The resolution of the missing p_T's excess Delta = p_T,miss - share E*_miss - const
    (``lostphotons.missing_pt_excess``, ``share`` = sin(theta_min)) that the smearing of the two electrons
    gives, to first order, per event (GeV; the measured electrons stand for the true ones).

    An electron's energy scaled by 1 + eps (sigma(eps) = :func:`energy_resolution`) moves Delta by
    eps (share E - p_T cos phi), phi its transverse direction's angle to the missing p_T's; its polar and
    azimuthal angles (sigma ``angle_resolution`` each) move p_T,miss by |p| (cos theta cos phi d theta,
    sin theta sin phi d phi). The variance sums these terms over the two electrons."""
    (_, mx, my, _), (_, px, py, _) = components(e_minus), components(e_plus)
    miss_x, miss_y = -(mx + px), -(my + py)
    miss_t = np.hypot(miss_x, miss_y)
    variance = np.zeros(len(miss_t))
    for electron in (e_minus, e_plus):
        energy, x, y, z = components(electron)
        p_t, p = np.hypot(x, y), np.sqrt(x * x + y * y + z * z)
        with np.errstate(invalid="ignore", divide="ignore"):
            cos_phi = np.nan_to_num((x * miss_x + y * miss_y) / (p_t * miss_t))
        sin_phi2, cos_theta2 = 1.0 - cos_phi**2, (z / p) ** 2
        variance += (energy_resolution(energy, det) * (share * energy - p_t * cos_phi)) ** 2
        variance += (det.angle_resolution * p) ** 2 * (cos_theta2 * cos_phi**2 + (1.0 - cos_theta2) * sin_phi2)
    return np.sqrt(variance)


def pt_excess_significance(
    obs: EventObservables, e_minus: ak.Array, e_plus: ak.Array, det: Detector, acc: Acceptance
) -> np.ndarray:
    """The missing p_T's excess over the reach of two lost photons (``lostphotons.missing_pt_excess``) in
    units of its resolution (:func:`pt_excess_resolution`), per event: what ``histograms.pt_excess_sigmas``
    slices; -inf where there is no missing p_T (m2_miss > E*_miss^2) or no resolution."""
    excess = missing_pt_excess(obs.e_miss, obs.m2_miss, obs.eta_miss, acc)
    resolution = pt_excess_resolution(e_minus, e_plus, det, lost_pt_share_max(acc))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(excess / resolution, nan=-np.inf)


def stream_key(seed: int, sample: str, particle: str, component: str) -> np.uint64:
    """The 64-bit key of one random stream: the first 8 bytes of sha256("{seed}/{sample}/...")."""
    digest = hashlib.sha256(f"{seed}/{sample}/{particle}/{component}".encode()).digest()
    return np.uint64(int.from_bytes(digest[:8], "little"))


def _mix64(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (in place on a fresh uint64 array)."""
    z ^= z >> np.uint64(30)
    z *= _MIX1
    z ^= z >> np.uint64(27)
    z *= _MIX2
    z ^= z >> np.uint64(31)
    return z


def standard_normals(key: np.uint64, event: np.ndarray) -> np.ndarray:
    """One N(0, 1) deviate per event index, a pure function of (key, event)."""
    z = (np.asarray(event, dtype=np.uint64) + np.uint64(1)) * _GAMMA
    z += key
    u = (_mix64(z) >> np.uint64(11)).astype(np.float64)
    u += 0.5
    u *= 2.0**-53
    return ndtri(u)


_LARGEST_NORMAL = float(-ndtri(2.0**-54))
"""The largest |deviate| standard_normals can return (u is at least 2^-54 from 0 and 1): 8.29."""


def _cos_sin(angle: np.ndarray, bound: float) -> tuple[np.ndarray, np.ndarray]:
    """(cos, sin) of angles known to satisfy |angle| <= bound.

    For bound <= 0.05 rad (the smearing of the default 1e-3 rad resolution stays below 0.0083 rad)
    by the Taylor series through x^8 and x^7, which agree with numpy's cos and sin to an ulp or two
    there and are five times faster; otherwise numpy's. The choice depends on the bound only, never
    on the data, so that an event's result does not depend on the other events of its chunk.
    """
    if bound > 0.05:
        return np.cos(angle), np.sin(angle)
    x2 = angle * angle
    cos = 1.0 - 0.5 * x2 * (1.0 - x2 / 12.0 * (1.0 - x2 / 30.0 * (1.0 - x2 / 56.0)))
    sin = angle * (1.0 - x2 / 6.0 * (1.0 - x2 / 20.0 * (1.0 - x2 / 42.0)))
    return cos, sin


def smear(p: ak.Array, det: Detector, sample: str, particle: str, event: np.ndarray) -> ak.Array:
    """The measured ``Momentum4D`` of a visible particle (see the module docstring)."""
    if not det.smearing:
        return p
    energy, px, py, pz = components(p)
    normal = {c: standard_normals(stream_key(det.seed, sample, particle, c), event) for c in SMEARED_COMPONENTS}
    rho2 = px * px + py * py
    mom2 = rho2 + pz * pz
    rho, mom = np.sqrt(rho2), np.sqrt(mom2)
    mass2 = np.maximum(energy * energy - mom2, 0.0)
    e_smeared = np.maximum(energy * (1.0 + energy_resolution(energy, det) * normal["E"]), np.sqrt(mass2))
    cos_t, sin_t = pz / mom, rho / mom
    cos_p = np.divide(px, rho, out=np.ones_like(px), where=rho > 0)
    sin_p = np.divide(py, rho, out=np.zeros_like(py), where=rho > 0)
    bound = det.angle_resolution * _LARGEST_NORMAL
    cos_dt, sin_dt = _cos_sin(det.angle_resolution * normal["theta"], bound)
    cos_dp, sin_dp = _cos_sin(det.angle_resolution * normal["phi"], bound)
    sin_ts = sin_t * cos_dt + cos_t * sin_dt
    cos_ts = cos_t * cos_dt - sin_t * sin_dt
    cos_ps = cos_p * cos_dp - sin_p * sin_dp
    sin_ps = sin_p * cos_dp + cos_p * sin_dp
    mom_s = np.sqrt(e_smeared * e_smeared - mass2)
    rho_s = mom_s * sin_ts
    return four_momenta(e_smeared, rho_s * cos_ps, rho_s * sin_ps, mom_s * cos_ts)


def _as_rows(p: ak.Array) -> np.ndarray:
    """The (N, 4) array (E, px, py, pz) of the kinematics module, as a view of a (4, N) block."""
    return np.stack(components(p)).T


def accepted(p: ak.Array, acc: Acceptance) -> np.ndarray:
    """True where a particle is inside the acceptance (``alpfusion.kinematics.in_acceptance``)."""
    return in_acceptance(_as_rows(p), acc)


def event_accepted(e_minus: ak.Array, e_plus: ak.Array, photons: list[ak.Array], acc: Acceptance) -> np.ndarray:
    """Both electrons accepted and separated (``alpfusion.kinematics.pair_separated``), no photon accepted."""
    electrons = _as_rows(e_minus), _as_rows(e_plus)
    ok = in_acceptance(electrons[0], acc) & in_acceptance(electrons[1], acc)
    ok &= pair_separated(*electrons, acc)
    for photon in photons:
        ok &= ~accepted(photon, acc)
    return ok


def measure(
    particles: dict[str, ak.Array], event: np.ndarray, det: Detector, acc: Acceptance, sample: str
) -> tuple[ak.Array, ak.Array, np.ndarray]:
    """(e-, e+, accepted): the measured electrons of the accepted events and the acceptance mask.

    ``particles`` maps the sample's particle names to their true ``Momentum4D`` arrays (it must
    hold ``e_minus`` and ``e_plus``; photons are found by name, the rest is ignored); ``event`` is
    the event index of each row. The order of acceptance and smearing follows
    ``detector.acceptance_on`` (module docstring).
    """
    visible = [name for name in particles if name in ("e_minus", "e_plus") or is_photon(name)]
    photons = [name for name in visible if is_photon(name)]
    if det.acceptance_on == "truth":
        ok = event_accepted(particles["e_minus"], particles["e_plus"], [particles[n] for n in photons], acc)
        event = event[ok]
        e_minus, e_plus = (smear(particles[n][ok], det, sample, n, event) for n in ("e_minus", "e_plus"))
        return e_minus, e_plus, ok
    seen = {name: smear(particles[name], det, sample, name, event) for name in visible}
    ok = event_accepted(seen["e_minus"], seen["e_plus"], [seen[n] for n in photons], acc)
    return seen["e_minus"][ok], seen["e_plus"][ok], ok
