"""Signal generation speed and memory for e+e- -> e+e- a (m_a = 1 GeV, default configuration).

Prints
1. weighted events per second per core: draws/s and written (non-zero weight) events/s, for the
   generator alone and with the ROOT writing, in CPU seconds of this single-threaded process;
2. the CPU time to reach a 0.5% relative MC error on the cross section in the Belle II acceptance
   (vegas adaptation plus the frozen-map estimate), for a few sampler sizes;
3. peak resident memory when writing samples of growing size at a fixed chunk size;
4. the tau-pair background's generation rate (both electrons generated inside the acceptance).

Run: python benchmarks/generation.py [--events N]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alpfusion.config import Vegas, load_config
from alpfusion.heap import retain_freed_memory
from alpfusion.samples.generator import Generator
from alpfusion.samples.processes import SignalProcess, SignalSettings
from alpfusion.samples.rootio import write_sample
from alpfusion.samples.taupair import TauPairProcess, TauPairSettings

M_A = 1.0


def generator(cfg, vegas=None, seed=1):
    settings = SignalSettings.from_config(cfg, "ee_to_eea", M_A)
    return Generator(SignalProcess(settings), vegas or cfg.generation.vegas, seed)


def generation_rate(gen, n_events, chunk_size, label, kept):
    """Draws and written (non-zero weight) events per CPU second of a trained generator, printed."""
    stream = gen.events(n_events, chunk_size)
    start = time.process_time()
    written = sum(len(chunk["weight"]) for chunk in stream.chunks())
    cpu = time.process_time() - start
    print(
        f"{label:<15}: {n_events / cpu:10.0f} draws/s/core  {written / cpu:10.0f} events/s/core "
        f"({written} of {n_events} draws {kept}, {cpu:.2f} s CPU)"
    )


def throughput(cfg, n_events):
    gen = generator(cfg)
    gen.train()
    generation_rate(gen, n_events, cfg.generation.chunk_size, "generator only", "inside the acceptance")
    with tempfile.TemporaryDirectory() as tmp:
        stream = gen.events(n_events, cfg.generation.chunk_size)
        start = time.process_time()
        meta = write_sample(Path(tmp) / "bench.root", stream)
        cpu = time.process_time() - start
    print(f"with ROOT write: {n_events / cpu:10.0f} draws/s/core  {meta['n_events'] / cpu:10.0f} events/s/core")
    print(f"sigma from the weights: {meta['sigma_pb'] * 1e6:.3f} +- {meta['sigma_err_pb'] * 1e6:.3f} ab")


def time_to_precision(cfg, target=0.005):
    print(f"CPU time to a {target:.1%} relative error (vegas adaptation + frozen-map estimate):")
    for neval in (5_000, 10_000, 20_000, 40_000):
        vegas = Vegas(nitn=6, neval=neval, ninc=cfg.generation.vegas.ninc, alpha=cfg.generation.vegas.alpha)
        start = time.process_time()
        res = generator(cfg, vegas).train()
        cpu = time.process_time() - start
        flag = "reached" if res.relative_error <= target else "not reached"
        print(
            f"  neval {neval:6d} x 9 iterations: sigma = {res.sigma * 1e6:7.3f} +- {res.error * 1e6:.3f} ab "
            f"(rel {res.relative_error:.2%}), {cpu:5.1f} s CPU, {flag}"
        )


def memory(n_events, chunk_size):
    """Peak RSS (MiB) of a child process that writes one sample."""
    code = (
        "import resource, sys, tempfile, pathlib\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from generation import generator\n"
        "from alpfusion.config import load_config\n"
        "from alpfusion.samples.rootio import write_sample\n"
        "cfg = load_config()\n"
        "gen = generator(cfg)\n"
        "with tempfile.TemporaryDirectory() as tmp:\n"
        f"    write_sample(pathlib.Path(tmp) / 'm.root', gen.events({n_events}, {chunk_size}))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def tau_pair_rate(cfg, n_events):
    gen = Generator(TauPairProcess(TauPairSettings.from_config(cfg)), cfg.generation.vegas, 1)
    gen.train()
    generation_rate(gen, n_events, cfg.generation.chunk_size, "tau pairs", "with both electrons accepted")


def main():
    retain_freed_memory()  # as the command line and the worker processes do (alpfusion.heap)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    cfg = load_config()
    print(f"e+e- -> e+e- a, m_a = {M_A} GeV, default configuration (electron mass kept, both diagrams)")
    throughput(cfg, args.events)
    time_to_precision(cfg)
    chunk = cfg.generation.chunk_size
    print(f"peak memory writing a sample, chunk size {chunk}:")
    for n in (chunk, 4 * chunk, 16 * chunk):
        print(f"  {n:9d} draws: {memory(n, chunk):7.0f} MiB")
    print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")
    tau_pair_rate(cfg, args.events)


if __name__ == "__main__":
    main()
