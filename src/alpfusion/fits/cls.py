"""Expected CLs upper limits on the signal strength with pyhf.

The expected limit is computed on the background-only Asimov data set (all nuisance parameters
at their nominal values, mu = 0): the +-1 and +-2 sigma bands come with it.

Asymptotic (default): with the Asimov data of mu' = 0, the CLs limit of the N-sigma band is
(Cowan, Cranmer, Gross, Vitells, arXiv:1007.1727, eq. 89)

    mu_N = sigma(mu_N) [Phi^-1(1 - 0.05 Phi(N)) + N],     sigma(mu)^2 = mu^2 / q_mu,A,

i.e. q_mu,A(mu_N) = f_N^2 with f_N = Phi^-1(1 - 0.05 Phi(N)) + N (1.05 to 3.66 from -2 to +2 sigma),
where q_mu,A = -2 ln[L(mu, theta_hat_mu) / L(0, theta_0)] needs one conditional fit (the
unconditional maximum of the Asimov data is the nominal point). q_mu,A rises monotonically with mu
(as mu^2 where the background is known, more slowly where MC-statistical nuisances absorb the
signal), so each band value is a root of ln q(mu) - 2 ln f_N in ln mu: secant steps from the
previous band value (a few fits), and, where they stall, a bracket grown geometrically in both
directions until it holds the root, then Brent's method. The POI range follows the fits, so no
band value can leave it; a model where q stays below f_N^2 up to 10^12 times the Lambda = 4 estimate
has no sensitivity and raises LimitError with that reason. The fits use MINUIT (pyhf's minuit
optimizer, set for the fits and restored afterwards): scipy's SLSQP stalls on models with large
yields (10^7 events per bin), where q then jumps by orders of magnitude between neighbouring mu.
A fit that MINUIT does not declare converged (with 10^10 background events beside two signal events
its estimated distance to the minimum can stay above the default tolerance, 0.1) is repeated once
with a tolerance ten times looser (`RETRY_TOLERANCE`) before the limit is given up.
About fifteen to twenty fits per mass point, against the ~40 hypothesis tests of a root finder
over pyhf's `hypotest`, with which it agrees (tests/test_limits.py).

Pseudo-experiments on request, for small counts where the asymptotic distributions do not hold
(`alpfusion.fits.toys`: the same likelihood, its nuisance parameters profiled in closed form), on a
scan around the asymptotic band, widened while a band value sits on its edge.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyhf
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

from . import BAND_SIGMAS, LimitError
from .poisson import mu_at_lambda
from .toys import nominal_yields, toy_band

MAX_RANGE = 1e12
"""How far (in units of the Lambda = 4 estimate) the search for a band value goes before the model
is declared without sensitivity."""
RETRY_TOLERANCE = 1.0
"""MINUIT's tolerance for the one repeat of a fit that failed with pyhf's default (0.1)."""


@dataclass(frozen=True)
class CLsLimit:
    """An expected 95% CL upper limit on mu: the median and the +-1, +-2 sigma band."""

    median: float
    band: tuple[float, float, float, float, float]  # -2, -1, 0, +1, +2 sigma
    method: str

    def as_dict(self) -> dict:
        return {
            "median": self.median,
            **{f"{k:+d}sigma": v for k, v in zip(BAND_SIGMAS, self.band)},
            "method": self.method,
        }


def asimov_background_only(model: pyhf.pdf.Model) -> np.ndarray:
    """Background-only Asimov data (main and auxiliary measurements), nuisances at nominal."""
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    pars[model.config.poi_index] = 0.0
    return np.asarray(model.expected_data(pars))


def _lambda_scale(model: pyhf.pdf.Model) -> float:
    """mu_Lambda: the Poisson Lambda = 4 strength on the nominal yields, the signal scale of a model."""
    background = nominal_yields(model, 0.0)
    signal = nominal_yields(model, 1.0) - background
    mu_scale = mu_at_lambda(np.maximum(signal, 0.0), np.maximum(background, 0.0))
    if not np.isfinite(mu_scale):
        raise LimitError("the model has no signal: no limit on mu can be set")
    return mu_scale


def _bounds(model: pyhf.pdf.Model, mu_high: float) -> list[tuple[float, float]]:
    """The model's parameter bounds with the POI range [0, mu_high]."""
    bounds = [tuple(b) for b in model.config.suggested_bounds()]
    bounds[model.config.poi_index] = (0.0, mu_high)
    return bounds


