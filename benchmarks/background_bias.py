"""Effective background MC events per CPU-second where the signal is, without and with the generation
bias, and (tau pairs) where the tau pairs end in the (m_ee, |m_ee^tau|) plane after each mass's selection.

Run: python benchmarks/background_bias.py [RUN_DIR] [--process P] [--draws N] [--bias JSON]
P is ee_to_tautau (the tau pairs, default) or ee_to_eegg (the QED background, two lost photons).
RUN_DIR is the output folder of a default run (its signal samples and optimised cuts are used; default
benchmarks/.cache/run, made first if missing). Two samples of the background of N draws (default: the
configuration's) are generated in this process, one without a bias (with its configured vegas settings,
or generation.vegas), one as configured (backgrounds.<section>.bias and .vegas; where the configuration
has no bias, the bias given as JSON or else the study bias STUDY_BIAS below, with STUDY_VEGAS), and
processed with the signal samples.

Printed per sample and mass (MASSES: m_a = 1, 6 and 9 GeV for the tau pairs, 0.1, 1, 6 and 9 GeV for the
QED background): the signal-rich bins are the fewest (m_ee, |m_ee^tau|) bins that hold 90% of the
selected signal; in them, the effective number of background MC events N_eff = sum over bins of
(sum w)^2 / sum w^2 (bin by bin, so that a bias, which gives different bins different weights on
purpose, is not penalised for it), the CPU seconds of the generation (training included), N_eff per
CPU-second and per CPU-hour, the share of the signal in bins without any MC event of this background
and, over these, the signal-weighted mean of their floor (the yield of one MC event of the
neighbourhood, ``alpfusion.models.workspace.nearest_mc``). Then the ceiling of any bias: a bin's N_eff
is at most the number of MC entries in it, so N_eff summed over any bins is at most the draws times
``detector.smearings``, and N_eff per CPU-second at most that over the CPU seconds of the cheaper of
the two generations (a bias adds to the cost of a draw); the gain over the unbiased sample at each
mass, and the most any bias could give there.

Then, for the tau pairs, from the unbiased sample (the shipped default's), the tau-pair edge mass by
mass: the lowest and the highest signed offset ln(|m_ee^tau| / m_ee) of the bin centres of the bins
holding tau-pair MC after the selection (a 2% bin is 0.0198 wide; the diagonal bins sit at 0), the
expected tau-pair events and the effective MC events in the bins above the diagonal, the mean yield of
one MC event in the diagonal bins, and the share of the signal above the highest offset (histograms
hold expected events at the configured luminosity).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.heap import retain_freed_memory
from alpfusion.models.workspace import nearest_mc
from alpfusion.observables import diagonal_side
from alpfusion.processors.layouts import region_slice, weight_view
from alpfusion.samples.production import produce

SIGNAL_SHARE = 0.9
MASSES = {workflow.TAU_PAIR: (1.0, 6.0, 9.0), workflow.LOST_PHOTONS: (0.1, 1.0, 6.0, 9.0)}
STUDY_BIAS = {
    workflow.TAU_PAIR: {  # towards small m2_miss, above the diagonal and large m_ee: the low-mass edge
        "factors": [
            {"observable": "m2_miss", "points": [[0.0, 1e3], [3.0, 1e3], [12.0, 30.0], [40.0, 3.0], [60.0, 1.0]]},
            {"observable": "diagonal_side", "points": [[-0.05, 1.0], [0.0, 100.0], [0.05, 1e4]]},
            {"observable": "m_ee", "points": [[2.0, 1.0], [4.0, 10.0], [6.0, 30.0]]},
        ]
    },
    workflow.LOST_PHOTONS: {  # towards large, central missing energy (where the selections look)
        "factors": [
            {"observable": "abs_eta_miss", "points": [[1.0, 30.0], [3.0, 1.0]]},
            {"observable": "e_miss", "points": [[1.0, 1.0], [3.0, 10.0]]},
        ]
    },
}
STUDY_VEGAS = {
    workflow.TAU_PAIR: {"nitn": 12, "neval": 50000, "ninc": 400, "alpha": 0.5},
    workflow.LOST_PHOTONS: {"nitn": 8, "neval": 8000, "ninc": 200, "alpha": 0.5},
}


def plane(result, sample: str, region: str):
    """(values, variances, signed offsets ln(|m_ee^tau| / m_ee) of the bin centres) of a sample's
    analysis planes (one per |eta*_miss| slice) in a region."""
    h = region_slice(result.histograms[sample]["analysis"], region)
    view = weight_view(h)
    centres = [np.sqrt(edges[:-1] * edges[1:]) for edges in (h.axes["m_ee"].edges, h.axes["m_ee_tau"].edges)]
    side = np.broadcast_to(diagonal_side(centres[0][:, None], centres[1][None, :]), view.value.shape)
    return np.asarray(view.value), np.asarray(view.variance), side


def signal_rich(signal: np.ndarray) -> np.ndarray:
    """The fewest bins holding SIGNAL_SHARE of the signal (a boolean mask)."""
    order = np.argsort(signal, axis=None)[::-1]
    cumulative = np.cumsum(signal.flat[order])
    n = int(np.searchsorted(cumulative, SIGNAL_SHARE * cumulative[-1])) + 1
    mask = np.zeros(signal.size, dtype=bool)
    mask[order[:n]] = True
    return mask.reshape(signal.shape)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default=str(Path(__file__).parent / ".cache" / "run"))
    parser.add_argument("--process", choices=tuple(workflow.BACKGROUNDS), default=workflow.TAU_PAIR)
    parser.add_argument("--draws", type=int, help="draws (default: the configuration's)")
    parser.add_argument("--bias", type=json.loads, help="a backgrounds.<section>.bias as JSON (default: STUDY_BIAS)")
    args = parser.parse_args()
    retain_freed_memory()
    process = args.process
    cfg = load_config()
    run_dir = Path(args.run_dir)
    if not (run_dir / "cuts" / "cuts.yaml").exists():
        workflow.run(cfg, run_dir)
    cfg = workflow.with_cuts(cfg, run_dir / "cuts" / "cuts.yaml")
    section = workflow.BACKGROUNDS[process]
    configured = workflow.background_section(cfg, process)
    draws = args.draws or configured.events
    variants = {
        "unbiased": cfg.replace(backgrounds={section: {"bias": None}}),
        "biased": cfg
        if configured.bias is not None
        else cfg.replace(
            backgrounds={section: {"bias": args.bias or STUDY_BIAS[process], "vegas": STUDY_VEGAS[process]}}
        ),
    }
    signals = [job.path for job in workflow.plan_samples(cfg, run_dir / "samples", process="ee_to_eea")]
    results = {}
    for name, variant in variants.items():
        folder = run_dir / "bias" / process
        (job,) = workflow.plan_samples(variant, folder / name, process=process, events=draws)
        start = time.process_time()
        produce(job)
        cpu = time.process_time() - start
        result = workflow.process(variant, [*signals, job.path], folder / f"{name}_histograms")
        results[name] = (result, cpu)

    print(f"{process} draws: {draws}; signal-rich bins: the fewest holding {SIGNAL_SHARE:.0%} of the selected signal")
    print(
        f"{'sample':>9} {'m_a':>4} {'bins':>5} {'N_eff':>9} {'CPU s':>6} {'N_eff/s':>9} {'N_eff/h':>9}"
        f" {'S in empty':>10} {'floor':>9}"
    )
    rates = {}
    for name, (result, cpu) in results.items():
        for m_a in MASSES[process]:
            region = next(h.region for h in result.hypotheses if abs(h.m_a - m_a) < 1e-9)
            signal, _, _ = plane(result, result.signal_sample(region), region)
            tau, tau_var, _ = plane(result, process, region)
            rich = signal_rich(signal)
            filled = rich & (tau_var > 0)
            n_eff = np.sum(tau[filled] ** 2 / tau_var[filled])
            empty = rich & (tau_var == 0)
            _, floor = nearest_mc(tau, tau_var, np.flatnonzero(empty))
            mean_floor = np.sum(floor * signal[empty]) / signal[empty].sum() if empty.any() else 0.0
            rates[name, m_a] = n_eff / cpu
            print(
                f"{name:>9} {m_a:4g} {rich.sum():5d} {n_eff:9.1f} {cpu:6.1f} {n_eff / cpu:9.3g}"
                f" {3600 * n_eff / cpu:9.3g}"
                f" {signal[empty].sum() / signal.sum():10.1%} {mean_floor:9.3g}"
            )
    # N_eff of a bin is at most its MC entries, one per smearing of an event; the cheaper generation's rate
    ceiling = max(cfg.detector.smearings * draws / cpu for _, cpu in results.values())
    print(f"no bias gives more than {ceiling:.3g} N_eff per CPU-second: the smeared draws per CPU-second")
    for m_a in MASSES[process]:
        before = rates["unbiased", m_a]
        gain, most = (rates["biased", m_a] / before, ceiling / before) if before > 0 else (float("inf"),) * 2
        print(
            f"m_a = {m_a:g} GeV: N_eff per CPU-second in the signal-rich bins x {gain:.3g} with the bias"
            f" (x {most:.3g} at most)"
        )

    if process != workflow.TAU_PAIR:
        return
    result, _ = results["unbiased"]
    print("\nwhere the tau pairs end after the selection (unbiased sample; signed offsets of bin centres)")
    print(f"{'m_a':>5} {'lowest':>7} {'highest':>7} {'B above':>9} {'MC above':>8} {'w diagonal':>10} {'S beyond':>8}")
    for hyp in result.with_signal():
        signal, _, side = plane(result, result.signal_sample(hyp.region), hyp.region)
        tau, tau_var, _ = plane(result, workflow.TAU_PAIR, hyp.region)
        filled = tau_var > 0
        if not filled.any():
            print(f"{hyp.m_a:5g} no tau-pair MC after the selection")
            continue
        lowest, highest = side[filled].min(), side[filled].max()
        above = filled & (side > 0.01)
        diagonal = filled & (np.abs(side) < 0.01)
        n_above = np.sum(tau[above] ** 2 / tau_var[above])
        per_event = tau_var[diagonal].sum() / tau[diagonal].sum() if diagonal.any() else float("nan")
        print(
            f"{hyp.m_a:5g} {lowest:7.3f} {highest:7.3f} {tau[above].sum():9.3g} {n_above:8.1f} {per_event:10.3g}"
            f" {signal[side > highest].sum() / signal.sum():8.1%}"
        )


if __name__ == "__main__":
    main()
