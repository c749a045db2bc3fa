"""MC-statistical robustness: limits from independent replicas of the background samples.

Each replica regenerates the tau-pair background with its own seed (the signal samples stay the
same), processes it with the signal samples, and sets the limits (`alpfusion.fits.scan`). The
spread of the limits across replicas measures how much the background MC's statistics move
them; the same machinery with growing sample sizes (1/8, 1/4, 1/2, all) shows whether a limit
converges (benchmarks/background_convergence.py).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Config
from ..samples.production import SampleJob, produce, up_to_date
from ..samples.taupair import TauPairProcess, TauPairSettings
from .scan import MassPoint, run_scan


@dataclass(frozen=True)
class Spread:
    """Mean and standard deviation of a mass point's limits over the replicas (GeV^-1)."""

    m_a: float
    replicas: int
    g_lambda_mean: float
    g_lambda_std: float
    g_cls_mean: float
    g_cls_std: float


def tau_pair_sample(cfg: Config, path: Path, *, events: int, seed: int) -> Path:
    """Generate (or keep, when it exists with this seed and size) a tau-pair sample."""
    if up_to_date(path, {"seed": seed, "n_draws": events, "config_hash": cfg.hash}):
        return path
    produce(SampleJob(path, TauPairProcess(TauPairSettings.from_config(cfg)), cfg.generation.vegas, seed, events,
                      cfg.generation.chunk_size, False, {"config_hash": cfg.hash}, f"tau pairs, seed {seed}"))
    return path


def limits_with_background(cfg: Config, signal_samples: list[str | os.PathLike], workdir: Path, *,
                           events: int, seed: int, workers: int = 1) -> list[MassPoint]:
    """The limits table with a tau-pair background of `events` draws generated with `seed`."""
    from ..processors.run import process_samples

    tau = tau_pair_sample(cfg, workdir / f"ee_to_tautau_seed{seed}_n{events}.root", events=events, seed=seed)
    result = process_samples(cfg, [*map(Path, signal_samples), tau])
    rows, _ = run_scan(result.as_dict(), cfg, workdir / f"limits_seed{seed}_n{events}", workers=workers)
    return rows


def spread(tables: list[list[MassPoint]]) -> list[Spread]:
    """Per mass point, the mean and the sample standard deviation of both limits over the tables."""
    out = []
    for rows in zip(*tables):
        lam = np.array([r.g_lambda for r in rows])
        cls = np.array([r.g_cls for r in rows])
        n = len(rows)
        std = (lambda v: float(v.std(ddof=1)) if n > 1 else math.nan)  # noqa: E731
        out.append(Spread(rows[0].m_a, n, float(lam.mean()), std(lam), float(cls.mean()), std(cls)))
    return out


def format_spread(spreads: list[Spread]) -> str:
    lines = [f"{'m_a':>6} {'n':>3} {'g(Lambda) mean':>15} {'rel. std':>9} {'g(CLs) mean':>12} {'rel. std':>9}"]
    for s in spreads:
        lines.append(f"{s.m_a:6.3g} {s.replicas:3d} {s.g_lambda_mean:15.4e} {s.g_lambda_std / s.g_lambda_mean:9.3f}"
                     f" {s.g_cls_mean:12.4e} {s.g_cls_std / s.g_cls_mean:9.3f}")
    return "\n".join(lines) + "\n"
