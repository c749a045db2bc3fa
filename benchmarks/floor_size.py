"""How much the limits rest on the floors' size: every floor yield of a run's models scaled by 1/2 and
by 2 (``statistics.floor_scale``), the limits set again from the run's histograms and cuts.

Run: python benchmarks/floor_size.py [RUN_DIR] [--scales K ...] [--cls-method M] [--histograms FILE]
RUN_DIR is the output folder of a default run (``alpfusion run``; default benchmarks/.cache/run, made
first if missing); its histograms (or FILE, for instance those of a larger background sample that
``benchmarks/background_convergence.py`` made with the run's cuts) and optimised cuts are used, nothing
is generated or processed. The limits of each scale K (0.5 and 2 unless given; 1 is always set) go to
floor_size/xK/ beside the histograms' folder. M is the
CLs method (asymptotic by default: the floors' pull on the median; toys as the run makes them).
Prints per mass point the share of Lambda from floored bins at K = 1 and g(Lambda), g_lambda_bound (the
tighter of it and the coarse groups' limit, which has no floors), g(CLs) and g(CLs) with infinite MC at
each K over the same at K = 1: a floor that stands for one MC event of its neighbourhood is a result
where halving or doubling it moves the limit by less than 10% (physics.md section 6).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.heap import retain_freed_memory
from alpfusion.parallel import LocalPool
from alpfusion.processors.results import load_result

SCALES = (0.5, 2.0)
"""Factors on every floor yield, unless --scales gives others."""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default=str(Path(__file__).parent / ".cache" / "run"))
    parser.add_argument("--scales", type=float, nargs="+", default=SCALES, help="factors on every floor yield")
    parser.add_argument("--cls-method", choices=("asymptotic", "toys"), default="asymptotic")
    parser.add_argument("--histograms", help="a histograms.npz made with the run's cuts (default: the run's)")
    args = parser.parse_args()
    retain_freed_memory()  # as the command line does for its own process
    run_dir = Path(args.run_dir)
    if not (run_dir / "cuts" / "cuts.yaml").exists():
        workflow.run(load_config(), run_dir)
    cfg = workflow.with_cuts(load_config(), run_dir / "cuts" / "cuts.yaml")
    cfg = cfg.replace(statistics={"cls_method": args.cls_method})
    histograms = Path(args.histograms or run_dir / "histograms" / "histograms.npz")
    result = load_result(histograms)
    pool = LocalPool(2)
    scales = [1.0, *sorted(k for k in args.scales if k != 1.0)]
    tables = {
        k: workflow.set_limits(
            result,
            cfg.replace(statistics={"floor_scale": k}),
            histograms.parent.parent / "floor_size" / f"x{k:g}",
            pool=pool,
        ).rows
        for k in scales
    }
    print(f"empty bins: {cfg.statistics.empty_bins} (reach {cfg.statistics.floor_reach}); CLs: {args.cls_method}")
    head = " ".join(
        f"{'g(L) x' + format(k, 'g'):>10} {'bound x' + format(k, 'g'):>10} {'g(CLs) x' + format(k, 'g'):>10}"
        f" {'inf x' + format(k, 'g'):>8}"
        for k in scales[1:]
    )
    print(f"{'m_a':>5} {'L_floor':>7} {'g(L) x1':>10} {'bound x1':>10} {'g(CLs) x1':>10} {'g(CLs,inf)':>10} {head}")
    for one, *others in zip(*tables.values()):
        cells = " ".join(
            f"{r.g_lambda / one.g_lambda:10.3f} {r.g_lambda_bound / one.g_lambda_bound:10.3f}"
            f" {r.g_cls / one.g_cls:10.3f} {r.g_cls_infinite_mc / one.g_cls_infinite_mc:8.3f}"
            for r in others
        )
        print(
            f"{one.m_a:5.3g} {one.lambda_floor_fraction:7.3f} {one.g_lambda:10.3e} {one.g_lambda_bound:10.3e}"
            f" {one.g_cls:10.3e} {one.g_cls_infinite_mc:10.3e} {cells}"
        )


if __name__ == "__main__":
    main()
