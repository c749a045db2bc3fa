"""Expected CLs upper limits on the signal strength with pyhf.

The expected limit is computed on the background-only Asimov data set (all nuisance parameters
at their nominal values, mu = 0): the +-1 and +-2 sigma bands come with it.

Asymptotic (default): with the Asimov data of mu' = 0, the CLs limit of the N-sigma band is
(Cowan, Cranmer, Gross, Vitells, arXiv:1007.1727, eq. 89)

    mu_N = sigma(mu_N) [Phi^-1(1 - 0.05 Phi(N)) + N],     sigma(mu)^2 = mu^2 / q_mu,A,

where q_mu,A = -2 ln[L(mu, theta_hat_mu) / L(0, theta_0)] needs one conditional fit (the
unconditional maximum of the Asimov data is the nominal point). A few fixed-point iterations
per band value solve it (Brent's method on mu - factor sigma(mu) where the iteration does not
converge): about fifteen fits per mass point instead of the ~40 hypothesis tests of a root finder
over pyhf's `hypotest`, with which it agrees (tests/test_limits.py).

Pseudo-experiments (pyhf's ToyCalculator) on request, for small counts where the asymptotic
distributions do not hold. pyhf's numpy backend draws the toys from numpy's global random state:
it is seeded with `seed` for the toys and restored afterwards, so the caller's random state is
as it was (`_seeded_global_random_state`).
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

from ..errors import AlpfusionError
from .poisson import mu_at_lambda


class LimitError(AlpfusionError, ValueError):
    """No limit can be set on a model (no signal, no sensitivity in the allowed range)."""


BAND_SIGMAS = (-2, -1, 0, 1, 2)


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


def _poi_bounds(model: pyhf.pdf.Model, factor: float = 20.0) -> list[tuple[float, float]]:
    """Parameter bounds with the POI range [0, factor mu_Lambda], mu_Lambda the Poisson Lambda = 4
    strength on the nominal yields, so that the range follows the signal scale."""
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    poi = model.config.poi_index
    pars[poi] = 0.0
    background = np.asarray(model.expected_actualdata(pars))
    pars[poi] = 1.0
    signal = np.asarray(model.expected_actualdata(pars)) - background
    mu_scale = mu_at_lambda(np.maximum(signal, 0.0), np.maximum(background, 0.0))
    if not np.isfinite(mu_scale):
        raise LimitError("the model has no signal: no limit on mu can be set")
    bounds = [tuple(b) for b in model.config.suggested_bounds()]
    bounds[poi] = (0.0, factor * mu_scale)
    return bounds


def _asimov_band(
    model: pyhf.pdf.Model, data: np.ndarray, bounds, *, rtol: float = 1e-3, max_iterations: int = 50
) -> tuple[float, ...]:
    """The asymptotic expected band (module docstring), band value by band value.

    Fixed-point iteration mu <- factor sigma(mu) first (a few fits where sigma varies slowly), Brent's
    method on mu - factor sigma(mu) where that fails; each band value starts from sigma of the
    previous one, and every fit from the previous fit's parameters.
    """
    poi = model.config.poi_index
    nominal = np.asarray(model.config.suggested_init(), dtype=float)
    nominal[poi] = 0.0
    twice_nll_0 = -2.0 * float(model.logpdf(nominal, data)[0])
    start = nominal.copy()

    def sigma(mu: float) -> float:
        nonlocal start
        start[poi] = mu
        pars, twice_nll = pyhf.infer.mle.fixed_poi_fit(
            mu, data, model, init_pars=start.tolist(), par_bounds=bounds, return_fitted_val=True
        )
        start = np.asarray(pars, dtype=float)
        return mu / math.sqrt(max(float(twice_nll) - twice_nll_0, 1e-300))

    mu_hi = bounds[poi][1]
    band = []
    sig = sigma(1e-3 * mu_hi)
    for n in BAND_SIGMAS:
        factor = float(ndtri(1.0 - 0.05 * ndtr(n))) + n
        mu = _fixed_point(sigma, factor, min(sig * factor, mu_hi), mu_hi, rtol, max_iterations)
        if mu is None:  # not converging or leaving the range: bracket mu - factor sigma(mu) = 0
            low, high = 1e-9 * mu_hi, mu_hi
            if high - factor * sigma(high) < 0:
                raise _OutOfRange(mu_hi)
            mu = brentq(lambda m, f=factor: m - f * sigma(m), low, high, rtol=rtol)
        sig = mu / factor  # sigma at the solution: the next band value starts there
        band.append(mu)
    return tuple(band)


def _fixed_point(sigma, factor: float, mu: float, mu_hi: float, rtol: float, max_iterations: int) -> float | None:
    """mu = factor sigma(mu) by iteration (fast where sigma varies slowly); None if it fails."""
    for _ in range(max_iterations):
        new = factor * sigma(mu)
        if new >= mu_hi:
            raise _OutOfRange(mu_hi)
        if not 1e-9 * mu_hi < new:
            return None
        if abs(new - mu) <= rtol * new:
            return new
        mu = new
    return None


class _OutOfRange(Exception):
    """A limit reached the upper end of the POI range."""


def expected_limit(
    model: pyhf.pdf.Model, *, method: str = "asymptotic", scan=None, ntoys: int = 2000, seed: int = 0
) -> CLsLimit:
    """The expected 95% CL upper limit on mu on background-only Asimov data.

    `method`: "asymptotic" (module docstring) or "toys" (pseudo-experiments on the mu values of
    `scan`, CLs interpolated linearly to 0.05 between them, as pyhf does; by default 7 points
    from 0.5 to 2 times the asymptotic median).
    """
    data = asimov_background_only(model)
    bounds = _poi_bounds(model)
    if method == "asymptotic":
        for factor in (20.0, 1e3, 1e5):
            try:
                band = _asimov_band(model, data, _poi_bounds(model, factor))
                break
            except _OutOfRange:
                continue
        else:
            raise LimitError(f"the expected limit exceeds {factor:g} times the Lambda = 4 estimate of mu")
    elif method == "toys":
        if scan is None:
            scan = np.linspace(0.5, 2.0, 7) * expected_limit(model).median
        with _seeded_global_random_state(seed):
            _, band = pyhf.infer.intervals.upper_limits.upper_limit(
                data,
                model,
                scan=np.asarray(scan, dtype=float),
                level=0.05,
                calctype="toybased",
                ntoys=ntoys,
                track_progress=False,
                par_bounds=bounds,
            )
        band = tuple(float(b) for b in band)
    else:
        raise LimitError(f"method must be 'asymptotic' or 'toys', got '{method}'")
    lo2, lo1, median, hi1, hi2 = band
    return CLsLimit(median=median, band=(lo2, lo1, median, hi1, hi2), method=method)


@contextlib.contextmanager
def _seeded_global_random_state(seed: int) -> Iterator[None]:
    """numpy's global random state seeded for the block (pyhf's toys draw from it), then restored."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)
