"""Where a background lies in the antler plane against the signal, after each mass's selection.

Run: python benchmarks/background_plane.py [RUN_DIR] [--background P] [--mass M ...]
RUN_DIR is the output folder of a default run (its samples and optimised cuts are used; default
benchmarks/.cache/run, made first if missing); P is ee_to_eegg (default) or ee_to_tautau; M are the
masses (default 1, 6, 9 GeV). For slices of the offset ln(|m_ee^tau| / m_ee) it prints the
background's MC events, its expected events and its heaviest MC event, and the fraction of the
signal in the slice: a background with an edge (the tau pairs at the diagonal) leaves the slices
beyond it empty with MC of small weight; one without an edge fills them, thinning out. Then, per slice
of |eta*_miss| (``histograms.eta_slices``, a plane each in the model), the same for the background and
the signal, with the share of the signal beyond the two-lost-photon boundary (m2_miss below
``lostphotons.missing_mass2_bound`` with a soft photon of the energy threshold, by more than
``kappa delta_m2``: out of the QED's reach even after the smearing) and the background beyond it.
Last, per slice of x_T = p_T,miss / (E*_miss sin theta_min), which two photons lost outside the polar
acceptance keep below 1 (``observables.missing_pt_fraction``), the background's MC events, expected
events and effective MC events (sum w)^2 / sum w^2, and the signal.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.observables import missing_pt_fraction
from alpfusion.processors.events import measured_observables
from alpfusion.processors.layouts import eta_edges
from alpfusion.processors.selection import mass_hypotheses, missing_mass2_resolution
from alpfusion.samples.lostphotons import lost_pt_share_max, missing_mass2_bound

SLICES = ((-np.inf, -0.03), (-0.03, 0.03), (0.03, 0.3), (0.3, 1.0), (1.0, 3.0), (3.0, np.inf))
XT_EDGES = (0.0, 0.5, 0.8, 0.9, 0.95, 1.0, 1.05, 1.2, np.inf)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default=str(Path(__file__).parent / ".cache" / "run"))
    parser.add_argument("--background", choices=tuple(workflow.BACKGROUNDS), default=workflow.LOST_PHOTONS)
    parser.add_argument("--mass", type=float, nargs="+", default=[1.0, 6.0, 9.0])
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    if not (run_dir / "cuts" / "cuts.yaml").exists():
        workflow.run(load_config(), run_dir)
    cfg = workflow.with_cuts(load_config(), run_dir / "cuts" / "cuts.yaml")
    (background,) = workflow.plan_samples(cfg, run_dir / "samples", process=args.background)
    bkg, bkg_yields = measured_observables(background.path, cfg)
    hypotheses = {h.m_a: h for h in mass_hypotheses(cfg)}
    for m_a in args.mass:
        (signal,) = workflow.plan_samples(cfg, run_dir / "samples", process="ee_to_eea", masses=[m_a])
        sig, sig_yields = measured_observables(signal.path, cfg)
        hypothesis = hypotheses[m_a]
        b, s = (hypothesis.passes(obs.m2_miss, obs.e_miss, obs.eta_miss)[2] for obs in (bkg, sig))
        offset_b = np.log(bkg.m_ee_tau[b] / bkg.m_ee[b])
        offset_s = np.log(sig.m_ee_tau[s] / sig.m_ee[s])
        print(f"m_a = {m_a:g} GeV: {args.background} {len(offset_b)} MC events, {bkg_yields[b].sum():.3g} expected")
        print(f"  {'offset':>15} {'MC events':>9} {'expected':>9} {'heaviest':>9} {'signal':>7}")
        for low, high in SLICES:
            in_b = (offset_b >= low) & (offset_b < high)
            in_s = (offset_s >= low) & (offset_s < high)
            y = bkg_yields[b][in_b]
            print(
                f"  {low:6.2f} to {high:5.2f} {in_b.sum():9d} {y.sum():9.2g} {y.max() if len(y) else 0.0:9.2g}"
                f" {sig_yields[s][in_s].sum() / sig_yields[s].sum():7.3f}"
            )
        margin, soft = hypothesis.kappa * missing_mass2_resolution(m_a), cfg.acceptance.energy_min
        beyond_b, beyond_s = (
            obs.m2_miss + margin < missing_mass2_bound(obs.e_miss, obs.eta_miss, cfg.acceptance, soft)
            for obs in (bkg, sig)
        )
        edges = eta_edges(cfg.histograms)
        print(
            f"  {'|eta*_miss|':>15} {'MC events':>9} {'expected':>9} {'heaviest':>9} {'signal':>7}"
            f" {'S beyond':>8} {'B beyond':>8}"
        )
        for low, high in zip(edges[:-1], edges[1:]):
            in_b = b[(np.abs(bkg.eta_miss[b]) >= low) & (np.abs(bkg.eta_miss[b]) < high)]
            in_s = s[(np.abs(sig.eta_miss[s]) >= low) & (np.abs(sig.eta_miss[s]) < high)]
            y = bkg_yields[in_b]
            print(
                f"  {low:6.2f} to {high:5.2f} {len(in_b):9d} {y.sum():9.2g} {y.max() if len(y) else 0.0:9.2g}"
                f" {sig_yields[in_s].sum() / sig_yields[s].sum():7.3f}"
                f" {sig_yields[in_s][beyond_s[in_s]].sum() / sig_yields[s].sum():8.3f}"
                f" {bkg_yields[in_b][beyond_b[in_b]].sum():8.2g}"
            )
        share_max = lost_pt_share_max(cfg.acceptance)
        x_b, x_s = (missing_pt_fraction(o.e_miss, o.m2_miss, o.eta_miss) / share_max for o in (bkg, sig))
        print(f"  {'x_T':>15} {'MC events':>9} {'expected':>9} {'effective':>9} {'signal':>7}")
        for low, high in zip(XT_EDGES[:-1], XT_EDGES[1:]):
            y = bkg_yields[b][(x_b[b] >= low) & (x_b[b] < high)]
            effective = y.sum() ** 2 / np.sum(y**2) if len(y) else 0.0
            in_s = (x_s[s] >= low) & (x_s[s] < high)
            print(
                f"  {low:6.2f} to {high:5.2f} {len(y):9d} {y.sum():9.2g} {effective:9.1f}"
                f" {sig_yields[s][in_s].sum() / sig_yields[s].sum():7.3f}"
            )


if __name__ == "__main__":
    main()
