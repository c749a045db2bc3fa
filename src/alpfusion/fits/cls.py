"""Expected CLs upper limits on the signal strength of the pyhf models this tool builds.

The expected limit is computed on the background-only Asimov data set (all nuisance parameters
at their nominal values, mu = 0): the +-1 and +-2 sigma bands come with it.

Asymptotic (default): with the Asimov data of mu' = 0, the CLs limit of the N-sigma band is
(Cowan, Cranmer, Gross, Vitells, arXiv:1007.1727, eq. 89)

    mu_N = sigma(mu_N) [Phi^-1(1 - 0.05 Phi(N)) + N],     sigma(mu)^2 = mu^2 / q_mu,A,

i.e. q_mu,A(mu_N) = f_N^2 with f_N = Phi^-1(1 - 0.05 Phi(N)) + N (1.05 to 3.66 from -2 to +2 sigma),
where q_mu,A = -2 ln[L(mu, theta_hat_mu) / L(0, theta_0)] needs one conditional maximum (the
unconditional maximum of the Asimov data is the nominal point). The models have one channel, the POI
as the signal's normfactor and per-bin MC-statistical parameters (pyhf's staterror), so the
conditional maximum is in closed form, bin by bin (:class:`alpfusion.fits.toys.StatErrorModel`, the
same likelihood as pyhf's, tested fit by fit): no minimiser, hence none of MINUIT's unconverged fits
or SLSQP's wrong minima on models with 10^10 background events beside a background-free bin.
q_mu,A rises monotonically with mu (as mu^2 where the background is known, more slowly where
MC-statistical nuisances absorb the signal), so each band value is a root of ln q(mu) - 2 ln f_N in
ln mu: secant steps from the previous band value, and, where they stall, a bracket grown
geometrically in both directions until it holds the root, then Brent's method. A model where q stays
below f_N^2 up to 10^12 times the Lambda = 4 estimate has no sensitivity and raises LimitError with
that reason, as does a model of another structure. It agrees with pyhf's root finding over its
`hypotest` (tests/test_limits.py).

Pseudo-experiments on request, for small counts where the asymptotic distributions do not hold
(`alpfusion.fits.toys`: the same likelihood and closed form), on a scan around the asymptotic band,
widened while a band value sits on its edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyhf
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

from . import BAND_SIGMAS, LimitError
from .poisson import mu_at_lambda
from .toys import StatErrorModel, toy_band

MAX_RANGE = 1e12
"""How far (in units of the Lambda = 4 estimate) the search for a band value goes before the model
is declared without sensitivity."""


@dataclass(frozen=True)
class CLsLimit:
    """An expected 95% CL upper limit on mu: the median and the +-1, +-2 sigma band."""

    median: float
    band: tuple[float, float, float, float, float]  # -2, -1, 0, +1, +2 sigma
    method: str
    toy_error: float = 0.0  # the toys' statistical error of the median (toys.median_error); 0 asymptotically


def _lambda_scale(model: StatErrorModel) -> float:
    """mu_Lambda: the Poisson Lambda = 4 strength on the nominal yields, the signal scale of a model."""
    mu_scale = mu_at_lambda(np.maximum(model.signal, 0.0), np.maximum(model.background, 0.0))
    if not np.isfinite(mu_scale):
        raise LimitError("the model has no signal: no limit on mu can be set")
    return mu_scale


class _AsimovProfile:
    """q_mu,A(mu) on background-only Asimov data, the MC-statistical parameters at their conditional
    maximum in closed form."""

    def __init__(self, model: StatErrorModel):
        self.model = model
        self.data = model.asimov_background_only()
        self.twice_nll_0 = float(model.twice_nll(0.0, *self.data)[0])

    def q(self, mu: float) -> float:
        return max(float(self.model.twice_nll(mu, *self.data)[0]) - self.twice_nll_0, 0.0)


def _band_value(profile: _AsimovProfile, target: float, mu: float, scale: float, rtol: float) -> float:
    """The mu with q(mu) = target (module docstring), searched from ``mu``: secant steps in
    (ln mu, ln q), starting with the slope 2 of q ~ mu^2, else a bracket."""
    log_target = math.log(target)
    x, q = math.log(mu), profile.q(mu)
    slope = 2.0
    for _ in range(10):
        if q <= 0:
            break
        step = (log_target - math.log(q)) / slope
        if abs(step) <= rtol:
            return math.exp(x)
        x_new = x + step
        q_new = profile.q(math.exp(x_new))
        if q_new <= 0:
            break
        slope = (math.log(q_new) - math.log(q)) / step
        x, q = x_new, q_new
        if not 0.05 < slope < 20.0:  # stalled or erratic: bracket instead
            break
    return _bracketed(profile, target, math.exp(x), scale, rtol)


def _bracketed(profile: _AsimovProfile, target: float, mu: float, scale: float, rtol: float) -> float:
    """Brent's method on ln q(mu) - ln target in ln mu, in a bracket grown by factors of 4."""
    low = high = mu
    while profile.q(low) >= target:
        low /= 4.0
        if low < scale / MAX_RANGE:
            raise LimitError(f"q_mu,A stays above {target:.3g} down to mu = {low:.3g}: no lower edge of the band")
    while profile.q(high) < target:
        high *= 4.0
        if high > scale * MAX_RANGE:
            raise LimitError(
                f"no sensitivity: q_mu,A stays below {target:.3g} up to mu = {high:.3g} "
                f"({MAX_RANGE:g} times the Lambda = 4 estimate)"
            )
    return math.exp(
        brentq(
            lambda x: math.log(max(profile.q(math.exp(x)), 1e-300)) - math.log(target),
            math.log(low),
            math.log(high),
            xtol=rtol,
        )
    )


