"""Processing throughput and memory of the coffea processor, per executor.

Runs ``alpfusion.processors.executors.process_samples`` (reading, detector model, observables, the
selection of every mass of the default grid, histogram filling; the sample's weights are read once
more up front to validate the file and fix the exact-summation unit) over one sample of 10^7
e+e- -> e+e- a events (m_a = 1 GeV, default configuration), generated once into
output/benchmarks/ (ignored by git) and reused, with

* the iterative executor (one core),
* the futures executor with 2 worker processes,
* the dask.distributed executor with a LocalCluster of 2 single-threaded worker processes
  (started before the clock starts; its start-up time is printed separately),

each in a fresh Python process, twice:

* cold: the run is the process's first, so it includes the one-time start-up of each process
  that processes events (about 1 s: numba's initialisation and the loading of the compiled
  selection kernel), what a single ``alpfusion process`` pays;
* warm: a run over a small sample (10^5 events) first, with the same executor and cluster, so
  the clock sees the throughput once that start-up is paid, what a long-lived dask cluster or the
  second processing pass of ``alpfusion run`` gets.

Prints wall time, events/s, events/s per core (events / wall time / cores used), the CPU time of
the whole process tree and events per CPU second (less sensitive to other load on the machine),
and the peak resident memory (the largest single process, and the sum over the process tree,
sampled every 0.1 s); checks that all runs give identical histograms.

Finally two warm iterative runs at once, each over the whole sample: their speed-up is the most
any 2-worker executor can reach on this machine with this workload. Every configuration runs
``--repeat`` times (default 3), in rounds over all of them, and the fastest run is shown (with all
wall times), since other load on a shared machine only ever slows a run down.

Run: python benchmarks/processing.py [--events N] [--chunk-size N] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from alpfusion.config import load_config
from alpfusion.samples.generator import Generator
from alpfusion.samples.processes import SignalProcess, SignalSettings
from alpfusion.samples.rootio import SampleError, read_metadata, write_sample

DATA_DIR = Path(__file__).resolve().parents[1] / "output" / "benchmarks"
M_A = 1.0
RUNS = (("iterative", 1), ("futures", 2), ("dask", 2))
WARM_UP_EVENTS = 100_000


def sample_path(n_events: int) -> Path:
    """The benchmark sample, generated on first use (about 10^5 events/s per core)."""
    path = DATA_DIR / f"ee_to_eea_ma1_{n_events}.root"
    try:
        if read_metadata(path).get("n_draws") == n_events:
            return path
    except SampleError:
        pass
    cfg = load_config()
    print(f"generating {n_events} events into {path} (once) ...", flush=True)
    gen = Generator(SignalProcess(SignalSettings.from_config(cfg, "ee_to_eea", M_A)), cfg.generation.vegas, seed=1)
    gen.train()
    write_sample(path, gen.events(n_events, cfg.generation.chunk_size))  # baskets as alpfusion generate writes them
    return path


class TreeSampler:
    """Peak RSS (largest process, and sum) and CPU time of this process and all its descendants,
    sampled in a thread every ``interval`` seconds (a process's CPU time is its last sample)."""

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.peak_total = 0
        self.peak_single = 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            rss = []
            for proc in [me, *me.children(recursive=True)]:
                try:
                    with proc.oneshot():
                        rss.append(proc.memory_info().rss)
                        times = proc.cpu_times()
                        self.cpu[proc.pid] = times.user + times.system
                except psutil.Error:
                    pass
            self.peak_total = max(self.peak_total, sum(rss))
            self.peak_single = max(self.peak_single, max(rss))
            self._stop.wait(self.interval)

    def cpu_since(self, start: dict[int, float]) -> float:
        """CPU seconds of the tree since ``start`` (a copy of ``cpu`` taken earlier)."""
        return sum(t - start.get(pid, 0.0) for pid, t in self.cpu.items())

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def child(executor: str, workers: int, path: str, warm_up: str, chunk_size: int, out: str) -> None:
    """One measured run (in a fresh process), after a run over the sample ``warm_up`` unless it is
    '-'; writes the figures and the histograms to `out`."""
    from alpfusion.heap import retain_freed_memory
    from alpfusion.processors.executors import process_samples

    retain_freed_memory()  # as the command line does for its own process (alpfusion.heap)
    cfg = load_config()
    startup = 0.0
    scheduler = None
    cluster = None
    with TreeSampler() as tree:
        if executor == "dask":
            import logging

            from distributed import LocalCluster

            start = time.perf_counter()
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            scheduler = cluster.scheduler_address
            startup = time.perf_counter() - start
        if warm_up != "-":
            process_samples(
                cfg, [warm_up], executor=executor, workers=workers, chunk_size=chunk_size, scheduler=scheduler
            )
        time.sleep(2 * tree.interval)
        cpu_start = dict(tree.cpu)
        start = time.perf_counter()
        result = process_samples(
            cfg, [path], executor=executor, workers=workers, chunk_size=chunk_size, scheduler=scheduler
        )
        wall = time.perf_counter() - start
        time.sleep(2 * tree.interval)
        cpu = tree.cpu_since(cpu_start)
        if cluster is not None:
            cluster.close()
    with open(out, "wb") as stream:
        pickle.dump(
            {
                "wall": wall,
                "cpu": cpu,
                "startup": startup,
                "peak_single": tree.peak_single,
                "peak_total": tree.peak_total,
                "histograms": result.histograms,
            },
            stream,
        )


def identical(a: dict, b: dict) -> bool:
    return all(
        np.array_equal(h.values(flow=True), b[s][n].values(flow=True))
        and (h.variances() is None or np.array_equal(h.variances(flow=True), b[s][n].variances(flow=True)))
        for s in a
        for n, h in a[s].items()
    )


def measured(
    executor: str, workers: int, path: Path, warm_up: Path | None, chunk_size: int, copies: int = 1
) -> list[dict]:
    """The figures of ``copies`` runs of :func:`child` at once, each in a fresh process."""
    outs = [DATA_DIR / f".bench-{executor}-{copy}.pkl" for copy in range(copies)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--chunk-size",
                str(chunk_size),
                "--child",
                executor,
                str(workers),
                str(path),
                str(warm_up or "-"),
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for out in outs
    ]
    figures = []
    for proc, out in zip(procs, outs):
        if proc.wait() != 0:
            raise RuntimeError(
                f"the {executor} run failed (exit {proc.returncode}); run its --child command by hand to see why"
            )
        with open(out, "rb") as stream:
            figures.append(pickle.load(stream))
        out.unlink()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--chunk-size", type=int, default=load_config().processing.chunk_size)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each configuration; the fastest is shown")
    parser.add_argument(
        "--child", nargs=5, metavar=("EXECUTOR", "WORKERS", "PATH", "WARM_UP", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        executor, workers, path, warm_up, out = args.child
        child(executor, int(workers), path, warm_up, args.chunk_size, out)
        return
    path, warm_up = sample_path(args.events), sample_path(WARM_UP_EVENTS)
    n_events = read_metadata(path)["n_events"]
    cfg = load_config()
    print(
        f"sample: {path.name}, {n_events} events (of {args.events} draws), {path.stat().st_size / 2**20:.0f} MiB; "
        f"{len(cfg.signal.masses)} mass hypotheses; chunk size {args.chunk_size}; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start"
    )
    configs = [(start, executor, workers) for start in ("cold", "warm") for executor, workers in RUNS]
    configs.append(("pair", "iterative", 1))
    best: dict[tuple, list[dict]] = {}
    walls: dict[tuple, list[float]] = {config: [] for config in configs}
    for attempt in range(args.repeat):  # rounds over all configurations: slow spells hit them alike
        print(f"round {attempt + 1} of {args.repeat} ...", flush=True)
        for config in configs:
            start, executor, workers = config
            figures = measured(
                executor,
                workers,
                path,
                None if start == "cold" else warm_up,
                args.chunk_size,
                copies=2 if start == "pair" else 1,
            )
            walls[config].append(max(f["wall"] for f in figures))
            if walls[config][-1] <= min(walls[config]):
                best[config] = figures
    print(f"\nthe fastest of {args.repeat} runs of each (wall times of all runs in brackets)")
    for start in ("cold", "warm"):
        print(
            f"\n{start}: "
            + (
                "each run is its process's first"
                if start == "cold"
                else f"after a run over {WARM_UP_EVENTS} events in the same process and cluster"
            )
        )
        print(
            f"{'executor':<22}{'wall/s':>8}{'events/s':>12}{'events/s/core':>15}{'CPU/s':>8}{'events/CPU-s':>14}"
            f"{'peak RSS/MiB':>14}{'total RSS/MiB':>15}  all walls/s"
        )
        for executor, workers in RUNS:
            r = best[start, executor, workers][0]
            label = executor if workers == 1 else f"{executor} ({workers} workers)"
            rate = n_events / r["wall"]
            print(
                f"{label:<22}{r['wall']:>8.2f}{rate:>12.3g}{rate / workers:>15.3g}{r['cpu']:>8.1f}"
                f"{n_events / r['cpu']:>14.3g}{r['peak_single'] / 2**20:>14.0f}{r['peak_total'] / 2**20:>15.0f}"
                f"  [{', '.join(f'{w:.2f}' for w in walls[start, executor, workers])}]"
            )
        base = best[start, "iterative", 1][0]["wall"]
        for executor, workers in RUNS[1:]:
            r = best[start, executor, workers][0]
            print(
                f"speed-up of {executor} with {workers} workers: {base / r['wall']:.2f} (ideal {workers})"
                + (f"; LocalCluster start-up {r['startup']:.1f} s, not included" if executor == "dask" else "")
            )
    pair = best["pair", "iterative", 1]
    ceiling = 2 * best["warm", "iterative", 1][0]["wall"] / max(r["wall"] for r in pair)
    print(
        f"\nthe machine's ceiling: two warm iterative runs at once, each over all {n_events} events, take "
        f"{pair[0]['wall']:.2f} s and {pair[1]['wall']:.2f} s: a speed-up of {ceiling:.2f} for 2 workers "
        f"(ideal 2)  [slower of the pair/s: {', '.join(f'{w:.2f}' for w in walls['pair', 'iterative', 1])}]"
    )
    reference = best["cold", "iterative", 1][0]["histograms"]
    same = all(identical(reference, r["histograms"]) for figures in best.values() for r in figures)
    print("\nhistograms identical across executors and runs:", json.dumps(same))
    print(f"load average at the end {os.getloadavg()[0]:.2f} (other work on the machine slows the wall times)")


if __name__ == "__main__":
    main()
