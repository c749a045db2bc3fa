"""The histograms the processor fills: names, axes and binning (one place for the layout that the
models, the optimiser and the saved results read back).

Per sample: the analysis plane (region, |eta*_miss| slice, p_T,miss excess slice, m_ee, |m_ee^tau|) after
each mass selection, with logarithmic bins of relative width ``histograms.relative_width`` (physics.md
section 6), a plane per slice of ``histograms.eta_slices`` and of ``histograms.pt_excess_sigmas`` (the
missing p_T beyond the reach of two lost photons, in units of its resolution); a signal sample fills only
the region of its own mass;
control histograms after the acceptance (E*_miss vs eta*_miss, m2_miss, m_ee - |m_ee^tau|); the cut
flow (region, cut) as weighted yields and as raw MC counts; and the cut-optimisation input.
"""

from __future__ import annotations

import math
from typing import Any, cast

import hist
import numpy as np

from ..config import Config, Histograms
from .selection import CUTS, MassHypothesis

__all__ = [
    "bin_histogram",
    "region_slice",
    "region_view",
    "ALL_HISTOGRAMS",
    "CONTROLS",
    "CUTFLOW",
    "HISTOGRAMS",
    "OPTIMISATION",
    "OPTIMISATION_AXES",
    "SELECTION",
    "empty_histograms",
    "eta_edges",
    "mass_edges",
    "pt_excess_edges",
    "optimisation_histogram",
]

CONTROLS = ("emiss_eta", "m2_miss", "mee_minus_mtau")
"""The control histograms after the acceptance: E*_miss vs eta*_miss, m2_miss, m_ee - |m_ee^tau|."""
CUTFLOW = ("cutflow", "cutflow_raw")
"""The cut flow (region, cut) as weighted yields and as raw MC counts."""
SELECTION = ("analysis", *CUTFLOW)
"""The histograms that the per-mass selection fills, in one pass over the events."""
HISTOGRAMS = ("analysis", *CONTROLS, *CUTFLOW)
"""Histograms per sample: the analysis planes (region, |eta*_miss| slice, p_T,miss excess slice, m_ee,
|m_ee^tau|) after each mass selection (a signal sample: its own mass only); the control histograms; the cut flow."""
OPTIMISATION = "optimisation"
"""The cut-optimisation input (region, |z|, d, |eta*_miss|) of the accepted events, z =
(m2_miss - m_a^2) / delta_m2(m_a), d = E_max(m_a) - E*_miss (alpfusion.processors.optimise); a signal sample
fills only the region of its own mass, a background every region. Kept in histograms.npz only."""
ALL_HISTOGRAMS = HISTOGRAMS + (OPTIMISATION,)
"""Every histogram the processor can fill; a processing pass may fill some of them only
(``process_samples(histograms=...)``)."""
OPTIMISATION_AXES = (("abs_z", 50, 5.0), ("e_below_max", 53, 10.6), ("abs_eta", 25, 5.0))
"""(name, bins, upper edge) from 0: steps of 0.1 in kappa, 0.2 GeV in E_max - E_low, 0.2 in eta_high."""


def mass_edges(settings: Histograms) -> np.ndarray:
    """Logarithmic bin edges lo * (1 + w)^k, k = 0..n, n = ceil(ln(hi / lo) / ln(1 + w)).

    Every bin has the relative width w exactly (delta m / m = 0.02 by default, physics.md
    section 6); the last edge is the first one at or above ``histograms.mass_max``.
    """
    n = math.ceil(math.log(settings.mass_max / settings.mass_min) / math.log1p(settings.relative_width))
    return settings.mass_min * (1.0 + settings.relative_width) ** np.arange(n + 1)


def eta_edges(settings: Histograms) -> np.ndarray:
    """The edges of the |eta*_miss| slices of the analysis plane: 0, ``histograms.eta_slices``, inf."""
    return np.array([0.0, *settings.eta_slices, math.inf])


def pt_excess_edges(settings: Histograms) -> np.ndarray:
    """The edges of the slices of the analysis plane in the missing p_T's excess over the reach of two lost
    photons (``lostphotons.missing_pt_excess``) over its resolution (``detector.pt_excess_resolution``):
    -inf, ``histograms.pt_excess_sigmas``, inf."""
    return np.array([-math.inf, *settings.pt_excess_sigmas, math.inf])


