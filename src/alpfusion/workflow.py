"""The analysis chain as library calls: plan -> produce -> process -> optimise -> set limits -> publish.

Each stage is a function with typed inputs and results, reading what the previous one wrote and
writing its own outputs atomically (``alpfusion.atomic``), so that a user can enter at any stage and
an interrupted run resumes. :func:`run` composes them on one configuration into one output folder::

    from alpfusion.config import load_config
    from alpfusion.workflow import run

    result = run(load_config("my.yaml"), "output")
    result.limits.rows            # the limits table (alpfusion.fits.scan.MassPoint records)

The command line is a thin layer over these functions. Long stages report through a
:class:`Progress` (the command line draws progress bars; the default reports nothing). Independent
tasks (samples, mass points) run on a :class:`alpfusion.parallel.TaskPool`: local processes by
default, a dask.distributed cluster when ``processing.scheduler`` is set or a client is passed.

Layout of :func:`run`'s output folder: ``samples/`` (ROOT samples), ``histograms_configured/``
(histograms.npz with the configuration's cuts, the optimisation's input alone), ``cuts/`` (cuts.csv,
cuts.yaml), ``histograms/`` (with the optimised cuts, all but the optimisation's input), ``limits/``
(limits.csv, reach_summary.png/.pdf/_layers.csv, reach.png/.pdf/_layers.csv, templates.root, configs/,
workspaces/, published/, hepdata/) and ``provenance.json``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

from . import __version__
from .atomic import OutputLock, atomic_folder, remove_stale, write_json, write_yaml
from .config import BACKGROUND_PROCESSES, COMPONENTS, Config, ConfigError, LostPhotons, Overlay, TauPair
from .errors import AlpfusionError
from .fits.replicas import Spread, spread
from .fits.scan import MassPoint, MassPointWorkspace, run_scan, write_rows
from .hepdata import write_submission
from .models.publish import publish_workspaces
from .models.workspace import mass_point_models
from .parallel import LocalPool, TaskPool, task_pool
from .plotting import Layer, context_layers, expected_layers, limit_layers, reach_plot, reach_title, read_overlay
from .processors.executors import package_versions, process_samples
from .processors.layouts import HISTOGRAMS, OPTIMISATION
from .processors.optimise import OptimisedCuts, optimise_all, per_mass_selection
from .processors.results import ProcessingResult, mean_of_samples, save_result
from .samples.bias import BiasFunction
from .samples.generator import Generator
from .samples.lostphotons import LostPhotonProcess, LostPhotonsProcess, LostPhotonsSettings
from .samples.processes import PROCESSES, SignalProcess, SignalSettings
from .samples.production import (
    KeptChunks,
    SampleJob,
    draw_chunk,
    finish,
    prepare,
    sample_seed,
    train_channel,
    up_to_date,
)
from .samples.taupair import TauPairProcess, TauPairSettings

__all__ = [
    "BACKGROUNDS",
    "LOST_PHOTON",
    "LOST_PHOTONS",
    "TAU_PAIR",
    "CrossSectionRow",
    "CrossSectionTask",
    "CutsResult",
    "LimitsResult",
    "ProductionReport",
    "Progress",
    "RunResult",
    "WorkflowError",
    "background_process",
    "background_section",
    "cross_section_tasks",
    "cross_sections",
    "lowest_e_low",
    "optimise",
    "overlay_curves",
    "plan_samples",
    "process",
    "produce_samples",
    "publish",
    "reach_layers",
    "replica_limits",
    "replicas",
    "run",
    "set_limits",
    "summary_layers",
    "with_cuts",
]

log = logging.getLogger(__name__)

TAU_PAIR, LOST_PHOTONS = BACKGROUND_PROCESSES
"""The tau-pair background process and the QED background e+e- -> e+e- gamma gamma with both photons
lost (no mass; named once, in alpfusion.config)."""
LOST_PHOTON = "ee_to_eeg"
"""e+e- -> e+e- gamma with the photon lost, with the cuts of ``backgrounds.qed2`` (not in the default run)."""
BACKGROUNDS = {TAU_PAIR: "tautau", LOST_PHOTONS: "qed2", LOST_PHOTON: "qed2"}
"""The background processes and their sections of ``backgrounds``."""


def background_section(cfg: Config, process: str) -> TauPair | LostPhotons:
    """The configuration section of a background (a key of :data:`BACKGROUNDS`); an error if it is null."""
    section = getattr(cfg.backgrounds, BACKGROUNDS[process])
    if section is None:
        raise WorkflowError(f"backgrounds.{BACKGROUNDS[process]} is null: the {process} background is not configured")
    return section


def background_process(cfg: Config, process: str) -> TauPairProcess | LostPhotonsProcess | LostPhotonProcess:
    """The generator process of a background (a key of :data:`BACKGROUNDS`) in the configuration."""
    if process == TAU_PAIR:
        return TauPairProcess(TauPairSettings.from_config(cfg))
    settings = LostPhotonsSettings.from_config(cfg)
    return LostPhotonProcess(settings) if process == LOST_PHOTON else LostPhotonsProcess(settings)


class WorkflowError(AlpfusionError):
    """A stage cannot run as asked (an impossible request, conflicting samples)."""


class Progress(Protocol):
    """How long stages report: a new stage with its total (None: unknown) and unit, advances, notes."""

    def stage(self, name: str, total: float | None = None, unit: str = "") -> None: ...

    def advance(self, n: float = 1) -> None: ...

    def note(self, text: str) -> None: ...


class SilentProgress:
    """Reports nothing (the default of every library call); notes go to the module logger."""

    def stage(self, name: str, total: float | None = None, unit: str = "") -> None:
        log.info("stage %s", name)

    def advance(self, n: float = 1) -> None:
        pass

    def note(self, text: str) -> None:
        log.info(text)


class InteractiveProgress(SilentProgress):
    """Marks a progress reporter that draws on a terminal (coffea's own bars are shown then)."""


# --------------------------------------------------------------------------------------------------
# samples


def sample_path(out_dir: str | os.PathLike, process: str, m_a: float | None = None, component: str = "both") -> Path:
    """The file of a sample: ``{process}[_{component}]_ma{m_a}.root``, ``ee_to_tautau.root``."""
    if m_a is None:
        return Path(out_dir) / f"{process}.root"
    tag = "" if process == "ee_to_gamma_a" or component == "both" else f"_{component}"
    return Path(out_dir) / f"{process}{tag}_ma{m_a:g}.root"


def plan_samples(
    cfg: Config,
    out_dir: str | os.PathLike,
    *,
    process: str | None = None,
    masses: Sequence[float] | None = None,
    events: int | None = None,
    seed: int | None = None,
    component: str | None = None,
    unweight: bool = False,
) -> list[SampleJob]:
    """The sample jobs of a configuration: with ``process`` None, the backgrounds (the tau pairs, and
    the QED background when ``backgrounds.qed2`` is set) and the signal ``ee_to_eea`` at every mass
    of ``signal.masses`` (what :func:`run` needs); otherwise one process (``ee_to_eea``,
    ``ee_to_gamma_a``, or a background of :data:`BACKGROUNDS`) at the given masses (default the grid).
    ``events`` and ``seed`` override the configuration's; each mass gets :func:`sample_seed`."""
    if process is None:
        backgrounds = [TAU_PAIR] if cfg.backgrounds.qed2 is None else [TAU_PAIR, LOST_PHOTONS]
        return [
            *(job for name in backgrounds for job in plan_samples(cfg, out_dir, process=name, seed=seed)),
            *plan_samples(
                cfg,
                out_dir,
                process="ee_to_eea",
                masses=masses,
                events=events,
                seed=seed,
                component=component,
                unweight=unweight,
            ),
        ]
    if events is not None and events < 1:
        raise WorkflowError(f"the number of events must be at least 1, got {events}")
    base_seed = cfg.generation.seed if seed is None else seed
    if base_seed < 0:
        raise WorkflowError(f"the seed must be non-negative, got {base_seed}")
    component = component or cfg.signal.component
    provenance = {"config_hash": cfg.hash, "config_source": cfg.source, "base_seed": base_seed}
    vegas, chunk = cfg.generation.vegas, cfg.generation.chunk_size
    if process in BACKGROUNDS:
        background = background_section(cfg, process)
        if background.bias is not None and unweight:
            raise WorkflowError(
                f"backgrounds.{BACKGROUNDS[process]}.bias: a biased sample cannot be unweighted (that undoes the bias)"
            )
        bias = None
        if background.bias is not None:
            bias = BiasFunction(background.bias, cfg.beam.sqrt_s, cfg.observables.cphi_estimator)
        return [
            SampleJob(
                sample_path(out_dir, process),
                background_process(cfg, process),
                background.vegas or vegas,
                base_seed if process == TAU_PAIR else sample_seed(base_seed, process, None),
                events or background.events,
                chunk,
                unweight,
                provenance,
                process,
                bias,
            )
        ]
    if process not in PROCESSES:
        raise WorkflowError(f"unknown process '{process}' (known: {', '.join((*PROCESSES, *BACKGROUNDS))})")
    jobs = []
    for m_a in cfg.signal.masses if masses is None else masses:
        try:
            settings = SignalSettings.from_config(cfg, process, m_a, component=component)
        except (ValueError, ConfigError) as err:
            raise WorkflowError(str(err)) from None
        jobs.append(
            SampleJob(
                sample_path(out_dir, process, m_a, component),
                SignalProcess(settings),
                vegas,
                sample_seed(base_seed, process, m_a),
                events or cfg.generation.events,
                chunk,
                unweight,
                provenance,
                f"{process} m_a={m_a:g}",
            )
        )
    paths = [job.path for job in jobs]
    if len(set(paths)) != len(paths):
        raise WorkflowError(f"two masses give the same sample file ({sorted(map(str, paths))}): give distinct masses")
    return jobs


@dataclass(frozen=True)
class ProductionReport:
    """The samples a production kept (up to date on disk) and those it made, with their metadata."""

    kept: list[SampleJob]
    produced: list[tuple[SampleJob, dict]]


def produce_samples(
    jobs: Sequence[SampleJob], pool: TaskPool | None = None, *, force: bool = False, progress: Progress | None = None
) -> ProductionReport:
    """Make the samples of ``jobs`` that are not up to date (all with ``force``), on ``pool``
    (default: in this process), in three steps: every job's vegas maps are trained (one task per
    channel, those of the largest jobs first), then every chunk of draws that is not kept yet is
    drawn (one task per chunk, whichever job it belongs to: a large sample spreads over all workers,
    or over a dask cluster; each chunk has its own random streams, so the result does not depend on
    where or in which order), each kept as it arrives (``KeptChunks``: an interrupted production resumes
    without drawing a chunk twice), then each file is written from its chunks, atomically. A failing
    task raises its error once the tasks already running have finished; kept chunks and files
    already written stay."""
    progress = progress or SilentProgress()
    pool = pool or LocalPool(1)
    kept = [job for job in jobs if not force and up_to_date(job)]
    for job in kept:
        progress.note(f"{job.path}: up to date, kept")
    todo = sorted((job for job in jobs if job not in kept), key=lambda job: -job.n_draws)
    if force:
        for job in todo:
            KeptChunks(job).remove()
    produced = []
    if todo:
        channels = [(job, i) for job in todo for i in range(len(job.process.channels))]
        progress.stage(f"training {len(todo)} sample(s)", len(channels), "channel")
        trained = pool.map(train_channel, channels, on_done=progress.advance)
        progress.stage(f"generating {len(todo)} sample(s)", sum(job.n_draws for job in todo), "ev")
        starts = np.cumsum([0, *(len(job.process.channels) for job in todo)])
        streams = [prepare(job, trained[a:b]) for job, a, b in zip(todo, starts[:-1], starts[1:])]
        tasks = [(j, k) for j, job in enumerate(todo) for k in KeptChunks(job).missing(streams[j].n_chunks)]
        missing = set(tasks)
        done_before = sum(
            n for j, s in enumerate(streams) for k, n in enumerate(s.draws_per_chunk) if (j, k) not in missing
        )
        if done_before:  # the chunks kept by an interrupted production
            progress.advance(done_before)
        for index, drawn in pool.as_completed(draw_chunk, [(streams[j], k) for j, k in tasks]):
            j, k = tasks[index]
            KeptChunks(todo[j]).keep(k, drawn)
            progress.advance(streams[j].draws_per_chunk[k])
        for job, stream in zip(todo, streams):
            meta = finish(job, stream)
            produced.append((job, meta))
            _note_sample(progress, job, meta)
    return ProductionReport(kept, produced)


def _note_sample(progress: Progress, job: SampleJob, meta: dict) -> None:
    progress.note(
        f"{job.path}: {meta['n_events']} events, sigma = {meta['sigma_pb'] * 1e3:.6g} "
        f"+- {meta['sigma_err_pb'] * 1e3:.2g} fb"
    )


@dataclass(frozen=True)
class CrossSectionTask:
    """One cross section to compute: a process at a mass (None for a background), a diagram
    component, an acceptance."""

    process: str
    m_a: float | None
    component: str
    theta_min_deg: float | None
    inclusive: bool


@dataclass(frozen=True)
class CrossSectionRow:
    """A cross section in fb with its MC error (``theta_min_deg`` is "none" for no acceptance cut;
    ``m_a`` is None for a background)."""

    process: str
    m_a: float | None
    component: str
    theta_min_deg: float | str
    sigma_fb: float
    error_fb: float


def cross_section_tasks(
    cfg: Config,
    processes: Sequence[str],
    masses: Sequence[float] | None = None,
    component: str | None = None,
    theta_mins: Sequence[float | None] = (None,),
    inclusive: bool = False,
) -> list[CrossSectionTask]:
    """Every (process, mass, component, theta_min) to compute: the masses default to the grid; with
    ``component`` None, e+e- -> e+e- a is computed for each diagram component in turn. A background
    (:data:`BACKGROUNDS`) has no mass and no components, and needs the acceptance of its electrons."""
    tasks = []
    for process in processes:
        if process in BACKGROUNDS:
            if inclusive:
                raise WorkflowError(f"{process}: a background is defined by the acceptance; drop --inclusive")
            tasks += [CrossSectionTask(process, None, "-", theta, False) for theta in theta_mins]
            continue
        components = ["both"] if process == "ee_to_gamma_a" else ([component] if component else list(COMPONENTS))
        for theta in [None] if inclusive else theta_mins:
            tasks += [
                CrossSectionTask(process, m_a, comp, theta, inclusive)
                for m_a in (cfg.signal.masses if masses is None else masses)
                for comp in components
            ]
    return tasks


def cross_sections(
    cfg: Config, tasks: Sequence[CrossSectionTask], *, seed: int | None = None, progress: Progress | None = None
) -> list[CrossSectionRow]:
    """The cross sections of the tasks from trained vegas maps (no events written), in fb."""
    progress = progress or SilentProgress()
    progress.stage("cross sections", len(tasks), "xsec")
    rows = []
    base_seed = cfg.generation.seed if seed is None else seed
    for task in tasks:
        result = _cross_section_generator(cfg, task, base_seed).train()
        theta_min = cfg.acceptance.theta_min_deg if task.theta_min_deg is None else task.theta_min_deg
        rows.append(
            CrossSectionRow(
                task.process,
                task.m_a,
                task.component if task.process == "ee_to_eea" else "-",
                "none" if task.inclusive else theta_min,
                result.sigma * 1e3,
                result.error * 1e3,
            )
        )
        progress.advance(1)
    return rows


def _cross_section_generator(cfg: Config, task: CrossSectionTask, seed: int) -> Generator:
    """The generator of a task: a signal process with ``generation.vegas``, or a background with its
    own vegas settings, in the acceptance the task asks for."""
    if task.process not in BACKGROUNDS:
        settings = SignalSettings.from_config(
            cfg,
            task.process,
            task.m_a if task.m_a is not None else 0.0,
            component=task.component,
            theta_min_deg=task.theta_min_deg,
            inclusive=task.inclusive,
        )
        return Generator(SignalProcess(settings), cfg.generation.vegas, seed)
    if task.theta_min_deg is not None:
        cfg = cfg.replace(acceptance={"theta_min_deg": task.theta_min_deg, "theta_max_deg": 180.0 - task.theta_min_deg})
    vegas = background_section(cfg, task.process).vegas or cfg.generation.vegas
    return Generator(background_process(cfg, task.process), vegas, seed)


# --------------------------------------------------------------------------------------------------
# histograms, cuts, limits


def process(
    cfg: Config,
    samples: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    client: Any = None,
    progress: Progress | None = None,
    root: bool = True,
    **overrides: Any,
) -> ProcessingResult:
    """Run the coffea processor over the sample files and save the histograms into ``out_dir``
    (histograms.npz lossless, and with ``root`` histograms.root for cabinetry); ``overrides`` are those
    of :func:`alpfusion.processors.executors.process_samples` (executor, workers, chunk_size, scheduler)."""
    progress = progress or SilentProgress()
    progress.stage(f"processing {len(samples)} sample(s)")
    result = process_samples(cfg, samples, client=client, status=isinstance(progress, InteractiveProgress), **overrides)
    written = save_result(result, out_dir, root=root)
    progress.note(f"{len(result.hypotheses)} mass hypotheses; wrote {' and '.join(map(str, written))}")
    return result


@dataclass(frozen=True)
class CutsResult:
    """The optimised cuts, the masses that kept the configured ones (with the reason), and the
    configuration with the optimised cuts as its ``selection.per_mass``."""

    cuts: list[OptimisedCuts]
    failures: list[str]
    config: Config


MISSING_ENERGY_MARGIN = 0.5
"""GeV between the QED sample's missing-energy cut and the lowest E_low: five times the E*_miss
resolution of two electrons of up to sqrt(s)/2 (dE/E about 1.4%, physics.md section 3)."""


def lowest_e_low(cfg: Config) -> float:
    """The lowest E_low the optimiser may choose: above the QED sample's missing-energy cut by
    :data:`MISSING_ENERGY_MARGIN`, so that no event it did not generate is smeared into the selection."""
    qed = cfg.backgrounds.qed2
    return 0.0 if qed is None else qed.missing_energy_min + MISSING_ENERGY_MARGIN


def optimise(result: ProcessingResult, cfg: Config, out_dir: str | os.PathLike | None = None) -> CutsResult:
    """Optimise (kappa, E_low, eta_high) per mass on a processing result, E_low at least
    :func:`lowest_e_low`; with ``out_dir``, write cuts.csv and cuts.yaml (a ``selection`` section
    for a configuration) there."""
    cuts, failures = optimise_all(result, e_low_min=lowest_e_low(cfg))
    for message in failures:
        log.warning("%s; the configuration's cuts are kept for this mass", message)
    selection = {"per_mass": per_mass_selection(cuts)}
    if out_dir is not None:
        write_rows(Path(out_dir) / "cuts.csv", cuts)
        write_yaml(Path(out_dir) / "cuts.yaml", {"selection": selection})
    return CutsResult(cuts, failures, cfg.replace(selection=selection))


def with_cuts(cfg: Config, cuts_file: str | os.PathLike) -> Config:
    """The configuration with the ``selection`` section of a cuts.yaml written by :func:`optimise`."""
    try:
        selection = yaml.safe_load(Path(cuts_file).read_text(encoding="utf-8"))["selection"]
    except (OSError, UnicodeDecodeError, KeyError, TypeError, yaml.YAMLError) as err:
        raise WorkflowError(
            f"{cuts_file}: not a cuts file with a 'selection' section ({type(err).__name__}: {err})"
        ) from None
    try:
        return cfg.replace(selection=selection)
    except ConfigError as err:
        raise WorkflowError(f"{cuts_file}: {err}") from None


@dataclass(frozen=True)
class LimitsResult:
    """The limits table, the mass points' workspaces and the folder they were written to."""

    rows: list[MassPoint]
    workspaces: list[MassPointWorkspace]
    folder: Path

    @property
    def failed(self) -> list[MassPoint]:
        """The mass points without a CLs limit, or without the toys' limit asked for (the row says why)."""
        return [row for row in self.rows if "failed" in row.cls_method]


def set_limits(
    result: ProcessingResult,
    cfg: Config,
    out_dir: str | os.PathLike,
    *,
    pool: TaskPool | None = None,
    progress: Progress | None = None,
) -> LimitsResult:
    """Expected 95% CL limits per mass point (Lambda < 4 and CLs side by side) and the published
    likelihoods. ``out_dir`` is replaced as a whole when everything is written (limits.csv, the summary
    reach plot of the expected limit to quote, reach_summary.png/.pdf/_layers.csv, the reach plot of
    every limit, reach.png/.pdf/_layers.csv, templates.root, configs/, workspaces/, published/, hepdata/):
    never a mix of two runs."""
    progress = progress or SilentProgress()
    out_dir = Path(out_dir)
    models = mass_point_models(result, cfg.statistics)
    progress.stage(f"limits at {len(models)} mass point(s)", len(models), "mass")
    with atomic_folder(out_dir) as tmp:
        scan = run_scan(
            models,
            cfg.statistics,
            cfg.signal.g_ref,
            tmp,
            final_dir=out_dir,
            seed=cfg.generation.seed,
            mapper=functools.partial((pool or LocalPool(1)).map, on_done=lambda: progress.advance(1)),
        )
        write_rows(tmp / "limits.csv", scan.rows)
        title = reach_title(cfg.beam.luminosity_fb, cfg.beam.sqrt_s)
        reach_plot(summary_layers(scan.rows, cfg), tmp, title=title, stem="reach_summary")
        reach_plot(reach_layers(scan.rows, cfg), tmp, title=title)
        likelihoods = publish(scan.workspaces, cfg, tmp / "published")
        write_submission(
            scan.rows,
            tmp / "hepdata",
            figure=tmp / "reach_summary.png",
            likelihoods=likelihoods,
            sqrt_s=cfg.beam.sqrt_s,
            luminosity_fb=cfg.beam.luminosity_fb,
            comment=f"alpfusion {__version__}, configuration {cfg.hash[:12]}: expected limits on g_agg for "
            "e+e- -> e+e- a (a -> invisible) at Belle II",
        )
    workspaces = [dataclasses.replace(w, path=out_dir / w.path.relative_to(tmp)) for w in scan.workspaces]
    return LimitsResult(scan.rows, workspaces, out_dir)


def overlay_curves(cfg: Config) -> list[tuple[Overlay, np.ndarray, np.ndarray]]:
    """The configuration's overlay curves, read: (the overlay, m_a, g). A relative ``csv`` path is
    taken from the configuration file's folder (the working directory for the shipped default)."""
    base = Path(cfg.source).parent if cfg.source != "<default>" else Path()
    curves = []
    for i, overlay in enumerate(cfg.reach_plot.overlays):
        try:
            curves.append((overlay, *read_overlay(base / overlay.csv)))
        except ValueError as err:
            raise WorkflowError(f"{cfg.source}: reach_plot.overlays[{i}]: {err}") from None
    return curves


def reach_layers(rows: Sequence[MassPoint], cfg: Config) -> list[Layer]:
    """Every layer of the reach plot: our limits (:func:`plotting.limit_layers`) over the context of
    the configuration's ``reach_plot`` section (:func:`plotting.context_layers`)."""
    return _with_context(limit_layers(rows), rows, cfg)


def summary_layers(rows: Sequence[MassPoint], cfg: Config) -> list[Layer]:
    """The layers of the summary reach plot: the expected limit to quote with its bands
    (:func:`plotting.expected_layers`) over the context of the configuration's ``reach_plot`` section."""
    return _with_context(expected_layers(rows), rows, cfg)


def _with_context(ours: list[Layer], rows: Sequence[MassPoint], cfg: Config) -> list[Layer]:
    """Our layers over the reach plot's context (:func:`plotting.context_layers`): mass bounds first,
    the lines after."""
    reach = cfg.reach_plot
    masses = [r.m_a for r in rows] or list(cfg.signal.masses)
    low = min(masses[0], 2.0 * reach.neff_dm_mass_min) if reach.neff_dm_mass_min else masses[0]
    context = context_layers(
        (low / 1.5, masses[-1] * 1.1), reach.fine_tuning, reach.neff_dm_mass_min, overlay_curves(cfg)
    )
    bounds = [layer for layer in context if layer.kind == "mass_bound"]
    return bounds + ours + [layer for layer in context if layer.kind != "mass_bound"]


def publish(workspaces: Sequence[MassPointWorkspace], cfg: Config, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """The published likelihoods of a mass scan: BkgOnly.json and patchset.json in ``out_dir``."""
    return publish_workspaces(
        {w.m_a: w.spec for w in workspaces},
        {w.m_a: w.region for w in workspaces},
        out_dir,
        hepdata=cfg.statistics.hepdata_record,
        description=f"alpfusion {cfg.hash[:12]}: e+e- -> e+e- a (a -> invisible), expected limits, "
        f"background-only Asimov data; one patch per ALP mass",
    )


# --------------------------------------------------------------------------------------------------
# the whole chain


@dataclass(frozen=True)
class RunResult:
    """Everything :func:`run` made: the samples, both processing results, the cuts, the limits,
    and the seconds each stage took."""

    samples: ProductionReport
    configured: ProcessingResult
    cuts: CutsResult
    histograms: ProcessingResult
    limits: LimitsResult
    seconds: dict[str, float] = field(default_factory=dict)


@contextlib.contextmanager
def _timed(seconds: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    seconds[stage] = round(time.perf_counter() - start, 3)


def run(
    cfg: Config,
    output_dir: str | os.PathLike,
    *,
    client: Any = None,
    progress: Progress | None = None,
    force: bool = False,
) -> RunResult:
    """The whole chain on a configuration into ``output_dir`` (layout in the module docstring).

    Samples up to date on disk are kept (an interrupted run resumes); only the configured samples
    are processed, whatever else the folder holds. The histograms are made twice: with the
    configuration's cuts the optimisation's input alone (kept as histograms.npz only), then with the
    optimised cuts every other histogram (histograms.npz and histograms.root), which the limits use:
    each pass skips the work of the histograms it does not need. One run at a time may write into a
    folder; temporaries of killed runs are removed.
    """
    progress = progress or SilentProgress()
    out = Path(output_dir)
    seconds: dict[str, float] = {}
    overlay_curves(cfg)  # a bad overlay file fails here, not after the samples are made
    with OutputLock(out), task_pool(cfg.processing.workers, cfg.processing.scheduler, client) as pool:
        for folder in ("samples", "histograms_configured", "cuts", "histograms", "limits"):
            remove_stale(out / folder)
        jobs = plan_samples(cfg, out / "samples")
        with _timed(seconds, "produce"):
            samples = produce_samples(jobs, pool, force=force, progress=progress)
        paths = [job.path for job in jobs]
        with _timed(seconds, "process_configured"):
            configured = process(
                cfg,
                paths,
                out / "histograms_configured",
                client=pool.client,
                progress=progress,
                root=False,
                histograms=(OPTIMISATION,),
            )
        with _timed(seconds, "optimise"):
            cuts = optimise(configured, cfg, out / "cuts")
        with _timed(seconds, "process"):
            histograms = process(
                cuts.config, paths, out / "histograms", client=pool.client, progress=progress, histograms=HISTOGRAMS
            )
        with _timed(seconds, "limits"):
            limits = set_limits(histograms, cuts.config, out / "limits", pool=pool, progress=progress)
        write_json(out / "provenance.json", _provenance(cfg, jobs, seconds))
    return RunResult(samples, configured, cuts, histograms, limits, seconds)


def replica_limits(
    cfg: Config,
    samples: Sequence[str | os.PathLike],
    workdir: str | os.PathLike,
    *,
    events: int,
    seed: int,
    background: str = TAU_PAIR,
    pool: TaskPool | None = None,
    progress: Progress | None = None,
) -> tuple[ProcessingResult, list[MassPoint]]:
    """The histograms with the background ``background`` (a key of :data:`BACKGROUNDS`) generated with
    ``events`` draws and ``seed`` (kept in ``workdir`` and reused when up to date), processed with
    the given samples (the signals and any other background, held fixed), and their limits table."""
    workdir = Path(workdir)
    tag = f"seed{seed}_n{events}"
    folder = workdir / f"{BACKGROUNDS[background]}_{tag}"
    (job,) = plan_samples(cfg, folder, process=background, events=events, seed=seed)
    produce_samples([job], pool, progress=progress)
    result = process(cfg, [*samples, job.path], workdir / f"histograms_{tag}", progress=progress, histograms=HISTOGRAMS)
    return result, set_limits(result, cfg, workdir / f"limits_{tag}", pool=pool, progress=progress).rows


def replicas(
    cfg: Config,
    samples: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    n: int,
    events: int | None = None,
    background: str = TAU_PAIR,
    client: Any = None,
    progress: Progress | None = None,
) -> list[Spread]:
    """The spread of the limits over ``n`` samples of the background ``background`` generated with the
    seeds ``generation.seed + 1000 k`` (k = 1..n), each processed with ``samples`` (the signals and
    the other backgrounds, held fixed), and the limits with the mean of the n samples as the
    background (``processors.results.mean_of_samples``: n times the MC, n independent trainings;
    in ``out_dir``/limits_combined); writes spread.csv into ``out_dir``."""
    if n < 2:
        raise WorkflowError(f"a spread needs at least 2 replicas, got {n}")
    if not samples:
        raise WorkflowError("no signal samples given: the replicas' limits need them")
    out = Path(out_dir)
    events = events or background_section(cfg, background).events
    with OutputLock(out), task_pool(cfg.processing.workers, cfg.processing.scheduler, client) as pool:
        results, tables = zip(
            *(
                replica_limits(
                    cfg,
                    samples,
                    out,
                    events=events,
                    seed=cfg.generation.seed + 1000 * k,
                    background=background,
                    pool=pool,
                    progress=progress,
                )
                for k in range(1, n + 1)
            )
        )
        combined = set_limits(
            mean_of_samples(results, background), cfg, out / "limits_combined", pool=pool, progress=progress
        )
        spreads = spread(tables, combined.rows)
        write_rows(out / "spread.csv", spreads)
    return spreads


def _provenance(cfg: Config, jobs: Sequence[SampleJob], seconds: dict[str, float]) -> dict:
    """What made a run's outputs: the configuration and its hash, the versions, the samples'
    identities (keys and seeds) and the time per stage."""
    return {
        "alpfusion": __version__,
        "config_hash": cfg.hash,
        "config_source": cfg.source,
        "config": cfg.as_dict(),
        "versions": package_versions(),
        "samples": [
            {
                "path": os.fspath(job.path),
                "label": job.label,
                "seed": job.seed,
                "n_draws": job.n_draws,
                "sample_key": job.key,
            }
            for job in jobs
        ],
        "seconds": seconds,
        "seconds_total": round(math.fsum(seconds.values()), 3),
    }
