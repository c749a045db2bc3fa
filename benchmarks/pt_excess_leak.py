"""How many QED events the smearing carries beyond each edge of the missing p_T's excess, against the
signal there: the QED events near their reach smeared many times.

Run: python benchmarks/pt_excess_leak.py [RUN_DIR] [--copies K] [--edges Z ...] [--mass M ...]
RUN_DIR is the output folder of a default run (its QED sample, its optimised cuts and its limits.csv;
default benchmarks/.cache/run, made first if missing). Two lost photons keep the true excess
Delta = p_T,miss - [E*_miss sin(theta_min) + (1 - sin(theta_min)) E_min] at or below 0
(``lostphotons.missing_pt_excess``); the measured one, in units of its resolution
(``detector.pt_excess_resolution``, as ``histograms.pt_excess_sigmas``), crosses an edge Z > 0 by the
smearing alone. The QED events whose true Delta lies within 0.5 GeV of the reach and whose true E*_miss is
within 1 GeV of the lowest E_low of the masses M are smeared K times each (default 200; as the
processor's copies: event index + k 2^40). Per mass M (default 0.1, 1, 3, 6, 6.5, 7 GeV) and edge Z
(default 3 to 8) it prints the QED's expected events beyond Z counted from the copies (each with 1/K of
its event's yield; none where no copy crosses), the same from each event's Gaussian tail, sum of
y f Phi_c((Z sigma - mean) / rms) over the events (f the share of its copies the selection takes, mean
and rms those of its copies' measured Delta, sigma their mean resolution; the detector's smearing is
Gaussian in energy and angles), which the counts check where copies cross, and the signal's expected
events beyond Z at the run's g_lambda (its own sample, one smearing per event): an edge is safe where the
QED beyond it is a small fraction of that signal (docs/statistics.md, "The QED's p_T reach").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.stats import norm

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.fits.scan import read_rows
from alpfusion.observables import compute_observables, four_momenta
from alpfusion.processors.detector import is_photon, measure, pt_excess_resolution, pt_excess_significance
from alpfusion.processors.events import measured_events
from alpfusion.processors.processor import COPY_STRIDE
from alpfusion.processors.selection import mass_hypotheses
from alpfusion.samples.lostphotons import lost_pt_share_max, missing_pt_excess
from alpfusion.samples.rootio import read_sample

NEAR = 0.5
"""GeV: the QED events whose true excess lies within this of the reach are smeared again."""
ROWS_PER_PASS = 2_000_000
"""Copies smeared at once (memory)."""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default=str(Path(__file__).parent / ".cache" / "run"))
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--edges", type=float, nargs="+", default=[3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    parser.add_argument("--mass", type=float, nargs="+", default=[0.1, 1.0, 3.0, 6.0, 6.5, 7.0])
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    if not (run_dir / "cuts" / "cuts.yaml").exists():
        workflow.run(load_config(), run_dir)
    cfg = workflow.with_cuts(load_config(), run_dir / "cuts" / "cuts.yaml")
    hypotheses = [h for h in mass_hypotheses(cfg) if any(abs(h.m_a - m) < 1e-9 for m in args.mass)]
    edges = np.asarray(sorted(args.edges))
    estimator, acceptance = cfg.observables.cphi_estimator, cfg.acceptance
    share = lost_pt_share_max(acceptance)

    (qed,) = workflow.plan_samples(cfg, run_dir / "samples", process=workflow.LOST_PHOTONS)
    arrays, meta = read_sample(qed.path)
    names = [p for p in meta["particles"] if p in ("e_minus", "e_plus") or is_photon(p)]
    truth = {p: four_momenta(*(arrays[f"{p}_{c}"] for c in ("E", "px", "py", "pz"))) for p in names}
    true = compute_observables(truth["e_minus"], truth["e_plus"], cfg.beam.sqrt_s, estimator)
    e_min = min(h.e_miss_window[0] for h in hypotheses) - 1.0
    near = np.flatnonzero(
        (missing_pt_excess(true.e_miss, true.m2_miss, true.eta_miss, acceptance) > -NEAR) & (true.e_miss > e_min)
    )
    print(
        f"{qed.path}: {len(near)} events within {NEAR} GeV of the reach with E*_miss > {e_min:g} GeV, "
        f"{args.copies} copies each"
    )

    counted = np.zeros((len(hypotheses), len(edges)))
    passed = np.zeros((len(hypotheses), len(near)))
    sums = np.zeros((3, len(near)))  # sums of each event's measured Delta, its square and its resolution
    y = arrays["weight"][near] * cfg.beam.luminosity_pb
    per_pass = max(1, ROWS_PER_PASS // max(len(near), 1))
    for first in range(0, args.copies, per_pass):
        k = np.arange(first, min(first + per_pass, args.copies), dtype=np.uint64)
        rows = np.repeat(near, len(k))
        event = arrays["event"][rows].astype(np.uint64) + np.tile(k, len(near)) * COPY_STRIDE
        particles = {p: momentum[rows] for p, momentum in truth.items()}
        e_minus, e_plus, ok = measure(particles, event, cfg.detector, acceptance, Path(qed.path).stem)
        owner = np.repeat(np.arange(len(near)), len(k))[ok]
        obs = compute_observables(e_minus, e_plus, cfg.beam.sqrt_s, estimator)
        excess = np.maximum(missing_pt_excess(obs.e_miss, obs.m2_miss, obs.eta_miss, acceptance), -10 * NEAR)
        resolution = pt_excess_resolution(e_minus, e_plus, cfg.detector, share)
        sums += [np.bincount(owner, value, len(near)) for value in (excess, excess**2, resolution)]
        for i, h in enumerate(hypotheses):
            selected = h.passes(obs.m2_miss, obs.e_miss, obs.eta_miss)[2]
            passed[i] += np.bincount(owner[selected], minlength=len(near))
            beyond = (excess / resolution)[selected][:, None] > edges[None, :]
            counted[i] += (y[owner[selected]][:, None] * beyond).sum(axis=0) / args.copies
    mean, sigma = sums[0] / args.copies, sums[2] / args.copies
    rms = np.sqrt(np.maximum(sums[1] / args.copies - mean**2, 1e-12))
    tail = norm.sf((edges[None, :] * sigma[:, None] - mean[:, None]) / rms[:, None])  # (event, edge)
    gaussian = (passed / args.copies * y) @ tail

    limits = {row.m_a: row for row in read_rows(run_dir / "limits" / "limits.csv")}
    print(f"{'m_a':>5} {'edge':>5} {'QED, copies':>11} {'QED, tails':>11} {'signal beyond at g_lambda':>26}")
    for i, h in enumerate(hypotheses):
        (signal,) = workflow.plan_samples(cfg, run_dir / "samples", process="ee_to_eea", masses=[h.m_a])
        sig_events = measured_events(signal.path, cfg)  # measured once: electrons and observables
        sig = compute_observables(sig_events.e_minus, sig_events.e_plus, cfg.beam.sqrt_s, estimator)
        selected = h.passes(sig.m2_miss, sig.e_miss, sig.eta_miss)[2]
        sig_excess = pt_excess_significance(sig, sig_events.e_minus, sig_events.e_plus, cfg.detector, acceptance)
        sig_excess = sig_excess[selected]
        scale = (limits[h.m_a].g_lambda / cfg.signal.g_ref) ** 2
        for j, edge in enumerate(edges):
            signal_beyond = scale * sig_events.yields[selected][sig_excess > edge].sum()
            print(f"{h.m_a:5g} {edge:5.1f} {counted[i, j]:11.3g} {gaussian[i, j]:11.3g} {signal_beyond:26.3g}")


if __name__ == "__main__":
    main()
