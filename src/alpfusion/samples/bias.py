"""Biased generation with exact weights: more MC events where the analysis needs them.

A bias is a function b(x) >= 1 of truth-level observables of the generated event (the product of
the factors of a :class:`alpfusion.config.Bias`, each interpolated linearly in ln b). vegas adapts
its map to b(x) dsigma/dx instead of dsigma/dx, so the map's density p(x) follows b dsigma: events
are drawn more often where b is large. Every event's weight stays

    w = (dsigma/dx)(x) / (N p(x))            (the map's Jacobian is 1/p),

b divided out: each histogram of the sample is still an unbiased estimate of the expected yield
and the sum of the weights of N draws still estimates sigma, only the MC error is redistributed,
smaller where b is large, larger where it is small. (vegas's map is a product of one-dimensional
maps, so the density follows b dsigma only as far as a separable function can; whatever it
reaches, the weights are exact.)

The observables are those of the processor (``alpfusion.observables``), from the true electrons:
E*_miss, |eta*_miss|, m2_miss, m_ee, the distance from the diagonal ln(|m_ee^tau| / m_ee), signed
or not (with the configured c_phi estimator), and p_T,miss / E*_miss, whose end at sin(theta_min) is
the edge of lost photons. The electrons are vector's numpy-backed momenta, not
the processor's awkward ones: the same functions give the same numbers bit for bit, without
awkward's fixed cost of about 65 ms per call, which made half of a short vegas training (one call
per iteration of each map; tests/test_bias.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import vector

from ..config import Bias
from ..observables import compute_observables, diagonal_side, missing_pt_fraction

__all__ = ["BiasFunction", "truth_observables"]


def truth_observables(momenta: dict[str, np.ndarray], sqrt_s: float, estimator: str) -> dict[str, np.ndarray]:
    """The bias observables (:data:`alpfusion.config.BIAS_OBSERVABLES`) of events with true
    electrons ``e_minus`` and ``e_plus`` ((n, 4) arrays, GeV)."""
    e_minus, e_plus = (
        vector.array(dict(zip(("E", "px", "py", "pz"), np.asarray(momenta[p]).T))) for p in ("e_minus", "e_plus")
    )
    obs = compute_observables(e_minus, e_plus, sqrt_s, estimator)
    side = diagonal_side(obs.m_ee, obs.m_ee_tau)
    return {
        "e_miss": obs.e_miss,
        "abs_eta_miss": np.abs(obs.eta_miss),
        "m2_miss": obs.m2_miss,
        "m_ee": obs.m_ee,
        "diagonal_offset": np.abs(side),
        "diagonal_side": side,
        "pt_fraction_miss": missing_pt_fraction(obs.e_miss, obs.m2_miss, obs.eta_miss),
    }


@dataclass(frozen=True)
class BiasFunction:
    """b(x) of a configured bias for events of a process at sqrt(s) (module docstring)."""

    bias: Bias
    sqrt_s: float
    estimator: str

    def __call__(self, momenta: dict[str, np.ndarray]) -> np.ndarray:
        """b >= 1 for each event; 1 where an observable is undefined (NaN)."""
        values = truth_observables(momenta, self.sqrt_s, self.estimator)
        log_b = np.zeros(len(momenta["e_minus"]))
        for factor in self.bias.factors:
            xs, bs = (np.asarray(column, dtype=float) for column in zip(*factor.points))
            log_b += np.interp(values[factor.observable], xs, np.log(bs))
        return np.exp(np.nan_to_num(log_b, nan=0.0, posinf=0.0, neginf=0.0))
