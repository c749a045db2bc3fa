"""Convergence over independent trainings: g(Lambda) with the mean of k of K independently generated
samples of one background as its background, k = 1..K, averaged over every choice of the k.

Run: python benchmarks/training_ladder.py [RUN_DIR] [--background NAME] [--masses M ...]
RUN_DIR is the output folder of a default run (``alpfusion run``; default output) after ``alpfusion
replicas --background NAME`` (default ee_to_eegg) has written its replicas into RUN_DIR/replicas: the
run's histograms (its own sample of NAME) and the replicas' (``histograms_seed*``) are the K results,
the run's optimised cuts and statistics the model (``models.workspace.mass_point_models``, Lambda on
the 2% bins). A doubling of the draws reuses the sample's vegas maps (benchmarks/background_
convergence.py); here each step adds samples of their own seeds, trainings and draws
(``processors.results.mean_of_samples``: k times the MC, k trainings). Prints per k the mean of g(Lambda)
over the C(K, k) choices and their relative standard deviation (not independent choices: a scale of
how much one choice of k samples decides the limit). With --order-blocks B, Lambda is taken on
``statistics.sb_groups`` S/B groups ordered by the model's background (MC and floors) averaged over
B x B bins (``models.workspace.block_average``), each group's background summed over its bins: an order
that a single bin's fluctuation cannot decide.
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alpfusion import workflow
from alpfusion.config import Config, load_config
from alpfusion.fits.poisson import coupling_from_mu, mu_at_lambda
from alpfusion.models.workspace import block_average, group_by_signal_to_background, mass_point_models
from alpfusion.processors.layouts import region_view
from alpfusion.processors.results import ProcessingResult, load_result, mean_of_samples

MASSES = (6.0, 6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5)
"""GeV: where the QED sample decides the limits, and the last mass below."""


def g_lambda(
    result: ProcessingResult, cfg: Config, masses: Sequence[float], order_blocks: int | None = None
) -> dict[float, float]:
    """g(Lambda) per mass of a result, on the 2% bins of its models, or with ``order_blocks`` on S/B
    groups ordered by the block-averaged background (module docstring)."""
    out = {}
    for m in mass_point_models(result, cfg.statistics):
        if m.hypothesis.m_a not in masses:
            continue
        model = m.full
        if order_blocks is not None:
            shape = region_view(result.histograms[result.backgrounds[0]]["analysis"], model.region).value.shape
            plane = np.zeros(shape).ravel()
            plane[model.bins] = model.total_background
            order = block_average(plane.reshape(shape), order_blocks).ravel()[model.bins]
            model = group_by_signal_to_background(model, cfg.statistics.sb_groups, order)[0]
        mu = mu_at_lambda(model.signal.yields, model.total_background)
        out[m.hypothesis.m_a] = coupling_from_mu(mu, cfg.signal.g_ref)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default="output")
    parser.add_argument("--background", default="ee_to_eegg")
    parser.add_argument("--masses", type=float, nargs="+", default=MASSES)
    parser.add_argument("--order-blocks", type=int, help="S/B groups ordered by the background over B x B bins")
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    cfg = workflow.with_cuts(load_config(), run_dir / "cuts" / "cuts.yaml")
    folders = [run_dir / "histograms", *sorted(run_dir.glob("replicas/histograms_seed*"))]
    results = [load_result(folder) for folder in folders]
    print(f"{len(results)} samples of {args.background}: " + ", ".join(str(f) for f in folders))
    print("k".rjust(3) + " sets" + "".join(f"{m:>20}" for m in args.masses))
    for k in range(1, len(results) + 1):
        limits = [
            g_lambda(
                mean_of_samples([results[i] for i in chosen], args.background), cfg, args.masses, args.order_blocks
            )
            for chosen in itertools.combinations(range(len(results)), k)
        ]
        cells = []
        for m_a in args.masses:
            values = np.array([g[m_a] for g in limits])
            std = values.std(ddof=1) / values.mean() if len(values) > 1 else math.nan
            cells.append(f"{values.mean():.4e} ({std:.0%})" if len(values) > 1 else f"{values.mean():.4e}")
        print(f"{k:3d} {len(limits):4d}" + "".join(f"{c:>20}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
