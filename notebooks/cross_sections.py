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
# # Cross sections versus the ALP mass (paper Fig. 2, right)
#
# - e+e- -> gamma a with the photon in the acceptance (22-158 deg),
# - e+e- -> e+e- a with both electrons in the acceptance,
# - e+e- -> e+e- a inclusive (no cut; the electron mass regulates the collinear electrons),
# - the equivalent-photon approximation (EPA) of the inclusive photon fusion, as a band for a
#   factorisation scale between 0.1 m_a and 10 m_a (`alpfusion.analytic.sigma_eea_epa`).
#
# All at g_agg = `signal.g_ref` (rates scale as g^2). The figure-level check: the inclusive ALP-Dalitz
# piece against the Kroll-Wada factorisation onto sigma(gamma a).

# %% tags=["parameters"]
MASSES = [0.01, 0.03, 0.1, 0.3, 1.0, 2.0, 4.0, 6.0, 8.0, 9.5]  # GeV
CHECK_MASS = 1.0  # GeV: the mass of the Kroll-Wada check
VEGAS = {"nitn": 8, "neval": 20000, "ninc": 400, "alpha": 0.5}
OUTPUT = "output/notebooks"

# %%
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from alpfusion import analytic, workflow
from alpfusion.config import load_config
from alpfusion.plotting import save_figure, styled

cfg = load_config().replace(generation={"vegas": VEGAS})
s, g, alpha = cfg.beam.s, cfg.signal.g_ref, cfg.beam.alpha_value
in_acceptance = workflow.cross_section_tasks(cfg, ["ee_to_eea", "ee_to_gamma_a"], masses=MASSES, component="both")
inclusive = workflow.cross_section_tasks(cfg, ["ee_to_eea"], masses=MASSES, component="both", inclusive=True)
dalitz = workflow.cross_section_tasks(cfg, ["ee_to_eea"], masses=[CHECK_MASS], component="dalitz", inclusive=True)
rows = workflow.cross_sections(cfg, in_acceptance + inclusive + dalitz)


def curve(process, theta, component="both"):
    """(sigma, error) in fb at MASSES."""
    chosen = {
        r.m_a: (r.sigma_fb, r.error_fb)
        for r in rows
        if (r.process, r.theta_min_deg, r.component) == (process, theta, component)
    }
    return np.array([chosen[m] for m in MASSES]).T


theta = cfg.acceptance.theta_min_deg
gamma_a = curve("ee_to_gamma_a", theta, "-")
eea = curve("ee_to_eea", theta)
eea_inclusive = curve("ee_to_eea", "none")
epa = {k: np.array([1e3 * analytic.sigma_eea_epa(s, m, g, alpha, k * m) for m in MASSES]) for k in (0.1, 1.0, 10.0)}
for i, m in enumerate(MASSES):
    print(
        f"m_a = {m:5.2f} GeV: gamma a {gamma_a[0][i]:.4g} fb, e+e- a in acceptance {eea[0][i]:.4g} fb, "
        f"inclusive {eea_inclusive[0][i]:.4g} fb, EPA {epa[0.1][i]:.4g}-{epa[10.0][i]:.4g} fb"
    )

# %%
with styled():
    fig = Figure(figsize=(8, 6))
    ax = fig.subplots()
    ax.fill_between(MASSES, epa[0.1], epa[10.0], color="tab:orange", alpha=0.3, label=r"EPA, $\mu$ = 0.1-10 $m_a$")
    ax.plot(MASSES, epa[1.0], color="tab:orange", ls="--", label=r"EPA, $\mu = m_a$")
    ax.errorbar(MASSES, *eea_inclusive, marker="o", color="tab:green", label=r"$e^+e^-a$ inclusive")
    ax.errorbar(MASSES, *eea, marker="s", color="tab:red", label=r"$e^+e^-a$, $e^\pm$ in acceptance")
    ax.errorbar(MASSES, *gamma_a, marker="^", color="tab:blue", label=r"$\gamma a$, $\gamma$ in acceptance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$m_a$ [GeV]")
    ax.set_ylabel(rf"$\sigma$ [fb] at $g_{{a\gamma\gamma}}$ = {g:g} GeV$^{{-1}}$")
    ax.set_title(rf"$\sqrt{{s}}$ = {cfg.beam.sqrt_s:g} GeV", fontsize=14)
    ax.legend(fontsize=12)
    fig.tight_layout()
    save_figure(fig, Path(OUTPUT) / "cross_sections.png")
fig

# %% [markdown]
# **Check against an independent expectation**: without cuts the ALP-Dalitz piece factorises onto
# sigma(gamma a) with the Kroll-Wada virtual-photon spectrum; the generator's inclusive Dalitz cross
# section must agree within three of its MC errors.

# %%
(row,) = [r for r in rows if r.component == "dalitz"]
expected = 1e3 * analytic.kroll_wada_dalitz(s, CHECK_MASS, g, alpha)
print(f"Dalitz, inclusive, m_a = {CHECK_MASS:g} GeV: generator {row.sigma_fb:.6g} +- {row.error_fb:.2g} fb")
print(f"Kroll-Wada: {expected:.6g} fb")
assert abs(row.sigma_fb - expected) < 3 * row.error_fb
