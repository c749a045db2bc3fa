"""The QED MC of several samples in the same signal-rich bins: do samples of other seeds disagree about
the QED where the signal is, or only about bins that their own fluctuations pick?

Run: python benchmarks/qed_signal_bins.py [RUN_DIR] [--samples FILE ...] [--masses M ...] [--share F]
RUN_DIR is the output folder of a default run (``alpfusion run``; default output): its histograms and
optimised cuts fix, per mass, the signal bins that carry the share F (default 0.8) of Lambda at the
run's limit (its models, ``models.workspace.mass_point_models``). Each QED sample FILE (default
RUN_DIR/samples/ee_to_eegg.root and every RUN_DIR/replicas/qed2_*/ee_to_eegg.root of ``alpfusion
replicas --background ee_to_eegg``) is put through the detector model once (the first of the
processor's smearings, ``processors.events.measured_events``) and the selection of each mass: its
expected QED events in those bins, its MC events there and their effective number (sum y)^2 / sum y^2.
Then, per mass, the samples' mean and relative standard deviation. Samples that agree in fixed bins
while their limits differ disagree only in the bins that each sample's own S/B order picks, those where
its QED fluctuated low (docs/statistics.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.fits.poisson import lambda_carriers
from alpfusion.models.workspace import RegionModel, mass_point_models
from alpfusion.observables import compute_observables
from alpfusion.processors.events import measured_events
from alpfusion.processors.layouts import eta_edges, mass_edges
from alpfusion.processors.results import load_result
from alpfusion.processors.selection import mass_hypotheses

MASSES = (6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5)
"""GeV: where the limits depend on the QED sample's seed."""


def lambda_bins(model: RegionModel, share: float) -> np.ndarray:
    """Flat plane indices of the fewest signal bins that carry ``share`` of Lambda at the model's
    limit (``fits.poisson.lambda_carriers``)."""
    return model.bins[lambda_carriers(model.signal.yields, model.total_background, share)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default="output")
    parser.add_argument("--samples", nargs="+")
    parser.add_argument("--masses", type=float, nargs="+", default=MASSES)
    parser.add_argument("--share", type=float, default=0.8)
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    samples = args.samples or [
        run_dir / "samples" / "ee_to_eegg.root",
        *sorted(run_dir.glob("replicas/qed2_*/ee_to_eegg.root")),
    ]
    cfg = workflow.with_cuts(load_config(), run_dir / "cuts" / "cuts.yaml")
    models = {m.hypothesis.m_a: m.full for m in mass_point_models(load_result(run_dir / "histograms"), cfg.statistics)}
    hypotheses = {h.m_a: h for h in mass_hypotheses(cfg) if h.m_a in args.masses}
    bins = {m_a: lambda_bins(models[m_a], args.share) for m_a in hypotheses}
    edges, slices = mass_edges(cfg.histograms), eta_edges(cfg.histograms)
    n = len(edges) - 1
    print(f"QED in the bins carrying {args.share:.0%} of Lambda in {run_dir} (expected events / MC events / N_eff)")
    print("m_a (GeV):".ljust(40) + "".join(f"{m_a:>27}" for m_a in hypotheses))
    print("bins:".ljust(40) + "".join(f"{len(bins[m_a]):>27}" for m_a in hypotheses))
    totals = []
    for path in samples:
        events = measured_events(path, cfg)
        obs = compute_observables(events.e_minus, events.e_plus, cfg.beam.sqrt_s, cfg.observables.cphi_estimator)
        plane = (np.searchsorted(slices, np.abs(obs.eta_miss), side="right") - 1) * n * n
        plane += (np.searchsorted(edges, obs.m_ee, side="right") - 1) * n
        plane += np.searchsorted(edges, np.abs(obs.m_ee_tau), side="right") - 1
        row, cells = [], []
        for m_a, hypothesis in hypotheses.items():
            selected = hypothesis.passes(obs.m2_miss, obs.e_miss, obs.eta_miss)[-1]
            y = events.yields[selected][np.isin(plane[selected], bins[m_a])]
            n_eff = y.sum() ** 2 / np.sum(y**2) if len(y) else 0.0
            row.append(y.sum())
            cells.append(f"{y.sum():.4g} / {len(y)} / {n_eff:.1f}")
        totals.append(row)
        print(str(path)[-39:].ljust(40) + "".join(f"{c:>27}" for c in cells))
    mean = np.mean(totals, axis=0)
    spread = np.std(totals, axis=0, ddof=1) / mean if len(samples) > 1 else np.zeros(len(hypotheses))
    print("mean / relative std:".ljust(40) + "".join(f"{f'{m:.4g} / {r:.1%}':>27}" for m, r in zip(mean, spread)))


if __name__ == "__main__":
    main()
