"""Pseudo-experiments for the expected CLs limit, the nuisance parameters profiled bin by bin in closed form.

The models this tool builds (`alpfusion.models.workspace`) have one channel, the POI `mu` as a
normfactor of the signal, and one MC-statistical parameter gamma_i per bin (pyhf's `staterror`: every
sample of bin i scaled by gamma_i, a Gaussian constraint of width sigma_i around the auxiliary
measurement a_i, nominally 1). With n_i the bin's count and nu_i = gamma_i (mu s_i + b_i),

    -2 ln L(mu, gamma) = sum_i 2 [nu_i - n_i + n_i ln(n_i / nu_i)] + (a_i - gamma_i)^2 / sigma_i^2 + const.

For fixed mu the bins separate, and each gamma_i has a closed-form conditional maximum, the positive
root of

    gamma^2 + (nu0_i sigma_i^2 - a_i) gamma - n_i sigma_i^2 = 0,     nu0_i = mu s_i + b_i

(the "Barlow-Beeston lite" profile, Conway, arXiv:1103.0354, section 3), clipped to pyhf's bounds of
the parameter. The free maximum in mu is the zero of the profiled derivative (the envelope theorem:
gamma at its conditional maximum) sum_i 2 gamma_i s_i (1 - n_i / nu_i), found by regula falsi
(`StatErrorModel.free_mu`).

Why not pyhf's fits: on the models of the default run (10^10 background events in one bin beside a
background-free bin holding the signal) scipy's SLSQP returns a wrong minimum without an error for
about one toy in six, and MINUIT's estimated distance to the minimum stays above its goal (the
likelihood's rounding noise at 10^10 counts) for about one in fifteen; the closed form has neither
problem and is thousands of times faster. It is the same likelihood: the test statistic agrees with
pyhf's fits toy by toy (tests/test_toys.py).

Test statistic q~_mu (Cowan, Cranmer, Gross, Vitells, arXiv:1007.1727, eq. 16): -2 ln of the
profile likelihood ratio with 0 <= mu_hat, and 0 where mu_hat > mu. Toys as pyhf's ToyCalculator
makes them (the LHC Higgs combination's recipe): the nuisance parameters at their conditional maximum
on the observed data (here the background-only Asimov data) at the tested mu for the
signal-plus-background toys and at mu = 0 for the background-only ones; Poisson main counts and
Gaussian auxiliary measurements. The expected CLs band is pyhf's
(`ToyCalculator.expected_pvalues`): the CLs of every background-only toy, at the quantiles of -2 to
+2 sigma. The median limit's statistical error, which the finite number of toys leaves, comes from
resampling them (the bootstrap, `median_error`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyhf
from scipy.special import ndtr

from . import BAND_SIGMAS, LimitError

MU_TOLERANCE = 2.0**-40
"""Width of the bracket of the free maximum, relative to the tested mu, at which the search stops:
mu_hat to 1e-12 of mu, q~_mu (which varies quadratically there) to far better."""
FALSI_STEPS = 200
"""At most this many steps of the search for the free maximum (it takes 11-16 on the default run)."""
WIDENINGS = 3
"""How often the scan is widened (by a factor of 4) while a band value sits on its edge."""
BOOTSTRAPS = 32
"""Resamplings of the toys for the statistical error of their median limit (:func:`median_error`): the
error is known to 1 / sqrt(2 * 31) = 13% of itself, less than it varies from one set of toys to another."""
BOOTSTRAP_STREAM = 1
"""The random stream of the resamplings, after the toys' seed: the toys themselves stay as drawn."""


