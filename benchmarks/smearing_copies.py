"""Does it pay to smear every MC event several times? Limits and MC content against detector.smearings.

Run: python benchmarks/smearing_copies.py [RUN_DIR] [--smearings K ...] [--mass M ...]
RUN_DIR is the output folder of a default run (default benchmarks/.cache/run, made first if missing);
its samples and optimised cuts are processed again with ``detector.smearings`` = K (default 1 4 16)
into RUN_DIR/smearings/K/, the cuts held. M are the masses printed (default 1, 3, 6, 9 GeV).

Per mass and K it prints the Lambda = 4 coupling (the configured empty-bin treatment) and the coarse
one (no treatment), the share of Lambda from bins without background MC, and the effective number of
QED MC events in the signal-rich bins (the fewest holding 90% of the selected signal) with the share
of the signal in those of them without QED MC; and the wall seconds of the processing. Several
smearings pay where the background in the signal's bins comes from events that the smearing moves in:
there they raise the effective MC at the cost of processing only, where the background comes from the
kinematics they do not (docs/statistics.md, "Several smearings").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.fits.poisson import coupling_from_mu, mu_at_lambda, poisson_lambda
from alpfusion.models.workspace import mass_point_models

SIGNAL_SHARE = 0.9


def signal_rich(signal: np.ndarray) -> np.ndarray:
    """The fewest signal bins holding SIGNAL_SHARE of the signal (a boolean mask over them)."""
    order = np.argsort(signal)[::-1]
    n = int(np.searchsorted(np.cumsum(signal[order]), SIGNAL_SHARE * signal.sum())) + 1
    mask = np.zeros(signal.size, dtype=bool)
    mask[order[:n]] = True
    return mask


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default=str(Path(__file__).parent / ".cache" / "run"))
    parser.add_argument("--smearings", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--mass", type=float, nargs="+", default=[1.0, 3.0, 6.0, 9.0])
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    if not (run_dir / "cuts" / "cuts.yaml").exists():
        workflow.run(load_config(), run_dir)
    cfg = workflow.with_cuts(load_config(), run_dir / "cuts" / "cuts.yaml")
    samples = sorted(str(path) for path in (run_dir / "samples").glob("*.root"))
    print(f"{'K':>3} {'m_a':>4} {'g_lambda':>9} {'g_coarse':>9} {'L empty':>7} {'N_eff QED':>9} {'S no QED':>8}")
    for smearings in args.smearings:
        start = time.perf_counter()
        variant = cfg.replace(detector={"smearings": smearings})
        result = workflow.process(variant, samples, run_dir / "smearings" / str(smearings))
        seconds = time.perf_counter() - start
        for point in mass_point_models(result, cfg.statistics):
            if not any(abs(point.hypothesis.m_a - m) < 1e-9 for m in args.mass):
                continue
            full = point.full
            s, b = full.signal.yields, full.total_background
            mu = mu_at_lambda(s, b)
            empty_share = poisson_lambda(mu * s[full.empty], b[full.empty]) / poisson_lambda(mu * s, b)
            qed = full.backgrounds[workflow.LOST_PHOTONS]
            rich = signal_rich(s)
            n_eff = qed.effective_events[rich].sum()
            no_qed = rich & (qed.variances == 0)
            coarse = point.coarse
            g_coarse = coupling_from_mu(mu_at_lambda(coarse.signal.yields, coarse.total_background), cfg.signal.g_ref)
            print(
                f"{smearings:3d} {point.hypothesis.m_a:4g} {coupling_from_mu(mu, cfg.signal.g_ref):9.3g}"
                f" {g_coarse:9.3g} {empty_share:7.2f} {n_eff:9.1f} {s[no_qed].sum() / s.sum():8.1%}"
            )
        print(f"    processing {seconds:.1f} s wall")


if __name__ == "__main__":
    main()
