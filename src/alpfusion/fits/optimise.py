"""Cut optimisation per mass hypothesis (physics.md section 5), from finely binned histograms.

The selection of mass m_a keeps

    |m2_miss - m_a^2| <= kappa delta_m2(m_a),   E_low <= E*_miss <= (s + m_a^2) / (2 sqrt(s)),   |eta*_miss| <= eta_high.

The processor fills, per sample and mass hypothesis, a histogram of the accepted events in
(|z|, E*_miss, |eta*_miss|) with z = (m2_miss - m_a^2) / delta_m2(m_a): every trial cut is then a
box [0, kappa] x [E_low, E_max] x [0, eta_high] on bin edges, and cumulative sums give the signal
S and background B (with its MC variance) of all boxes at once, without re-running the processor.

Figure of merit (a choice; physics.md leaves it open):

    Z = S / sqrt(B + dB^2 + b0),    dB^2 = sum of w^2 of the background (MC-statistical variance),

with b0 = 1 expected event. b0 regulates B -> 0, where the background MC has run out and S/sqrt(B)
would reward any cut that happens to remove the last MC events; dB^2 penalises cuts whose
background rests on few, heavy MC events. Among the boxes that keep at least 90% of the
accepted signal, the one with the largest Z wins; ties (frequent where B = 0) go to the larger
signal, then to the tightest box (smallest kappa, largest E_low, smallest eta_high), which keeps
the cuts away from the last background MC events rather than hugging them.
"""

from __future__ import annotations

from dataclasses import dataclass

import hist
import numpy as np

REGULATOR_EVENTS = 1.0
MIN_SIGNAL_FRACTION = 0.9


@dataclass(frozen=True)
class OptimisedCuts:
    """The chosen cuts of one mass hypothesis and the yields they keep."""

    m_a: float
    kappa: float
    e_low: float
    eta_high: float
    signal: float
    signal_error: float
    background: float
    background_error: float
    signal_fraction: float
    figure_of_merit: float


def _cumulative(values: np.ndarray, e_max_bin: int) -> np.ndarray:
    """Sums over boxes: [z, e, eta] -> sum over |z| bins <= z, e <= E bins < e_max_bin, |eta| bins <= eta."""
    c = np.cumsum(values, axis=0)
    c = np.cumsum(c[:, ::-1][:, -e_max_bin:], axis=1)[:, ::-1]  # E from bin e up to e_max_bin - 1
    return np.cumsum(c, axis=2)


def optimise_cuts(m_a: float, sqrt_s: float, signal: hist.Hist, background: hist.Hist | None, *,
                  min_signal_fraction: float = MIN_SIGNAL_FRACTION, regulator: float = REGULATOR_EVENTS
                  ) -> OptimisedCuts:
    """The box of largest figure of merit that keeps `min_signal_fraction` of the accepted signal.

    `signal` and `background` are (|z|, E*_miss, |eta*_miss|) histograms with Weight storage, in
    expected events; `background` may be None (no background sample).
    """
    e_max = (sqrt_s**2 + m_a**2) / (2.0 * sqrt_s)
    z_edges, e_edges, eta_edges = (ax.edges for ax in signal.axes)
    e_max_bin = int(np.searchsorted(e_edges, e_max, side="right")) - 1  # bins fully below E_max
    if e_max_bin < 1:
        raise ValueError(f"m_a = {m_a}: no E*_miss bin lies below E_max = {e_max:.4g} GeV")
    view = signal.view(flow=False)
    s = _cumulative(np.asarray(view.value), e_max_bin)
    s_var = _cumulative(np.asarray(view.variance), e_max_bin)
    if background is not None:
        bview = background.view(flow=False)
        b = _cumulative(np.asarray(bview.value), e_max_bin)
        b_var = _cumulative(np.asarray(bview.variance), e_max_bin)
    else:
        b = b_var = np.zeros_like(s)
    accepted = float(np.asarray(view.value).sum())
    if accepted <= 0:
        raise ValueError(f"m_a = {m_a}: no accepted signal to optimise on")
    fom = s / np.sqrt(b + b_var + regulator)
    allowed = s >= min_signal_fraction * accepted * (1.0 - 1e-12)
    if not np.any(allowed):
        raise ValueError(f"m_a = {m_a}: no cut in the histogram range keeps {min_signal_fraction:.0%} of the "
                         f"accepted signal (E_max = {e_max:.4g} GeV cuts too much, or the |z| range is too narrow)")
    iz, ie, ieta = np.indices(fom.shape)
    keys = (-ieta.ravel(), ie.ravel(), -iz.ravel(), np.where(allowed, s, -np.inf).ravel(),
            np.where(allowed, fom, -np.inf).ravel())  # last key first: Z, S, then tightness
    iz, ie, ieta = np.unravel_index(np.lexsort(keys)[-1], fom.shape)
    return OptimisedCuts(
        m_a=m_a, kappa=float(z_edges[iz + 1]), e_low=float(e_edges[ie]), eta_high=float(eta_edges[ieta + 1]),
        signal=float(s[iz, ie, ieta]), signal_error=float(np.sqrt(s_var[iz, ie, ieta])),
        background=float(b[iz, ie, ieta]), background_error=float(np.sqrt(b_var[iz, ie, ieta])),
        signal_fraction=float(s[iz, ie, ieta] / accepted), figure_of_merit=float(fom[iz, ie, ieta]),
    )
