"""Limits that need no treatment of empty bins (``alpfusion.models.workspace.coarse_model``, the limits
table's g_lambda_coarse) for several block sizes and group counts, on the MC sizes of the convergence
benchmark and on independent samples.

Run: python benchmarks/coarse_ordering.py [RUN_DIR] [--background P] [--blocks K ...] [--groups N ...]
         [--mass M ...] [--replicas DIR ...]
RUN_DIR is the output folder of a default run on which ``benchmarks/background_convergence.py
--background P`` (P: ee_to_eegg, the default here, or ee_to_tautau) has run (it reads the histograms of
every size of that ladder, RUN_DIR/convergence/KEY/histograms_seed*_n*/histograms.npz, ordered by size;
default benchmarks/.cache/run); each DIR (e.g. RUN_DIR/replicas, after ``alpfusion replicas``) adds its
histograms_seed*/histograms.npz, samples of other seeds, after them. For each block size K (default 1,
3, 10), group count N (default ``statistics.coarse_groups``) and mass it prints, per set of histograms,
g(Lambda) on N groups of equal signal, its relative MC-statistical error (``scan.lambda_mc_error``, 64
Gamma replicas of the groups) and the smallest effective number of background MC events of a group
(``!``: a group without background MC, which gives no bound), and the ratio of the largest convergence
size's limit to the next largest's. The signal bins go into the groups in S/B order with B averaged over
K x K blocks of bins, each group's B its background MC summed. K = 1 is the bins' own MC order (empty
bins first, background-free); larger K orders by a smoother B, which converges with the MC at the price
of a cruder order (a weaker, conservative limit); more groups give a tighter limit with the true B (a
finer partition: the data-processing inequality) and a less well measured one.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.fits.poisson import coupling_from_mu, mu_at_lambda
from alpfusion.fits.scan import lambda_mc_error
from alpfusion.models.workspace import Template, coarse_model
from alpfusion.processors.results import load_result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default=str(Path(__file__).parent / ".cache" / "run"))
    parser.add_argument("--background", choices=tuple(workflow.BACKGROUNDS), default=workflow.LOST_PHOTONS)
    parser.add_argument("--blocks", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--groups", type=int, nargs="+", help="group counts (default statistics.coarse_groups)")
    parser.add_argument("--mass", type=float, nargs="+", default=[0.1, 1.0, 3.0, 6.0, 9.0, 9.5])
    parser.add_argument("--replicas", nargs="+", default=[], help="folders of histograms_seed*/ of other seeds")
    args = parser.parse_args()
    cfg = load_config()
    groups = args.groups or [cfg.statistics.coarse_groups]
    (sample,) = workflow.plan_samples(cfg, args.run_dir, process=args.background)  # its key names the ladder
    files = sorted(
        Path(args.run_dir, "convergence", sample.key[:12]).glob("histograms_seed*_n*/histograms.npz"),
        key=lambda p: int(re.search(r"_n(\d+)$", p.parent.name).group(1)),
    )
    if len(files) < 2:
        raise SystemExit(f"{args.run_dir}: no convergence histograms; run benchmarks/background_convergence.py first")
    sizes = len(files)
    files += [p for folder in args.replicas for p in sorted(Path(folder).glob("histograms_seed*/histograms.npz"))]
    table: dict[tuple[float, int, int], list[tuple[float, float, float]]] = {}
    for path in files:
        result = load_result(path)
        for hypothesis in result.with_signal():
            if not any(np.isclose(hypothesis.m_a, args.mass)):
                continue
            region = hypothesis.region
            signal = result.histograms[result.signal_sample(region)]["analysis"]
            backgrounds = {name: result.histograms[name]["analysis"] for name in result.backgrounds}
            for k in args.blocks:
                for n in groups:
                    model = coarse_model(region, hypothesis.m_a, signal, backgrounds, k, n)[0]
                    table.setdefault((hypothesis.m_a, k, n), []).append(_limit(model, cfg))
    print("columns: " + ", ".join(p.parent.name for p in files))
    print("each: g(Lambda) (relative MC error, smallest N_eff of a group; ! a group without MC)")
    for (m_a, k, n), limits in sorted(table.items()):
        cells = " ".join(
            f"{g:9.3e} ({error:5.1%},{'!' if neff == 0 else format(neff, '.0f'):>5})" for g, error, neff in limits
        )
        step = limits[sizes - 1][0] / limits[sizes - 2][0]
        print(f"{m_a:5g} {k:3d} x {k:<3d} {n:3d} groups {cells} last/previous {step:6.3f}")


def _limit(model, cfg) -> tuple[float, float, float]:
    """(g, relative MC error, smallest effective MC events of a group) of a coarse model."""
    background = model.total_background
    neff = Template(background, sum(t.variances for t in model.backgrounds.values())).effective_events
    g = coupling_from_mu(mu_at_lambda(model.signal.yields, background), cfg.signal.g_ref)
    error = lambda_mc_error(model, cfg.signal.g_ref, np.random.default_rng(cfg.generation.seed)) / g
    return g, error, float(neff.min())


if __name__ == "__main__":
    main()
