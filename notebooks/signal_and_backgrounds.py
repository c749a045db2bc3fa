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
# # The signal against its backgrounds after the missing-mass window (paper Fig. 3)
#
# Left: the signal (m_a = 1 GeV) and the QED background e+e- -> e+e- gamma gamma (both photons lost) in
# the plane of the missing momentum's pseudorapidity and energy, (eta*_miss, E*_miss). Right: the signal
# and the tau pairs in the plane of the electron-pair mass and the antler mass, (m_ee, |m_ee^tau|).
# Every event is measured by the Belle II detector model of the configuration and passes the
# missing-mass window of m_a; colours are expected events at the configured luminosity.
#
# The samples are generated here with the library (`workflow.plan_samples`, `produce_samples`) and
# kept in `SAMPLES`: a second execution reuses them. The figure-level check: every QED event respects
# the kinematic boundary of two lost photons (paper section IV A).

# %% tags=["parameters"]
M_A = 1.0  # GeV
SIGNAL_EVENTS = 200_000
TAU_EVENTS = 4_000_000
QED_EVENTS = 4_000_000
VEGAS = None  # None: the configuration's vegas settings for every sample; or a dict for all of them
SAMPLES = "output/notebooks/samples"
OUTPUT = "output/notebooks"

# %%
import math
from pathlib import Path

import hist
import mplhep
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.plotting import save_figure, styled
from alpfusion.processors.events import measured_observables
from alpfusion.processors.layouts import mass_edges
from alpfusion.processors.selection import mass_hypotheses

cfg = load_config()
if VEGAS is not None:
    cfg = cfg.replace(generation={"vegas": VEGAS}, backgrounds={"tautau": {"vegas": VEGAS}, "qed2": {"vegas": VEGAS}})
cfg = cfg.replace(signal={"masses": [M_A]})
jobs = {
    "signal": workflow.plan_samples(cfg, SAMPLES, process="ee_to_eea", events=SIGNAL_EVENTS)[0],
    "tau pairs": workflow.plan_samples(cfg, SAMPLES, process="ee_to_tautau", events=TAU_EVENTS)[0],
    "QED": workflow.plan_samples(cfg, SAMPLES, process="ee_to_eegg", events=QED_EVENTS)[0],
}
workflow.produce_samples(list(jobs.values()))
(hypothesis,) = mass_hypotheses(cfg)
low, high = hypothesis.m2_window
selected = {}
for name, job in jobs.items():
    obs, yields = measured_observables(job.path, cfg)
    window = (obs.m2_miss >= low) & (obs.m2_miss <= high)
    selected[name] = (obs, yields, window)
    print(f"{name}: {yields.sum():.4g} events accepted, {yields[window].sum():.4g} in the missing-mass window")

# %%
masses = mass_edges(cfg.histograms)


def plane(name, kind):
    obs, yields, window = selected[name]
    if kind == "eta_e":
        h = hist.Hist.new.Reg(60, -3, 3, name="eta", label=r"$\eta^*_\mathrm{miss}$")
        h = h.Reg(53, 0, cfg.beam.sqrt_s / 2, name="e", label=r"$E^*_\mathrm{miss}$ [GeV]").Weight()
        return h.fill(obs.eta_miss[window], obs.e_miss[window], weight=yields[window])
    h = hist.Hist.new.Var(masses, name="m_ee", label=r"$m_{ee}$ [GeV]")
    h = h.Var(masses, name="m_tau", label=r"$|m_{ee}^\tau|$ [GeV]").Weight()
    return h.fill(obs.m_ee[window], obs.m_ee_tau[window], weight=yields[window])


with styled():
    fig = Figure(figsize=(16, 13))
    axes = fig.subplots(2, 2)
    for row, (background, kind) in enumerate((("QED", "eta_e"), ("tau pairs", "m_plane"))):
        for col, name in enumerate(("signal", background)):
            h = plane(name, kind)
            ax = axes[row][col]
            values = h.values()
            if values.max() > 0:
                mplhep.hist2dplot(h, ax=ax, norm=LogNorm(vmin=values[values > 0].min(), vmax=values.max()))
            ax.set_title(f"{name}, $m_a$ = {M_A:g} GeV window", fontsize=14)
            if kind == "m_plane":
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.plot(masses[[0, -1]], masses[[0, -1]], color="0.4", lw=0.8, ls=":")
    fig.tight_layout()
    save_figure(fig, Path(OUTPUT) / "signal_and_backgrounds.png", dpi=80)
fig

# %% [markdown]
# **Check against an independent expectation**: two photons outside the polar acceptance carry a
# transverse momentum of at most E*_miss sin(theta_min); at eta*_miss = 0 that is the paper's bound
# m_miss >= E*_miss cos(theta_min). A photon may also be lost inside the acceptance by being softer
# than E_min (`acceptance.energy_min`), which adds at most E_min (1 - sin(theta_min)) per photon, so
# p_T,miss = |p_miss| / cosh(eta*_miss) <= E*_miss sin(theta_min) + 2 E_min (1 - sin(theta_min)),
# |p_miss|^2 = E*_miss^2 - m2_miss. Every QED event, measured without smearing, respects it.

# %%
truth = cfg.replace(detector={"smearing": False})
obs, _ = measured_observables(jobs["QED"].path, truth)
p_t = np.sqrt(np.maximum(obs.e_miss**2 - obs.m2_miss, 0.0)) / np.cosh(obs.eta_miss)
sin_min = math.sin(math.radians(cfg.acceptance.theta_min_deg))
bound = obs.e_miss * sin_min + 2 * cfg.acceptance.energy_min * (1 - sin_min)
print(f"{len(obs)} QED events; largest p_T,miss / bound = {np.max(p_t / bound):.6f}")
assert len(obs) > 0 and np.all(p_t <= bound * (1 + 1e-9))
