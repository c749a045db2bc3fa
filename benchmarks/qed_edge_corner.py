"""The QED at its p_T edge, where the high-mass signal meets it: the corner's cross section in a sample
against generators restricted to the corner, trained from several seeds.

Run: python benchmarks/qed_edge_corner.py [SAMPLE] [--x-t-min X] [--seeds 7 8] [--draws N]
The corner, at truth level: m2_miss >= 30 GeV^2, |eta*_miss| <= 2.5 and x_T = p_T,miss / (E*_miss sin
theta_min) >= X (default 0.9; two photons lost outside the polar acceptance keep x_T <= 1,
``observables.missing_pt_fraction``). SAMPLE (default output/samples/ee_to_eegg.root of a default run)
gives its events, cross section and effective events (sum w)^2 / sum w^2 in the corner. Then, for each
seed, the QED generator with every channel of the default configuration, its integrand set to zero
outside the corner (no bias), is trained (VEGAS_CORNER) and draws N events: the corner's cross section
from the training and from the draws, the draws' N_eff / N, and the channels that carry most of it.

A sample is unbiased in expectation, but where its maps rarely go a finite sample mostly misses the
corner and now and then hits it with a heavy event; its MC error does not show that, nor does a doubling
of its draws (the doubled sample shares its maps). Restricted generators whose trainings agree measure
the corner; a sample far below them has lost it (docs/workflow.md, "The QED background": the channels
for the p_T edge, tried and not shipped, lost most of it). Each seed takes about 2 CPU minutes.
"""

from __future__ import annotations

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

from alpfusion import workflow
from alpfusion.config import Vegas, load_config
from alpfusion.samples.bias import truth_observables
from alpfusion.samples.generator import Generator
from alpfusion.samples.lostphotons import LostPhotonsProcess, lost_pt_share_max
from alpfusion.samples.rootio import read_sample

VEGAS_CORNER = Vegas(nitn=12, neval=40000, ninc=400, alpha=0.5)
M2_MISS_MIN = 30.0  # GeV^2: below every window from m_a = 6 GeV on
ABS_ETA_MISS_MAX = 2.5  # above every optimised eta_high


def in_corner(momenta: dict[str, np.ndarray], sqrt_s: float, share_max: float, x_t_min: float) -> np.ndarray:
    """Events (true electrons of ``momenta``) in the corner (module docstring)."""
    obs = truth_observables(momenta, sqrt_s, "tau_like")
    x_t = np.nan_to_num(obs["pt_fraction_miss"]) / share_max
    return (obs["m2_miss"] >= M2_MISS_MIN) & (obs["abs_eta_miss"] <= ABS_ETA_MISS_MAX) & (x_t >= x_t_min)


class CornerProcess(LostPhotonsProcess):
    """The QED process with its generation cuts and the corner's."""

    def __init__(self, process: LostPhotonsProcess, x_t_min: float):
        super().__init__(process.settings)
        self.x_t_min = x_t_min

    def accepted(self, momenta: dict[str, np.ndarray]) -> np.ndarray:
        st = self.settings
        return super().accepted(momenta) & in_corner(momenta, st.sqrt_s, lost_pt_share_max(st.acceptance), self.x_t_min)


def n_eff(weights: np.ndarray) -> float:
    """Effective number of events (sum w)^2 / sum w^2 (0 without events)."""
    return float(weights.sum() ** 2 / np.sum(weights**2)) if np.any(weights) else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sample", nargs="?", default="output/samples/ee_to_eegg.root")
    parser.add_argument("--x-t-min", type=float, default=0.9)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8])
    parser.add_argument("--draws", type=int, default=2_000_000)
    args = parser.parse_args()
    cfg = load_config()
    process = workflow.background_process(cfg, workflow.LOST_PHOTONS)
    share_max = lost_pt_share_max(cfg.acceptance)
    print(f"corner: m2_miss >= {M2_MISS_MIN} GeV^2, |eta*_miss| <= {ABS_ETA_MISS_MAX}, x_T >= {args.x_t_min} (truth)")
    arrays, _ = read_sample(args.sample)
    momenta = {p: np.column_stack([arrays[f"{p}_{c}"] for c in ("E", "px", "py", "pz")]) for p in ("e_minus", "e_plus")}
    weights = arrays["weight"][in_corner(momenta, cfg.beam.sqrt_s, share_max, args.x_t_min)]
    print(
        f"{args.sample}: {len(weights)} events, sigma = {weights.sum():.4g} pb, "
        f"N_eff = {n_eff(weights):.1f} in the corner"
    )
    corner = CornerProcess(process, args.x_t_min)
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
