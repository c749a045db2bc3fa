"""The QED background e+e- -> e+e- gamma gamma (both photons lost): speed, weights and stability.

Run: python benchmarks/qed_generation.py [--draws N] [--seeds 1 2 3]
With the default configuration's generation cuts (backgrounds.qed2). Prints, on one core:

* |M|^2 evaluations per CPU-second (the compiled amplitude alone, on accepted phase-space points, in
  steady state: the fastest of three calls after a first);
* the sample: vegas training CPU time, then draws and non-zero events per CPU-second while drawing,
  the spread of the weights of the non-zero events (quantiles and largest of w / mean w) and the
  effective fraction N_eff / N = (sum w)^2 / (N sum w^2);
* the cross section for each seed and two vegas settings (the configured one and VEGAS_LARGE), its
  vegas error, and the largest deviation from the error-weighted mean in per cent and in errors.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from threadpoolctl import threadpool_limits

from alpfusion import workflow
from alpfusion.config import Vegas, load_config
from alpfusion.samples.generator import Generator

VEGAS_LARGE = Vegas(nitn=12, neval=24000, ninc=400, alpha=0.5)


def me2_rate(process, n: int = 20000, calls: int = 3) -> float:
    """|M|^2 evaluations per CPU-second on accepted points of the first channel: the fastest of
    ``calls`` calls after a first one (which pays the kernels' loading and the first touch of its
    arrays' memory, up to 40% of a call)."""
    rng = np.random.default_rng(7)
    channel = process.channels[1]
    momenta, weight = channel(rng.random((4 * n, channel.dim)), rng.uniform(0, 2 * math.pi, 4 * n))
    keep = np.flatnonzero(process.accepted(momenta) & (weight > 0))[:n]
    accepted = {name: p[keep] for name, p in momenta.items()}
    process.matrix_element(accepted)
    seconds = []
    for _ in range(calls):
        start = time.process_time()
        process.matrix_element(accepted)
        seconds.append(time.process_time() - start)
    return len(keep) / min(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=200_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    cfg = load_config()
    qed = workflow.background_section(cfg, workflow.LOST_PHOTONS)
    process = workflow.background_process(cfg, workflow.LOST_PHOTONS)
    vegas = qed.vegas or cfg.generation.vegas
    with threadpool_limits(limits=1, user_api="blas"):
        print(f"cuts: {process.metadata()['cuts']}")
        print(f"|M|^2 (two photons) per CPU-second: {me2_rate(process):.3g}")

        generator = Generator(process, vegas, cfg.generation.seed)
        start = time.process_time()
        trained = generator.train()
        training = time.process_time() - start
        stream = generator.events(args.draws, cfg.generation.chunk_size)
        start = time.process_time()
        weights = np.concatenate([chunk["weight"] for chunk in stream.chunks()])
        drawing = time.process_time() - start
        xs = stream.cross_section()
        print(
            f"vegas {vegas.model_dump()}: training {training:.1f} CPU s, "
            f"sigma = {trained.sigma:.1f} +- {trained.error:.1f} pb"
        )
        print(
            f"{args.draws} draws in {drawing:.1f} CPU s: {args.draws / drawing:.3g} draws/s, "
            f"{len(weights) / drawing:.3g} non-zero events/s ({len(weights) / args.draws:.1%} of the draws); "
            f"sigma = {xs.sigma:.1f} +- {xs.error:.1f} pb"
        )
        ratio = weights / weights.mean()
        quantiles = np.quantile(ratio, [0.1, 0.5, 0.9, 0.99])
        n_eff = weights.sum() ** 2 / (args.draws * np.sum(weights**2))
        print(
            "w / mean w of the non-zero events: 10% {:.3g}, median {:.3g}, 90% {:.3g}, 99% {:.3g}, largest {:.3g}; "
            "N_eff / N = {:.3g}".format(*quantiles, ratio.max(), n_eff)
        )

        print(f"\n{'vegas':>28} {'seed':>5} {'sigma/pb':>10} {'error':>7}")
        for settings in (vegas, VEGAS_LARGE):
            results = []
            for seed in args.seeds:
                result = Generator(process, settings, seed).train()
                results.append((result.sigma, result.error))
                label = f"{settings.nitn}x{settings.neval}, ninc {settings.ninc}"
                print(f"{label:>28} {seed:5d} {result.sigma:10.2f} {result.error:7.2f}")
            sigma, error = np.array(results).T
            mean = np.sum(sigma / error**2) / np.sum(1 / error**2)
            worst = np.argmax(np.abs(sigma - mean))
            print(
                f"{'':>28} mean {mean:10.2f}; largest deviation {abs(sigma[worst] / mean - 1):.2%} "
                f"= {abs(sigma[worst] - mean) / error[worst]:.1f} errors"
            )


if __name__ == "__main__":
    main()
