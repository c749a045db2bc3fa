"""Limits for the full default mass grid: Lambda and asymptotic CLs with bands, wall time on 2 cores.

Run: python benchmarks/limits.py [HISTOGRAMS]
HISTOGRAMS is the histograms.coffea (or its directory) of 'alpfusion process'; without it the
default chain ('alpfusion run', not timed) is run first into benchmarks/.cache/.
Prints the wall time of the scan (templates, cabinetry, workspaces, both criteria; 2 worker
processes) per mass point and in total, and the limits table.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alpfusion.processors.run import load_result

from alpfusion.config import load_config
from alpfusion.fits.scan import format_table, run_scan


def main():
    cfg = load_config()
    if len(sys.argv) > 1:
        source = Path(sys.argv[1])
    else:
        cache = Path(__file__).parent / ".cache"
        subprocess.run([Path(sys.executable).parent / "alpfusion", "run", "-o", str(cache)], check=True)
        source = cache / "histograms"
    result = load_result(source).as_dict()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        rows, _ = run_scan(result, cfg, tmp, workers=2)
        wall = time.perf_counter() - start
    print(format_table(rows, cfg.signal.g_ref), end="")
    print(
        f"{len(rows)} mass points, Lambda + asymptotic CLs with +-1, +-2 sigma bands: {wall:.1f} s wall on 2 workers "
        f"({wall / len(rows):.2f} s per mass point)"
    )


if __name__ == "__main__":
    main()