@contextlib.contextmanager
def _minuit(model: pyhf.pdf.Model, tolerance: float = 0.1) -> Iterator[None]:
    """pyhf's fits with MINUIT (of the given tolerance) for the block (module docstring), where the
    model has parameters to fit besides the POI (pyhf's MINUIT wrapper fails on a fit with every
    parameter fixed); the caller's backend is restored after."""
    if model.config.npars <= 1:
        yield
        return
    tensorlib, optimizer = pyhf.get_backend()
    pyhf.set_backend(tensorlib, pyhf.optimize.minuit_optimizer(verbose=0, tolerance=tolerance))
    try:
        yield
    finally:
        pyhf.set_backend(tensorlib, optimizer)


class _AsimovProfile:
    """q_mu,A(mu) on background-only Asimov data, each fit started from the nearest earlier one."""

    def __init__(self, model: pyhf.pdf.Model, data: np.ndarray):
        self.model, self.data = model, data
        self.poi = model.config.poi_index
        nominal = np.asarray(model.config.suggested_init(), dtype=float)
        nominal[self.poi] = 0.0
        self.twice_nll_0 = -2.0 * float(model.logpdf(nominal, data)[0])
        self.fits: dict[float, np.ndarray] = {0.0: nominal}

    def q(self, mu: float) -> float:
        nearest = min(self.fits, key=lambda m: abs(math.log(m) - math.log(mu)) if m > 0 else math.inf)
        start = self.fits[nearest if nearest > 0 else 0.0].copy()
        start[self.poi] = mu
        try:
            pars, twice_nll = self._fit(mu, start)
        except pyhf.exceptions.FailedMinimization:
            try:
                with _minuit(self.model, RETRY_TOLERANCE):
                    pars, twice_nll = self._fit(mu, start)
            except pyhf.exceptions.FailedMinimization as err:
                reason = f"the fit at mu = {mu:.4g} fails, also with tolerance {RETRY_TOLERANCE} ({err})"
                raise LimitError(reason) from None
        self.fits[mu] = np.asarray(pars, dtype=float)
        return max(float(twice_nll) - self.twice_nll_0, 0.0)

    def _fit(self, mu: float, start: np.ndarray):
        """(parameters, -2 ln L) of the fit with the POI fixed at mu, started from ``start``."""
        return pyhf.infer.mle.fixed_poi_fit(
            mu,
            self.data,
            self.model,
            init_pars=start.tolist(),
            par_bounds=_bounds(self.model, 10.0 * mu),
            return_fitted_val=True,
        )


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


def _asimov_band(model: pyhf.pdf.Model, data: np.ndarray, *, rtol: float = 1e-3) -> tuple[float, ...]:
    """The asymptotic expected band (module docstring), band value by band value, each starting
    from the previous one (the first from the Lambda = 4 estimate)."""
    scale = _lambda_scale(model)
    profile = _AsimovProfile(model, data)
    band = []
    mu = scale
    for n in BAND_SIGMAS:
        factor = float(ndtri(1.0 - 0.05 * ndtr(n))) + n
        mu = _band_value(profile, factor * factor, mu, scale, rtol)
        band.append(mu)
    return tuple(band)


def expected_limit(
    model: pyhf.pdf.Model, *, method: str = "asymptotic", scan=None, ntoys: int = 2000, seed: int = 0
) -> CLsLimit:
    """The expected 95% CL upper limit on mu on background-only Asimov data.

    `method`: "asymptotic" (module docstring) or "toys" (pseudo-experiments on the mu values of
    `scan`, by default :func:`toy_scan` of the asymptotic band; `alpfusion.fits.toys.toy_band`).
    """
    data = asimov_background_only(model)
    if method == "asymptotic":
        with _minuit(model):
            band = _asimov_band(model, data)
    elif method == "toys":
        if scan is None:
            scan = toy_scan(expected_limit(model))
        band = toy_band(model, np.asarray(scan, dtype=float), ntoys, seed)
    else:
        raise LimitError(f"method must be 'asymptotic' or 'toys', got '{method}'")
    lo2, lo1, median, hi1, hi2 = band
    return CLsLimit(median=median, band=(lo2, lo1, median, hi1, hi2), method=method)


def toy_scan(asymptotic: CLsLimit, points: int = 17) -> np.ndarray:
    """The mu values for pseudo-experiments: geometric from 0.8 times the asymptotic -2 sigma value to
    1.25 times the +2 sigma one, so that the toys' band usually falls inside."""
    return np.geomspace(0.8 * asymptotic.band[0], 1.25 * asymptotic.band[4], points)
