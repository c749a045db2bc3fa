"""Figures people look at rather than read: the reach plot.

Figures are made with matplotlib's object-oriented API (``matplotlib.figure.Figure``, no pyplot):
no backend is chosen and no global style or state is changed; mplhep's style applies inside
:func:`styled` only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import matplotlib.ticker
import mplhep
import numpy as np
from matplotlib.figure import Figure

from .atomic import atomic_path


@contextlib.contextmanager
def styled() -> Iterator[None]:
    """mplhep's ROOT style for the figures made in the block (matplotlib's rc settings restored after)."""
    with matplotlib.rc_context(mplhep.style.ROOT):
        yield


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Save a figure atomically, in the format of the file's suffix."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    return path


def reach_plot(rows, path: str | os.PathLike, *, luminosity_fb: float, sqrt_s: float) -> Path:
    """Expected 95% CL sensitivity to g_agg versus m_a: CLs median with its +-1, +-2 sigma bands
    (green, yellow) and the Poisson Lambda = 4 criterion (physics.md section 6)."""
    with styled():
        return save_figure(_reach_figure(rows, luminosity_fb, sqrt_s), path)


def _reach_figure(rows, luminosity_fb: float, sqrt_s: float) -> Figure:
    m = np.array([r.m_a for r in rows])
    fig = Figure(figsize=(8, 6))
    ax = fig.subplots()
    ax.fill_between(
        m,
        [r.g_cls_minus2 for r in rows],
        [r.g_cls_plus2 for r in rows],
        color="#ffdf00",
        label=r"CLs $\pm 2\sigma$",
        step=None,
    )
    ax.fill_between(
        m, [r.g_cls_minus1 for r in rows], [r.g_cls_plus1 for r in rows], color="#00c000", label=r"CLs $\pm 1\sigma$"
    )
    ax.plot(m, [r.g_cls for r in rows], color="black", ls="--", label="CLs expected (asymptotic)")
    g_lambda = np.array([r.g_lambda for r in rows])
    mc_error = np.array([r.g_lambda_mc_error for r in rows])
    ax.fill_between(
        m,
        g_lambda - mc_error,
        g_lambda + mc_error,
        color="tab:red",
        alpha=0.3,
        lw=0,
        label=r"$\Lambda = 4$: MC-statistical error",
    )
    ax.plot(m, g_lambda, color="tab:red", lw=2, label=r"$\Lambda = 4$")
    toys = [r for r in rows if np.isfinite(r.g_cls_toys)]
    if toys:
        ax.plot([r.m_a for r in toys], [r.g_cls_toys for r in toys], "s", color="tab:blue", label="CLs expected (toys)")
    flagged = [r for r in rows if r.small_background]
    if flagged:
        ax.plot(
            [r.m_a for r in flagged],
            [r.g_cls for r in flagged],
            "o",
            mfc="none",
            color="black",
            label="few background events: asymptotics unreliable",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(r"$m_a$ [GeV]")
    ax.set_ylabel(r"$g_{a\gamma\gamma}$ [GeV$^{-1}$]")
    ax.set_title(
        rf"$e^+e^- \to e^+e^- + a\,(\to$ inv.), √s = {sqrt_s:g} GeV, "
        rf"{luminosity_fb / 1000:g} ab$^{{-1}}$",
        fontsize=14,
    )
    ax.legend(fontsize=12, loc="upper left")
    fig.tight_layout()
    return fig
