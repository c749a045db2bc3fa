"""Event observables from the two visible electrons (physics.md section 4).

The electrons are flat awkward arrays of ``Momentum4D`` records (``vector`` behaviours), one per
event, in the centre-of-mass frame (starred quantities), after the detector model (the generator's
bias passes vector's numpy-backed momenta instead, with the same results: ``alpfusion.samples.bias``).
The beams collide with total four-momentum P = (sqrt(s), 0, 0, 0).

    E*_miss   = sqrt(s) - E*_e+ - E*_e-          p*_miss = -(p*_e+ + p*_e-)
    m2_miss   = E*_miss^2 - |p*_miss|^2          (signed; negative values are kept)
    eta*_miss = -ln tan(theta_miss / 2)          (theta_miss: polar angle of p*_miss)
    m_ee      = invariant mass of the e+e- pair

and the tau-pair "antler" mass |m_ee^tau| (see :func:`antler_mass`), which needs c_phi, the cosine
of the angle between the two tau decay planes. c_phi is estimated either from an estimate of the
tau-pair axis (:data:`TAU_AXES`: the pair axis, the beam axis, the MC-truth axis) or without one
(``tau_like``, :func:`tau_like_cphi`: the c_phi in [-1, 1] that brings |m_ee^tau| closest to m_ee);
:func:`estimate_cphi` dispatches by name. This module is the one place where these observables are
defined.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import awkward as ak
import numpy as np
import vector

from .constants import M_TAU

vector.register_awkward()

__all__ = [
    "TAU_AXES",
    "EventObservables",
    "MissingTruthError",
    "antler_mass",
    "components",
    "compute_observables",
    "decay_plane_cosine",
    "diagonal_offset",
    "diagonal_side",
    "estimate_cphi",
    "four_momenta",
    "missing_four_momentum",
    "missing_pt_fraction",
    "tau_axis",
    "tau_like_cphi",
]

TAU_LIKE = "tau_like"
"""The axis-free c_phi estimator (:func:`tau_like_cphi`)."""


class MissingTruthError(ValueError):
    """The 'truth' c_phi estimator was asked for on a sample without MC-truth taus."""


def four_momenta(E, px, py, pz) -> ak.Array:
    """A flat awkward array of ``Momentum4D`` records from component arrays (GeV)."""
    return ak.zip({"E": E, "px": px, "py": py, "pz": pz}, with_name="Momentum4D")


def components(p: ak.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(E, px, py, pz) of a flat ``Momentum4D`` array as numpy arrays (no copy)."""
    return tuple(ak.to_numpy(p[name]) for name in ("E", "px", "py", "pz"))


def missing_four_momentum(e_minus: ak.Array, e_plus: ak.Array, sqrt_s: float) -> ak.Array:
    """p*_miss = P - p_e- - p_e+ with P = (sqrt(s), 0, 0, 0): (E*_miss, p*_miss)."""
    visible = e_minus + e_plus
    return four_momenta(sqrt_s - visible.E, -visible.px, -visible.py, -visible.pz)


def _unit3(p: ak.Array) -> ak.Array:
    return p.to_Vector3D().unit()


def pair_axis(e_minus: ak.Array, e_plus: ak.Array, tau_minus: ak.Array | None = None) -> ak.Array:
    """unit(p_e-/|p_e-| - p_e+/|p_e+|): the e- roughly follows the tau-, the e+ the tau+.

    This axis lies in the plane of p_e- and p_e+ and makes equal angles with them, so both decay
    planes coincide with that plane and the transverse components are parallel: c_phi = 1 for
    every event (physics.md section 4 names the estimator; the consequence is noted in
    docs/processing.md).
    """
    return (_unit3(e_minus) - _unit3(e_plus)).unit()


def beam_axis(e_minus: ak.Array, e_plus: ak.Array, tau_minus: ak.Array | None = None) -> ak.Array:
    """The beam (z) axis, the same for every event."""
    n = len(e_minus)
    return ak.zip({"x": np.zeros(n), "y": np.zeros(n), "z": np.ones(n)}, with_name="Vector3D")


def truth_axis(e_minus: ak.Array, e_plus: ak.Array, tau_minus: ak.Array | None = None) -> ak.Array:
    """The MC-truth tau- direction (a diagnostic; tau samples only)."""
    if tau_minus is None:
        raise MissingTruthError(
            "the 'truth' c_phi estimator needs the MC-truth tau_minus momentum "
            "(branches tau_minus_E/px/py/pz), which this sample does not have"
        )
    return _unit3(tau_minus)


TAU_AXES: dict[str, Callable[..., ak.Array]] = {
    "pair_axis": pair_axis,
    "beam_axis": beam_axis,
    "truth": truth_axis,
}
"""Estimators of the tau-pair axis by name (configuration key ``observables.cphi_estimator``,
whose allowed values are ``alpfusion.config.CPHI_ESTIMATORS``)."""


