"""The simple Poisson sensitivity criterion of physics.md section 6 (Lambda < 4).

    Lambda = -2 sum_bins ln[ L(S_i, B_i) / L(0, B_i) ],   L(S, B) = (S + B)^B / B! exp(-(S + B)),

i.e. per bin 2 [S - B ln(1 + S/B)], and 2 S for B = 0 (the limit B -> 0). The expected 95% CL
sensitivity is the signal strength mu (signal S -> mu S) where Lambda = 4; since every signal
rate scales as g^2, the coupling reach is g = g_ref sqrt(mu).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.optimize import brentq

LAMBDA_95 = 4.0


def _yields(signal, background) -> tuple[np.ndarray, np.ndarray]:
    """The per-bin yields as float arrays; ValueError unless finite and non-negative."""
    s = np.asarray(signal, dtype=float)
    b = np.asarray(background, dtype=float)
    if np.any(s < 0) or np.any(b < 0) or not (np.all(np.isfinite(s)) and np.all(np.isfinite(b))):
        raise ValueError("signal and background yields must be finite and non-negative")
    return s, b


def _lambda_terms(s: np.ndarray, b: np.ndarray) -> Callable[[float], np.ndarray]:
    """mu -> the per-bin terms 2 [mu S - B ln(1 + mu S / B)] (2 mu S where B = 0) for checked yields,
    with ln B computed once."""
    positive = b > 0
    safe_b = np.where(positive, b, 1.0)
    log_b = np.log(safe_b)

    def terms(mu: float) -> np.ndarray:
        ms = mu * s
        # b ln(1 + s/b) as b (ln(s + b) - ln b): finite for the tiniest b, where s/b would overflow
        return 2.0 * np.where(positive, ms - safe_b * (np.log(ms + safe_b) - log_b), ms)

    return terms


def lambda_per_bin(signal, background) -> np.ndarray:
    """Each bin's term of Lambda for expected signal and background yields (arrays of equal shape):
    Lambda is their sum, and the share of some bins in it is theirs."""
    return _lambda_terms(*_yields(signal, background))(1.0)


def poisson_lambda(signal, background) -> float:
    """Lambda for expected signal and background yields per bin (arrays of equal shape)."""
    return float(lambda_per_bin(signal, background).sum())


def mu_at_lambda(signal, background, threshold: float = LAMBDA_95) -> float:
    """The signal strength mu with Lambda(mu S, B) = threshold (Lambda rises monotonically in mu).

    Returns inf when there is no signal at all. Bins without signal add nothing to Lambda and are
    left out of the root finding.
    """
    s, b = _yields(signal, background)
    with_signal = s > 0
    if not np.any(with_signal):
        return math.inf
    terms = _lambda_terms(s[with_signal], b[with_signal])
    f = lambda mu: float(terms(mu).sum()) - threshold
    hi = 1.0
    while f(hi) < 0:
        hi *= 4.0
    lo = 0.0 if hi == 1.0 else hi / 4.0
    return brentq(f, lo, hi, xtol=1e-12, rtol=1e-10)


def lambda_carriers(signal, background, share: float) -> np.ndarray:
    """Indices of the fewest bins that carry ``share`` of Lambda at the limit Lambda = 4 (the largest
    terms of :func:`lambda_per_bin` at :func:`mu_at_lambda`): where the limit comes from."""
    s, b = _yields(signal, background)
    terms = lambda_per_bin(mu_at_lambda(s, b) * s, b)
    order = np.argsort(-terms, kind="stable")
    return order[: int(np.searchsorted(np.cumsum(terms[order]), share * terms.sum())) + 1]


def lambda_bound(g_fine: float, g_merged: float, merged_background) -> float:
    """The tighter of two upper bounds on the Lambda = 4 limit of the fine bins with the true yields:
    min(g_fine, g_merged), NaN ignored, where every merged group's background ``merged_background`` is
    measured (positive: MC in it); ``g_fine`` where a group holds no MC, which measures nothing.

    Per bin Lambda is 2 KL(Pois(B) || Pois(B + S)) (S - B ln(1 + S/B) = B ln(B / (S + B)) + S), and a
    sum of independent Poisson counts is Poisson, so merging bins is a map of the data: by the
    data-processing inequality (Cover & Thomas, Elements of Information Theory, 2nd ed., thm. 2.8.1)
    Lambda of merged bins never exceeds Lambda of the bins merged, and the merged limit ``g_merged``,
    from groups whose MC measures B, bounds the fine limit from above. ``g_fine``, from the fine bins'
    MC with conservative floors where it is sparse, is the other bound; where its MC resolves the fine
    bins it is the smaller one."""
    if not np.all(np.asarray(merged_background, dtype=float) > 0):
        return float(g_fine)
    return float(np.fmin(g_fine, g_merged))


def coupling_from_mu(mu: float, g_ref: float) -> float:
    """g = g_ref sqrt(mu): every signal rate scales as g^2."""
    return g_ref * math.sqrt(mu)


def coupling_error(mu: float, mu_error: float, g_ref: float) -> float:
    """The error of g = g_ref sqrt(mu) from an error of mu, to first order: dg = g dmu / (2 mu)."""
    return coupling_from_mu(mu, g_ref) * mu_error / (2.0 * mu)
