"""Limits that need no treatment of empty bins (``alpfusion.models.workspace.coarse_model``, the limits
table's g_lambda_coarse) for several block sizes and the MC sizes of the convergence benchmark.

Run: python benchmarks/coarse_ordering.py [RUN_DIR] [--blocks K ...] [--mass M ...]
RUN_DIR is the output folder of a default run on which ``benchmarks/background_convergence.py`` has
run (it reads every RUN_DIR/convergence/*/histograms_seed*_n*/histograms.npz; default
benchmarks/.cache/run). For each block size K (default 1, 3, 10) it prints g(Lambda) on
``statistics.coarse_groups`` groups of equal signal for every MC size, the ratio of the largest to the
second largest size, and how many groups hold no background MC: the signal bins in groups of equal
signal ordered by S/B with B averaged over K x K blocks of bins, each group's B its background MC
summed. K = 1 is the bins' own MC order (empty bins first, background-free); larger K orders by a
smoother B, which converges with the MC at the price of a cruder order (a weaker, conservative limit).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from alpfusion.config import load_config
from alpfusion.fits.poisson import coupling_from_mu, mu_at_lambda
from alpfusion.models.workspace import coarse_model
from alpfusion.processors.results import load_result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default=str(Path(__file__).parent / ".cache" / "run"))
    parser.add_argument("--blocks", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--mass", type=float, nargs="+", default=[0.1, 1.0, 3.0, 6.0, 9.0, 9.5])
    args = parser.parse_args()
    cfg = load_config()
    files = sorted(
        Path(args.run_dir).glob("convergence/*/histograms_seed*_n*/histograms.npz"),
        key=lambda p: int(re.search(r"_n(\d+)$", p.parent.name).group(1)),
    )
    if not files:
        raise SystemExit(f"{args.run_dir}: no convergence histograms; run benchmarks/background_convergence.py first")
    sizes = [int(re.search(r"_n(\d+)$", p.parent.name).group(1)) for p in files]
    table: dict[tuple[float, int], list[tuple[float, int]]] = {}
    for path in files:
        result = load_result(path)
        for hypothesis in result.with_signal():
            if not any(np.isclose(hypothesis.m_a, args.mass)):
                continue
            region = hypothesis.region
            signal = result.histograms[result.signal_sample(region)]["analysis"]
            backgrounds = {name: result.histograms[name]["analysis"] for name in result.backgrounds}
            for k in args.blocks:
                model = coarse_model(region, hypothesis.m_a, signal, backgrounds, k, cfg.statistics.coarse_groups)[0]
                g = coupling_from_mu(mu_at_lambda(model.signal.yields, model.total_background), cfg.signal.g_ref)
                table.setdefault((hypothesis.m_a, k), []).append((g, int(model.empty.sum())))
    for k in args.blocks:
        draws = ", ".join(map(str, sizes))
        print(f"order from {k} x {k} blocks: g(Lambda) at {draws} draws; last/previous; empty groups")
        for (m_a, kk), limits in sorted(table.items()):
            if kk == k:
                cells = " ".join(f"{g:10.3e}" for g, _ in limits)
                print(f"  {m_a:5g} {cells} {limits[-1][0] / limits[-2][0]:7.3f}  {[e for _, e in limits]}")


if __name__ == "__main__":
    main()
