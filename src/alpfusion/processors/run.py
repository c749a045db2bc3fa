"""Running the processor over samples and saving what it filled.

:func:`process_samples` inspects the sample files (validated with
:func:`alpfusion.samples.rootio.open_sample`; sample name = file stem; signal when the metadata
has a number for ``m_a``, background otherwise), runs :class:`AlpProcessor` through
``coffea.processor.Runner`` with the iterative, futures or dask.distributed executor
(``processing`` section) and returns a :class:`ProcessingResult`. Any problem with an input file
stops the run with a :class:`ProcessingError` whose message starts with the file's path.

:func:`save_result` writes, each atomically (temporary file in the same directory, then
``os.replace``), so that the outputs of an earlier run are replaced only by complete new ones:

* ``histograms.root``: for cabinetry, ``{region}_{sample}`` = the analysis plane of the region
  (mass hypothesis ``ma1p000`` = 1 GeV) unrolled into 1D (bin ``i * (n + 2) + j`` holds m_ee bin
  i, |m_ee^tau| bin j, flow bins included, so nothing is lost); ``plane/{region}_{sample}`` the
  same as a TH2D; ``control/{name}_{sample}`` the control histograms; ``cutflow/{region}_{sample}``
  the weighted cut flow (bins labelled by cut).
* ``histograms.coffea``: the lossless copy, written with ``coffea.util.save`` (an lz4-compressed
  pickle; ``coffea.util.load`` reads it back) of a plain dict: ``histograms`` (the coffea
  accumulator ``{sample: {name: hist.Hist}}``), ``samples`` (each sample's SampleInfo as a dict),
  ``regions`` (each mass hypothesis and its cuts), ``luminosity_fb``, ``config`` (the validated
  configuration as a dict), ``config_hash`` and ``versions``.
"""

from __future__ import annotations

import ast
import concurrent.futures
import contextlib
import dataclasses
import io
import logging
import math
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from ..config import Config
from ..samples.rootio import EVENTS_TREE, SampleError, open_sample
from .processor import HISTOGRAMS, AlpProcessor, ProcessingError, SampleInfo, yield_quantum
from .selection import CUTS

__all__ = [
    "COPY_NAME",
    "ROOT_NAME",
    "ProcessingResult",
    "cutflow_rows",
    "find_samples",
    "format_cutflow",
    "inspect_sample",
    "inspect_samples",
    "load_result",
    "process_samples",
    "save_result",
]

ROOT_NAME = "histograms.root"
COPY_NAME = "histograms.coffea"


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
                y = chunk["weight"] * to_yield
                total += float(y.sum())
                total2 += float((y * y).sum())
    except Exception as err:
        raise ProcessingError(f"{path}: cannot read the weights ({_describe(err)})") from err
    m_a = meta.get("m_a")
    return SampleInfo(
        name=path.stem,
        path=os.fspath(path),
        kind="signal" if isinstance(m_a, (int, float)) else "background",
        process=str(meta.get("process")),
        m_a=float(m_a) if isinstance(m_a, (int, float)) else None,
        particles=tuple(meta["particles"]),
        n_events=int(meta["n_events"]),
        sigma_pb=float(meta.get("sigma_pb", math.nan)),
        yield_quantum=yield_quantum(total),
        yield2_quantum=yield_quantum(total2),
    )


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


def inspect_samples(paths: Sequence[str | os.PathLike], cfg: Config) -> dict[str, SampleInfo]:
    """:func:`inspect_sample` for each file, keyed by sample name (file stems must be unique)."""
    samples: dict[str, SampleInfo] = {}
    for path in paths:
        info = inspect_sample(path, cfg)
        if info.name in samples:
            raise ProcessingError(f"{path}: sample name '{info.name}' (the file stem) is also the name "
                                  f"of {samples[info.name].path}")
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
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        yield pool


