"""MC-statistical robustness: the spread of the limits over independent replicas of the backgrounds.

Each replica regenerates one background (the tau pairs by default, or the QED) with its own seed,
vegas training and draws (the signal samples and the other backgrounds stay the same), processes it
with them, and sets the limits (``alpfusion.workflow.replicas``); the limits with the replicas' mean
background come as well. The spread of the limits across replicas measures how much the background
MC, its trainings included, moves them; the same machinery with growing sample sizes shows whether a
limit converges (benchmarks/background_convergence.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .scan import MassPoint

LIMITS = {
    "g_lambda": "g(Lambda)",
    "g_lambda_bound": "g(bound)",
    "g_cls": "g(CLs)",
    "g_cls_infinite_mc": "g(CLs,MC=inf)",
    "g_cls_bound": "g(CLs,bound)",
}
"""The limits whose spread over replicas is measured (columns of the limits table), with their labels
in the printed table."""


@dataclass(frozen=True)
class Spread:
    """Mean and standard deviation of a mass point's limits over the replicas (GeV^-1)."""

    m_a: float
    replicas: int
    g_lambda_mean: float
    g_lambda_std: float
    g_lambda_bound_mean: float
    g_lambda_bound_std: float
    g_cls_mean: float
    g_cls_std: float
    g_cls_infinite_mc_mean: float
    g_cls_infinite_mc_std: float
    g_cls_bound_mean: float
    g_cls_bound_std: float
    g_lambda_combined: float = math.nan
    g_lambda_bound_combined: float = math.nan
    g_cls_combined: float = math.nan
    g_cls_infinite_mc_combined: float = math.nan
    g_cls_bound_combined: float = math.nan


def spread(tables: Sequence[Sequence[MassPoint]], combined: Sequence[MassPoint] | None = None) -> list[Spread]:
    """Per mass point, the mean and the sample standard deviation of each of the :data:`LIMITS` over
    the tables, and the limits of ``combined`` (the table set with the replicas' mean background,
    ``workflow.replicas``) where given."""
    out = []
    for i, rows in enumerate(zip(*tables)):
        moments = {}
        for name in LIMITS:
            values = np.array([getattr(r, name) for r in rows])
            moments[f"{name}_mean"], moments[f"{name}_std"] = float(values.mean()), _std(values)
            if combined is not None:
                moments[f"{name}_combined"] = getattr(combined[i], name)
        out.append(Spread(rows[0].m_a, len(rows), **moments))
    return out


def _std(values: np.ndarray) -> float:
    """The sample standard deviation (NaN for a single value)."""
    return float(values.std(ddof=1)) if len(values) > 1 else math.nan


def format_spread(spreads: list[Spread]) -> str:
    """The spreads as a table; "combined" is each limit with the replicas' mean background."""
    width = {name: max(15, len(label) + 5) for name, label in LIMITS.items()}
    header = f"{'m_a':>6} {'n':>3}" + "".join(
        f" {label + ' mean':>{width[name]}} {'rel. std':>9} {'combined':>10}" for name, label in LIMITS.items()
    )
    lines = [header]
    for s in spreads:
        line = f"{s.m_a:6.3g} {s.replicas:3d}"
        for name in LIMITS:
            mean, std, combined = (getattr(s, f"{name}_{part}") for part in ("mean", "std", "combined"))
            line += f" {mean:{width[name]}.4e} {std / mean:9.3f} {combined:10.4e}"
        lines.append(line)
    return "\n".join(lines) + "\n"
