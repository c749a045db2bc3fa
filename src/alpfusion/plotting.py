"""Figures people look at rather than read: the reach plot."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402


def reach_plot(rows, path: str | os.PathLike, *, luminosity_fb: float, sqrt_s: float) -> Path:
    """Expected 95% CL sensitivity to g_agg versus m_a: CLs median with its +-1, +-2 sigma bands
    (green, yellow) and the Poisson Lambda = 4 criterion (physics.md section 6)."""
    mplhep.style.use("ROOT")
    m = np.array([r.m_a for r in rows])
    fig, ax = plt.subplots(figsize=(8, 6))
    ax.fill_between(m, [r.g_cls_minus2 for r in rows], [r.g_cls_plus2 for r in rows], color="#ffdf00",
                    label=r"CLs $\pm 2\sigma$", step=None)
    ax.fill_between(m, [r.g_cls_minus1 for r in rows], [r.g_cls_plus1 for r in rows], color="#00c000",
                    label=r"CLs $\pm 1\sigma$")
    ax.plot(m, [r.g_cls for r in rows], color="black", ls="--", label="CLs expected (asymptotic)")
    ax.plot(m, [r.g_lambda for r in rows], color="tab:red", lw=2, label=r"$\Lambda = 4$")
    toys = [r for r in rows if np.isfinite(r.g_cls_toys)]
    if toys:
        ax.plot([r.m_a for r in toys], [r.g_cls_toys for r in toys], "s", color="tab:blue", label="CLs expected (toys)")
    flagged = [r for r in rows if r.small_background]
    if flagged:
        ax.plot([r.m_a for r in flagged], [r.g_cls for r in flagged], "o", mfc="none", color="black",
                label="few background events: asymptotics unreliable")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(r"$m_a$ [GeV]")
    ax.set_ylabel(r"$g_{a\gamma\gamma}$ [GeV$^{-1}$]")
    ax.set_title(rf"$e^+e^- \to e^+e^- + a\,(\to$ inv.), √s = {sqrt_s:g} GeV, "
                 rf"{luminosity_fb / 1000:g} ab$^{{-1}}$", fontsize=14)
    ax.legend(fontsize=12, loc="upper left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    fig.savefig(tmp, dpi=100, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    os.replace(tmp, path)
    return path
