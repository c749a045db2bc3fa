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
# # The limits: Lambda against CLs, the empty-bin treatments, the replica spread
#
# The whole chain (`alpfusion.workflow.run`) on the configuration with the statistics below, then:
#
# 1. mass by mass, the simple Poisson criterion Lambda < 4 against the asymptotic CLs median with its
#    bands (physics.md section 6);
# 2. the same histograms with each treatment of the bins that hold signal but no background MC
#    (`statistics.empty_bins`: none, floor, smooth; docs/statistics.md);
# 3. the spread of both limits over independent samples of one background (`workflow.replicas`), the
#    others held fixed.
#
# The figure-level check: both criteria on counting experiments with known answers.

# %% tags=["parameters"]
MASSES = [0.1, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 9.5]  # GeV
SECTIONS = {}  # configuration sections to change, e.g. {"backgrounds": {"tautau": {"events": 1000000}}}
REPLICAS = 4  # independent samples of one background
REPLICA_BACKGROUND = "ee_to_eegg"  # the background regenerated: ee_to_eegg (QED) or ee_to_tautau
REPLICA_EVENTS = None  # its draws per replica (None: as configured)
RUN = "output/notebooks/run"
OUTPUT = "output/notebooks"

# %%
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.fits.cls import expected_limit
from alpfusion.fits.poisson import mu_at_lambda
from alpfusion.plotting import draw_layers, limit_layers, save_figure, styled

cfg = load_config().replace(signal={"masses": MASSES}, **SECTIONS)
result = workflow.run(cfg, RUN)
rows = result.limits.rows
for r in rows:
    band = f"[{r.g_cls_minus2:.2e}, {r.g_cls_plus2:.2e}]"
    print(f"m_a = {r.m_a:4.2f} GeV: g(Lambda) = {r.g_lambda:.3e}, g(CLs) = {r.g_cls:.3e} {band}")

# %% [markdown]
# ## Lambda against CLs, and the empty-bin treatments

# %%
treatments = {}
for treatment in ("none", "floor", "smooth"):
    chosen = result.cuts.config.replace(statistics={"empty_bins": treatment})
    treatments[treatment] = workflow.set_limits(result.histograms, chosen, Path(RUN) / f"limits_{treatment}").rows

masses = np.array([r.m_a for r in rows])
with styled():
    fig = Figure(figsize=(16, 6))
    left, right = fig.subplots(1, 2)
    shown = ("cls_2sigma", "cls_1sigma", "cls_median", "lambda")
    draw_layers(left, [layer for layer in limit_layers(rows) if layer.name in shown])
    left.set_title(f"configured treatment: {cfg.statistics.empty_bins}", fontsize=14)
    for (treatment, table), colour in zip(treatments.items(), ("tab:green", "tab:red", "tab:purple")):
        right.plot(masses, [r.g_lambda for r in table], color=colour, label=rf"$\Lambda$ = 4, {treatment}")
        right.plot(masses, [r.g_cls for r in table], color=colour, ls="--", label=f"CLs, {treatment}")
    right.set_title("bins without background MC", fontsize=14)
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"$m_a$ [GeV]")
        ax.set_ylabel(r"expected limit on $g_{a\gamma\gamma}$ [GeV$^{-1}$]")
        ax.legend(fontsize=11)
    fig.tight_layout()
    save_figure(fig, Path(OUTPUT) / "limits_treatments.png", dpi=80)
fig

# %% [markdown]
# ## The spread over independent background samples

# %%
fixed = [job.path for job in workflow.plan_samples(cfg, Path(RUN) / "samples") if job.label != REPLICA_BACKGROUND]
spreads = workflow.replicas(
    result.cuts.config,
    fixed,
    Path(RUN) / f"replicas_{REPLICA_BACKGROUND}",
    n=REPLICAS,
    events=REPLICA_EVENTS,
    background=REPLICA_BACKGROUND,
)
with styled():
    fig = Figure(figsize=(8, 6))
    ax = fig.subplots()
    m = [s.m_a for s in spreads]
    ax.errorbar(
        m, [s.g_lambda_std / s.g_lambda_mean for s in spreads], fmt="o-", color="tab:red", label=r"$\Lambda = 4$"
    )
    ax.errorbar(m, [s.g_cls_std / s.g_cls_mean for s in spreads], fmt="s--", color="black", label="CLs median")
    ax.set_xscale("log")
    ax.set_xlabel(r"$m_a$ [GeV]")
    ax.set_ylabel("std / mean of the limit")
    ax.set_title(f"{REPLICAS} replicas of {REPLICA_BACKGROUND}", fontsize=14)
    ax.legend(fontsize=12)
    fig.tight_layout()
    save_figure(fig, Path(OUTPUT) / "limits_replicas.png")
fig

# %% [markdown]
# **Check against independent expectations**: a counting experiment with background B. Without
# background, Lambda = 2S gives S = 2 events at Lambda = 4, and the asymptotic CLs on Asimov data
# 1.96^2 / 2 = 1.92 events; with B = 10^4 both approach the Gaussian 2 sqrt(B) = 200 and
# 1.96 sqrt(B) = 196 events.

# %%
import pyhf


def counting(background):
    """One bin: a signal of 1 event times mu, a background known exactly."""
    signal = {"name": "signal", "data": [1.0], "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]}
    samples = [signal, {"name": "background", "data": [background], "modifiers": []}]
    return pyhf.Model({"channels": [{"name": "count", "samples": samples}]}, poi_name="mu")


print(f"Lambda, B = 0: {mu_at_lambda([1.0], [0.0]):.4f} events; B = 1e4: {mu_at_lambda([1.0], [1e4]):.2f}")
print(f"CLs, B = 1e4: {expected_limit(counting(1e4)).median:.2f} events")
assert np.isclose(mu_at_lambda([1.0], [0.0]), 2.0, rtol=1e-9)
assert np.isclose(mu_at_lambda([1.0], [1e4]), 200.0, rtol=0.01)
assert np.isclose(expected_limit(counting(1e4)).median, 196.0, rtol=0.01)
