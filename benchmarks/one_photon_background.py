"""What the one-lost-photon background, e+e- -> e+e- gamma (``ee_to_eeg``), not in the run, would do to
the limits.

Run: python benchmarks/one_photon_background.py [RUN_DIR] [--draws N]
RUN_DIR is the output folder of a default run (its samples and optimised cuts are used; default
benchmarks/.cache/run, made first if missing). The one-photon sample is generated with the cuts of
backgrounds.qed2 on its photon (N draws, default a quarter of the two-photon sample's) into
RUN_DIR/one_photon/, processed with every sample of the run, and the limits set with it as a
background of its own. Per mass it prints the one-photon background after the selection, in all and in
each |eta*_miss| slice of the analysis plane (its missing momentum is the lost photon's, beyond the
polar acceptance, |eta*_miss| >= 1.64 before the smearing), and g(Lambda) and g(CLs) with it over those
of the run without it. At tree level the sample has no virtual correction, which with the soft photons
of the two-photon sample would lower it (docs/statistics.md): its effect here is an upper estimate.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.fits.scan import read_rows
from alpfusion.heap import retain_freed_memory
from alpfusion.parallel import LocalPool
from alpfusion.processors.layouts import eta_edges, region_slice, weight_view
from alpfusion.samples.production import produce, up_to_date


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default=str(Path(__file__).parent / ".cache" / "run"))
    parser.add_argument("--draws", type=int, help="ee_to_eeg draws (default: a quarter of backgrounds.qed2.events)")
    args = parser.parse_args()
    retain_freed_memory()
    run_dir = Path(args.run_dir)
    if not (run_dir / "cuts" / "cuts.yaml").exists():
        workflow.run(load_config(), run_dir)
    cfg = workflow.with_cuts(load_config(), run_dir / "cuts" / "cuts.yaml")
    draws = args.draws or workflow.background_section(cfg, workflow.LOST_PHOTONS).events // 4
    work = run_dir / "one_photon"
    (job,) = workflow.plan_samples(cfg, work, process=workflow.LOST_PHOTON, events=draws)
    if not up_to_date(job):
        produce(job)
    samples = [j.path for j in workflow.plan_samples(cfg, run_dir / "samples")]
    result = workflow.process(cfg, [*samples, job.path], work / "histograms")
    with_it = workflow.set_limits(result, cfg, work / "limits", pool=LocalPool(2)).rows
    without = {row.m_a: row for row in read_rows(run_dir / "limits" / "limits.csv")}

    edges = eta_edges(cfg.histograms)
    slices = " ".join(f"{f'{lo:g}-{hi:g}':>9}" for lo, hi in zip(edges[:-1], edges[1:]))
    print(f"ee_to_eeg: {draws} draws; expected events after the selection, in all and per |eta*_miss| slice")
    print(f"{'m_a':>5} {'ee_to_eeg':>9} {slices} {'other B':>9} {'g(L) with/without':>18} {'g(CLs) with/without':>19}")
    for row in with_it:
        region = next(h.region for h in result.hypotheses if abs(h.m_a - row.m_a) < 1e-9)
        plane = region_slice(result.histograms[workflow.LOST_PHOTON]["analysis"], region)
        per_slice = np.asarray(weight_view(plane).value).reshape(len(edges) - 1, -1).sum(axis=1)
        cells = " ".join(f"{y:9.2g}" for y in per_slice)
        other = without[row.m_a].background
        print(
            f"{row.m_a:5g} {per_slice.sum():9.2g} {cells} {other:9.2g}"
            f" {row.g_lambda / without[row.m_a].g_lambda:18.3f} {row.g_cls / without[row.m_a].g_cls:19.3f}"
        )


if __name__ == "__main__":
    main()
