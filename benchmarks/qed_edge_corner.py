"""The QED at its p_T edge, where the high-mass signal meets it: a corner's cross section in samples
against generators restricted to the corner, trained from several seeds.

Run: python benchmarks/qed_edge_corner.py [SAMPLE ...] [--x-t-min X] [--m2 LO HI] [--eta-max E]
     [--e-miss-min E] [--side LO HI] [--seeds 7 8] [--draws N]
The corner, at truth level: m2_miss in [LO, HI] GeV^2 (default 30 to sqrt(s)^2), |eta*_miss| <= E
(default 2.5), E*_miss >= --e-miss-min (default 0), the signed offset from the antler diagonal in [LO,
HI] (default any) and x_T = p_T,miss / (E*_miss sin theta_min) >= X (default 0.9; two photons lost
outside the polar acceptance keep x_T <= 1, ``observables.missing_pt_fraction``). Each SAMPLE (default
output/samples/ee_to_eegg.root of a default run) gives its events, cross section and effective events
(sum w)^2 / sum w^2 in the corner. Then, for each seed, the QED generator with every channel of the
default configuration, its integrand set to zero outside the corner (no bias), is trained
(VEGAS_CORNER) and draws N events: the corner's cross section from the training and from the draws,
the draws' N_eff / N, and the channels that carry most of it.

A sample is unbiased in expectation, but where its maps rarely go a finite sample mostly misses the
corner and now and then hits it with a heavy event; its MC error does not show that, nor does a doubling
of its draws (the doubled sample shares its maps). Restricted generators whose trainings agree measure
the corner; a sample far below or above them has lost it or overweighted it (docs/workflow.md, "The
QED background"). Each seed takes about 2 CPU minutes.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from alpfusion import workflow
from alpfusion.config import Vegas, load_config
from alpfusion.samples.bias import truth_observables
from alpfusion.samples.generator import Generator
from alpfusion.samples.lostphotons import LostPhotonsProcess, lost_pt_share_max
from alpfusion.samples.rootio import read_sample

VEGAS_CORNER = Vegas(nitn=12, neval=40000, ninc=400, alpha=0.5)


@dataclass(frozen=True)
class Corner:
    """A region of truth observables (module docstring; GeV, GeV^2)."""

    m2_miss: tuple[float, float] = (30.0, math.inf)  # from 30: below every window from m_a = 6 GeV on
    abs_eta_max: float = 2.5  # above every optimised eta_high
    e_miss_min: float = 0.0
    side: tuple[float, float] = (-math.inf, math.inf)
    x_t_min: float = 0.9

    def holds(self, momenta: dict[str, np.ndarray], sqrt_s: float, share_max: float) -> np.ndarray:
        """Events (true electrons of ``momenta``) in the corner."""
        obs = truth_observables(momenta, sqrt_s, "tau_like")
        x_t = np.nan_to_num(obs["pt_fraction_miss"]) / share_max
        return (
            (obs["m2_miss"] >= self.m2_miss[0])
            & (obs["m2_miss"] <= self.m2_miss[1])
            & (obs["abs_eta_miss"] <= self.abs_eta_max)
            & (obs["e_miss"] >= self.e_miss_min)
            & (obs["diagonal_side"] >= self.side[0])
            & (obs["diagonal_side"] <= self.side[1])
            & (x_t >= self.x_t_min)
        )


class CornerProcess(LostPhotonsProcess):
    """The QED process with its generation cuts and the corner's."""

    def __init__(self, process: LostPhotonsProcess, corner: Corner):
        super().__init__(process.settings)
        self.corner = corner

    def accepted(self, momenta: dict[str, np.ndarray]) -> np.ndarray:
        st = self.settings
        return super().accepted(momenta) & self.corner.holds(momenta, st.sqrt_s, lost_pt_share_max(st.acceptance))


def n_eff(weights: np.ndarray) -> float:
    """Effective number of events (sum w)^2 / sum w^2 (0 without events)."""
    return float(weights.sum() ** 2 / np.sum(weights**2)) if np.any(weights) else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", nargs="*", default=["output/samples/ee_to_eegg.root"])
    parser.add_argument("--x-t-min", type=float, default=0.9)
    parser.add_argument("--m2", type=float, nargs=2, default=[30.0, math.inf])
    parser.add_argument("--eta-max", type=float, default=2.5)
    parser.add_argument("--e-miss-min", type=float, default=0.0)
    parser.add_argument("--side", type=float, nargs=2, default=[-math.inf, math.inf])
    parser.add_argument("--seeds", type=int, nargs="*", default=[7, 8])
    parser.add_argument("--draws", type=int, default=2_000_000)
    args = parser.parse_args()
    cfg = load_config()
    process = workflow.background_process(cfg, workflow.LOST_PHOTONS)
    share_max = lost_pt_share_max(cfg.acceptance)
    region = Corner(tuple(args.m2), args.eta_max, args.e_miss_min, tuple(args.side), args.x_t_min)
    print(f"corner (truth): {region}")
    for path in args.samples:
        arrays, _ = read_sample(path)
        components = ("E", "px", "py", "pz")
        momenta = {p: np.column_stack([arrays[f"{p}_{c}"] for c in components]) for p in ("e_minus", "e_plus")}
        weights = arrays["weight"][region.holds(momenta, cfg.beam.sqrt_s, share_max)]
        sigma = weights.sum()
        print(f"{path}: {len(weights)} events, sigma = {sigma:.4g} pb, N_eff = {n_eff(weights):.1f} in the corner")
    corner = CornerProcess(process, region)
    with threadpool_limits(limits=1, user_api="blas"):
        for seed in args.seeds:
            generator = Generator(corner, VEGAS_CORNER, seed)
            trained = generator.train()
            drawn = np.concatenate(
                [c["weight"] for c in generator.events(args.draws, cfg.generation.chunk_size).chunks()]
            )
            leading = sorted(trained.channels, key=lambda c: -c.sigma)[:4]
            print(
                f"seed {seed}: trained {trained.sigma:.4g} +- {trained.error:.2g} pb; {args.draws} draws "
                f"{drawn.sum():.4g} pb, N_eff / N = {n_eff(drawn) / args.draws:.2g}; leading channels "
                + ", ".join(f"{c.name} {c.sigma:.3g}" for c in leading)
            )


if __name__ == "__main__":
    main()