def tau_axis(estimator: str, e_minus: ak.Array, e_plus: ak.Array, tau_minus: ak.Array | None = None) -> ak.Array:
    """The unit tau-pair axis (``Vector3D``) of the named estimator."""
    try:
        estimate = TAU_AXES[estimator]
    except KeyError:
        known = ", ".join((*TAU_AXES, TAU_LIKE))
        raise ValueError(f"unknown c_phi estimator '{estimator}' (known: {known})") from None
    return estimate(e_minus, e_plus, tau_minus)


def estimate_cphi(
    estimator: str, e_minus: ak.Array, e_plus: ak.Array, sqrt_s: float, tau_minus: ak.Array | None = None
) -> np.ndarray:
    """c_phi of the named estimator: ``tau_like`` (:func:`tau_like_cphi`), or the decay-plane cosine
    around the axis of one of :data:`TAU_AXES`."""
    if estimator == TAU_LIKE:
        m_ee = ak.to_numpy((e_minus + e_plus).mass)
        return tau_like_cphi(ak.to_numpy(e_minus.E), ak.to_numpy(e_plus.E), m_ee, sqrt_s)
    return decay_plane_cosine(tau_axis(estimator, e_minus, e_plus, tau_minus), e_minus, e_plus)


def decay_plane_cosine(axis: ak.Array, e_minus: ak.Array, e_plus: ak.Array) -> np.ndarray:
    """c_phi: cosine of the angle between the planes (axis, p_e-) and (axis, p_e+).

    With a unit axis a, the normals a x p_e- and a x p_e+ give

        c_phi = [p_e-.p_e+ - (a.p_e-)(a.p_e+)] / sqrt{[|p_e-|^2 - (a.p_e-)^2] [|p_e+|^2 - (a.p_e+)^2]},

    the cosine of the azimuth difference of p_e- and p_e+ around the axis, both azimuths measured
    around the same oriented axis (no sign flip for the tau+, which flies along -a). This is the
    convention under which physics.md's formula reproduces m_ee exactly for tau pairs with
    massless neutrino pairs and the true axis (checked in tests/test_observables.py); it is even
    under a -> -a. Where a momentum is parallel to the axis the planes are undefined and
    c_phi = 1, the pair-axis value.
    """
    pm, pp = e_minus.to_Vector3D(), e_plus.to_Vector3D()
    am, ap = ak.to_numpy(axis.dot(pm)), ak.to_numpy(axis.dot(pp))
    numerator = ak.to_numpy(pm.dot(pp)) - am * ap
    denominator = np.sqrt(np.maximum((ak.to_numpy(pm.mag2) - am * am) * (ak.to_numpy(pp.mag2) - ap * ap), 0.0))
    out = np.ones_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return np.clip(out, -1.0, 1.0, out=out)


def _antler_terms(
    e_minus_energy: np.ndarray, e_plus_energy: np.ndarray, sqrt_s: float, m_tau: float
) -> tuple[np.ndarray, np.ndarray]:
    """(A, K) with (m_ee^tau)^2 = A + K c_phi (:func:`antler_mass`): A real, K = 2 m^2 M_- M_+ / (s - 4 m^2)
    real or imaginary (each M is real or imaginary)."""
    rs = sqrt_s
    s, m2 = rs * rs, m_tau * m_tau

    def radical(e: np.ndarray) -> np.ndarray:
        return np.sqrt((m2 - 2.0 * rs * e + 4.0 * e * e).astype(np.complex128))

    norm = 2.0 / (s - 4.0 * m2)
    real_part = (
        m2 * m2 - rs * m2 * (e_plus_energy + e_minus_energy) + 2.0 * e_minus_energy * e_plus_energy * (s - 2.0 * m2)
    )
    return norm * real_part, norm * m2 * radical(e_minus_energy) * radical(e_plus_energy)


def tau_like_cphi(
    e_minus_energy: np.ndarray, e_plus_energy: np.ndarray, m_ee: np.ndarray, sqrt_s: float, m_tau: float = M_TAU
) -> np.ndarray:
    """The c_phi in [-1, 1] that brings |m_ee^tau| closest to m_ee: the most tau-pair-like hypothesis,
    with no estimate of the tau axis (physics.md section 4).

    (m_ee^tau)^2 = A + K c_phi is linear in c_phi (:func:`_antler_terms`), with K real (both radicands
    of the same sign) or imaginary (opposite signs), so the target |A + K c| = m_ee^2 is solved in
    closed form:

    * K real: c = (m_ee^2 - A) / K or (-m_ee^2 - A) / K, the first one inside [-1, 1]; if neither is,
      the end of [-1, 1] that comes closer (||A + K c| - m_ee^2| is then monotonic there);
    * K = i b imaginary: |A + K c|^2 = A^2 + b^2 c^2, so c^2 = (m_ee^4 - A^2) / b^2 clipped to [0, 1];
    * K = 0: every c gives the same mass; the end c = 1 is taken.

    For tau pairs with massless neutrino pairs the true c_phi reaches m_ee exactly, so every such
    event lands on the diagonal whatever its axis (tested).
    """
    a, k = _antler_terms(np.asarray(e_minus_energy), np.asarray(e_plus_energy), sqrt_s, m_tau)
    target = np.asarray(m_ee, dtype=float) ** 2
    kr, ki = k.real, k.imag
    real = np.abs(ki) <= np.abs(kr)  # the product of two radicals is exactly real or imaginary
    with np.errstate(divide="ignore", invalid="ignore"):
        first = (target - a) / kr
        second = (-target - a) / kr
        imaginary = np.sqrt(np.clip((target**2 - a**2) / (ki * ki), 0.0, 1.0))
    inside_first = np.abs(first) <= 1.0
    inside_second = np.abs(second) <= 1.0
    ends = np.where(np.abs(np.abs(a + kr) - target) <= np.abs(np.abs(a - kr) - target), 1.0, -1.0)
    on_real = np.where(inside_first, first, np.where(inside_second, second, ends))
    c = np.where(real, on_real, imaginary)
    return np.clip(np.nan_to_num(c, nan=1.0), -1.0, 1.0)


