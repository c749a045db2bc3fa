"""Which c_phi estimator separates tau pairs from the signal best (physics.md section 4)?

For each sample and each tau-axis estimator, after the detector model, the measure is the
weighted fraction of events on the diagonal of the (m_ee, |m_ee^tau|) plane,

    f = sum_{|ln(|m_ee^tau| / m_ee)| <= ln(1 + w)} y / sum y,   w = 0.02 (one analysis bin),

which should be large for tau pairs (exact kinematics put them on the diagonal) and small for the
signal. The figure shows the plane per sample and estimator. The 'truth' axis needs the MC-truth
taus and only serves as the diagnostic upper bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.colors
import mplhep
import numpy as np
from matplotlib.figure import Figure

from ..config import CPHI_ESTIMATORS, Config
from ..observables import compute_observables, diagonal_offset
from ..plotting import save_figure, styled
from .events import measured_events


@dataclass(frozen=True)
class Concentration:
    """The diagonal fraction of one sample under one estimator (NaN where not computable)."""

    sample: str
    estimator: str
    fraction: float
    fraction_error: float


def measured_planes(path: str | Path, cfg: Config, estimators) -> dict[str, tuple[np.ndarray, ...]]:
    """(m_ee, |m_ee^tau|, yield) per estimator for the events of one sample after the detector model."""
    events = measured_events(path, cfg)
    out: dict[str, tuple[np.ndarray, ...]] = {}
    for estimator in estimators:
        if estimator == "truth" and events.tau_minus is None:
            continue
        obs = compute_observables(events.e_minus, events.e_plus, cfg.beam.sqrt_s, estimator, events.tau_minus)
        out[str(estimator)] = (obs.m_ee, obs.m_ee_tau, events.yields)
    return out


def diagonal_fraction(m_ee: np.ndarray, m_tau: np.ndarray, y: np.ndarray, width: float) -> tuple[float, float]:
    """f (module docstring) and its binomial MC error sqrt(sum_on y^2 (1-f)^2 + sum_off y^2 f^2) / sum y."""
    on = diagonal_offset(m_ee, m_tau) <= math.log1p(width)
    total = y.sum()
    if total <= 0:
        return math.nan, math.nan
    f = y[on].sum() / total
    error = math.sqrt(np.sum(y[on] ** 2) * (1 - f) ** 2 + np.sum(y[~on] ** 2) * f**2) / total
    return float(f), error


def study(samples: dict[str, str | Path], cfg: Config, output: str | Path) -> list[Concentration]:
    """Diagonal fractions of every sample under every estimator, and the figure `output` (PNG)."""
    estimators = CPHI_ESTIMATORS
    width = cfg.histograms.relative_width
    planes = {label: measured_planes(path, cfg, estimators) for label, path in samples.items()}
    with styled():
        fig = Figure(figsize=(5 * len(estimators), 4.6 * len(samples)))
        axes = fig.subplots(len(samples), len(estimators), squeeze=False)
        results = _fill_figure(axes, planes, estimators, width, cfg.beam.sqrt_s)
        fig.tight_layout()
        save_figure(fig, output, dpi=90)
    return results


def _fill_figure(axes, planes: dict, estimators: tuple[str, ...], width: float, sqrt_s: float) -> list[Concentration]:
    """Draw each sample's plane under each estimator; the diagonal fractions."""
    results = []
    bins = np.geomspace(0.05, sqrt_s, 80)
    for row, (label, per_estimator) in enumerate(planes.items()):
        for col, estimator in enumerate(estimators):
            ax = axes[row][col]
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlim(bins[0], bins[-1])
            ax.set_ylim(bins[0], bins[-1])
            if estimator not in per_estimator:
                results.append(Concentration(label, estimator, math.nan, math.nan))
                ax.text(0.5, 0.5, "no MC-truth taus", ha="center", va="center", transform=ax.transAxes)
                continue
            m_ee, m_tau, y = per_estimator[estimator]
            f, err = diagonal_fraction(m_ee, m_tau, y, width)
            results.append(Concentration(label, estimator, f, err))
            counts, _, _ = np.histogram2d(m_ee, m_tau, bins=(bins, bins), weights=y)
            mplhep.hist2dplot(counts, bins, bins, ax=ax, cbar=False, norm=matplotlib.colors.LogNorm())
            ax.plot(bins, bins, color="white", lw=0.8, ls="--")
            ax.set_title(f"{label}: {estimator}\ndiagonal fraction {f:.3f} $\\pm$ {err:.3f}", fontsize=13)
            ax.set_xlabel("$m_{ee}$ [GeV]")
            ax.set_ylabel("$|m_{ee}^{\\tau}|$ [GeV]")
    return results
