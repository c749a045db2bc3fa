"""Limits for the full default mass grid: Lambda, asymptotic CLs with bands and the toys' CLs (the
default statistics.cls_method), wall time on 2 cores.

Run: python benchmarks/limits.py [HISTOGRAMS]
HISTOGRAMS is the histograms.npz (or its directory) of 'alpfusion process'; without it the
default chain (``alpfusion.workflow.run``, not timed) is run first into benchmarks/.cache/.
Prints the wall time of the scan (templates, cabinetry, workspaces, both criteria, publication;
2 worker processes) per mass point and in total, and the limits table.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.fits.scan import format_table
from alpfusion.parallel import LocalPool
from alpfusion.processors.results import load_result


def main():
    cfg = load_config()
    if len(sys.argv) > 1:
        result = load_result(sys.argv[1])
    else:
        result = workflow.run(cfg, Path(__file__).parent / ".cache" / "run").histograms
    # the cuts are in the result's mass hypotheses; the configuration gives the statistics
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        limits = workflow.set_limits(result, cfg, Path(tmp) / "limits", pool=LocalPool(2))
        wall = time.perf_counter() - start
    rows = limits.rows
    print(format_table(rows, cfg.signal.g_ref), end="")
    print(
        f"{len(rows)} mass points, Lambda + CLs with +-1, +-2 sigma bands (cls_method {cfg.statistics.cls_method}, "
        f"{cfg.statistics.toys} toys per tested mu): {wall:.1f} s wall on 2 workers "
        f"({wall / len(rows):.2f} s per mass point)"
    )


if __name__ == "__main__":
    main()
