"""How much background MC the profiled CLs limit needs where it is set, against what the run has, and
how few draws would do if a sampler put them all there: is the MC budget or the sampler's reach what
keeps g(CLs) from converging?

Run: python benchmarks/mc_needed.py [RUN_DIR] [--masses M ...] [--share F]
RUN_DIR is the output folder of a default run (``alpfusion run``; default output): its histograms,
optimised cuts and limits are used, nothing is generated. Per mass point (default: from 6.5 GeV on) and
background: the S/B groups that pyhf fits (``models.workspace.mass_point_models``) that carry the share
F (default 0.9) of Lambda at Lambda = 4 (``fits.poisson.lambda_carriers``, with the
MC's yields as the truth: where the limit with infinite MC comes from); in them the background's
expected events B, its MC variance over B (w = sum w_i^2 / sum w_i, the expected events per effective
MC event), its effective MC events B / w, and the effective events it would need for w to fall to
``fits.scan.MC_LIMITED_VARIANCE`` (where doubling the MC moves g(CLs) by 10%), and the draws that
would give them if every smeared copy of every draw landed there with equal weight, B / (K w_max) (K
= ``detector.smearings``), over the configured draws. Beside them w as the limits see it, (g(CLs) /
g(CLs,MC=inf))^4 - 1 (``fits.scan.mc_variance_ratio``), which sums every background's MC variance,
and the share of the signal in those groups (``S share``: what a sampler whose draws followed the signal
would put there).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.fits.poisson import lambda_carriers
from alpfusion.fits.scan import MC_LIMITED_VARIANCE, mc_variance_ratio, read_rows
from alpfusion.models.workspace import mass_point_models
from alpfusion.processors.results import load_result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default="output")
    parser.add_argument("--masses", type=float, nargs="*", help="GeV (default: from 6.5 on)")
    parser.add_argument("--share", type=float, default=0.9)
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    cfg = workflow.with_cuts(load_config(), run_dir / "cuts" / "cuts.yaml")
    rows = {r.m_a: r for r in read_rows(run_dir / "limits" / "limits.csv")}
    result = load_result(run_dir / "histograms" / "histograms.npz")
    smearings = cfg.detector.smearings
    print(f"groups carrying {args.share:.0%} of Lambda; w_max = {MC_LIMITED_VARIANCE:.2f}; smearings {smearings}")
    print(
        f"{'m_a':>5} {'background':>11} {'groups':>6} {'B':>9} {'w':>8} {'N_eff':>9} {'needed':>9}"
        f" {'x':>7} {'draws':>9} {'/ draws':>8} {'w(limits)':>9} {'S share':>7}"
    )
    for point in mass_point_models(result, cfg.statistics):
        m_a = point.hypothesis.m_a
        if (args.masses and not any(abs(m_a - m) < 1e-9 for m in args.masses)) or (not args.masses and m_a < 6.5):
            continue
        model = point.grouped
        sets = lambda_carriers(model.signal.yields, model.total_background, args.share)
        row = rows[m_a]
        w_limits = mc_variance_ratio(row.g_cls, row.g_cls_infinite_mc)
        signal_share = model.signal.yields[sets].sum() / model.signal.yields.sum()
        for name in result.backgrounds:
            template = model.backgrounds[name]
            events, variance = template.yields[sets].sum(), template.variances[sets].sum()
            draws = workflow.background_section(cfg, name).events
            if variance == 0:
                print(f"{m_a:5g} {name:>11} {len(sets):6d} {events:9.3g}  no MC in these groups")
                continue
            w = variance / events
            needed = events / MC_LIMITED_VARIANCE
            perfect = needed / smearings
            print(
                f"{m_a:5g} {name:>11} {len(sets):6d} {events:9.3g} {w:8.3g} {events / w:9.3g} {needed:9.3g}"
                f" {needed * w / events:7.3g} {perfect:9.3g} {perfect / draws:8.2g} {w_limits:9.3g}"
                f" {signal_share:7.2f}"
            )


if __name__ == "__main__":
    main()
