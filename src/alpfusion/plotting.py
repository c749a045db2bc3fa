"""Figures people look at rather than read: the reach plot with its context layers, and how the limits converge.

Figures are made with matplotlib's object-oriented API (``matplotlib.figure.Figure``, no pyplot):
no backend is chosen and no global style or state is changed; mplhep's style applies inside
:func:`styled` only.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import matplotlib.axes
import matplotlib.ticker
import mplhep
import numpy as np
from matplotlib.figure import Figure

from . import cosmology
from .atomic import atomic_path
from .config import Overlay
from .fits import band_column


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


@dataclass(frozen=True)
class Layer:
    """One layer of the reach plot, as drawn and as written to its layer table.

    ``kind`` says how: "line" (g versus m_a), "band" (between g and g_high), "points" (markers),
    or "mass_bound" (every m_a below m_a[0] excluded, whatever g).
    """

    name: str
    label: str
    kind: str
    m_a: np.ndarray
    g: np.ndarray
    g_high: np.ndarray | None = None
    citation: str = ""
    style: dict = field(default_factory=dict)

    @property
    def upper(self) -> np.ndarray:
        """The band's upper edge (g itself for the other kinds)."""
        return self.g if self.g_high is None else self.g_high


def _column(rows, name: str) -> np.ndarray:
    """A column of the limits table as floats."""
    return np.array([getattr(r, name) for r in rows], dtype=float)


def sigma_bands(rows, limit: str, name: str, label: str) -> list[Layer]:
    """The +-2 and +-1 sigma bands of an expected limit (the table's columns ``limit``_minus2 to
    ``limit``_plus2), named ``name``_2sigma and ``name``_1sigma."""
    m = _column(rows, "m_a")
    return [
        Layer(
            f"{name}_{n}sigma",
            rf"{label} $\pm {n}\sigma$",
            "band",
            m,
            _column(rows, band_column(limit, -n)),
            _column(rows, band_column(limit, n)),
            style={"color": color},
        )
        for n, color in ((2, "#ffdf00"), (1, "#00c000"))
    ]


def mc_band(rows, limit: str, name: str, label: str, style: dict) -> Layer:
    """The band of a limit +- its MC-statistical error (the table's column ``limit``_mc_error)."""
    g, error = _column(rows, limit), _column(rows, f"{limit}_mc_error")
    return Layer(
        name, f"{label}: MC-statistical error", "band", _column(rows, "m_a"), g - error, g + error, style=style
    )


def limit_layers(rows) -> list[Layer]:
    """Our expected limits: the CLs median with its +-1, +-2 sigma bands and its MC-statistical band,
    the CLs median without MC constraints as an upper bound like Lambda's (``g_cls_bound``) with its
    MC-statistical band, Lambda = 4 with its MC-statistical band, Lambda = 4 with the coarse S/B order
    (conservative) with its MC-statistical band, the smaller of the two Lambda limits
    (``fits.poisson.lambda_bound``) with its MC-statistical band, the toys' CLs limits with their
    MC-statistical band and the mass points flagged for few background events and for a CLs limit set by
    the background MC."""
    m = _column(rows, "m_a")
    col = lambda name, subset=rows: _column(subset, name)
    layers = [
        *sigma_bands(rows, "g_cls", "cls", "CLs"),
        mc_band(rows, "g_cls", "cls_mc_error", "CLs", {"color": "0.4", "alpha": 0.5, "lw": 0}),
        Layer("cls_median", "CLs expected (asymptotic)", "line", m, col("g_cls"), style={"color": "black", "ls": "--"}),
        mc_band(
            rows,
            "g_cls_bound",
            "cls_bound_mc_error",
            "CLs, the tighter bound",
            {"color": "tab:purple", "alpha": 0.3, "lw": 0},
        ),
        Layer(
            "cls_bound",
            "CLs expected, the tighter bound",
            "line",
            m,
            col("g_cls_bound"),
            style={"color": "tab:purple", "ls": "-.", "lw": 1.5},
        ),
        mc_band(rows, "g_lambda", "lambda_mc_error", r"$\Lambda = 4$", {"color": "tab:red", "alpha": 0.3, "lw": 0}),
        Layer("lambda", r"$\Lambda = 4$", "line", m, col("g_lambda"), style={"color": "tab:red", "lw": 2}),
        mc_band(
            rows,
            "g_lambda_coarse",
            "lambda_coarse_mc_error",
            r"$\Lambda = 4$, coarse S/B order",
            {"facecolor": "none", "edgecolor": "tab:red", "hatch": "....", "lw": 0},
        ),
        Layer(
            "lambda_coarse",
            r"$\Lambda = 4$, coarse S/B order, no empty-bin treatment",
            "line",
            m,
            col("g_lambda_coarse"),
            style={"color": "tab:red", "ls": ":", "lw": 2},
        ),
        mc_band(
            rows,
            "g_lambda_bound",
            "lambda_bound_mc_error",
            r"$\Lambda = 4$, the tighter of the two",
            {"facecolor": "none", "edgecolor": "tab:red", "hatch": "////", "lw": 0},
        ),
        Layer(
            "lambda_bound",
            r"$\Lambda = 4$, the tighter of the two (an upper bound)",
            "line",
            m,
            col("g_lambda_bound"),
            style={"color": "tab:red", "lw": 7, "alpha": 0.25, "solid_capstyle": "butt"},
        ),
    ]
    toys = [r for r in rows if np.isfinite(r.g_cls_toys)]
    if toys:
        layers += [
            mc_band(
                toys, "g_cls_toys", "cls_toys_mc_error", "CLs (toys)", {"color": "tab:blue", "alpha": 0.3, "lw": 0}
            ),
            Layer(
                "cls_toys",
                "CLs expected (toys)",
                "points",
                col("m_a", toys),
                col("g_cls_toys", toys),
                style={"marker": "s", "color": "tab:blue"},
            ),
        ]
    for flag, label, marker in (
        ("small_background", "few background events: asymptotics unreliable", "o"),
        ("cls_mc_limited", "CLs set by the background MC", "^"),
    ):
        flagged = [r for r in rows if getattr(r, flag)]
        if flagged:
            style = {"marker": marker, "mfc": "none", "color": "black"}
            layers.append(Layer(flag, label, "points", col("m_a", flagged), col("g_cls", flagged), style=style))
    return layers