@dataclass(frozen=True)
class StatErrorModel:
    """A one-channel model with the POI as the signal's normfactor and per-bin staterror only.

    Per bin: the signal s (at mu = 1) and background b (all other samples), the relative width sigma of
    the bin's MC-statistical constraint (0 where pyhf fixes the parameter) and its bounds.
    """

    signal: np.ndarray
    background: np.ndarray
    sigma: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def from_pyhf(cls, model: pyhf.pdf.Model) -> StatErrorModel:
        """The per-bin yields and constraints of a pyhf model; LimitError for any other structure."""
        config = model.config
        other = [
            (n, t)
            for n, t in config.modifiers
            if not (t == "staterror" or (t == "normfactor" and n == config.poi_name))
        ]
        staterrors = [n for n, t in config.modifiers if t == "staterror"]
        if other or len(staterrors) > 1 or len(config.channels) != 1:
            raise LimitError(
                "pseudo-experiments need a model of one channel whose only nuisance parameters are per-bin "
                f"MC-statistical ones (staterror); this one has channels {config.channels} and modifiers "
                f"{config.modifiers}"
            )
        nbins = config.nmaindata
        sigma, low, high = np.zeros(nbins), np.full(nbins, 1.0), np.full(nbins, 1.0)
        if staterrors:
            paramset = config.param_set(staterrors[0])
            free = ~np.asarray(paramset.suggested_fixed, dtype=bool)
            sigma = np.where(free, np.asarray(paramset.sigmas, dtype=float), 0.0)
            bounds = np.asarray(paramset.suggested_bounds, dtype=float)
            low, high = np.where(free, bounds[:, 0], 1.0), np.where(free, bounds[:, 1], 1.0)
        yields = [nominal_yields(model, mu) for mu in (0.0, 1.0, 2.0)]
        background, signal = yields[0], yields[1] - yields[0]
        if not np.allclose(yields[2], background + 2.0 * signal, rtol=1e-9, atol=0.0):
            raise LimitError(f"pseudo-experiments need yields linear in the POI '{config.poi_name}'")
        return cls(signal=signal, background=background, sigma=sigma, low=low, high=high)

    def conditional_gamma(self, mu: float | np.ndarray, counts: np.ndarray, aux: np.ndarray) -> np.ndarray:
        """The gamma_i that maximise the likelihood at fixed mu (module docstring), per toy and bin."""
        nu0 = mu * self.signal + self.background
        var = self.sigma**2
        half_b = 0.5 * (nu0 * var - aux)
        root = np.sqrt(half_b**2 + counts * var)
        # the positive root, written so that neither sign of half_b cancels digits
        with np.errstate(divide="ignore", invalid="ignore"):
            gamma = np.where(half_b < 0, root - half_b, counts * var / (root + half_b))
        gamma = np.where(var > 0, np.nan_to_num(gamma, nan=0.0), 1.0)
        return np.clip(gamma, self.low, self.high)

    def profiled(self, mu: np.ndarray, counts: np.ndarray, aux: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(gamma_i, nu_i = gamma_i (mu s_i + b_i)) at their conditional maximum, per toy and bin; mu a
        scalar or one value per toy."""
        mu = mu[..., None]
        gamma = self.conditional_gamma(mu, counts, aux)
        return gamma, gamma * (mu * self.signal + self.background)

    def twice_nll(self, mu: float | np.ndarray, counts: np.ndarray, aux: np.ndarray) -> np.ndarray:
        """-2 ln L at mu (a scalar or one value per toy) with the gammas profiled, up to a constant."""
        gamma, nu = self.profiled(np.asarray(mu, dtype=float), counts, aux)
        with np.errstate(divide="ignore", invalid="ignore"):
            poisson = np.where(counts > 0, nu - counts + counts * np.log1p((counts - nu) / nu), nu)
            constraint = np.where(self.sigma > 0, (aux - gamma) ** 2 / self.sigma**2, 0.0)
        return 2.0 * poisson.sum(axis=-1) + constraint.sum(axis=-1)

    def slope(self, mu: np.ndarray, counts: np.ndarray, aux: np.ndarray) -> np.ndarray:
        """d(-2 ln L)/d mu of the profile at mu (one value per toy): sum_i 2 gamma_i s_i (1 - n_i / nu_i)."""
        gamma, nu = self.profiled(mu, counts, aux)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(counts > 0, counts / nu, 0.0)
        return (2.0 * gamma * self.signal * (1.0 - ratio)).sum(axis=-1)

    def free_mu(self, upper: float, counts: np.ndarray, aux: np.ndarray) -> np.ndarray:
        """mu_hat in [0, upper] per toy: 0 where the profile rises from mu = 0, upper where it still
        falls there, else the zero of its slope, kept bracketed, by the Illinois variant of regula falsi
        (Dowell & Jarratt, BIT 11 (1971) 168: the end kept twice in a row has its slope halved;
        superlinear: 13-18 evaluations of the slope on the default run, bisection 42) until the bracket
        is :data:`MU_TOLERANCE` of ``upper`` wide or the slope is zero."""
        low, high = np.zeros(counts.shape[0]), np.full(counts.shape[0], upper)
        f_low, f_high = self.slope(low, counts, aux), self.slope(high, counts, aux)
        mu_hat = np.where(f_low >= 0, 0.0, upper)
        active = np.flatnonzero((f_low < 0) & (f_high > 0))
        low, high, f_low, f_high = low[active], high[active], f_low[active], f_high[active]
        kept = np.zeros(active.size, dtype=np.int8)  # the end kept by the last step: +1 high, -1 low
        for _ in range(FALSI_STEPS):
            if active.size == 0:
                return mu_hat
            with np.errstate(invalid="ignore"):  # an infinite slope (counts where nu = 0 at mu = 0): no secant
                x = (low * f_high - high * f_low) / (f_high - f_low)
            x = np.where((x > low) & (x < high), x, 0.5 * (low + high))  # else bisect
            f = self.slope(x, counts[active], aux[active])
            falling = f < 0
            f_high = np.where(falling & (kept == 1), 0.5 * f_high, f_high)
            f_low = np.where(~falling & (kept == -1), 0.5 * f_low, f_low)
            low, f_low = np.where(falling, x, low), np.where(falling, f, f_low)
            high, f_high = np.where(falling, high, x), np.where(falling, f_high, f)
            kept = np.where(falling, 1, -1).astype(np.int8)
            done = (high - low <= MU_TOLERANCE * upper) | (f == 0)
            mu_hat[active[done]] = np.where(f[done] == 0, x[done], 0.5 * (low[done] + high[done]))
            active, low, high, f_low, f_high, kept = (a[~done] for a in (active, low, high, f_low, f_high, kept))
        raise LimitError(f"the free fit of mu did not converge in {FALSI_STEPS} steps for {active.size} toys")

    def qmu_tilde(self, mu: float, counts: np.ndarray, aux: np.ndarray) -> np.ndarray:
        """q~_mu per toy (module docstring)."""
        mu_hat = self.free_mu(mu, counts, aux)
        q = self.twice_nll(mu, counts, aux) - self.twice_nll(mu_hat, counts, aux)
        return np.where(mu_hat >= mu, 0.0, np.maximum(q, 0.0))

    def asimov_background_only(self) -> tuple[np.ndarray, np.ndarray]:
        """(counts, auxiliary measurements) of the background-only Asimov data, as one toy: the
        counts b, every auxiliary measurement at its nominal 1."""
        return self.background[None, :], np.ones((1, self.background.size))

    def toys(self, data_mu: float, ntoys: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(counts, auxiliary measurements) of ``ntoys`` pseudo-experiments of strength ``data_mu``,
        the gammas at their conditional maximum on the background-only Asimov data at ``data_mu``."""
        gamma = self.conditional_gamma(data_mu, *self.asimov_background_only())[0]
        counts = rng.poisson(gamma * (data_mu * self.signal + self.background), size=(ntoys, gamma.size)).astype(float)
        aux = np.where(
            self.sigma > 0, rng.normal(gamma, np.where(self.sigma > 0, self.sigma, 1.0), size=counts.shape), 1.0
        )
        return counts, aux


def toy_statistics(
    model: StatErrorModel, mu: float, ntoys: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """q~_mu of ``ntoys`` signal-plus-background toys and of as many background-only toys, at mu."""
    signal_like, background_like = (model.qmu_tilde(mu, *model.toys(m, ntoys, rng)) for m in (mu, 0.0))
    return signal_like, background_like


def cls_quantiles(signal_like: np.ndarray, background_like: np.ndarray) -> np.ndarray:
    """CLs = P(q >= q_b | s+b) / P(q >= q_b | b) of each background-only toy's q_b, at the quantiles of
    the -2 to +2 sigma of a normal distribution (pyhf's `ToyCalculator.expected_pvalues`, vectorised)."""

    def tail(samples: np.ndarray) -> np.ndarray:
        return 1.0 - np.searchsorted(np.sort(samples), background_like, side="left") / samples.size

    return np.percentile(tail(signal_like) / tail(background_like), 100.0 * ndtr(np.array(BAND_SIGMAS)))


@dataclass(frozen=True)
class ToyBand:
    """The expected band of the 95% CL upper limit on mu from pseudo-experiments, and the statistical
    error of its median that the finite number of toys leaves (:func:`median_error`)."""

    band: tuple[float, ...]  # -2, -1, 0, +1, +2 sigma
    median_error: float


def toy_band(binned: StatErrorModel, scan: np.ndarray, ntoys: int, seed: int) -> ToyBand:
    """The expected band of the 95% CL upper limit on mu from pseudo-experiments on the mu values of
    ``scan`` (:func:`crossing` of each band's CLs), the scan widened by a factor of 4 down or up while
    a band value sits on its edge, with the median's statistical error. The toys draw from numpy's
    generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    toys = {float(mu): toy_statistics(binned, float(mu), ntoys, rng) for mu in scan}
    cls_values = {mu: cls_quantiles(*pair) for mu, pair in toys.items()}
    for _ in range(WIDENINGS + 1):
        grid = np.array(sorted(toys))
        table = np.array([cls_values[mu] for mu in grid])
        band = tuple(crossing(grid, table[:, k], 0.5 / ntoys) for k in range(table.shape[1]))
        low, high = min(band) <= grid[0], max(band) >= grid[-1]
        if not (low or high):
            return ToyBand(band, median_error(grid, [toys[mu] for mu in grid], seed))
        extra = [*(np.geomspace(grid[0] / 4.0, grid[0], 4)[:-1] if low else ())]
        extra += [*(np.geomspace(grid[-1], grid[-1] * 4.0, 4)[1:] if high else ())]
        toys.update({float(mu): toy_statistics(binned, float(mu), ntoys, rng) for mu in extra})
        cls_values.update({mu: cls_quantiles(*toys[mu]) for mu in map(float, extra)})
    raise LimitError(f"the pseudo-experiments' band does not fit in mu = {grid[0]:.4g} to {grid[-1]:.4g}")


def median_error(grid: np.ndarray, statistics: list[tuple[np.ndarray, np.ndarray]], seed: int) -> float:
    """The statistical error of the toys' median limit: the standard deviation of the median's
    :func:`crossing` over ``BOOTSTRAPS`` bootstrap resamplings (Efron & Tibshirani, An Introduction to
    the Bootstrap, 1993, ch. 6), each drawing the signal-plus-background and the background-only toys
    of every tested mu (``statistics``, :func:`toy_statistics` along ``grid``) with replacement.
    Where the sensitive bins expect no background, CLs at mu is the fraction of signal-plus-background
    toys that observe nothing, a binomial estimate of exp(-mu s)."""
    rng = np.random.default_rng([seed, BOOTSTRAP_STREAM])
    ntoys = statistics[0][0].size
    ranked = [ToyRanks.of(*pair) for pair in statistics]
    medians = []
    for _ in range(BOOTSTRAPS):
        cls = [
            r.median_cls(*(np.bincount(rng.integers(0, ntoys, ntoys), minlength=ntoys) for _ in range(2)))
            for r in ranked
        ]
        medians.append(crossing(grid, np.array(cls), 0.5 / ntoys))
    return float(np.std(medians, ddof=1))


@dataclass(frozen=True)
class ToyRanks:
    """The toys of one tested mu as :func:`cls_quantiles` reads them, ranked once so that a resampling
    costs O(ntoys): for each background-only toy j, how many signal-plus-background toys (``below_s``)
    and how many background-only toys (``below_b``, among them sorted by ``order_b``) lie below its q."""

    below_s: np.ndarray
    below_b: np.ndarray
    order_b: np.ndarray

    @classmethod
    def of(cls, signal_like: np.ndarray, background_like: np.ndarray) -> ToyRanks:
        order_b = np.argsort(background_like, kind="stable")
        below_s = np.searchsorted(np.sort(signal_like), background_like, side="left")
        below_b = np.searchsorted(background_like[order_b], background_like, side="left")
        return cls(below_s, below_b, order_b)

    def median_cls(self, drawn_s: np.ndarray, drawn_b: np.ndarray) -> float:
        """The median CLs of the resampling that takes the k-th smallest signal-plus-background toy
        ``drawn_s[k]`` times and background-only toy j ``drawn_b[j]`` times: :func:`cls_quantiles`'s
        median on the resampled toys."""
        n = drawn_s.sum()
        fewer_s = np.concatenate(([0], np.cumsum(drawn_s)))[self.below_s]
        fewer_b = np.concatenate(([0], np.cumsum(drawn_b[self.order_b])))[self.below_b]
        taken = np.repeat(np.arange(drawn_b.size), drawn_b)
        return float(np.median((n - fewer_s[taken]) / (n - fewer_b[taken])))


def crossing(mu: np.ndarray, cls: np.ndarray, resolution: float, level: float = 0.05) -> float:
    """The mu where CLs first falls below ``level`` along the increasing ``mu``: ln CLs interpolated
    linearly between the two scan points around it (exact for the background-free CLs = exp(-mu s)),
    CLs taken as at least ``resolution`` (the toys' resolution; 0 has no logarithm); the scan's first
    or last point where CLs starts below the level or never falls below it."""
    below = np.flatnonzero(cls < level)
    if below.size == 0:
        return float(mu[-1])
    k = int(below[0])
    if k == 0:
        return float(mu[0])
    log_low, log_high = np.log(np.maximum(cls[k - 1 : k + 1], resolution))
    fraction = (log_low - np.log(level)) / (log_low - log_high)
    return float(mu[k - 1] + fraction * (mu[k] - mu[k - 1]))


def nominal_yields(model: pyhf.pdf.Model, mu: float) -> np.ndarray:
    """The expected main-measurement yields with every nuisance parameter nominal and the POI at mu."""
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    pars[model.config.poi_index] = mu
    return np.asarray(model.expected_actualdata(pars), dtype=float)
