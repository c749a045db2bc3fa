"""Producing sample files: one job per file (a process at one mass, or the tau pairs), the jobs in
parallel over worker processes.

Each job trains its own vegas map and draws its own events from its own seed, so a file does not
depend on which process made it or on the other jobs: any number of workers writes the same bytes.
Inside a job everything runs in one thread; numpy's BLAS is held to one thread as well (the
tau-pair matrix element's batched Dirac algebra otherwise wakes OpenBLAS threads that spin on the
other cores for no gain: 9.0 s of CPU for 6.4 s of wall time on 2 cores, 5.6 s with one thread).
"""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from threadpoolctl import threadpool_limits

from ..config import Vegas
from .generator import Generator, Process
from .rootio import SampleError, read_metadata, write_sample

__all__ = ["SampleJob", "produce", "produce_all", "up_to_date"]


@dataclass(frozen=True)
class SampleJob:
    """What to generate and where: ``n_draws`` weighted draws of ``process`` (``unweight``: hit or
    miss), vegas settings and seed, written to ``path`` in chunks of ``chunk_size`` with
    ``provenance`` added to the metadata; ``label`` names the job in messages."""

    path: os.PathLike
    process: Process
    vegas: Vegas
    seed: int
    n_draws: int
    chunk_size: int
    unweight: bool
    provenance: dict[str, Any]
    label: str


def up_to_date(path: os.PathLike, expected: dict[str, Any]) -> bool:
    """True when ``path`` is a valid sample whose metadata has all the ``expected`` values (a job
    whose file is up to date need not run again: interrupted productions resume)."""
    if not os.path.exists(path):
        return False
    try:
        meta = read_metadata(path)
    except SampleError:
        return False
    return all(meta.get(key) == value for key, value in expected.items())


def produce(job: SampleJob, progress: Callable[[int], Any] | None = None) -> dict:
    """Train vegas, draw the events and write the file (atomically); returns its metadata.

    ``progress`` is called with the number of draws of every chunk written.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        gen = Generator(job.process, job.vegas, job.seed)
        stream = gen.events(job.n_draws, job.chunk_size, unweight=job.unweight, provenance=job.provenance)
        draws = iter(stream.draws_per_chunk)
        return write_sample(job.path, stream, progress=None if progress is None else lambda _n: progress(next(draws)))


def produce_all(jobs: Sequence[SampleJob], workers: int,
                progress: Callable[[int], Any] | None = None) -> Iterator[tuple[SampleJob, dict]]:
    """(job, metadata) for every job, as each file is complete.

    With one worker (or one job) in this process, in order, ``progress`` called per chunk;
    otherwise in a pool of ``workers`` processes, in the order they finish, ``progress`` called
    with a job's draws when it is done. A failed job raises its error once the jobs already
    running have finished; the files already written stay (each is written atomically).
    """
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield job, produce(job, progress)
        return
    with concurrent.futures.ProcessPoolExecutor(min(workers, len(jobs))) as pool:
        futures = {pool.submit(produce, job): job for job in jobs}
        try:
            for future in concurrent.futures.as_completed(futures):
                job = futures[future]
                meta = future.result()
                if progress is not None:
                    progress(job.n_draws)
                yield job, meta
        finally:
            for future in futures:
                future.cancel()
