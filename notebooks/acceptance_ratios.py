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
# # Photon fusion against the mono-photon channel, versus the acceptance (paper Fig. 2, left)
#
# The ratio sigma(e+e- -> e+e- a) / sigma(e+e- -> gamma a), both with the visible particles inside a
# polar-angle acceptance theta_min <= theta* <= 180 deg - theta_min, and the ratio of the photon-fusion
# to the ALP-Dalitz diagram, as the acceptance edge moves from 1 to 30 degrees. The Belle II
# calorimeter ends at 22 deg (the analysis default), the tracker at 17 deg.
#
# Every number comes from `alpfusion.workflow.cross_sections` (the exact tree-level matrix elements,
# electron mass kept); sigma(gamma a) is also known in closed form (`alpfusion.analytic`), which is the
# figure-level check at the end.

# %% tags=["parameters"]
M_A = 1.0  # ALP mass, GeV
ANGLES = [1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 14.0, 17.0, 22.0, 26.0, 30.0]  # acceptance edges, degrees
VEGAS = {"nitn": 8, "neval": 20000, "ninc": 400, "alpha": 0.5}  # per cross section
OUTPUT = "output/notebooks"

# %%
import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from alpfusion import analytic, workflow
from alpfusion.config import load_config
from alpfusion.plotting import save_figure, styled

cfg = load_config().replace(generation={"vegas": VEGAS})
tasks = workflow.cross_section_tasks(cfg, ["ee_to_eea", "ee_to_gamma_a"], masses=[M_A], theta_mins=ANGLES)
rows = workflow.cross_sections(cfg, tasks)


def sigma(process, component="both"):
    """(sigma, error) in fb per acceptance edge, in the order of ANGLES."""
    table = {
        r.theta_min_deg: (r.sigma_fb, r.error_fb) for r in rows if (r.process, r.component) == (process, component)
    }
    return np.array([table[a] for a in ANGLES]).T


eea, fusion, dalitz = (sigma("ee_to_eea", c) for c in ("both", "fusion", "dalitz"))
gamma_a = sigma("ee_to_gamma_a", "-")
ratio = eea[0] / gamma_a[0]
ratio_error = ratio * np.hypot(eea[1] / eea[0], gamma_a[1] / gamma_a[0])
fusion_dalitz = fusion[0] / dalitz[0]
for a, r, fd in zip(ANGLES, ratio, fusion_dalitz):
    print(f"theta_min = {a:5.1f} deg: sigma(ee a)/sigma(gamma a) = {r:.4f}, fusion/Dalitz = {fd:.2f}")

# %%
with styled():
    fig = Figure(figsize=(8, 6))
    ax = fig.subplots()
    ax.errorbar(ANGLES, ratio, ratio_error, marker="o", label=r"$\sigma(e^+e^-a) / \sigma(\gamma a)$")
    ax.plot(ANGLES, fusion_dalitz / 100.0, "s--", label="fusion / Dalitz (x 1/100)")
    for edge, name in ((22.0, "calorimeter"), (17.0, "tracker")):
        ax.axvline(edge, color="0.5", ls=":")
        ax.text(edge, 0.98, f" {name}", transform=ax.get_xaxis_transform(), rotation=90, va="top", fontsize=11)
    ax.set_xlabel(r"minimal acceptance angle $\theta_\mathrm{min}$ [deg]")
    ax.set_ylabel("ratio")
    ax.set_yscale("log")
    ax.set_title(rf"$m_a$ = {M_A:g} GeV, $\sqrt{{s}}$ = {cfg.beam.sqrt_s:g} GeV", fontsize=14)
    ax.legend(fontsize=12)
    fig.tight_layout()
    save_figure(fig, Path(OUTPUT) / "acceptance_ratios.png")
fig

# %% [markdown]
# **Check against an independent expectation**: the generator's sigma(gamma a) at every acceptance edge
# against the closed form (alpha g^2/64)(1 - m_a^2/s)^3 (2c + 2c^3/3), c = cos theta_min, within three
# of its MC errors.

# %%
for a, (value, error) in zip(ANGLES, gamma_a.T):
    exact = 1e3 * analytic.sigma_gamma_a(
        cfg.beam.s, M_A, cfg.signal.g_ref, cfg.beam.alpha_value, math.cos(math.radians(a))
    )
    print(f"{a:5.1f} deg: generator {value:.6f} +- {error:.1e} fb, closed form {exact:.6f} fb")
    assert abs(value - exact) < 3 * error, (a, value, error, exact)