@contextlib.contextmanager
def _executor(kind: str, workers: int, scheduler: str | None, status: bool,
              warm_up: Callable[[], None]) -> Iterator[Any]:
    """A coffea executor of the given kind (``processing.executor``); a dask client and its
    LocalCluster (or the connection to ``scheduler``) live as long as the context. ``warm_up``
    prepares this process before the futures executor forks its workers from it."""
    from coffea import processor

    if kind == "iterative":
        yield processor.IterativeExecutor(status=status, retries=0)
    elif kind == "futures":
        with _worker_pool(workers, warm_up) as pool:
            yield processor.FuturesExecutor(workers=workers, status=status, retries=0, compression=None, pool=pool)
    elif kind == "dask":
        from distributed import Client, LocalCluster

        with contextlib.ExitStack() as stack:
            if scheduler is None:
                cluster = stack.enter_context(LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                    silence_logs=logging.ERROR))
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
    while err is not None and err not in chain:
        chain.append(err)
        err = err.__cause__ or err.__context__
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


@dataclass
class ProcessingResult:
    """The histograms of a run with what is needed to interpret them."""

    histograms: dict[str, dict[str, Any]]
    samples: dict[str, dict[str, Any]]
    regions: list[dict[str, Any]]
    luminosity_fb: float
    config: dict[str, Any]
    config_hash: str
    versions: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (no copies), the content of histograms.coffea."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _versions() -> dict[str, str]:
    import awkward
    import coffea
    import hist

    from .. import __version__

    return {"alpfusion": __version__, "coffea": coffea.__version__, "hist": hist.__version__,
            "awkward": awkward.__version__, "uproot": uproot.__version__, "numpy": np.__version__}


def process_samples(cfg: Config, paths: Sequence[str | os.PathLike], *, executor: str | None = None,
                    workers: int | None = None, chunk_size: int | None = None,
                    scheduler: str | None = None, status: bool = False) -> ProcessingResult:
    """Run the processor over the sample files; the keyword arguments override ``processing``.

    Raises ProcessingError, naming the file, for an unreadable, corrupt or unsuitable input.
    """
    from coffea import processor
    from coffea.nanoevents import BaseSchema

    settings = cfg.processing
    samples = inspect_samples(paths, cfg)
    proc = AlpProcessor(cfg, samples)
    for info in samples.values():
        proc.check_sample(info)
    fileset = {name: {"files": {info.path: EVENTS_TREE}} for name, info in samples.items()}
    with _executor(executor or settings.executor, workers or settings.workers,
                   scheduler or settings.scheduler, status, proc.warm_up) as ex:
        runner = processor.Runner(executor=ex, schema=BaseSchema, chunksize=chunk_size or settings.chunk_size,
                                  metadata_cache={}, skipbadfiles=False)
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
        samples={name: dataclasses.asdict(info) for name, info in samples.items()},
        regions=[dataclasses.asdict(h) | {"region": h.region, "m2_window": h.m2_window,
                                          "e_miss_window": h.e_miss_window} for h in proc.hypotheses],
        luminosity_fb=cfg.beam.luminosity_fb,
        config=cfg.as_dict(),
        config_hash=cfg.hash,
        versions=_versions(),
    )


def _unrolled(plane) -> Any:
    """A 2D Weight histogram (flow included) as a 1D one of (n + 2) (m + 2) unit bins."""
    import hist

    view = plane.view(flow=True)
    out = hist.Hist(hist.axis.Regular(view.size, 0.0, float(view.size), name="bin",
                                      label="(m_ee, |m_ee^tau|) bin, flow bins included"),
                    storage=hist.storage.Weight())
    out.view()["value"] = view["value"].ravel()
    out.view()["variance"] = view["variance"].ravel()
    return out


def _root_objects(result: ProcessingResult) -> Iterator[tuple[str, Any]]:
    """(name, hist) pairs written to histograms.root (names in the module docstring)."""
    for sample, hists in result.histograms.items():
        for k, region in enumerate(r["region"] for r in result.regions):
            plane = hists["analysis"][k, ...]
            yield f"{region}_{sample}", _unrolled(plane)
            yield f"plane/{region}_{sample}", plane
            yield f"cutflow/{region}_{sample}", hists["cutflow"][k, :]
        for name in HISTOGRAMS:
            if name not in ("analysis", "cutflow", "cutflow_raw"):
                yield f"control/{name}_{sample}", hists[name]


