"""A smooth background model in the (m_ee, |m_ee^tau|) plane, for bins the background MC leaves empty.

Both mass axes have the same logarithmic 2% bins, so bin (i, j) lies at x = ln m_ee = x_i and
d = ln |m_ee^tau| - ln m_ee = (j - i) ln(1.02): the offset from the diagonal, where tau pairs gather,
is the index difference. The model factorises in x and d (physics.md section 6 suggests exactly
these variables):

    P[i, j] = G[i] H[j - i] / N,

with G the projection of the weighted MC on m_ee, H its projection on the offset j - i, and N the
total: every 2D bin is predicted from all the MC events of its row and of its diagonal, far better
populated than the bin itself. Because the width of the diagonal band changes with m_ee, the
factorisation is made separately in a few slices of m_ee (equal shares of the background). Where
even a projection has no MC (far from the diagonal for H, beyond the background's m_ee range for
G), its tails are extrapolated by exponentials, ln H = c + s |distance from the peak|, fitted
(weighted least squares, weights from the MC errors) to the populated bins beyond the core, the
innermost range holding 90% of the yield.

Uncertainty per bin: the relative MC errors of G[i] and H[delta] (or of the tail fit) added in
quadrature, sigma_P / P = sqrt((dG/G)^2 + (dH/H)^2); used as the template's MC-statistical
uncertainty (bin-to-bin correlations through G and H are dropped).
"""

from __future__ import annotations

import numpy as np


class SmoothModelError(ValueError):
    """The smooth background model cannot be built; the message names the region."""


def _offset_projection(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums over the diagonals: H[delta + n - 1] = sum_i values[i, i + delta], delta = -(n-1) .. n-1."""
    n = values.shape[0]
    return np.array([np.trace(values, offset=delta) for delta in range(-(n - 1), n)]), np.arange(-(n - 1), n)


def _tail(distance: np.ndarray, h: np.ndarray, h_var: np.ndarray, side: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exponential fit ln H = c + s distance to the populated bins of one tail; (H, var) on `side`.

    With fewer than two populated bins, or weights so unequal that the fit is singular (one bin's MC
    error far below the others': the slope is then not measured), the last populated level decays by
    e per bin instead."""
    populated = side & (h > 0)
    x = distance[populated].astype(float)
    w = h[populated] ** 2 / np.maximum(h_var[populated], 1e-300)  # 1 / var(ln H)
    design = np.stack([np.ones_like(x), x], axis=1)
    normal = design.T @ (design * w[:, None])
    if populated.sum() < 2 or np.linalg.cond(normal) > 1e12:
        level = h[populated].max() if populated.any() else 0.0
        at = distance[side] - (distance[populated].min() if populated.any() else distance[side].min())
        return level * np.exp(-at), (level * np.exp(-at)) ** 2
    cov = np.linalg.inv(normal)
    coef = cov @ design.T @ (w * np.log(h[populated]))
    coef[1] = min(coef[1], -1e-3)  # a tail must fall: no extrapolation from a rising one
    at = np.stack([np.ones(side.sum()), distance[side].astype(float)], axis=1)
    log_h = at @ coef
    var_log = np.einsum("ni,ij,nj->n", at, cov, at)
    return np.exp(log_h), np.exp(2 * log_h) * var_log


def _with_tails(
    positions: np.ndarray, h: np.ndarray, h_var: np.ndarray, core_fraction: float = 0.9
) -> tuple[np.ndarray, np.ndarray]:
    """A profile as measured wherever the MC has entries; beyond its core (the innermost range around
    its peak holding `core_fraction` of it) the empty bins take exponential tails fitted to the
    populated ones there (`_tail`), distances counted from the peak."""
    centre = positions[np.argmax(h)]
    distance = np.abs(positions - centre)
    order = np.argsort(distance, kind="stable")
    core_size = np.searchsorted(np.cumsum(h[order]), core_fraction * h.sum()) + 1
    core = np.zeros_like(positions, dtype=bool)
    core[order[:core_size]] = True
    lo, hi = positions[core].min(), positions[core].max()
    model, model_var = h.astype(float).copy(), h_var.astype(float).copy()
    for side in (positions > hi, positions < lo):
        empty = side & (h <= 0)  # the measured profile wherever the MC has entries
        if empty.any():
            fitted, fitted_var = _tail(distance, h, h_var, side)
            model[empty], model_var[empty] = fitted[empty[side]], fitted_var[empty[side]]
    return model, model_var


def smooth_plane(
    values: np.ndarray, variances: np.ndarray, region: str, slices: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """The smooth model (module docstring) of a square background plane: (yields, variances).

    The offset distribution H is taken per slice of m_ee (`slices` ranges of rows holding equal
    shares of the background), so that the width of the diagonal band may change with m_ee.
    """
    n = values.shape[0]
    if values.shape != (n, n):
        raise SmoothModelError(f"region '{region}': the smooth model needs the same binning on both mass axes")
    if values.sum() <= 0:
        raise SmoothModelError(f"region '{region}': no background MC to build a smooth model from")
    rows = values.sum(axis=1)
    edges = np.searchsorted(np.cumsum(rows) / rows.sum(), np.arange(1, slices) / slices) + 1
    bounds = np.unique(np.concatenate([[0], np.clip(edges, 0, n), [n]]))
    yields, yield_variances = np.zeros((n, n)), np.zeros((n, n))
    for start, stop in zip(bounds[:-1], bounds[1:]):
        if values[start:stop].sum() > 0:
            yields[start:stop], yield_variances[start:stop] = _factorised(values, variances, start, stop)
    return yields, yield_variances


def _factorised(values: np.ndarray, variances: np.ndarray, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """P[i, j] = G[i] H[j - i] / N for the rows start..stop-1 (module docstring), from those rows' MC."""
    n = values.shape[0]
    part, part_var = np.zeros_like(values), np.zeros_like(variances)
    part[start:stop], part_var[start:stop] = values[start:stop], variances[start:stop]
    total = part.sum()
    g, g_var = _with_tails(np.arange(start, stop), part[start:stop].sum(axis=1), part_var[start:stop].sum(axis=1))
    h, offsets = _offset_projection(part)
    h_var, _ = _offset_projection(part_var)
    h, h_var = _with_tails(offsets, h, h_var)
    i, j = np.indices((stop - start, n))
    i += start
    hij, hij_var = h[j - i + n - 1], h_var[j - i + n - 1]
    yields = g[:, None] * hij / total
    with np.errstate(divide="ignore", invalid="ignore"):
        rel2 = np.where(g > 0, g_var / g**2, 0.0)[:, None] + np.where(hij > 0, hij_var / hij**2, 0.0)
    return yields, np.nan_to_num(yields**2 * rel2)