def antler_mass(
    e_minus_energy: np.ndarray, e_plus_energy: np.ndarray, c_phi: np.ndarray, sqrt_s: float, m_tau: float = M_TAU
) -> np.ndarray:
    """|m_ee^tau|, the e+e- mass of a tau pair with massless neutrino pairs (physics.md section 4).

        (m_ee^tau)^2 = 2/(s - 4 m^2) [ m^4 - sqrt(s) m^2 (E*_+ + E*_-) + 2 E*_- E*_+ (s - 2 m^2)
                                      + m^2 c_phi M_- M_+ ],
        M_+- = sqrt(m^2 - 2 E*_+- sqrt(s) + 4 E*_+-^2),       m = m_tau,

    evaluated with complex square roots (principal branch: a negative radicand r gives
    +i sqrt(-r), as for exact tau kinematics, where r = -(1 - c^2)(s - 4 m^2)/4); the result is
    the modulus of the complex square root of (m_ee^tau)^2.
    """
    a, k = _antler_terms(e_minus_energy, e_plus_energy, sqrt_s, m_tau)
    return np.abs(np.sqrt(a + k * c_phi))


def diagonal_side(m_ee: np.ndarray, m_ee_tau: np.ndarray) -> np.ndarray:
    """ln(|m_ee^tau| / m_ee): the signed distance from the diagonal m_ee = |m_ee^tau| of the analysis
    plane, positive above it, in the plane's logarithmic units (a 2% bin is ln 1.02 wide); NaN where a
    mass is zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.asarray(m_ee_tau) / np.asarray(m_ee))


def missing_pt_fraction(e_miss: np.ndarray, m2_miss: np.ndarray, eta_miss: np.ndarray) -> np.ndarray:
    """p_T,miss / E*_miss = sqrt(E*_miss^2 - m2_miss) / (E*_miss cosh eta*_miss): the missing momentum's
    transverse share of the missing energy. Lost photons outside the polar acceptance carry at most
    sin(theta_min) of their energy transversely, so two of them end at sin 22 deg = 0.375 (paper section
    IV A; ``lostphotons.missing_mass2_bound``); a massive invisible particle reaches beyond. NaN where
    E*_miss <= 0 or m2_miss > E*_miss^2."""
    e_miss = np.asarray(e_miss, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.sqrt(e_miss**2 - np.asarray(m2_miss)) / (e_miss * np.cosh(np.asarray(eta_miss)))
    return np.where(e_miss > 0, fraction, np.nan)


def diagonal_offset(m_ee: np.ndarray, m_ee_tau: np.ndarray) -> np.ndarray:
    """|ln(|m_ee^tau| / m_ee)|: the distance from the diagonal, either side (:func:`diagonal_side`)."""
    return np.abs(diagonal_side(m_ee, m_ee_tau))


@dataclass(frozen=True)
class EventObservables:
    """The observables of a set of events, numpy arrays of equal length (GeV)."""

    e_miss: np.ndarray
    m2_miss: np.ndarray
    eta_miss: np.ndarray
    m_ee: np.ndarray
    c_phi: np.ndarray
    m_ee_tau: np.ndarray

    def __len__(self) -> int:
        return len(self.e_miss)


def compute_observables(
    e_minus: ak.Array, e_plus: ak.Array, sqrt_s: float, estimator: str, tau_minus: ak.Array | None = None
) -> EventObservables:
    """All observables of physics.md section 4 from the (smeared, accepted) electrons.

    ``estimator`` names the c_phi estimator (:func:`estimate_cphi`); ``tau_minus`` is the MC-truth
    tau- (only the 'truth' estimator uses it).
    """
    p_miss = missing_four_momentum(e_minus, e_plus, sqrt_s)
    c_phi = estimate_cphi(estimator, e_minus, e_plus, sqrt_s, tau_minus)
    return EventObservables(
        e_miss=ak.to_numpy(p_miss.E),
        m2_miss=ak.to_numpy(p_miss.mass2),
        eta_miss=ak.to_numpy(p_miss.eta),
        m_ee=ak.to_numpy((e_minus + e_plus).mass),
        c_phi=c_phi,
        m_ee_tau=antler_mass(ak.to_numpy(e_minus.E), ak.to_numpy(e_plus.E), c_phi, sqrt_s),
    )