EXPECTED_SOURCES = {
    "toys": ("s", "from pseudo-experiments (few background events)"),
    "cls_bound": ("^", "without the MC's constraints (the background MC sets the profiled CLs)"),
    "cls": ("o", "asymptotic, the MC's errors profiled"),
}
"""Marker and label of each source of the expected limit to quote (``fits.scan.expected_source``)."""


def expected_layers(rows) -> list[Layer]:
    """The expected limit to quote (``g_expected``) with its +-1, +-2 sigma bands and its
    MC-statistical band, and a marker per mass point saying which CLs limit it is."""
    m, g = _column(rows, "m_a"), _column(rows, "g_expected")
    layers = [
        *sigma_bands(rows, "g_expected", "expected", "expected"),
        mc_band(rows, "g_expected", "expected_mc_error", "expected", {"color": "0.3", "alpha": 0.5, "lw": 0}),
        Layer("expected", "expected 95% CL upper limit (CLs)", "line", m, g, style={"color": "black", "lw": 2}),
    ]
    for source, (marker, label) in EXPECTED_SOURCES.items():
        chosen = [r.expected_from == source for r in rows]
        if any(chosen):
            style = {"marker": marker, "color": "black", "ms": 5}
            layers.append(Layer(f"expected_{source}", label, "points", m[chosen], g[chosen], style=style))
    return layers


FREEZE_OUT_CITATION = (
    "resonant freeze-out, paper eq. (4) at x_f; relic <sigma v>: Steigman, Dasgupta, Beacom, PRD 86 (2012) 023506; "
    "g_*(T): Borsanyi et al., Nature 539 (2016) 69"
)
NEFF_CITATION = "Ho, Scherrer, PRD 87 (2013) 023505; Boehm, Dolan, McCabe, JCAP 08 (2013) 041"


def context_layers(
    m_range: tuple[float, float],
    fine_tuning: Sequence[float],
    neff_dm_mass_min: float | None,
    overlays: Sequence[tuple[Overlay, np.ndarray, np.ndarray]] = (),
) -> list[Layer]:
    """The context of our limits over ``m_range`` [GeV]: the resonant freeze-out targets (one line per
    fine tuning F.T. = 1/2 - M/m_a), the N_eff bound (ALPs lighter than M_min / r with r -> 1/2),
    and the overlays given as (their configuration, m_a, g)."""
    m = np.geomspace(*m_range, 60)
    layers = [
        Layer(
            f"freeze_out_ft{ft:g}",
            f"freeze-out target, F.T. = {ft:g}",
            "line",
            m,
            cosmology.freeze_out_coupling(m, ft),
            citation=FREEZE_OUT_CITATION,
            style={"color": "tab:blue", "ls": ["-", "--", ":", "-."][i % 4], "lw": 1.5},
        )
        for i, ft in enumerate(fine_tuning)
    ]
    if neff_dm_mass_min is not None:
        layers.append(
            Layer(
                "neff",
                rf"$N_\mathrm{{eff}}$: $M_\chi < {1000 * neff_dm_mass_min:g}$ MeV",
                "mass_bound",
                np.array([2.0 * neff_dm_mass_min]),
                np.array([np.nan]),
                citation=NEFF_CITATION,
                style={"color": "0.85"},
            )
        )
    for i, (overlay, m_a, g) in enumerate(overlays):
        style = {k: v for k, v in overlay.style.model_dump().items() if v is not None}
        layers.append(Layer(f"overlay{i}", overlay.label, "line", m_a, g, citation=overlay.citation, style=style))
    return layers


