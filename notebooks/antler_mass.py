# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The antler mass against the electron-pair mass (paper Fig. 5, right)
#
# m_ee^tau - m_ee for the signal and the tau pairs in the missing-mass window of m_a = 1 and 6 GeV, with
# the true and with the smeared electrons, each with a skewed-Gaussian fit (`scipy.stats.skewnorm`,
# least squares on the normalised histogram). For tau pairs the antler formula with the
# tau-like c_phi puts the events on or just below the diagonal m_ee^tau = m_ee; the signal, whose
# missing momentum is one massive ALP, spreads on both sides.
#
# The figure-level check: the tau-pair diagonal. Without smearing, no tau pair lies above it (the
# electron pair of a tau pair cannot have |m_ee^tau| > m_ee for the tau-like c_phi, docs/statistics.md).

# %% tags=["parameters"]
MASSES = [1.0, 6.0]  # GeV
SIGNAL_EVENTS = 200_000
TAU_EVENTS = 4_000_000
VEGAS = None  # None: the configuration's vegas settings; or a dict for every sample
SAMPLES = "output/notebooks/samples"
OUTPUT = "output/notebooks"

# %%
import functools
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy import optimize, stats

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.plotting import save_figure, styled
from alpfusion.processors.events import measured_observables
from alpfusion.processors.selection import mass_hypotheses

cfg = load_config().replace(signal={"masses": MASSES})
if VEGAS is not None:
    cfg = cfg.replace(generation={"vegas": VEGAS}, backgrounds={"tautau": {"vegas": VEGAS}})
signals = workflow.plan_samples(cfg, SAMPLES, process="ee_to_eea", events=SIGNAL_EVENTS)
(taus,) = workflow.plan_samples(cfg, SAMPLES, process="ee_to_tautau", events=TAU_EVENTS)
workflow.produce_samples([*signals, taus])
windows = {h.m_a: h.m2_window for h in mass_hypotheses(cfg)}


@functools.cache
def measured(path, smearing):
    """(observables, yields) of a sample's accepted events, read and measured once per detector setting."""
    return measured_observables(path, cfg.replace(detector={"smearing": smearing}))


def differences(path, smearing, m_a):
    """(m_ee^tau - m_ee, yields) of a sample's events in the missing-mass window of m_a."""
    obs, yields = measured(path, smearing)
    low, high = windows[m_a]
    inside = (obs.m2_miss >= low) & (obs.m2_miss <= high)
    return obs.m_ee_tau[inside] - obs.m_ee[inside], yields[inside]


def skew_fit(values, weights, edges):
    """Skewed-Gaussian (shape a, location, scale) fitted to the normalised weighted histogram."""
    density, _ = np.histogram(values, edges, weights=weights, density=True)
    centres = 0.5 * (edges[1:] + edges[:-1])
    start = (0.0, np.average(values, weights=weights), np.sqrt(np.cov(values, aweights=weights)) + 1e-6)
    params, _ = optimize.curve_fit(
        lambda x, a, loc, scale: stats.skewnorm.pdf(x, a, loc, scale), centres, density, start, maxfev=20000
    )
    return density, params


with styled():
    fig = Figure(figsize=(8 * len(MASSES), 6))
    axes = np.atleast_1d(fig.subplots(1, len(MASSES)))
    for ax, m_a, signal in zip(axes, MASSES, signals):
        edges = np.arange(-0.6, 5.0 + 1e-9, 0.002)  # GeV: the tau pairs' peak is a few MeV wide
        highest = 0.0
        for (label, path), colour in zip((("signal", signal.path), ("tau pairs", taus.path)), ("tab:red", "tab:blue")):
            for smearing, style in ((False, "--"), (True, "-")):
                values, weights = differences(path, smearing, m_a)
                if weights.sum() <= 0 or len(values) < 20:
                    continue
                density, (a, loc, scale) = skew_fit(values, weights, edges)
                tag = f"{label}, {'smeared' if smearing else 'true'}"
                highest = max(highest, density.max())
                ax.stairs(density, edges, color=colour, ls=style, label=f"{tag}: a = {a:.1f}, $\\sigma$ = {scale:.3f}")
                ax.plot(edges, stats.skewnorm.pdf(edges, a, loc, scale), color=colour, ls=":", lw=1)
                print(f"m_a = {m_a:g} GeV, {tag}: skew {a:.2f}, location {loc:.4f} GeV, scale {scale:.4f} GeV")
        ax.set_yscale("log")
        ax.set_ylim(1e-3, 3 * highest)
        ax.set_xlabel(r"$|m_{ee}^\tau| - m_{ee}$ [GeV]")
        ax.set_ylabel("normalised events / GeV")
        ax.set_title(rf"$m_a$ = {m_a:g} GeV missing-mass window", fontsize=14)
        ax.legend(fontsize=9)
    fig.tight_layout()
    save_figure(fig, Path(OUTPUT) / "antler_mass.png", dpi=80)
fig

# %% [markdown]
# **Check against an independent expectation**: the tau-pair diagonal. Every accepted tau pair,
# without smearing, has |m_ee^tau| <= m_ee (up to rounding), whatever the missing mass.

# %%
obs, yields = measured(taus.path, False)
above = obs.m_ee_tau > obs.m_ee * (1 + 1e-6)
print(f"{len(obs)} tau pairs; a fraction {yields[above].sum() / yields.sum():.2e} of their yield above the diagonal")
assert len(obs) > 1000 and yields[above].sum() < 1e-3 * yields.sum()
