"""Hand-built events with known kinematics, and an event stream that writes them as a sample."""

from __future__ import annotations

import numpy as np

from alpfusion.constants import M_TAU

SQRT_S = 10.58


def isotropic(n: int, rng: np.random.Generator) -> np.ndarray:
    """n unit vectors, uniform on the sphere."""
    c = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    s = np.sqrt(1.0 - c * c)
    return np.stack([s * np.cos(phi), s * np.sin(phi), c], axis=-1)


def boost_from_rest(p: np.ndarray, parent: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Four-vectors p (n, 4) given in the rest frame of `parent` (n, 4), of the given masses, in the
    frame where the parent has four-momentum `parent`: with u = P/M (gamma beta), gamma = E/M,
    p' = p + u [(u.p)/(gamma + 1) + E_p],  E' = gamma E_p + u.p (no cancellation for fast parents)."""
    gamma = parent[:, 0] / mass
    u = parent[:, 1:] / mass[:, None]
    up = np.sum(u * p[:, 1:], axis=-1)
    energy = gamma * p[:, 0] + up
    mom = p[:, 1:] + u * (up / (gamma + 1.0) + p[:, 0])[:, None]
    return np.concatenate([energy[:, None], mom], axis=-1)


def two_body(
    parent: np.ndarray, m1: np.ndarray | float, m2: np.ndarray | float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic two-body decays (in the parent frame) of four-vectors `parent` into masses m1, m2."""
    n = len(parent)
    mass = np.sqrt(parent[:, 0] ** 2 - np.sum(parent[:, 1:] ** 2, axis=-1))
    m1, m2 = np.broadcast_to(m1, n), np.broadcast_to(m2, n)
    q = np.sqrt(np.maximum((mass**2 - (m1 + m2) ** 2) * (mass**2 - (m1 - m2) ** 2), 0.0)) / (2.0 * mass)
    d = isotropic(n, rng)
    a = np.concatenate([np.sqrt(q * q + m1 * m1)[:, None], q[:, None] * d], axis=-1)
    b = np.concatenate([np.sqrt(q * q + m2 * m2)[:, None], -q[:, None] * d], axis=-1)
    return boost_from_rest(a, parent, mass), boost_from_rest(b, parent, mass)


def tau_pairs(n: int, rng: np.random.Generator, m_nunu: float = 0.0, sqrt_s: float = SQRT_S) -> dict[str, np.ndarray]:
    """Back-to-back taus at E = sqrt(s)/2 along a random axis, each decaying isotropically into a
    massless electron and a neutrino pair of invariant mass m_nunu (0: the massless pairs of
    physics.md's antler formula). Four-vectors (n, 4) by particle name."""
    axis = isotropic(n, rng)
    p_tau = np.sqrt(sqrt_s**2 / 4.0 - M_TAU**2)
    e_tau = np.full((n, 1), sqrt_s / 2.0)
    tau_minus = np.concatenate([e_tau, p_tau * axis], axis=-1)
    tau_plus = np.concatenate([e_tau, -p_tau * axis], axis=-1)
    e_minus, nn_minus = two_body(tau_minus, 0.0, m_nunu, rng)
    e_plus, nn_plus = two_body(tau_plus, 0.0, m_nunu, rng)
    return {
        "e_minus": e_minus,
        "e_plus": e_plus,
        "invisible": nn_minus + nn_plus,
        "tau_minus": tau_minus,
        "tau_plus": tau_plus,
    }


def signal_like(
    n: int, rng: np.random.Generator, m_a: float, sqrt_s: float = SQRT_S, electron_mass: float = 0.0
) -> dict[str, np.ndarray]:
    """e+e- -> e+e- a kinematics: an invisible four-vector of mass m_a recoiling against an e+e- pair
    of uniform mass in (2 m_e, sqrt(s) - m_a), both decays isotropic. Four-vectors (n, 4)."""
    m_pair = rng.uniform(2.0 * electron_mass + 1e-3, sqrt_s - m_a - 1e-3, n)
    beams = np.tile([sqrt_s, 0.0, 0.0, 0.0], (n, 1))
    pair, invisible = two_body(beams, m_pair, m_a, rng)
    e_minus, e_plus = two_body(pair, electron_mass, electron_mass, rng)
    return {"e_minus": e_minus, "e_plus": e_plus, "invisible": invisible}


class FakeStream:
    """An alpfusion EventStream (rootio protocol) of given four-vectors and weights."""

    def __init__(
        self,
        momenta: dict[str, np.ndarray],
        weight: np.ndarray | float,
        chunk_size: int = 100_000,
        m_a: float | None = None,
        process: str = "fake",
    ):
        self.particles = tuple(momenta)
        self.momenta = momenta
        n = len(next(iter(momenta.values())))
        self.weight = np.broadcast_to(np.asarray(weight, dtype=np.float64), (n,))
        self.chunk_size = chunk_size
        self.m_a = m_a
        self.process = process

    def chunks(self):
        n = len(self.weight)
        for start in range(0, n, self.chunk_size):
            stop = min(n, start + self.chunk_size)
            chunk = {
                f"{p}_{c}": np.ascontiguousarray(v[start:stop, j])
                for p, v in self.momenta.items()
                for j, c in enumerate(("E", "px", "py", "pz"))
            }
            chunk["weight"] = np.ascontiguousarray(self.weight[start:stop])
            chunk["event"] = np.arange(start, stop, dtype=np.uint64)
            yield chunk

    def metadata(self) -> dict:
        return {
            "process": self.process,
            "m_a": self.m_a,
            "g_ref": None,
            "sqrt_s": SQRT_S,
            "cuts": {},
            "sigma_pb": float(self.weight.sum()),
            "sigma_err_pb": 0.0,
            "n_events": len(self.weight),
            "seed": None,
            "alpfusion_version": "test",
            "config_hash": None,
            "particles": list(self.particles),
        }


def fake_result(histograms: dict, masses: dict, hypotheses, luminosity_fb: float = 50_000.0):
    """A ProcessingResult of hand-built histograms: ``masses`` gives each sample's m_a (None: a
    background), ``hypotheses`` the MassHypothesis of each region."""
    from alpfusion.processors.processor import SampleInfo
    from alpfusion.processors.results import ProcessingResult

    samples = {
        name: SampleInfo(
            name=name,
            path=f"{name}.root",
            kind="background" if m_a is None else "signal",
            process="test",
            m_a=m_a,
            particles=("e_minus", "e_plus"),
            n_events=0,
            sigma_pb=0.0,
            yield_quantum=1.0,
            yield2_quantum=1.0,
        )
        for name, m_a in masses.items()
    }
    return ProcessingResult(histograms, samples, tuple(hypotheses), luminosity_fb, {}, "test", {})
