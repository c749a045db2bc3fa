"""The default main job (``alpfusion.workflow.run``) timed stage by stage, from scratch.

Run: python benchmarks/run_stages.py [OUTPUT]      (default benchmarks/.cache/run_stages)
Every sample is regenerated (``force``); prints the seconds of each stage (also written to
OUTPUT/provenance.json) and the total, with the process tree's peak memory.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.heap import retain_freed_memory


def main():
    retain_freed_memory()  # as the command line does for its own process
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / ".cache" / "run_stages"
    start = time.perf_counter()
    result = workflow.run(load_config(), out, force=True)
    wall = time.perf_counter() - start
    print(f"{'stage':<20}{'seconds':>9}")
    for stage, seconds in result.seconds.items():
        print(f"{stage:<20}{seconds:>9.1f}")
    print(f"{'total (wall)':<20}{wall:>9.1f}")
    rss = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(f"peak RSS of one process: {rss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