def band_target(n: int) -> float:
    """The q_mu,A of the band value n sigma from the median (module docstring)."""
    factor = float(ndtri(1.0 - 0.05 * ndtr(n))) + n
    return factor * factor


MEDIAN_Q = band_target(0)
"""q_mu,A of the median expected limit, Phi^-1(0.975)^2 = 1.96^2."""


def _asimov_band(model: StatErrorModel, *, rtol: float = 1e-6) -> tuple[float, ...]:
    """The asymptotic expected band (module docstring), band value by band value, each starting
    from the previous one (the first from the Lambda = 4 estimate)."""
    scale = _lambda_scale(model)
    profile = _AsimovProfile(model)
    band = []
    mu = scale
    for n in BAND_SIGMAS:
        mu = _band_value(profile, band_target(n), mu, scale, rtol)
        band.append(mu)
    return tuple(band)


def asimov_median(model: StatErrorModel, *, rtol: float = 1e-6) -> float:
    """The median of the asymptotic expected band alone, q_mu,A = 1.96^2, searched from the
    Lambda = 4 estimate."""
    scale = _lambda_scale(model)
    return _band_value(_AsimovProfile(model), MEDIAN_Q, scale, scale, rtol)


def expected_limit(
    model: pyhf.pdf.Model, *, method: str = "asymptotic", scan=None, ntoys: int = 2000, seed: int = 0
) -> CLsLimit:
    """The expected 95% CL upper limit on mu on background-only Asimov data.

    `method`: "asymptotic" (module docstring) or "toys" (pseudo-experiments on the mu values of
    `scan`, by default :func:`toy_scan` of the asymptotic band; `alpfusion.fits.toys.toy_band`).
    A model that is not of one channel with per-bin staterror only raises LimitError.
    """
    binned = StatErrorModel.from_pyhf(model)
    toy_error = 0.0
    if method == "asymptotic":
        band = _asimov_band(binned)
    elif method == "toys":
        if scan is None:
            scan = toy_scan(expected_limit(model))
        toys = toy_band(binned, np.asarray(scan, dtype=float), ntoys, seed)
        band, toy_error = toys.band, toys.median_error
    else:
        raise LimitError(f"method must be 'asymptotic' or 'toys', got '{method}'")
    lo2, lo1, median, hi1, hi2 = band
    return CLsLimit(median=median, band=(lo2, lo1, median, hi1, hi2), method=method, toy_error=toy_error)


def toy_scan(asymptotic: CLsLimit, points: int = 17) -> np.ndarray:
    """The mu values for pseudo-experiments: geometric from 0.8 times the asymptotic -2 sigma value to
    1.25 times the +2 sigma one, so that the toys' band usually falls inside."""
    return np.geomspace(0.8 * asymptotic.band[0], 1.25 * asymptotic.band[4], points)
