"""The QED background after each mass's selection does not depend on its generation cuts.

Run: python benchmarks/qed_cuts.py [RUN_DIR] [--draws N]
RUN_DIR is the output folder of a default run (its signal samples and optimised cuts are used; default
benchmarks/.cache/run, made first if missing). The QED sample (backgrounds.qed2) is generated with the
configured generation cuts and with LOOSER ones (half the photon energy and the missing-energy cuts),
N draws each (default: the configuration's), into RUN_DIR/qed_cuts/, processed with the signal
samples, and its expected events after each mass's selection (the sum of its analysis plane) are
printed for both, with their MC errors and the ratio loose / configured in units of its error. The
loose cuts' cross section is larger (more phase space); the yields after the selections must agree.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.heap import retain_freed_memory
from alpfusion.processors.layouts import region_slice, weight_view
from alpfusion.samples.production import produce, up_to_date
from alpfusion.samples.rootio import read_metadata

LOOSER = 0.5  # times photon_energy_min and missing_energy_min


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default=str(Path(__file__).parent / ".cache" / "run"))
    parser.add_argument("--draws", type=int, help="QED draws per sample (default: backgrounds.qed2.events)")
    args = parser.parse_args()
    retain_freed_memory()
    cfg = load_config()
    run_dir = Path(args.run_dir)
    if not (run_dir / "cuts" / "cuts.yaml").exists():
        workflow.run(cfg, run_dir)
    cfg = workflow.with_cuts(cfg, run_dir / "cuts" / "cuts.yaml")
    qed = workflow.background_section(cfg, workflow.LOST_PHOTONS)
    variants = {
        "configured": cfg,
        "loose": cfg.replace(
            backgrounds={
                "qed2": {
                    "photon_energy_min": LOOSER * qed.photon_energy_min,
                    "missing_energy_min": LOOSER * qed.missing_energy_min,
                }
            }
        ),
    }
    signals = [job.path for job in workflow.plan_samples(cfg, run_dir / "samples", process="ee_to_eea")]
    yields = {}
    for name, variant in variants.items():
        (job,) = workflow.plan_samples(
            variant, run_dir / "qed_cuts" / name, process=workflow.LOST_PHOTONS, events=args.draws
        )
        if not up_to_date(job):
            produce(job)
        meta = read_metadata(job.path)
        print(f"{name}: cuts {meta['cuts']}; sigma = {meta['sigma_pb']:.1f} +- {meta['sigma_err_pb']:.1f} pb")
        result = workflow.process(variant, [*signals, job.path], run_dir / "qed_cuts" / f"{name}_histograms")
        for hyp in result.with_signal():
            view = weight_view(region_slice(result.histograms[workflow.LOST_PHOTONS]["analysis"], hyp.region))
            yields[name, hyp.m_a] = (float(np.sum(view.value)), float(np.sum(view.variance)))
    print(f"\n{'m_a':>5} {'configured':>11} {'error':>9} {'loose':>11} {'error':>9} {'loose/conf':>10} {'pull':>6}")
    for m_a in cfg.signal.masses:
        (a, var_a), (b, var_b) = yields["configured", m_a], yields["loose", m_a]
        pull = (b - a) / math.sqrt(var_a + var_b) if var_a + var_b > 0 else 0.0
        ratio = b / a if a > 0 else float("nan")
        print(f"{m_a:5g} {a:11.4g} {math.sqrt(var_a):9.2g} {b:11.4g} {math.sqrt(var_b):9.2g} {ratio:10.3f} {pull:6.2f}")


if __name__ == "__main__":
    main()
