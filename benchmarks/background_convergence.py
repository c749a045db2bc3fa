"""How the limits move as the background MC grows: 1/8, 1/4, 1/2 and all of the tau-pair draws.

Run: python benchmarks/background_convergence.py [SIGNAL_SAMPLES_DIR] [EMPTY_BINS]
     (defaults: output/samples, statistics.empty_bins; EMPTY_BINS is none, floor or smooth)
The signal samples (those of 'alpfusion run') stay fixed; the tau-pair background is generated
with backgrounds.tautau.events x (1/8, 1/4, 1/2, 1) draws into benchmarks/.cache/convergence/.
Prints g(Lambda) and g(CLs) per mass point for each size: a trustworthy limit converges.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alpfusion.config import load_config
from alpfusion.parallel import LocalPool
from alpfusion.samples.rootio import read_metadata
from alpfusion.workflow import replica_limits


def main():
    cfg = load_config()
    if len(sys.argv) > 2:
        cfg = cfg.replace(statistics={"empty_bins": sys.argv[2]})
    sample_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "output/samples")
    signals = [p for p in sorted(sample_dir.glob("*.root")) if read_metadata(p).get("m_a") is not None]
    full = cfg.backgrounds.tautau.events
    sizes = [full // 8, full // 4, full // 2, full]
    tables = {
        n: replica_limits(
            cfg,
            signals,
            Path(__file__).parent / ".cache" / "convergence",
            events=n,
            seed=cfg.generation.seed,
            pool=LocalPool(2),
        )
        for n in sizes
    }
    print(f"empty-bin treatment: {cfg.statistics.empty_bins}")
    print(f"{'m_a':>6} " + " ".join(f"{'g(L) ' + str(n):>14} {'g(CLs) ' + str(n):>16}" for n in sizes))
    for rows in zip(*tables.values()):
        print(f"{rows[0].m_a:6.3g} " + " ".join(f"{r.g_lambda:14.4e} {r.g_cls:16.4e}" for r in rows))


if __name__ == "__main__":
    main()
