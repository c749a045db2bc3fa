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
# # The signal's missing energy versus the acceptance (paper Fig. 4)
#
# The mean and the 10% quantile of E*_miss of the signal at m_a = 0.1 GeV, with both electrons inside
# theta_min <= theta* <= 180 deg - theta_min, as the acceptance edge theta_min moves; with and without
# the cut |eta*_miss| < 1.4. A wider acceptance keeps electrons that scatter at small angles, whose
# ALP carries more of the beam energy. Below: the fraction of a massless ALP's signal with
# E*_miss > 2 GeV in the configured acceptance. True (unsmeared) kinematics throughout.
#
# The figure-level check: the ALP recoils against the electron pair, so E*_miss = (s + m_a^2 - m_ee^2)
# / (2 sqrt(s)) event by event, and no event passes the endpoint (s + m_a^2 - 4 m_e^2) / (2 sqrt(s)).

# %% tags=["parameters"]
M_A = 0.1  # GeV
ANGLES = [5.0, 10.0, 14.0, 17.0, 22.0, 26.0, 30.0]  # acceptance edges, degrees
EVENTS = 200_000  # draws per acceptance edge
ETA_MAX = 1.4
VEGAS = None  # None: generation.vegas of the configuration
SAMPLES = "output/notebooks/samples"
OUTPUT = "output/notebooks"

# %%
import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.constants import M_ELECTRON
from alpfusion.plotting import save_figure, styled
from alpfusion.processors.events import measured_observables

base = load_config().replace(detector={"smearing": False})
if VEGAS is not None:
    base = base.replace(generation={"vegas": VEGAS})


def signal(theta_min, m_a):
    """(observables, yields) of the signal in the acceptance with edge theta_min (degrees)."""
    cfg = base.replace(acceptance={"theta_min_deg": theta_min, "theta_max_deg": 180.0 - theta_min})
    folder = Path(SAMPLES) / f"theta{theta_min:g}"
    (job,) = workflow.plan_samples(cfg, folder, process="ee_to_eea", masses=[m_a], events=EVENTS)
    workflow.produce_samples([job])
    return measured_observables(job.path, cfg)


def summary(obs, yields, mask):
    e, w = obs.e_miss[mask], yields[mask]
    return np.average(e, weights=w), np.quantile(e, 0.1, weights=w, method="inverted_cdf")


table = {}
for theta in ANGLES:
    obs, yields = signal(theta, M_A)
    central = np.abs(obs.eta_miss) < ETA_MAX
    table[theta] = (*summary(obs, yields, np.ones(len(obs), bool)), *summary(obs, yields, central))
    print(f"theta_min = {theta:4.1f} deg: mean, 10% quantile = {table[theta][0]:.3f}, {table[theta][1]:.3f} GeV; "
          f"with |eta| < {ETA_MAX}: {table[theta][2]:.3f}, {table[theta][3]:.3f} GeV")  # fmt: skip
mean, q10, mean_central, q10_central = np.array([table[t] for t in ANGLES]).T

# %%
with styled():
    fig = Figure(figsize=(8, 6))
    ax = fig.subplots()
    ax.plot(ANGLES, mean, "o-", color="tab:blue", label=r"mean $E^*_\mathrm{miss}$")
    ax.plot(ANGLES, q10, "o--", color="tab:blue", label="10% quantile")
    ax.plot(ANGLES, mean_central, "s-", color="tab:red", label=rf"mean, $|\eta^*_\mathrm{{miss}}| < {ETA_MAX:g}$")
    ax.plot(
        ANGLES, q10_central, "s--", color="tab:red", label=rf"10% quantile, $|\eta^*_\mathrm{{miss}}| < {ETA_MAX:g}$"
    )
    for edge in (17.0, 22.0):
        ax.axvline(edge, color="0.5", ls=":")
    ax.set_xlabel(r"minimal acceptance angle $\theta_\mathrm{min}$ [deg]")
    ax.set_ylabel(r"$E^*_\mathrm{miss}$ [GeV]")
    ax.set_title(rf"signal, $m_a$ = {M_A:g} GeV", fontsize=14)
    ax.legend(fontsize=12)
    fig.tight_layout()
    save_figure(fig, Path(OUTPUT) / "missing_energy.png")
fig

# %% [markdown]
# A massless ALP in the configured acceptance: the fraction of its signal with E*_miss > 2 GeV.

# %%
edge = base.acceptance.theta_min_deg
massless, massless_yields = signal(edge, 0.0)
hard = massless.e_miss > 2.0
print(f"massless ALP, theta_min = {edge:g} deg: {massless_yields[hard].sum() / massless_yields.sum():.3f} of the "
      "signal has E*_miss > 2 GeV")  # fmt: skip

# %% [markdown]
# **Check against an independent expectation**: two-body recoil, event by event, and the endpoint.

# %%
sqrt_s = base.beam.sqrt_s
recoil = (sqrt_s**2 + M_A**2 - obs.m_ee**2) / (2 * sqrt_s)
endpoint = (sqrt_s**2 + M_A**2 - 4 * M_ELECTRON**2) / (2 * sqrt_s)
print(f"largest |E*_miss - recoil energy| = {np.max(np.abs(obs.e_miss - recoil)):.2e} GeV; endpoint {endpoint:.4f} GeV")
assert np.allclose(obs.e_miss, recoil, rtol=0, atol=1e-9 * sqrt_s)
assert np.all(obs.e_miss <= endpoint * (1 + 1e-12)) and math.isclose(np.max(obs.e_miss), endpoint, rel_tol=0.05)