def read_overlay(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(m_a, g) of an overlay curve: a CSV with a header line naming the columns m_a and g (others
    ignored). Raises ``ValueError`` naming the file and what is wrong."""
    path = Path(path)
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: cannot read the overlay curve ({err})") from None
    table = list(csv.DictReader(lines))
    names = list(table[0]) if table else []
    missing = [c for c in ("m_a", "g") if c not in names]
    if missing:
        raise ValueError(f"{path}: overlay curve lacks the column(s) {missing} (has {names})")
    try:
        data = {c: np.array([float(row[c]) for row in table]) for c in ("m_a", "g")}
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: a value of m_a or g is not a number ({err})") from None
    m_a, g = np.atleast_1d(data["m_a"]), np.atleast_1d(data["g"])
    if len(m_a) < 2:
        raise ValueError(f"{path}: an overlay curve needs at least 2 points, got {len(m_a)}")
    bad = ~(np.isfinite(m_a) & np.isfinite(g) & (m_a > 0) & (g > 0))
    if bad.any():
        raise ValueError(f"{path}: row {int(np.argmax(bad)) + 1} has m_a or g not a positive number")
    return m_a, g


def write_layers(path: str | os.PathLike, layers: Sequence[Layer]) -> Path:
    """The reach plot's layer table: one row per point of every layer (layer, kind, label, m_a, g,
    g_high, citation), so that the figure can be checked and redrawn without the code."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["layer", "kind", "label", "m_a", "g", "g_high", "citation"])
        for layer in layers:
            high = layer.g_high if layer.g_high is not None else np.full_like(layer.g, np.nan)
            for m, g, h in zip(layer.m_a, layer.g, high):
                writer.writerow(
                    [
                        layer.name,
                        layer.kind,
                        layer.label,
                        repr(float(m)),
                        repr(float(g)),
                        repr(float(h)),
                        layer.citation,
                    ]
                )
    return path


def reach_plot(layers: Sequence[Layer], folder: str | os.PathLike, *, title: str, stem: str = "reach") -> list[Path]:
    """The reach plot in ``folder``: ``stem``.png, ``stem``.pdf and its layer table ``stem``_layers.csv."""
    folder = Path(folder)
    with styled():
        fig = reach_figure(layers, title)
        paths = [save_figure(fig, folder / f"{stem}.{fmt}") for fmt in ("png", "pdf")]
    return [*paths, write_layers(folder / f"{stem}_layers.csv", layers)]


def draw_layers(ax: matplotlib.axes.Axes, layers: Sequence[Layer], m_lo: float = 0.0) -> None:
    """Draw layers on axes, each with its label and its name as ``gid`` (a mass bound shades from
    ``m_lo`` up to its mass)."""
    for layer in layers:
        if layer.kind == "band":
            ax.fill_between(layer.m_a, layer.g, layer.upper, label=layer.label, gid=layer.name, **layer.style)
        elif layer.kind == "line":
            ax.plot(layer.m_a, layer.g, label=layer.label, gid=layer.name, **layer.style)
        elif layer.kind == "points":
            ax.plot(layer.m_a, layer.g, ls="none", label=layer.label, gid=layer.name, **layer.style)
        elif layer.kind == "mass_bound":
            ax.axvspan(m_lo, layer.m_a[0], label=layer.label, gid=layer.name, zorder=0, **layer.style)
        else:
            raise ValueError(f"layer {layer.name}: unknown kind {layer.kind!r}")


