"""How the limits move as the background MC grows: 1/4, 1/2, 1 and 2 times the default draws of one
background (the tau pairs, or the QED background), the others held as the run made them.

Run: python benchmarks/background_convergence.py [RUN_DIR] [--background P] [--config FILE]
         [--empty-bins T] [--floor-reach R] [--estimator E] [--multiples K ...] [--plot FILE]
RUN_DIR is the output folder of a default run (``alpfusion run``; its signal samples, its other
background samples and its optimised cuts are used; default benchmarks/.cache/run, made first if
missing). P is ee_to_tautau (default) or ee_to_eegg. FILE overlays the default configuration (for
instance a bias). The background P is generated with backgrounds.<section>.events x K draws (K: 1/4,
1/2, 1 and 2 unless given) into RUN_DIR/convergence/ (kept for reruns, one folder per sample
identity); every size is processed with the signal samples and the other backgrounds and its limits
set (``alpfusion.workflow.replica_limits``).
Prints g(Lambda) (with its MC-statistical error), the tighter of it and the coarse limit
(g_lambda_bound, ``fits.poisson.lambda_bound``), g(CLs) (with its MC-statistical error), g(CLs) with
infinite MC and the CLs median as an upper bound like g_lambda_bound (g_cls_bound) per mass point for
each size, the ratio of the largest sample's limits to the next
largest's (and, "predicted", the ratio of g(CLs) that the next largest's MC variance ratio w alone gives,
`alpfusion.fits.scan.mc_growth_factor`: w sums every background's MC variance, so
the prediction holds where the varied background carries it, not for the tau pairs above 6 GeV, where the
QED's MC sets w), the share of Lambda from bins without
background MC and from those of them with a floor, and the ratio of g(Lambda) of the largest sample to
the same without any floor (empty bins background-free): a trustworthy limit moves by less than 10%
when the MC doubles, and so does it when the floor goes. With --plot FILE it also draws the limits from
6 GeV on over the largest sample's, versus the draws (``alpfusion.plotting.convergence_figure``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.fits.scan import mc_growth_factor, mc_variance_ratio
from alpfusion.heap import retain_freed_memory
from alpfusion.parallel import LocalPool
from alpfusion.plotting import convergence_figure, save_figure, styled

MULTIPLES = (0.25, 0.5, 1.0, 2.0)
"""The sample sizes, in units of the configured draws, unless --multiples gives others."""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default=str(Path(__file__).parent / ".cache" / "run"))
    parser.add_argument("--background", choices=tuple(workflow.BACKGROUNDS), default=workflow.TAU_PAIR)
    parser.add_argument("--config", help="a configuration file overlaid on the default")
    parser.add_argument("--empty-bins", choices=("none", "floor", "smooth"))
    parser.add_argument("--floor-reach", type=int, help="statistics.floor_reach (bins)")
    parser.add_argument("--estimator", help="observables.cphi_estimator (default: the configuration's)")
    parser.add_argument("--multiples", type=float, nargs="+", default=MULTIPLES, help="sizes / configured draws")
    parser.add_argument("--plot", help="also draw the limits over the largest sample's into this file (png, pdf)")
    args = parser.parse_args()
    retain_freed_memory()  # as the command line does for its own process
    run_dir = Path(args.run_dir)
    if not (run_dir / "cuts" / "cuts.yaml").exists():
        workflow.run(load_config(), run_dir)
    cfg = workflow.with_cuts(load_config(args.config), run_dir / "cuts" / "cuts.yaml")
    if args.empty_bins:
        cfg = cfg.replace(statistics={"empty_bins": args.empty_bins})
    if args.floor_reach is not None:
        cfg = cfg.replace(statistics={"floor_reach": args.floor_reach})
    if args.estimator:
        cfg = cfg.replace(observables={"cphi_estimator": args.estimator})
        if args.estimator != "tau_like":  # the tau pairs end at the diagonal with tau_like only
            cfg = cfg.replace(statistics={"edges": {workflow.TAU_PAIR: None}})
    varied = args.background
    fixed = [job.path for job in workflow.plan_samples(cfg, run_dir / "samples") if job.label != varied]
    full = workflow.background_section(cfg, varied).events
    multiples = sorted(args.multiples)
    if len(multiples) < 2:
        parser.error("--multiples needs at least two sizes")
    sizes = [int(full * k) for k in multiples]
    bias = workflow.background_section(cfg, varied).bias
    (sample,) = workflow.plan_samples(cfg, run_dir, process=varied)  # its key names the folder
    work = run_dir / "convergence" / sample.key[:12]
    pool = LocalPool(2)
    seed = cfg.generation.seed
    replicas = {
        n: workflow.replica_limits(cfg, fixed, work, events=n, seed=seed, background=varied, pool=pool) for n in sizes
    }
    tables = {n: rows for n, (_, rows) in replicas.items()}
    largest = replicas[sizes[-1]][0]
    no_floor = cfg.replace(statistics={"empty_bins": "none"})
    free = workflow.set_limits(largest, no_floor, work / "limits_no_floor", pool=pool).rows
    print(
        f"empty bins: {cfg.statistics.empty_bins} (reach {cfg.statistics.floor_reach}, edges "
        f"{cfg.statistics.edges}); c_phi estimator: "
        f"{cfg.observables.cphi_estimator}; {varied} bias: {bias}; draws {', '.join(map(str, sizes))}"
    )
    head = " ".join(
        f"{'g(L) x' + format(k, 'g'):>11} {'err':>5} {'bound':>9} {'g(CLs)':>9} {'err':>5} {'g(CLs,inf)':>10}"
        f" {'CLs bnd':>9}"
        for k in multiples
    )
    step = f"{multiples[-1]:g}x/{multiples[-2]:g}x"
    print(
        f"{'m_a':>5} {head} {'L ' + step:>10} {'bound ' + step:>12} {'CLs ' + step:>10} {'predicted':>9}"
        f" {'inf ' + step:>10} {'CLs bnd ' + step:>14}"
        f" {'L_empty':>7} {'L_floor':>7} {'L/no floor':>10}"
    )
    for *rows, unfloored in zip(*tables.values(), free):
        cells = " ".join(
            f"{r.g_lambda:11.3e} {r.g_lambda_mc_error / r.g_lambda:5.1%} {r.g_lambda_bound:9.3e}"
            f" {r.g_cls:9.2e} {r.g_cls_mc_error / r.g_cls:5.1%} {r.g_cls_infinite_mc:10.3e} {r.g_cls_bound:9.3e}"
            for r in rows
        )
        one, two = rows[-2:]
        w = mc_variance_ratio(one.g_cls, one.g_cls_infinite_mc)
        predicted = mc_growth_factor(w, multiples[-1] / multiples[-2])
        print(
            f"{rows[0].m_a:5.3g} {cells} {two.g_lambda / one.g_lambda:10.3f}"
            f" {two.g_lambda_bound / one.g_lambda_bound:12.3f} {two.g_cls / one.g_cls:10.3f}"
            f" {predicted:9.3f} {two.g_cls_infinite_mc / one.g_cls_infinite_mc:10.3f}"
            f" {two.g_cls_bound / one.g_cls_bound:14.3f}"
            f" {two.lambda_empty_fraction:7.2f} {two.lambda_floor_fraction:7.2f}"
            f" {two.g_lambda / unfloored.g_lambda:10.3f}"
        )

    if args.plot:
        with styled():
            save_figure(convergence_figure(tables, varied), args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
