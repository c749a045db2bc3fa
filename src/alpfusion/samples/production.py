"""Producing sample files: one job per file (a process at one mass, or a background).

Each job trains its own vegas maps, one task per channel (:func:`train_channel`; every channel has
its own random stream, so the maps do not depend on where or in which order) gathered by
:func:`prepare`, then its draws are made chunk by chunk (:func:`draw_chunk`; every chunk has its own
random streams, so chunks may be drawn in any order, in any process), kept as they come
(:class:`KeptChunks`, so an interrupted production resumes without drawing a chunk twice or losing
one), and the file is written from them (:func:`finish`). A file does not depend on which process
trained which channel or drew which chunk, or on the other jobs: any number of workers, local or on
a dask cluster, writes the same bytes. Every task runs in one thread; numpy's BLAS is held to one
thread as well (the tau-pair matrix element's batched Dirac algebra otherwise wakes OpenBLAS threads
that spin on the other cores for no gain: 9.0 s of CPU for 6.4 s of wall time on 2 cores, 5.6 s with
one thread).

A sample's identity (:attr:`SampleJob.key`) is the SHA-256 of what determines its events: the
process settings (process, mass, coupling, beam, acceptance, constants), the vegas settings, the
seed, the number of draws, the chunk size (each chunk has its own random stream) and unweighting.
With a generation bias (``alpfusion.samples.bias``) the bias, with the c_phi estimator its
observables use, is part of the identity too. The key is stored in the file's metadata
(``sample_key``, the bias as ``bias``); a file whose key matches the job's is up to date and is
kept, whatever else changed in the configuration (executor, workers, statistics, cuts).

Seeds: a sample of a process at a mass has the seed :func:`sample_seed` (``generation.seed``, the
process and the mass in keV, hashed), so it does not depend on which other masses are generated
with it; the QED background has the seed of its process name without a mass, and the tau pairs,
the first background, have ``generation.seed`` itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ..atomic import atomic_path, ensure_folder
from ..config import Vegas
from .bias import BiasFunction
from .generator import ChannelResult, EventStream, Generator, Process
from .rootio import SampleError, read_metadata, write_sample

__all__ = [
    "KeptChunks",
    "SampleJob",
    "draw_chunk",
    "finish",
    "generator",
    "plain",
    "prepare",
    "produce",
    "sample_seed",
    "train_channel",
    "up_to_date",
]

KEY_VERSION = 8
"""Bumped when the generator changes what a given key produces."""


def plain(value: Any) -> Any:
    """Settings (dataclasses, pydantic models, tuples) as plain JSON-able values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return plain(value.model_dump())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def sample_seed(base_seed: int, process: str, m_a: float | None) -> int:
    """The seed of the sample of ``process`` at mass ``m_a`` (module docstring): a 63-bit integer
    from numpy's SeedSequence of (base_seed, process, m_a in keV), or of (base_seed, process) for a
    process without a mass (None)."""
    process_code = int.from_bytes(hashlib.sha256(process.encode()).digest()[:4], "little")
    spawn_key = (process_code,) if m_a is None else (process_code, round(m_a * 1e6))
    words = np.random.SeedSequence(base_seed, spawn_key=spawn_key).generate_state(2)
    return int(words[0]) | (int(words[1]) & 0x7FFFFFFF) << 32


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
    bias: BiasFunction | None = None

    @cached_property
    def identity(self) -> dict[str, Any]:
        """What determines the sample's events (module docstring)."""
        identity = {
            "key_version": KEY_VERSION,
            "process": self.process.name,
            "settings": plain(getattr(self.process, "settings", self.process.metadata())),
            "vegas": plain(self.vegas),
            "seed": self.seed,
            "n_draws": self.n_draws,
            "chunk_size": self.chunk_size,
            "unweight": self.unweight,
        }
        if self.bias is not None:
            identity["bias"] = plain(self.bias)
        return identity

    @cached_property
    def key(self) -> str:
        """SHA-256 of :attr:`identity` (canonical JSON)."""
        return hashlib.sha256(json.dumps(self.identity, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def up_to_date(job: SampleJob) -> bool:
    """True when ``job.path`` is a valid sample made by this job (same key): it need not run again."""
    if not os.path.exists(job.path):
        return False
    try:
        return read_metadata(job.path).get("sample_key") == job.key
    except SampleError:
        return False


class KeptChunks:
    """The chunks of one sample drawn so far, kept next to its file until the file is written: one
    ``.npz`` per chunk (its branches and its per-channel sums, written atomically) in a hidden folder
    named by the sample's key. An interrupted production resumes with the chunks it has and draws each
    missing one once; a kept chunk of another key (settings changed) is never read."""

    def __init__(self, job: SampleJob):
        target = Path(job.path)
        self.folder = target.parent / f".{target.name}.chunks-{job.key[:16]}"
        self._pattern = f".{target.name}.chunks-*"

    def _path(self, k: int) -> Path:
        return self.folder / f"chunk{k:06d}.npz"

    def missing(self, n_chunks: int) -> list[int]:
        """The chunks (of ``n_chunks``) not kept yet."""
        return [k for k in range(n_chunks) if not self._path(k).exists()]

    def keep(self, k: int, drawn: tuple[dict[str, np.ndarray], np.ndarray]) -> None:
        """Keep chunk k (what ``EventStream.chunk(k)`` gave)."""
        chunk, sums = drawn
        ensure_folder(self.folder)
        with atomic_path(self._path(k)) as tmp, open(tmp, "wb") as out:
            np.savez(out, sums=sums, **chunk)  # type: ignore[arg-type]  # numpy's stub: allow_pickle

    def read(self, k: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Chunk k as ``EventStream.chunk(k)`` gave it."""
        with np.load(self._path(k)) as kept:
            return {name: kept[name] for name in kept.files if name != "sums"}, kept["sums"]

    def remove(self) -> None:
        """Remove the kept chunks of this sample, of every key (after its file is written)."""
        for folder in self.folder.parent.glob(self._pattern):
            shutil.rmtree(folder, ignore_errors=True)


def generator(job: SampleJob) -> Generator:
    """The job's generator, not trained yet."""
    if job.bias is None:
        return Generator(job.process, job.vegas, job.seed)
    settings = job.bias.bias
    return Generator(job.process, job.vegas, job.seed, job.bias, settings.defensive, settings.maps)


def train_channel(task: tuple[SampleJob, int]) -> ChannelResult:
    """Channel i of the job's process trained (``task`` = (job, i)), in whatever process runs it."""
    job, i = task
    with threadpool_limits(limits=1, user_api="blas"):
        return generator(job).train_channel(i)


def prepare(job: SampleJob, channels: Sequence[ChannelResult] | None = None) -> EventStream:
    """The job's event stream, whose chunks can be drawn anywhere: its vegas maps trained here, or
    ``channels``, every channel's :func:`train_channel` made elsewhere (the same maps)."""
    with threadpool_limits(limits=1, user_api="blas"):
        gen = generator(job)
        gen.train(channels)
        provenance = {**job.provenance, "sample_key": job.key}
        if job.bias is not None:
            provenance["bias"] = plain(job.bias)
        return gen.events(job.n_draws, job.chunk_size, unweight=job.unweight, provenance=provenance)


def draw_chunk(task: tuple[EventStream, int]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Chunk k of a prepared stream (``task`` = (stream, k)), in whatever process runs it."""
    stream, k = task
    with threadpool_limits(limits=1, user_api="blas"):
        return stream.chunk(k)


def finish(job: SampleJob, stream: EventStream) -> dict:
    """Write the sample from its kept chunks (atomically), then drop them; returns its metadata."""
    kept = KeptChunks(job)
    meta = write_sample(job.path, stream.reading(kept.read))
    kept.remove()
    return meta


def produce(job: SampleJob, progress: Callable[[int], Any] | None = None) -> dict:
    """Train vegas, draw the chunks the job does not have yet (``KeptChunks``), write the file
    (atomically); returns its metadata. ``progress`` is called with the draws of every chunk."""
    stream = prepare(job)
    kept = KeptChunks(job)
    todo = set(kept.missing(stream.n_chunks))
    for k in range(stream.n_chunks):
        if k in todo:
            kept.keep(k, draw_chunk((stream, k)))
        if progress is not None:
            progress(stream.draws_per_chunk[k])
    return finish(job, stream)