def reach_figure(layers: Sequence[Layer], title: str) -> Figure:
    """g_agg versus m_a: the whole mass range log-log (the first axes, artists labelled by layer name
    through ``gid``) and, beside it, the top octave of the limits' masses (those of the bands, which
    only our limits draw) with a linear m_a axis, where the limits rise steeply and part from one
    another; one legend for both, below them."""
    fig = Figure(figsize=(13, 8), layout="constrained")
    ax, zoom = fig.subplots(1, 2, width_ratios=(3, 2))
    finite = [layer for layer in layers if layer.kind != "mass_bound"]
    m_all = np.concatenate([layer.m_a for layer in finite] or [np.array([0.01, 10.0])])
    m_lo = min(m_all.min(), *(layer.m_a[0] for layer in layers if layer.kind == "mass_bound")) / 1.5
    m_hi = m_all.max() * 1.1
    draw_layers(ax, layers, m_lo)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlim(m_lo, m_hi)
    ax.set_ylim(*_g_range(finite, m_lo, m_hi))
    draw_layers(zoom, finite)
    m_top = max((layer.m_a.max() for layer in layers if layer.kind == "band"), default=m_all.max())  # our limits'
    zoom_range = (m_top / 2, m_top * 1.05)
    zoom.set_xlim(*zoom_range)
    zoom.set_ylim(*_g_range(finite, *zoom_range))
    for axes in (ax, zoom):
        axes.set_yscale("log")
        axes.set_xlabel(r"$m_a$ [GeV]")
    ax.set_ylabel(r"$g_{a\gamma\gamma}$ [GeV$^{-1}$]")
    fig.suptitle(title, fontsize=14)
    fig.legend(*ax.get_legend_handles_labels(), fontsize=10, ncols=3, loc="outside lower center")
    return fig


def _g_range(layers: Sequence[Layer], m_lo: float, m_hi: float) -> tuple[float, float]:
    """The couplings' range of the layers' points within m_lo <= m_a <= m_hi, widened by 2 (log axes)."""
    within = [np.concatenate([x.g, x.upper])[np.tile((x.m_a >= m_lo) & (x.m_a <= m_hi), 2)] for x in layers]
    g = np.concatenate(within or [np.empty(0)])
    g = g[np.isfinite(g) & (g > 0)]
    return (g.min() / 2.0, g.max() * 2.0) if g.size else (1e-6, 1e-3)


def reach_title(luminosity_fb: float, sqrt_s: float) -> str:
    """The reach plot's title: the process, the energy and the luminosity."""
    return rf"$e^+e^- \to e^+e^- + a\,(\to$ inv.), √s = {sqrt_s:g} GeV, {luminosity_fb / 1000:g} ab$^{{-1}}$"


CONVERGENCE_LIMITS = {
    "g_lambda": r"$\Lambda = 4$, per bin",
    "g_lambda_bound": r"$\Lambda = 4$, the tighter bound",
    "g_cls": "CLs, MC errors profiled",
    "g_cls_bound": "CLs, the tighter bound",
}
"""The limits (columns of the limits table) of :func:`convergence_figure`, one panel each."""


def convergence_figure(tables: Mapping[int, Sequence], background: str, m_min: float = 6.0) -> Figure:
    """How the limits move as one background's MC grows: per limit of :data:`CONVERGENCE_LIMITS`
    a panel of each mass point's limit (m_a >= ``m_min``) over that of the largest sample, versus
    the background's draws (``tables``: draws -> limits-table rows, the same masses in each), with
    the +-10% that physics.md allows a doubling shaded around 1."""
    sizes = sorted(tables)
    if len(sizes) < 2:
        raise ValueError(f"a convergence figure needs at least two sample sizes, got {sizes}")
    largest = tables[sizes[-1]]
    masses = [i for i, row in enumerate(largest) if row.m_a >= m_min]
    fig = Figure(figsize=(11, 8.5))
    axes = fig.subplots(2, 2, sharex=True, sharey=True).ravel()
    colours = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.9, len(masses)))
    for ax, (column, label) in zip(axes, CONVERGENCE_LIMITS.items()):
        ax.axhspan(0.9, 1.1, color="0.9", zorder=0, label=r"$\pm 10\%$")
        for i, colour in zip(masses, colours):
            ratios = [getattr(tables[n][i], column) / getattr(largest[i], column) for n in sizes]
            ax.plot(sizes, ratios, marker="o", color=colour, label=f"{largest[i].m_a:g} GeV", gid=f"{column}:{i}")
        ax.set_xscale("log")
        ax.set_xticks(sizes, [f"{n:.3g}" for n in sizes], fontsize=12)
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_title(label, fontsize=14)
    for ax in axes[2:]:
        ax.set_xlabel(f"{background} draws", fontsize=16)
    for ax in axes[::2]:
        ax.set_ylabel(f"g / g({sizes[-1]:.3g} draws)", fontsize=16)
    axes[0].legend(fontsize=10, ncols=2)
    fig.tight_layout()
    return fig
