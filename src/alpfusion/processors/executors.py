"""Running the processor over sample files through coffea's executors.

:func:`process_samples` inspects the sample files (validated with
:func:`alpfusion.samples.rootio.open_sample`; sample name = file stem; signal when the metadata
has a number for ``m_a``, background when it has none), runs :class:`AlpProcessor` through
``coffea.processor.Runner`` with the iterative, futures or dask.distributed executor
(``processing`` section, or a dask client given by the caller) and returns a
:class:`~alpfusion.processors.results.ProcessingResult`. Any problem with an input file stops the
run with a :class:`ProcessingError` whose message starts with the file's path.
"""

from __future__ import annotations

import ast
import concurrent.futures
import contextlib
import io
import logging
import math
import multiprocessing
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from ..config import Config
from ..heap import retain_freed_memory
from ..samples.rootio import EVENTS_TREE, SampleError, open_sample
from .layouts import ALL_HISTOGRAMS
from .processor import AlpProcessor, ProcessingError, SampleInfo, yield_quantum
from .results import ProcessingResult

__all__ = ["find_samples", "inspect_sample", "inspect_samples", "package_versions", "process_samples"]


def find_samples(paths: Sequence[str | os.PathLike], sample_dir: str | os.PathLike) -> list[Path]:
    """The sample files: the given paths (files, or directories whose ``*.root`` files are taken),
    or, if none is given, the ``*.root`` files of ``sample_dir``; sorted, each once."""
    found: list[Path] = []
    for entry in [Path(p) for p in paths] or [Path(sample_dir)]:
        if entry.is_dir():
            found.extend(sorted(entry.glob("*.root")))
        else:
            found.append(entry)
    if not found:
        where = ", ".join(map(str, paths)) if paths else str(sample_dir)
        raise ProcessingError(f"{where}: no sample files (*.root) found")
    return sorted(set(found))


def inspect_sample(path: str | os.PathLike, cfg: Config) -> SampleInfo:
    """Validate a sample file and describe it for the processor.

    Reads the metadata and all weights (``open_sample`` validates the structure, every branch the
    metadata's particles require, and the weights); the sums of the yields y = w L and of y^2 give
    the rounding units of :func:`alpfusion.processors.processor.yield_quantum`.
    """
    path = Path(path)
    to_yield = cfg.beam.luminosity_pb
    try:
        with open_sample(path) as sample:
            meta = sample.metadata
    except SampleError as err:
        raise ProcessingError(str(err)) from err
    total, total2 = 0.0, 0.0
    try:
        with uproot.open(path) as rootfile:
            for chunk in rootfile[EVENTS_TREE].iterate(["weight"], step_size=1_000_000, library="np"):
                with np.errstate(over="ignore"):  # an overflow is reported below, naming the file
                    y = chunk["weight"] * to_yield
                    total += float(y.sum())
                    total2 += float((y * y).sum())
    except Exception as err:
        raise ProcessingError(f"{path}: cannot read the weights ({_describe(err)})") from err
    if not (math.isfinite(total) and math.isfinite(total2)):
        raise ProcessingError(
            f"{path}: the weights are too large: their yields at {cfg.beam.luminosity_fb:g} fb^-1 "
            "overflow a float64 when summed or squared (weights must be in pb per event)"
        )
    m_a = meta.get("m_a")
    if m_a is not None and (isinstance(m_a, bool) or not isinstance(m_a, (int, float)) or not math.isfinite(m_a)):
        raise ProcessingError(
            f"{path}: metadata 'm_a' must be a number (a signal sample) or null (a background), got {m_a!r}"
        )
    return SampleInfo(
        name=path.stem,
        path=os.fspath(path),
        kind="background" if m_a is None else "signal",
        process=str(meta.get("process")),
        m_a=None if m_a is None else float(m_a),
        particles=tuple(meta["particles"]),
        n_events=int(meta["n_events"]),
        sigma_pb=float(meta.get("sigma_pb", math.nan)),
        yield_quantum=yield_quantum(total),
        yield2_quantum=yield_quantum(total2),
    )


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


def inspect_samples(paths: Sequence[str | os.PathLike], cfg: Config) -> dict[str, SampleInfo]:
    """:func:`inspect_sample` for each file, keyed by sample name. File stems must be unique, and a
    mass may have one signal sample only (two would leave it open which one the limits use)."""
    samples: dict[str, SampleInfo] = {}
    for path in paths:
        info = inspect_sample(path, cfg)
        if info.name in samples:
            raise ProcessingError(
                f"{path}: sample name '{info.name}' (the file stem) is also the name of {samples[info.name].path}"
            )
        for other in samples.values():
            if info.m_a is not None and other.m_a is not None and math.isclose(info.m_a, other.m_a, abs_tol=1e-9):
                raise ProcessingError(
                    f"{path}: a second signal sample of m_a = {info.m_a:g} GeV besides "
                    f"{other.path}; give one signal sample per mass"
                )
        samples[info.name] = info
    return samples


@contextlib.contextmanager
def _worker_pool(workers: int, warm_up: Callable[[], None]) -> Iterator[Any]:
    """The process pool of the futures executor, shared by coffea's preprocessing and processing.

    This process, which merges the outputs with compiled code, is warmed up first (``warm_up``).
    Where the platform can fork (Linux), the workers are forked from it: they start with its
    imports and its loaded compiled kernels (otherwise about 2 s of start-up per worker, paid again
    by every pool) and are started once, not once per coffea stage. Python 3.11's
    ProcessPoolExecutor forks all its workers at the first submission, before its own threads
    start. Elsewhere the platform's default start method (spawn: fresh interpreters).
    """
    warm_up()
    context = multiprocessing.get_context("fork") if sys.platform == "linux" else None
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=retain_freed_memory) as pool:
        yield pool


