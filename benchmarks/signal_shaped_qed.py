"""Would a QED sampler that follows the signal converge g(CLs) where the QED MC sets it? A measurement
of the efficiency that docs/statistics.md ("What would converge g(CLs) from 7 GeV on") assumed.

Run: python benchmarks/signal_shaped_qed.py [RUN_DIR] [--mass M] [--share F] [--events N] [--points K]
RUN_DIR is the output folder of a default run (``alpfusion run``; default output). At the mass M
(default 7 GeV), the S/B groups of the workspace that carry the share F (default 0.9) of Lambda at the
run's limit (``fits.poisson.lambda_carriers``; ``models.workspace.group_by_signal_to_background``, as
``benchmarks/mc_needed.py``) are where g(CLs) needs QED MC; their 2% bins are "those bins" below. The
signal sample of that mass, put through the detector model and the selection once (the first smearing,
``processors.events.measured_events``), stands for a sampler of the electron pair that follows the
signal: its draws that land in those bins (up to N of them, default 1000) are the electron pairs such a
sampler would give there. Each is reweighted to the QED at the same electrons: with Q = P - p3 - p4
the missing four-momentum,

    dPhi_4(P; p3, p4, k1, k2) = dPhi_3(P; p3, p4, Q) dQ^2 / (2 pi) dPhi_2(Q; k1, k2),

so at the signal's Q^2 = m_a^2 the QED's density over the signal's is, up to a constant,
R = I / |M_signal|^2 with I = integral dOmega* |M(ee -> ee gamma gamma)|^2 over the photons' direction
in Q's rest frame, both photons lost (outside the acceptance or below its energy threshold, each above
``backgrounds.qed2.photon_energy_min``). I is estimated with K points (default 2048) drawn from a
mixture of the uniform sphere (20%) and, for each of the four fermions f, the peaks of either photon
along f (1 / (1 - beta_f cos alpha) about the direction of f in Q's frame). A sampler that followed the
signal would give these electron pairs QED weights proportional to y R (y the signal event's yield):
printed are the effective fraction N_eff / N = (sum v)^2 / (N sum v^2) of v = y R, of y alone and of R
alone over the draws in those bins, the share of the signal's draws that land there, and the median
relative error of the K-point estimate of I. Constants (couplings, flux, dPhi_2's |k*| / m_Q) cancel in
N_eff / N.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.fits.poisson import lambda_carriers
from alpfusion.kinematics import in_acceptance
from alpfusion.models.workspace import group_by_signal_to_background, mass_point_models
from alpfusion.observables import compute_observables
from alpfusion.processors.detector import pt_excess_significance
from alpfusion.processors.events import measured_events
from alpfusion.processors.layouts import region_view
from alpfusion.processors.results import load_result
from alpfusion.processors.selection import mass_hypotheses
from alpfusion.samples.amplitudes import me2_ee_to_eea
from alpfusion.samples.phasespace import beams, boost_from_rest, from_angles, rotate_y, rotate_z
from alpfusion.samples.qed import me2_bhabha_photons
from alpfusion.samples.rootio import read_sample

UNIFORM_SHARE = 0.2


class _Settings:
    """The few numbers :func:`photon_integral` needs, from the configuration."""

    def __init__(self, cfg):
        qed = workflow.background_process(cfg, workflow.LOST_PHOTONS).settings
        self.beam, self.acceptance = cfg.beam, cfg.acceptance
        self.alpha, self.electron_mass = qed.alpha, qed.electron_mass
        self.qed_photon_energy_min = qed.cuts.photon_energy_min


def _rest_frame(p: np.ndarray, parent: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Four-vectors p (N, 4) in the rest frame of ``parent`` (N, 4) of mass ``mass``."""
    reverse = parent.copy()
    reverse[:, 1:] *= -1.0
    return boost_from_rest(p, reverse, mass)


def _peak_cos(beta: np.ndarray, one_minus_beta: np.ndarray, u: np.ndarray) -> np.ndarray:
    """cos alpha drawn from beta / ((1 - beta cos alpha) ln((1 + beta) / (1 - beta))) on [-1, 1]."""
    return (1.0 - (1.0 + beta) ** (1.0 - u) * one_minus_beta**u) / beta


