"""The QED background after each mass's selection does not depend on its generation cuts.

Run: python benchmarks/qed_cuts.py [RUN_DIR] [--draws N]
RUN_DIR is the output folder of a default run (its signal samples and optimised cuts are used; default
benchmarks/.cache/run, made first if missing). The QED sample (backgrounds.qed2) is generated with the
configured generation cuts and with LOOSER ones (half the photon energy and the missing-energy cuts),
N draws each (default: the configuration's), into RUN_DIR/qed_cuts/, processed with the signal
samples, and its expected events after each mass's selection (the sum of its analysis plane) are
printed for both, with their MC errors and the ratio loose / configured in units of its error. The
loose cuts' cross section is larger (more phase space); the yields after the selections must agree.

Where they do not, a tree-level two-photon sample depends on its photon-energy cut because a second,
soft photon rides on e+e- -> e+e- gamma with one hard photon lost (``ee_to_eeg``): per event, a photon
of energy between E_min / 2 and E_min, invisible at any angle (below the acceptance's 0.25 GeV), is
emitted with probability beta ln 2 (``alpfusion.samples.qed.soft_photon_exponent``, the eikonal factor
of the four leptons integrated over the photon's directions) and barely moves the event. The one-photon
sample (M draws, default a quarter of N) is generated with the configured cuts on its photon, and for
each mass the predicted change, ln 2 times the sum of y beta over its events after the selection (one
smearing per event, ``measured_events``), is printed beside the measured one, loose - configured.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.constants import M_ELECTRON
from alpfusion.heap import retain_freed_memory
from alpfusion.observables import compute_observables
from alpfusion.processors.events import measured_events
from alpfusion.processors.layouts import region_slice, weight_view
from alpfusion.processors.selection import mass_hypotheses
from alpfusion.samples.phasespace import beams
from alpfusion.samples.production import produce, up_to_date
from alpfusion.samples.qed import soft_photon_exponent
from alpfusion.samples.rootio import read_metadata, read_sample

LOOSER = 0.5  # times photon_energy_min and missing_energy_min


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default=str(Path(__file__).parent / ".cache" / "run"))
    parser.add_argument("--draws", type=int, help="QED draws per sample (default: backgrounds.qed2.events)")
    parser.add_argument("--one-photon-draws", type=int, help="ee_to_eeg draws (default: a quarter of --draws)")
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
    one_photon = args.one_photon_draws or (args.draws or qed.events) // 4
    predicted = soft_photon_change(cfg, run_dir / "qed_cuts" / "one_photon", one_photon, math.log(1 / LOOSER))
    print(
        f"\n{'m_a':>5} {'configured':>11} {'error':>9} {'loose':>11} {'error':>9} {'loose/conf':>10} {'pull':>6}"
        f" {'change':>10} {'error':>9} {'predicted':>10} {'error':>9} {'ee_to_eeg':>10}"
    )
    for m_a in cfg.signal.masses:
        (a, var_a), (b, var_b) = yields["configured", m_a], yields["loose", m_a]
        pull = (b - a) / math.sqrt(var_a + var_b) if var_a + var_b > 0 else 0.0
        ratio = b / a if a > 0 else float("nan")
        change, change_err, one = predicted[m_a]
        print(
            f"{m_a:5g} {a:11.4g} {math.sqrt(var_a):9.2g} {b:11.4g} {math.sqrt(var_b):9.2g} {ratio:10.3f} {pull:6.2f}"
            f" {b - a:10.3g} {math.sqrt(var_a + var_b):9.2g} {change:10.3g} {change_err:9.2g} {one:10.3g}"
        )


def soft_photon_change(cfg, folder: Path, draws: int, log_ratio: float) -> dict[float, tuple[float, float, float]]:
    """Per mass: (the predicted change of the two-photon yield after the selection when the photon-energy
    cut falls by the factor exp(log_ratio), its MC error, the one-photon yield after the selection), from
    an ee_to_eeg sample of ``draws`` draws generated (or reused) in ``folder``."""
    (job,) = workflow.plan_samples(cfg, folder, process=workflow.LOST_PHOTON, events=draws)
    if not up_to_date(job):
        produce(job)
    arrays, meta = read_sample(job.path)
    print(f"ee_to_eeg: cuts {meta['cuts']}; sigma = {meta['sigma_pb']:.1f} +- {meta['sigma_err_pb']:.1f} pb")
    events = measured_events(job.path, cfg)
    true = {
        p: np.column_stack([arrays[f"{p}_{c}"][events.rows] for c in ("E", "px", "py", "pz")])
        for p in ("e_minus", "e_plus")
    }
    p1, p2 = beams(cfg.beam.sqrt_s, M_ELECTRON, len(events.rows))
    beta = soft_photon_exponent(
        p1, p2, true["e_minus"], true["e_plus"], alpha=cfg.beam.alpha_value, electron_mass=M_ELECTRON
    )
    obs = compute_observables(events.e_minus, events.e_plus, cfg.beam.sqrt_s, cfg.observables.cphi_estimator)
    out = {}
    for hypothesis in mass_hypotheses(cfg):
        selected = hypothesis.passes(obs.m2_miss, obs.e_miss, obs.eta_miss)[-1]
        emitted = log_ratio * events.yields[selected] * beta[selected]
        out[hypothesis.m_a] = (emitted.sum(), math.sqrt(np.sum(emitted**2)), events.yields[selected].sum())
    return out


if __name__ == "__main__":
    main()