@contextlib.contextmanager
def _executor(
    kind: str, workers: int, scheduler: str | None, status: bool, warm_up: Callable[[], None], client: Any = None
) -> Iterator[Any]:
    """A coffea executor of the given kind (``processing.executor``); with a dask ``client`` given,
    the dask executor on it; futures with one worker is the iterative executor (a pool of one process
    would only add its start-up). A dask client of our own and its LocalCluster (or the connection to
    ``scheduler``) live as long as the context. ``warm_up`` prepares this process before the
    futures executor forks its workers from it."""
    from coffea import processor

    if client is not None:
        yield processor.DaskExecutor(client=client, status=status, retries=0, compression=None)
    elif kind == "iterative" or (kind == "futures" and workers <= 1):
        yield processor.IterativeExecutor(status=status, retries=0)
    elif kind == "futures":
        with _worker_pool(workers, warm_up) as pool:
            yield processor.FuturesExecutor(workers=workers, status=status, retries=0, compression=None, pool=pool)
    elif kind == "dask":
        from distributed import Client, LocalCluster

        with contextlib.ExitStack() as stack:
            if scheduler is None:
                cluster = stack.enter_context(
                    LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        silence_logs=logging.ERROR,
                    )
                )
                client = stack.enter_context(Client(cluster))
            else:
                client = stack.enter_context(Client(scheduler))
            yield processor.DaskExecutor(client=client, status=status, retries=0, compression=None)
    else:
        raise ValueError(f"processing.executor: unknown executor '{kind}' (iterative, futures, dask)")


def _reported_error(err: BaseException) -> ProcessingError | None:
    """The ProcessingError (naming the file) that the processor raised, if it is behind ``err``.

    coffea wraps it, and process pools lose the exception chain, so the chain is searched first,
    then coffea's message for the repr of the ProcessingError.
    """
    chain: list[BaseException] = []
    link: BaseException | None = err
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__
    for link in chain:
        if isinstance(link, ProcessingError):
            return ProcessingError(str(link))
    # coffea's wrapper: "Failed processing file: WorkItem(...). The error was: ProcessingError('...')."
    wrapped = re.search(r"The error was: ProcessingError\((.*)\)\.\s*$", str(chain[0]), re.DOTALL)
    if wrapped:
        with contextlib.suppress(ValueError, SyntaxError):
            return ProcessingError(str(ast.literal_eval(wrapped.group(1))))
    return None


def _input_error(err: BaseException, samples: dict[str, SampleInfo]) -> ProcessingError:
    """Any other error of a failed run as a ProcessingError, naming the input file that coffea's
    message mentions, if any."""
    text = " ".join(str(err).split())
    for info in samples.values():
        if info.path in text:
            return ProcessingError(f"{info.path}: processing failed ({_describe(err)})")
    return ProcessingError(f"processing failed ({_describe(err)})")


def package_versions() -> dict[str, str]:
    """The versions of alpfusion and of the libraries that shape its histograms."""
    import awkward
    import coffea
    import hist

    from .. import __version__

    return {
        "alpfusion": __version__,
        "coffea": coffea.__version__,
        "hist": hist.__version__,
        "awkward": awkward.__version__,
        "uproot": uproot.__version__,
        "numpy": np.__version__,
    }


def process_samples(
    cfg: Config,
    paths: Sequence[str | os.PathLike],
    *,
    executor: str | None = None,
    workers: int | None = None,
    chunk_size: int | None = None,
    scheduler: str | None = None,
    status: bool = False,
    client: Any = None,
    histograms: Sequence[str] = ALL_HISTOGRAMS,
) -> ProcessingResult:
    """Run the processor over the sample files; the keyword arguments override ``processing``; with
    a dask.distributed ``client``, on its cluster (the same histograms as any other executor).
    ``histograms`` names the histograms to fill (:class:`AlpProcessor`), all by default.

    Raises ProcessingError, naming the file, for an unreadable, corrupt or unsuitable input.
    """
    from coffea import processor
    from coffea.nanoevents import BaseSchema

    settings = cfg.processing
    samples = inspect_samples(paths, cfg)
    proc = AlpProcessor(cfg, samples, histograms)
    for info in samples.values():
        proc.check_sample(info)
    fileset = {name: {"files": {info.path: EVENTS_TREE}} for name, info in samples.items()}
    with _executor(
        executor or settings.executor,
        workers or settings.workers,
        scheduler or settings.scheduler,
        status,
        proc.warm_up,
        client,
    ) as ex:
        runner = processor.Runner(
            executor=ex,
            schema=BaseSchema,
            chunksize=chunk_size or settings.chunk_size,
            metadata_cache={},
            skipbadfiles=False,
        )
        coffea_log = io.StringIO()
        try:
            # coffea's futures executor prints the traceback of a failed work item: kept back, and
            # shown only if the failure is not an input problem that the processor has reported
            with contextlib.redirect_stderr(coffea_log):
                # local files, memory-mapped: half the reading time of uproot's default threaded source
                out = runner(fileset, proc, uproot_options={"handler": uproot.MemmapSource})
        except Exception as err:
            reported = _reported_error(err)
            if reported is None:
                sys.stderr.write(coffea_log.getvalue())
            raise (reported or _input_error(err, samples)) from err
        sys.stderr.write(coffea_log.getvalue())
    return ProcessingResult(
        histograms=out,
        samples=samples,
        hypotheses=proc.hypotheses,
        luminosity_fb=cfg.beam.luminosity_fb,
        config=cfg.as_dict(),
        config_hash=cfg.hash,
        versions=package_versions(),
    )