def photon_integral(
    p3: np.ndarray, p4: np.ndarray, q: np.ndarray, settings: _Settings, points: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(I, its relative MC error) per event: I = integral dOmega* |M|^2 of e+e- -> e+e- gamma gamma
    over the direction of k1 in the rest frame of Q = k1 + k2, both photons lost (module docstring)."""
    n = len(q)
    mass = np.sqrt(np.maximum(q[:, 0] ** 2 - np.sum(q[:, 1:] ** 2, axis=1), 0.0))
    p1, p2 = beams(settings.beam.sqrt_s, settings.electron_mass, n)
    fermions = [_rest_frame(p, q, mass) for p in (p1, p2, p3, p4)]
    directions, betas, one_minus = [], [], []
    for f in fermions:
        momentum = np.linalg.norm(f[:, 1:], axis=1)
        for sign in (1.0, -1.0):  # k1 along f, or k2 along f (k1 opposite)
            directions.append(sign * f[:, 1:] / momentum[:, None])
            betas.append(momentum / f[:, 0])
            one_minus.append(np.maximum(f[:, 0] ** 2 - momentum**2, 0.0) / (f[:, 0] * (f[:, 0] + momentum)))
    d, beta, omb = (np.repeat(np.stack(x, axis=1), points, axis=0) for x in (directions, betas, one_minus))
    m = np.repeat(mass, points)
    peaks = rng.integers(0, d.shape[1], size=n * points)
    component = np.where(rng.random(n * points) < UNIFORM_SHARE, -1, peaks)  # -1: the uniform sphere
    u, phi = rng.random(n * points), rng.uniform(0.0, 2.0 * math.pi, n * points)
    rows = np.arange(n * points)
    pick = np.maximum(component, 0)
    axis, b, ob = d[rows, pick], beta[rows, pick], omb[rows, pick]
    cos_a = np.where(component < 0, 2.0 * u - 1.0, _peak_cos(b, ob, u))
    about_z = from_angles(np.ones_like(u), np.ones_like(u), cos_a, phi)
    direction = rotate_z(rotate_y(about_z, axis[:, 2]), np.arctan2(axis[:, 1], axis[:, 0]))[:, 1:]
    density = np.full(n * points, UNIFORM_SHARE / (4.0 * math.pi))
    for j in range(d.shape[1]):
        cos_j = np.clip(np.sum(direction * d[:, j], axis=1), -1.0, 1.0)
        log_span = np.log((1.0 + beta[:, j]) / omb[:, j])
        density += (
            (1.0 - UNIFORM_SHARE) / d.shape[1] * beta[:, j] / ((1.0 - beta[:, j] * cos_j) * log_span * 2.0 * math.pi)
        )
    half = 0.5 * m
    k1_rest = np.column_stack([half, half[:, None] * direction])
    k2_rest = np.column_stack([half, -half[:, None] * direction])
    q_rep = np.repeat(q, points, axis=0)
    k1, k2 = boost_from_rest(k1_rest, q_rep, m), boost_from_rest(k2_rest, q_rep, m)
    acc = settings.acceptance
    lost = ~in_acceptance(k1, acc) & ~in_acceptance(k2, acc)
    lost &= (k1[:, 0] >= settings.qed_photon_energy_min) & (k2[:, 0] >= settings.qed_photon_energy_min)
    f = np.zeros(n * points)
    if np.any(lost):
        pp1, pp2 = beams(settings.beam.sqrt_s, settings.electron_mass, int(lost.sum()))
        f[lost] = me2_bhabha_photons(
            pp1,
            pp2,
            np.repeat(p3, points, axis=0)[lost],
            np.repeat(p4, points, axis=0)[lost],
            [k1[lost], k2[lost]],
            alpha=settings.alpha,
            electron_mass=settings.electron_mass,
        )
    ratio = (f / density).reshape(n, points)
    integral = ratio.mean(axis=1)
    error = ratio.std(axis=1, ddof=1) / math.sqrt(points)
    return integral, np.divide(error, integral, out=np.full(n, np.inf), where=integral > 0)


def effective_fraction(v: np.ndarray) -> float:
    """N_eff / N = (sum v)^2 / (N sum v^2)."""
    return float(v.sum() ** 2 / (len(v) * np.sum(v * v)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default="output")
    parser.add_argument("--mass", type=float, default=7.0)
    parser.add_argument("--share", type=float, default=0.9)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--points", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    cfg = workflow.with_cuts(load_config(), run_dir / "cuts" / "cuts.yaml")
    result = load_result(run_dir / "histograms" / "histograms.npz")
    (point,) = [p for p in mass_point_models(result, cfg.statistics) if abs(p.hypothesis.m_a - args.mass) < 1e-9]
    (hypothesis,) = [h for h in mass_hypotheses(cfg) if abs(h.m_a - args.mass) < 1e-9]
    model = point.full
    grouped, group = group_by_signal_to_background(model, cfg.statistics.sb_groups)
    carrying = lambda_carriers(grouped.signal.yields, grouped.total_background, args.share)
    carriers = model.bins[np.isin(group, carrying)]

    path = workflow.sample_path(run_dir / "samples", "ee_to_eea", args.mass)
    events = measured_events(path, cfg)
    obs = compute_observables(events.e_minus, events.e_plus, cfg.beam.sqrt_s, cfg.observables.cphi_estimator)
    significance = pt_excess_significance(obs, events.e_minus, events.e_plus, cfg.detector, cfg.acceptance)
    selected = np.zeros(len(obs.m2_miss), dtype=bool)
    selected[hypothesis.passes(obs.m2_miss, obs.e_miss, obs.eta_miss)[-1]] = True
    h = result.histograms[path.stem]["analysis"]
    view = region_view(h, hypothesis.region)
    axes = [h.axes[name] for name in ("abs_eta_miss", "pt_excess", "m_ee", "m_ee_tau")]
    index = [
        axis.index(value)
        for axis, value in zip(axes, (np.abs(obs.eta_miss), significance, obs.m_ee, np.abs(obs.m_ee_tau)))
    ]
    inside = selected & np.all([(i >= 0) & (i < len(axis)) for i, axis in zip(index, axes)], axis=0)
    flat = np.full(len(selected), -1)
    flat[inside] = np.ravel_multi_index([np.asarray(i)[inside] for i in index], view.value.shape)
    landed = np.flatnonzero(inside & np.isin(flat, carriers))
    arrays, meta = read_sample(path)
    draws = int(meta["n_draws"])
    print(
        f"m_a = {args.mass:g} GeV: {len(carrying)} S/B groups ({len(carriers)} bins) carry {args.share:.0%} of "
        "Lambda, holding "
        f"{model.signal.yields[np.isin(model.bins, carriers)].sum() / model.signal.yields.sum():.2f} of the signal; "
        f"{len(landed)} of {draws} signal draws land there (first smearing)"
    )
    rng = np.random.default_rng(args.seed)
    take = np.sort(rng.choice(landed, size=min(args.events, len(landed)), replace=False))
    rows = events.rows[take]
    four = lambda name: np.column_stack([arrays[f"{name}_{c}"][rows] for c in ("E", "px", "py", "pz")])
    p3, p4, q = four("e_minus"), four("e_plus"), four("invisible")
    settings = _Settings(cfg)
    start = time.process_time()
    integral, error = photon_integral(p3, p4, q, settings, args.points, rng)
    seconds = time.process_time() - start
    p1, p2 = beams(cfg.beam.sqrt_s, settings.electron_mass, len(q))
    signal_me2 = me2_ee_to_eea(
        p1, p2, p3, p4, g=cfg.signal.g_ref, alpha=settings.alpha, electron_mass=settings.electron_mass
    )[0]
    ratio = integral / signal_me2
    y = events.yields[take]
    reached = integral > 0
    print(
        f"{len(take)} electron pairs, {args.points} photon points each ({seconds:.0f} CPU s); I > 0 for "
        f"{reached.mean():.2f} of them; median relative error of I {np.median(error[reached]):.3f}"
    )
    print(
        f"N_eff / N: v = y R {effective_fraction(y * ratio):.3f}, y alone {effective_fraction(y):.3f}, "
        f"R alone {effective_fraction(ratio):.3f}; R / mean R at 10/50/90/99%: "
        + ", ".join(f"{v:.3g}" for v in np.quantile(ratio / ratio.mean(), [0.1, 0.5, 0.9, 0.99]))
        + f", largest {ratio.max() / ratio.mean():.3g}"
    )


if __name__ == "__main__":
    main()
