"""The machine's ceiling for 2-process speed-ups: one CPU-bound numpy job alone, then two at once.

Run: python benchmarks/core_scaling.py
Prints each run's wall time and the speed-up two perfectly independent processes reach
(2 x alone / slower of the pair): the upper bound for any 2-worker executor on this machine.
"""

from __future__ import annotations

import subprocess
import sys
import time

JOB = """
import numpy as np
a = np.random.default_rng(0).random(2_000_000)
for _ in range(60):
    c = np.log1p(np.sqrt(a * 1.0001 + 0.5)) * np.exp(-a)
    a = (c - c.min()) / (c.max() - c.min() + 1e-12)
"""


def timed(n_parallel: int) -> list[float]:
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", JOB]) for _ in range(n_parallel)]
    ends = []
    for p in procs:
        p.wait()
        ends.append(time.perf_counter() - start)
    return ends


def main():
    alone = timed(1)[0]
    pair = timed(2)
    print(f"alone: {alone:.2f} s; two at once: {pair[0]:.2f} s and {pair[1]:.2f} s")
    print(f"speed-up of two independent processes: {2 * alone / max(pair):.2f} (ideal 2)")


if __name__ == "__main__":
    main()