@contextlib.contextmanager
def _atomic_path(path: Path) -> Iterator[Path]:
    """A path in a temporary directory next to ``path``, moved onto ``path`` with os.replace when the
    block succeeds; the directory is removed in any case (an earlier ``path`` is untouched on error)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent))
    try:
        yield tmpdir / path.name
        os.replace(tmpdir / path.name, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def save_result(result: ProcessingResult, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write histograms.root and histograms.coffea into ``out_dir``, each atomically; their paths."""
    from coffea.util import save

    out_dir = Path(out_dir)
    root_path, copy_path = out_dir / ROOT_NAME, out_dir / COPY_NAME
    with _atomic_path(copy_path) as tmp_copy, _atomic_path(root_path) as tmp_root:
        save(result.as_dict(), tmp_copy)
        with uproot.recreate(tmp_root, compression=uproot.ZSTD(1)) as rootfile:
            for name, obj in _root_objects(result):
                rootfile[name] = obj
    return root_path, copy_path


def load_result(path: str | os.PathLike) -> ProcessingResult:
    """Read the lossless copy written by :func:`save_result` (histograms.coffea or its directory)."""
    from coffea.util import load

    path = Path(path)
    if path.is_dir():
        path = path / COPY_NAME
    if not path.is_file():
        raise ProcessingError(f"{path}: no such file (run 'alpfusion process' first)")
    try:
        return ProcessingResult(**load(path))
    except Exception as err:
        raise ProcessingError(f"{path}: not a histogram file of alpfusion process ({_describe(err)})") from err


def cutflow_rows(result: ProcessingResult, samples: Sequence[str] = (), masses: Sequence[float] = ()) -> list[dict]:
    """The cut flow as records: sample, kind, region, m_a, cut, yield, error (sqrt of the sum of
    y^2) and raw (MC events), for the chosen samples and masses (all when empty)."""
    unknown = sorted(set(samples) - set(result.histograms))
    if unknown:
        raise ProcessingError(f"no sample {unknown} in the histograms (have {sorted(result.histograms)})")
    regions = [r for r in result.regions if not masses or any(math.isclose(r["m_a"], m) for m in masses)]
    if masses and not regions:
        raise ProcessingError(f"no mass hypothesis {list(masses)} in the histograms "
                              f"(have {[r['m_a'] for r in result.regions]})")
    rows = []
    for sample in samples or sorted(result.histograms):
        hists = result.histograms[sample]
        index = {r["region"]: k for k, r in enumerate(result.regions)}
        for region in regions:
            k = index[region["region"]]
            values, variances = hists["cutflow"].values()[k], hists["cutflow"].variances()[k]
            raw = hists["cutflow_raw"].values()[k]
            for j, cut in enumerate(CUTS):
                rows.append({"sample": sample, "kind": result.samples[sample]["kind"], "region": region["region"],
                             "m_a": region["m_a"], "cut": cut, "yield": float(values[j]),
                             "error": float(np.sqrt(variances[j])), "raw": int(raw[j])})
    return rows


def format_cutflow(rows: list[dict], luminosity_fb: float) -> str:
    """The cut-flow records as a text table, one block per sample and mass hypothesis."""
    lines = [f"# expected events for {luminosity_fb:g} fb^-1 (error: MC statistics, sqrt of the sum of "
             "y^2); raw: MC events"]
    previous = None
    for row in rows:
        if (row["sample"], row["region"]) != previous:
            previous = (row["sample"], row["region"])
            lines.append("")
            lines.append(f"{row['sample']} ({row['kind']}), {row['region']} (m_a = {row['m_a']:g} GeV)")
            lines.append(f"  {'cut':<14}{'yield':>14}{'error':>12}{'raw':>12}")
        lines.append(f"  {row['cut']:<14}{row['yield']:>14.6g}{row['error']:>12.3g}{row['raw']:>12d}")
    return "\n".join(lines) + "\n"