def empty_histograms(
    cfg: Config, hypotheses: tuple[MassHypothesis, ...], names: tuple[str, ...] = HISTOGRAMS
) -> dict[str, hist.Hist]:
    """The empty histograms of one sample with the given names of :data:`HISTOGRAMS` (default all), over
    the regions of the given hypotheses."""
    regions = hist.axis.StrCategory([h.region for h in hypotheses], name="region", label="mass hypothesis", flow=False)
    cuts = hist.axis.StrCategory(list(CUTS), name="cut", label="cut", flow=False)
    edges = mass_edges(cfg.histograms)
    n, rs = cfg.histograms.control_bins, cfg.beam.sqrt_s
    weight = hist.storage.Weight()
    layout = {
        "analysis": lambda: hist.Hist(
            regions,
            *(
                hist.axis.Variable(slice_edges, name=name, label=label, underflow=False, overflow=False)
                for slice_edges, name, label in (
                    (eta_edges(cfg.histograms), "abs_eta_miss", "|eta*_miss| slice"),
                    (pt_excess_edges(cfg.histograms), "pt_excess", "p_T,miss beyond two lost photons / resolution"),
                )
            ),
            hist.axis.Variable(edges, name="m_ee", label="m_ee [GeV]"),
            hist.axis.Variable(edges, name="m_ee_tau", label="|m_ee^tau| [GeV]"),
            storage=weight,
        ),
        "emiss_eta": lambda: hist.Hist(
            hist.axis.Regular(n, 0.0, rs, name="e_miss", label="E*_miss [GeV]"),
            hist.axis.Regular(n, -5.0, 5.0, name="eta_miss", label="eta*_miss"),
            storage=weight,
        ),
        "m2_miss": lambda: hist.Hist(
            hist.axis.Regular(n, -rs, rs * rs, name="m2_miss", label="m2_miss [GeV^2]"), storage=weight
        ),
        "mee_minus_mtau": lambda: hist.Hist(
            hist.axis.Regular(n, -rs, rs, name="mee_minus_mtau", label="m_ee - |m_ee^tau| [GeV]"), storage=weight
        ),
        "cutflow": lambda: hist.Hist(regions, cuts, storage=weight),
        "cutflow_raw": lambda: hist.Hist(regions, cuts, storage=hist.storage.Int64()),
    }
    return {name: cast(hist.Hist, layout[name]()) for name in names}


def optimisation_histogram(regions: list[str]) -> hist.Hist:
    """The empty cut-optimisation histogram over the given regions (see :data:`OPTIMISATION`)."""
    axes = [hist.axis.Regular(n, 0.0, hi, name=name) for name, n, hi in OPTIMISATION_AXES]
    return hist.Hist(hist.axis.StrCategory(regions, name="region", flow=False), *axes, storage=hist.storage.Weight())


def region_slice(h: hist.Hist, region: str) -> hist.Hist:
    """The histogram of one region (mass hypothesis) of a histogram with a ``region`` axis."""
    return cast(hist.Hist, h[{"region": region}])


def region_view(h: hist.Hist, region: str, flow: bool = False) -> Any:
    """The Weight-storage view (``.value``, ``.variance``) of one region of a histogram with a ``region``
    axis: a view into ``h``, not the copy of the histogram that :func:`region_slice` makes (an unknown
    region is a KeyError, as there)."""
    return weight_view(h, flow)[h.axes["region"].index(region)]


def bin_histogram(values: np.ndarray, variances: np.ndarray, label: str = "") -> hist.Hist:
    """A 1D Weight histogram of unit bins 0, 1, ... holding the given sums of y and of y^2 (the form
    cabinetry reads as a template)."""
    h = hist.Hist(
        hist.axis.Regular(len(values), 0.0, float(len(values)), name="bin", label=label), storage=hist.storage.Weight()
    )
    view = weight_view(h)
    view.value = values
    view.variance = variances
    return h


def weight_view(h: hist.Hist, flow: bool = False) -> Any:
    """The Weight-storage view of a histogram: ``.value`` and ``.variance`` arrays."""
    return h.view(flow=flow)
