"""Cut optimisation per mass hypothesis (physics.md section 5), from finely binned histograms.

The selection of mass m_a keeps

    |m2_miss - m_a^2| <= kappa delta_m2(m_a),   E_low <= E*_miss <= (s + m_a^2) / (2 sqrt(s)),
    |eta*_miss| <= eta_high.

The processor fills, per sample and mass hypothesis, a histogram of the accepted events in
(|z|, d, |eta*_miss|) with z = (m2_miss - m_a^2) / delta_m2(m_a) and d = E_max(m_a) - E*_miss, the
energy measured down from the kinematic endpoint so that every box starts exactly at E_max: a
trial cut is a box [0, kappa] x [0, E_max - E_low] x [0, eta_high] on bin edges (events beyond E_max,
d < 0, never pass), and cumulative sums give the signal S and background B (with its MC variance)
of all boxes at once, without re-running the processor.

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

from .layouts import OPTIMISATION, region_slice, weight_view
from .results import ProcessingResult
from .selection import e_miss_max

REGULATOR_EVENTS = 1.0
MIN_SIGNAL_FRACTION = 0.9


@dataclass(frozen=True)
class SelectedYields:
    """The cuts (kappa, E_low, eta_high) of one mass hypothesis and the signal and background they
    keep, in expected events with their MC errors: the common first columns of the optimisation's
    and of the limits' tables."""

    m_a: float
    kappa: float
    e_low: float
    eta_high: float
    signal: float
    signal_error: float
    background: float
    background_error: float


@dataclass(frozen=True)
class OptimisedCuts(SelectedYields):
    """The chosen cuts of one mass hypothesis, the yields they keep and how well they do."""

    signal_fraction: float
    figure_of_merit: float


def _cumulative(values: np.ndarray) -> np.ndarray:
    """Sums over all boxes: [z, d, eta] -> sum over the bins with |z|, d, |eta| up to those bins."""
    return np.cumsum(np.cumsum(np.cumsum(values, axis=0), axis=1), axis=2)


def optimise_cuts(
    m_a: float,
    sqrt_s: float,
    signal: hist.Hist,
    background: hist.Hist | None,
    *,
    min_signal_fraction: float = MIN_SIGNAL_FRACTION,
    regulator: float = REGULATOR_EVENTS,
    e_low_min: float = 0.0,
) -> OptimisedCuts:
    """The box of largest figure of merit that keeps `min_signal_fraction` of the accepted signal,
    with E_low >= `e_low_min` (GeV: where a background sample was generated from).

    `signal` and `background` are (|z|, E_max - E*_miss, |eta*_miss|) histograms with Weight storage,
    in expected events; `background` may be None (no background sample). The accepted signal
    includes the events outside the histogram's range (flow bins).
    """
    e_max = e_miss_max(m_a, sqrt_s)
    z_edges, d_edges, eta_edges = (ax.edges for ax in signal.axes)
    view = weight_view(signal)
    s = _cumulative(np.asarray(view.value))
    s_var = _cumulative(np.asarray(view.variance))
    if background is not None:
        bview = weight_view(background)
        b = _cumulative(np.asarray(bview.value))
        b_var = _cumulative(np.asarray(bview.variance))
    else:
        b = b_var = np.zeros_like(s)
    accepted = float(np.sum(weight_view(signal, flow=True).value))  # every accepted event, outside the box range too
    if accepted <= 0:
        raise ValueError(f"m_a = {m_a}: no accepted signal to optimise on")
    fom = s / np.sqrt(b + b_var + regulator)
    e_low = np.maximum(0.0, e_max - d_edges[1:])  # of the boxes ending at each d bin
    allowed = (s >= min_signal_fraction * accepted * (1.0 - 1e-12)) & (e_low >= e_low_min)[None, :, None]
    if not np.any(allowed):
        largest = s[:, e_low >= e_low_min].max(initial=0.0) / accepted
        raise ValueError(
            f"m_a = {m_a}: no cut with E_low >= {e_low_min:g} GeV keeps {min_signal_fraction:.0%} of the accepted "
            f"signal (at most {largest:.1%}: the resolution pushes signal beyond E_max = {e_max:.4g} GeV "
            f"or outside |z| < {z_edges[-1]:g})"
        )
    iz, ie, ieta = np.indices(fom.shape)
    keys = (
        -ieta.ravel(),
        -ie.ravel(),
        -iz.ravel(),
        np.where(allowed, s, -np.inf).ravel(),
        np.where(allowed, fom, -np.inf).ravel(),
    )  # last key first: Z, S, then tightness
    iz, ie, ieta = np.unravel_index(np.lexsort(keys)[-1], fom.shape)
    return OptimisedCuts(
        m_a=m_a,
        kappa=float(z_edges[iz + 1]),
        e_low=float(e_low[ie]),
        eta_high=float(eta_edges[ieta + 1]),
        signal=float(s[iz, ie, ieta]),
        signal_error=float(np.sqrt(s_var[iz, ie, ieta])),
        background=float(b[iz, ie, ieta]),
        background_error=float(np.sqrt(b_var[iz, ie, ieta])),
        signal_fraction=float(s[iz, ie, ieta] / accepted),
        figure_of_merit=float(fom[iz, ie, ieta]),
    )


def optimise_all(result: ProcessingResult, **options) -> tuple[list[OptimisedCuts], list[str]]:
    """Optimised cuts for every mass hypothesis of a processing result that has a signal sample.

    Each sample's `optimisation` histogram holds (region, |z|, E_max - E*_miss, |eta*_miss|); the
    background is the sum over every background sample. Returns the cuts and, for the masses where
    no cut satisfies the constraint, the reasons (those masses keep the configuration's cuts).
    """
    result.require((OPTIMISATION,), "the cut optimisation")
    out, failures = [], []
    for hypothesis in result.with_signal():
        region = hypothesis.region
        s = region_slice(result.histograms[result.signal_sample(region)][OPTIMISATION], region)
        b: hist.Hist | None = None
        for name in result.backgrounds:
            part = region_slice(result.histograms[name][OPTIMISATION], region)
            b = part if b is None else b + part
        try:
            out.append(optimise_cuts(hypothesis.m_a, hypothesis.sqrt_s, s, b, **options))
        except ValueError as err:
            failures.append(str(err))
    return out, failures


def format_cuts(cuts: list[OptimisedCuts]) -> str:
    """The table of chosen cuts with S and B and their MC errors (expected events)."""
    lines = [
        f"{'m_a':>6} {'kappa':>5} {'E_low':>6} {'eta_hi':>6} {'S':>10} {'dS':>8} {'B':>11} {'dB':>9}"
        f" {'S/S_acc':>7} {'Z':>9}"
    ]
    for c in cuts:
        lines.append(
            f"{c.m_a:6.3g} {c.kappa:5.2f} {c.e_low:6.3f} {c.eta_high:6.2f} {c.signal:10.4g} "
            f"{c.signal_error:8.2g} {c.background:11.4g} {c.background_error:9.2g} "
            f"{c.signal_fraction:7.3f} {c.figure_of_merit:9.3g}"
        )
    return "\n".join(lines) + "\n"


def per_mass_selection(cuts: list[OptimisedCuts]) -> list[dict]:
    """The `selection.per_mass` entries of the configuration for the optimised cuts."""
    return [{"m_a": c.m_a, "kappa": c.kappa, "e_low": c.e_low, "eta_high": c.eta_high} for c in cuts]
