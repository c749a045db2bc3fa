"""Expected CLs upper limits on the signal strength with pyhf.

The expected limit is computed on the background-only Asimov data set (all nuisance parameters
at their nominal values, mu = 0): the +-1 and +-2 sigma bands come with it. Asymptotic formulae
(Cowan, Cranmer, Gross, Vitells, arXiv:1007.1727, with the q~_mu test statistic) are the default;
pseudo-experiments (pyhf's ToyCalculator) on request, for small counts where the asymptotic
distributions do not hold. Toys draw from numpy's global random state, which `seed` fixes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyhf

from .poisson import mu_at_lambda

BAND_SIGMAS = (-2, -1, 0, 1, 2)


@dataclass(frozen=True)
class CLsLimit:
    """An expected 95% CL upper limit on mu: the median and the +-1, +-2 sigma band."""

    median: float
    band: tuple[float, float, float, float, float]  # -2, -1, 0, +1, +2 sigma
    method: str

    def as_dict(self) -> dict:
        return {"median": self.median, **{f"{k:+d}sigma": v for k, v in zip(BAND_SIGMAS, self.band)},
                "method": self.method}


def asimov_background_only(model: pyhf.pdf.Model) -> np.ndarray:
    """Background-only Asimov data (main and auxiliary measurements), nuisances at nominal."""
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    pars[model.config.poi_index] = 0.0
    return np.asarray(model.expected_data(pars))


def _poi_bounds(model: pyhf.pdf.Model) -> list[tuple[float, float]]:
    """Parameter bounds with the POI range [0, 20 mu_Lambda], mu_Lambda the Poisson Lambda = 4
    strength on the nominal yields: wide enough for any CLs limit, whatever the signal scale."""
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    poi = model.config.poi_index
    pars[poi] = 0.0
    background = np.asarray(model.expected_actualdata(pars))
    pars[poi] = 1.0
    signal = np.asarray(model.expected_actualdata(pars)) - background
    mu_scale = mu_at_lambda(np.maximum(signal, 0.0), np.maximum(background, 0.0))
    if not np.isfinite(mu_scale):
        raise ValueError("the model has no signal: no limit on mu can be set")
    bounds = [tuple(b) for b in model.config.suggested_bounds()]
    bounds[poi] = (0.0, max(10.0, 20.0 * mu_scale))
    return bounds


def expected_limit(model: pyhf.pdf.Model, *, method: str = "asymptotic", scan=None, ntoys: int = 2000,
                   seed: int = 0) -> CLsLimit:
    """The expected 95% CL upper limit on mu on background-only Asimov data.

    `method`: "asymptotic" (root finding with toms748 over the POI range of `_poi_bounds`) or
    "toys" (pseudo-experiments on the mu values of `scan`, CLs interpolated linearly to 0.05
    between them, as pyhf does; by default 7 points from 0.5 to 2 times the asymptotic median).
    """
    data = asimov_background_only(model)
    bounds = _poi_bounds(model)
    if method == "asymptotic":
        _, band, _ = pyhf.infer.intervals.upper_limits.toms748_scan(
            data, model, 0.0, bounds[model.config.poi_index][1], level=0.05, from_upper_limit_fn=True,
            par_bounds=bounds)
    elif method == "toys":
        if scan is None:
            scan = np.linspace(0.5, 2.0, 7) * expected_limit(model).median
        np.random.seed(seed)
        _, band = pyhf.infer.intervals.upper_limits.upper_limit(
            data, model, scan=np.asarray(scan, dtype=float), level=0.05, calctype="toybased", ntoys=ntoys,
            track_progress=False, par_bounds=bounds)
    else:
        raise ValueError(f"method must be 'asymptotic' or 'toys', got '{method}'")
    band = tuple(float(b) for b in band)
    return CLsLimit(median=band[2], band=band, method=method)
