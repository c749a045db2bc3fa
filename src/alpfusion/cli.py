"""The `alpfusion` command line: parse, call one library function (``alpfusion.workflow`` and the
stage modules), print. Every reported problem of the package (``AlpfusionError``) becomes a one-line
message and a non-zero exit status."""

from __future__ import annotations

import ast
import functools
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from . import workflow
from .config import (
    CLS_METHODS,
    COMPONENTS,
    EMPTY_BINS,
    EXECUTORS,
    Config,
    default_config_text,
    load_config,
)
from .errors import AlpfusionError
from .heap import retain_freed_memory
from .samples.processes import PROCESSES


class BarProgress(workflow.InteractiveProgress):
    """Progress bars (tqdm, with rate and ETA) on stderr; notes on stdout, above the bar."""

    def __init__(self) -> None:
        self._bar: tqdm | None = None

    def stage(self, name: str, total: float | None = None, unit: str = "") -> None:
        self.close()
        if total:
            self._bar = tqdm(total=total, unit=unit or "it", unit_scale=True, desc=name, file=sys.stderr)
        else:
            click.echo(f"{name} ...", err=True)

    def advance(self, n: float = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def note(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=sys.stdout)
        else:
            click.echo(text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def reported(command: Callable) -> Callable:
    """The package's errors as click messages (no traceback); progress bars closed in any case."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except AlpfusionError as err:
            raise click.ClickException(str(err)) from None

    return wrapper


def _masses(values: tuple[str, ...]) -> list[float] | None:
    """Masses from repeated --mass options, each possibly a comma-separated list (None: not given)."""
    if not values:
        return None
    out = []
    for value in values:
        for item in value.split(","):
            try:
                out.append(float(item))
            except ValueError:
                raise click.BadParameter(f"'{item}' is not a number", param_hint="--mass") from None
    return out


histograms_input = click.option(
    "--input",
    "-i",
    "input_path",
    type=click.Path(),
    help="histograms.npz of 'alpfusion process', or its directory [processing.output_dir].",
)


@click.group()
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Analysis configuration (YAML); keys not given take the shipped default.",
)
@click.pass_context
@reported
def main(ctx: click.Context, config_path: str | None) -> None:
    """alpfusion: samples, histograms, workspaces and limits for invisible ALPs at Belle II."""
    retain_freed_memory()  # this process is ours: tune its heap for the array loops (alpfusion.heap)
    ctx.obj = load_config(config_path)


@main.command("config")
@click.option("--default", "show_default", is_flag=True, help="Print the shipped default YAML, comments included.")
@click.option("--schema", "show_schema", is_flag=True, help="Print the JSON schema of the configuration.")
@click.pass_obj
def config_cmd(cfg: Config, show_default: bool, show_schema: bool) -> None:
    """Print the validated configuration (or the shipped default, or its schema) and its hash."""
    import yaml

    if show_default:
        click.echo(default_config_text(), nl=False)
    elif show_schema:
        from .config import config_schema

        click.echo(json.dumps(config_schema(), indent=2))
    else:
        click.echo(f"# source: {cfg.source}\n# hash: {cfg.hash}")
        click.echo(yaml.safe_dump(cfg.as_dict(), sort_keys=False), nl=False)


@main.command()
@click.option(
    "--process",
    "-p",
    type=click.Choice((*PROCESSES, *workflow.BACKGROUNDS)),
    default="ee_to_eea",
    show_default=True,
    help=f"Signal process, or a background: {workflow.TAU_PAIR} (tau pairs), {workflow.LOST_PHOTONS} "
    f"(QED, two lost photons) or {workflow.LOST_PHOTON} (one lost photon); masses do not apply to backgrounds.",
)
@click.option(
    "--mass",
    "-m",
    "mass",
    multiple=True,
    help="ALP mass in GeV; repeat or give a comma-separated list (default: the configuration's grid).",
)
@click.option(
    "--events",
    "-n",
    type=click.IntRange(min=1),
    help="Weighted events (draws) per sample [generation.events; backgrounds.tautau.events, backgrounds.qed2.events].",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Random seed [generation.seed]; each mass gets its own seed derived from it and the mass.",
)
@click.option("--output", "-o", type=click.Path(file_okay=False), help="Output directory [generation.output_dir].")
@click.option("--component", type=click.Choice(COMPONENTS), help="e+e- -> e+e- a diagrams [signal.component].")
@click.option("--unweight", is_flag=True, help="Unweight the events (hit-or-miss against the largest weight).")
@click.option("--force", is_flag=True, help="Regenerate samples that are already up to date.")
@click.option(
    "--workers",
    "-j",
    type=click.IntRange(min=1),
    help="Samples generated at once, one per process [processing.workers].",
)
@click.pass_obj
@reported
def generate(
    cfg: Config,
    process: str,
    mass: tuple[str, ...],
    events: int | None,
    seed: int | None,
    output: str | None,
    component: str | None,
    unweight: bool,
    force: bool,
    workers: int | None,
) -> None:
    """Generate weighted events and write them as ROOT samples, one file per mass.

    Samples already on disk made from the same settings, seed and size are kept, so an
    interrupted mass scan resumes where it stopped. The samples are generated in parallel, one per
    worker process; each file is the same whatever the number of workers or the other masses.
    """
    from .atomic import OutputLock
    from .parallel import task_pool

    out = Path(output or cfg.generation.output_dir)
    jobs = workflow.plan_samples(
        cfg,
        out,
        process=process,
        masses=_masses(mass),
        events=events,
        seed=seed,
        component=component,
        unweight=unweight,
    )
    progress = BarProgress()
    try:
        with OutputLock(out), task_pool(workers or cfg.processing.workers, cfg.processing.scheduler) as pool:
            workflow.produce_samples(jobs, pool, force=force, progress=progress)
    finally:
        progress.close()


@main.command()
@click.option(
    "--process",
    "-p",
    "processes",
    type=click.Choice((*PROCESSES, workflow.LOST_PHOTONS, workflow.LOST_PHOTON)),
    multiple=True,
    help=f"Process (repeatable; default: the two signal processes); {workflow.LOST_PHOTONS} ({workflow.LOST_PHOTON}): "
    "the QED background with two photons (one photon) lost, with the generation cuts of backgrounds.qed2.",
)
@click.option("--mass", "-m", "mass", multiple=True, help="ALP mass in GeV; repeat or comma-separate.")
@click.option(
    "--component",
    type=click.Choice((*COMPONENTS, "all")),
    default="all",
    show_default=True,
    help="Diagrams of e+e- -> e+e- a ('all': each in turn).",
)
@click.option(
    "--theta-min",
    "theta_mins",
    type=float,
    multiple=True,
    help="Polar acceptance theta_min in degrees (theta_max = 180 - theta_min); repeatable.",
)
@click.option("--inclusive", is_flag=True, help="No acceptance cuts at all (needs the electron mass).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--seed", type=click.IntRange(min=0), help="Random seed [generation.seed].")
@click.pass_obj
@reported
def xsec(
    cfg: Config,
    processes: tuple[str, ...],
    mass: tuple[str, ...],
    component: str,
    theta_mins: tuple[float, ...],
    inclusive: bool,
    fmt: str,
    seed: int | None,
) -> None:
    """Print cross sections with their MC errors, without writing events (fb; g = signal.g_ref; the QED
    background with the generation cuts of backgrounds.qed2)."""
    tasks = workflow.cross_section_tasks(
        cfg,
        processes or PROCESSES,
        _masses(mass),
        None if component == "all" else component,
        [None] if inclusive else (list(theta_mins) or [None]),
        inclusive,
    )
    progress = BarProgress() if len(tasks) > 1 else None  # the table alone for one cross section
    try:
        rows = workflow.cross_sections(cfg, tasks, seed=seed, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    click.echo(_format_xsec(rows, fmt, cfg.signal.g_ref), nl=False)


def _format_xsec(rows: list[workflow.CrossSectionRow], fmt: str, g: float) -> str:
    from .fits.scan import rows_csv

    if fmt == "json":
        return json.dumps({"g_ref": g, "unit": "fb", "rows": [asdict(r) for r in rows]}, indent=1) + "\n"
    if fmt == "csv":
        return rows_csv(rows)
    lines = [
        f"# g_agg = {g:g} GeV^-1; sigma in fb (1 fb = 1000 ab)",
        f"{'process':<15}{'m_a/GeV':>9}{'component':>11}{'theta_min':>11}{'sigma/fb':>14}{'error/fb':>11}"
        f"{'rel.err':>9}",
    ]
    for r in rows:
        theta = r.theta_min_deg if isinstance(r.theta_min_deg, str) else f"{r.theta_min_deg:g}"
        mass = "-" if r.m_a is None else f"{r.m_a:g}"
        rel = r.error_fb / r.sigma_fb if r.sigma_fb > 0 else float("inf")
        lines.append(
            f"{r.process:<15}{mass:>9}{r.component:>11}{theta:>11}{r.sigma_fb:>14.6g}{r.error_fb:>11.2g}{rel:>9.1e}"
        )
    return "\n".join(lines) + "\n"


@main.command("import-lhe")
@click.argument("lhe_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="ROOT sample to write.")
@reported
def import_lhe(lhe_file: str, output: str) -> None:
    """Convert a MadGraph LHE file (plain or .gz) into an alpfusion ROOT sample."""
    from .samples.lhe import lhe_to_root

    with tqdm(unit="ev", unit_scale=True, desc=Path(lhe_file).name, file=sys.stderr) as bar:
        meta = lhe_to_root(lhe_file, output, progress=bar.update)
    click.echo(
        f"{output}: {meta['n_events']} events, sigma = {meta['sigma_pb']:.6g} pb, "
        f"particles {', '.join(meta['particles'])}"
    )


@main.command()
@click.argument("samples", nargs=-1, type=click.Path())
@click.option("--executor", "-e", type=click.Choice(EXECUTORS), help="coffea executor [processing.executor].")
@click.option(
    "--workers", "-j", type=click.IntRange(min=1), help="Worker processes for futures and dask [processing.workers]."
)
@click.option("--chunk-size", type=click.IntRange(min=1), help="Events per work item [processing.chunk_size].")
@click.option("--scheduler", help="dask scheduler address; default a LocalCluster [processing.scheduler].")
@click.option("--output", "-o", type=click.Path(file_okay=False), help="Output directory [processing.output_dir].")
@click.pass_obj
@reported
def process(
    cfg: Config,
    samples: tuple[str, ...],
    executor: str | None,
    workers: int | None,
    chunk_size: int | None,
    scheduler: str | None,
    output: str | None,
) -> None:
    """Run the processor over sample files and save the histograms.

    SAMPLES are ROOT sample files or directories of them (default: the *.root files of
    generation.output_dir); each file is one sample named by its stem. Writes histograms.root
    (cabinetry names {region}_{sample}) and histograms.npz (lossless, data only) into the output
    directory, replacing earlier ones only when the run succeeds.
    """
    from .processors.executors import find_samples

    paths = find_samples(samples, cfg.generation.output_dir)
    result = workflow.process(
        cfg,
        paths,
        output or cfg.processing.output_dir,
        progress=BarProgress(),
        executor=executor,
        workers=workers,
        chunk_size=chunk_size,
        scheduler=scheduler,
    )
    for name, info in result.samples.items():
        click.echo(f"{name}: {info.kind}, {info.n_events} events ({info.path})")


@main.command()
@histograms_input
@click.option("--sample", "-s", "sample_names", multiple=True, help="Sample name (repeatable; default all).")
@click.option("--mass", "-m", "mass", multiple=True, help="ALP mass in GeV; repeat or comma-separate (default all).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.pass_obj
@reported
def cutflow(
    cfg: Config, input_path: str | None, sample_names: tuple[str, ...], mass: tuple[str, ...], fmt: str
) -> None:
    """Print the cut flow (expected events, MC error, raw MC events) per sample and mass hypothesis."""
    from .fits.scan import rows_csv
    from .processors.results import cutflow_rows, format_cutflow, load_result

    result = load_result(input_path or cfg.processing.output_dir)
    rows = cutflow_rows(result, sample_names, _masses(mass) or ())
    if fmt == "json":
        click.echo(json.dumps({"luminosity_fb": result.luminosity_fb, "rows": [asdict(r) for r in rows]}, indent=1))
    elif fmt == "csv":
        click.echo(rows_csv(rows), nl=False)
    else:
        click.echo(format_cutflow(rows, result.luminosity_fb), nl=False)


@main.command()
@histograms_input
@click.option("--output", "-o", type=click.Path(file_okay=False), default="output/limits", show_default=True)
@click.option("--method", type=click.Choice(CLS_METHODS), help="CLs calculation [statistics.cls_method].")
@click.option("--empty-bins", type=click.Choice(EMPTY_BINS), help="Bins without background MC [statistics.empty_bins].")
@click.option(
    "--floor-reach",
    type=click.IntRange(0),
    help="Floor only empty bins within this many bins of background MC [statistics.floor_reach].",
)
@click.option("--workers", "-j", type=click.IntRange(1), help="Parallel mass points [processing.workers].")
@click.pass_obj
@reported
def limits(
    cfg: Config,
    input_path: str | None,
    output: str,
    method: str | None,
    empty_bins: str | None,
    floor_reach: int | None,
    workers: int | None,
) -> None:
    """Expected 95% CL limits on g_agg per mass point: Lambda < 4 and CLs, side by side.

    Writes OUTPUT as a whole (an earlier OUTPUT is replaced only when all is written): limits.csv,
    reach_summary.png/.pdf/_layers.csv (the expected limit to quote), reach.png/.pdf/_layers.csv (every
    limit), templates.root, configs/ (cabinetry, one per mass point),
    workspaces/ (pyhf), published/BkgOnly.json and published/patchset.json, hepdata/ (the HEPData
    submission).
    """
    from .fits.scan import format_expected, format_table
    from .parallel import task_pool
    from .processors.results import load_result

    overrides = {
        k: v
        for k, v in (("cls_method", method), ("empty_bins", empty_bins), ("floor_reach", floor_reach))
        if v is not None
    }
    cfg = cfg.replace(statistics=overrides) if overrides else cfg
    result = load_result(input_path or cfg.processing.output_dir)
    progress = BarProgress()
    try:
        with task_pool(workers or cfg.processing.workers, cfg.processing.scheduler) as pool:
            out = workflow.set_limits(result, cfg, output, pool=pool, progress=progress)
    finally:
        progress.close()
    click.echo(format_table(out.rows, cfg.signal.g_ref), nl=False)
    click.echo(format_expected(out.rows), nl=False)
    click.echo(
        f"wrote {output}/limits.csv, {output}/reach_summary.png and {output}/reach.png (.pdf, _layers.csv), "
        f"{output}/published/ (BkgOnly.json, patchset.json), {output}/hepdata/"
    )


@main.command()
@histograms_input
@click.option("--output", "-o", type=click.Path(file_okay=False), default="output/cuts", show_default=True)
@click.pass_obj
@reported
def optimise(cfg: Config, input_path: str | None, output: str) -> None:
    """Optimise (kappa, E_low, eta_high) per mass: the largest S/sqrt(B + dB^2 + 1) keeping 90% of the signal."""
    from .processors.optimise import format_cuts
    from .processors.results import load_result

    cuts = workflow.optimise(load_result(input_path or cfg.processing.output_dir), cfg, output)
    click.echo(format_cuts(cuts.cuts), nl=False)
    click.echo(f"wrote {output}/cuts.csv and {output}/cuts.yaml (a 'selection' section for the configuration)")


@main.command()
@click.option("--output", "-o", type=click.Path(file_okay=False), default="output", show_default=True)
@click.option("--force", is_flag=True, help="Regenerate the samples even if they are up to date.")
@click.pass_obj
@reported
def run(cfg: Config, output: str, force: bool) -> None:
    """The whole chain on the configuration: samples, histograms, optimised cuts, limits, reach plot
    (with its context layers), workspaces, published likelihoods, HEPData submission, provenance.json.

    Samples already made from the same settings are kept (an interrupted run resumes). The
    histograms are made twice: with the configuration's cuts (for the optimisation), then with the
    optimised ones (output/cuts/), which the limits use.
    """
    from .fits.scan import format_expected, format_table
    from .processors.optimise import format_cuts

    progress = BarProgress()
    try:
        result = workflow.run(cfg, output, progress=progress, force=force)
    finally:
        progress.close()
    click.echo(format_cuts(result.cuts.cuts), nl=False)
    click.echo(format_table(result.limits.rows, cfg.signal.g_ref), nl=False)
    click.echo(format_expected(result.limits.rows), nl=False)
    times = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in result.seconds.items())
    click.echo(f"wrote {output}/ (limits in {output}/limits/, provenance.json); {times}")


@main.command()
@click.option(
    "--tau", "tau_file", type=click.Path(exists=True, dir_okay=False), required=True, help="Tau-pair sample (ROOT)."
)
@click.option(
    "--signal",
    "signal_files",
    type=click.Path(exists=True, dir_okay=False),
    multiple=True,
    required=True,
    help="Signal sample (ROOT); repeatable.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default="output/estimators.png", show_default=True)
@click.pass_obj
@reported
def estimators(cfg: Config, tau_file: str, signal_files: tuple[str, ...], output: str) -> None:
    """Compare the c_phi estimators: fraction of events on the diagonal m_ee = |m_ee^tau|, and a figure."""
    from .processors.estimators import study
    from .samples.rootio import read_metadata

    samples: dict[str, str | Path] = {"tau pairs": tau_file}
    for path in signal_files:
        m_a = read_metadata(path).get("m_a")
        samples[f"signal {m_a:g} GeV" if isinstance(m_a, (int, float)) else f"signal {Path(path).stem}"] = path
    results = study(samples, cfg, output)
    click.echo(f"# weighted fraction with |ln(|m_ee^tau| / m_ee)| <= ln(1 + {cfg.histograms.relative_width:g})")
    click.echo(f"{'sample':<16}{'estimator':<12}{'fraction':>10}{'error':>9}")
    for r in results:
        click.echo(f"{r.sample:<16}{r.estimator:<12}{r.fraction:>10.4f}{r.fraction_error:>9.4f}")
    click.echo(f"wrote {output}")


@main.command()
@click.argument("signal_samples", nargs=-1, type=click.Path(exists=True))
@click.option("--replicas", "-n", "n_replicas", type=click.IntRange(2), default=4, show_default=True)
@click.option(
    "--background",
    type=click.Choice(tuple(workflow.BACKGROUNDS)),
    default=workflow.TAU_PAIR,
    show_default=True,
    help="The background regenerated in each replica; the other backgrounds found are held fixed.",
)
@click.option("--events", type=click.IntRange(1), help="Draws per replica [backgrounds.<section>.events].")
@click.option(
    "--cuts",
    "cuts_file",
    type=click.Path(exists=True, dir_okay=False),
    help="cuts.yaml of 'alpfusion optimise' (default: the configuration's selection).",
)
@click.option("--output", "-o", type=click.Path(file_okay=False), default="output/replicas", show_default=True)
@click.pass_obj
@reported
def replicas(
    cfg: Config,
    signal_samples: tuple[str, ...],
    n_replicas: int,
    background: str,
    events: int | None,
    cuts_file: str | None,
    output: str,
) -> None:
    """Regenerate one background with N seeds and report the spread of the limits per mass.

    SIGNAL_SAMPLES: sample files or directories (default: generation.output_dir): the signals, and the
    other backgrounds, held fixed; a sample of the regenerated background among them is left out.
    """
    from .fits.replicas import format_spread
    from .processors.executors import find_samples, inspect_samples

    cfg = workflow.with_cuts(cfg, cuts_file) if cuts_file else cfg
    found = inspect_samples(find_samples(signal_samples, cfg.generation.output_dir), cfg)
    fixed = [info.path for info in found.values() if info.kind == "signal" or info.name != background]
    progress = BarProgress()
    try:
        spreads = workflow.replicas(
            cfg, fixed, output, n=n_replicas, events=events, background=background, progress=progress
        )
    finally:
        progress.close()
    click.echo(format_spread(spreads), nl=False)
    click.echo(
        f"wrote {output}/spread.csv, each replica's limits in {output}/limits_seed*/ and the limits with the "
        f"replicas' mean background (combined) in {output}/limits_combined/"
    )


def _parameter(text: str) -> tuple[str, Any]:
    """NAME=VALUE with VALUE a Python literal (a bare word is taken as a string)."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise click.BadParameter(f"{text!r}: expected NAME=VALUE")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--set", "-p", "settings", multiple=True, help="Parameter NAME=VALUE (a Python literal); repeatable.")
@reported
def notebook(sources: tuple[str, ...], settings: tuple[str, ...]) -> None:
    """Execute jupytext notebooks (notebooks/*.py) and write each as an executed .ipynb next to it."""
    from .notebooks import execute_notebook

    parameters = dict(_parameter(text) for text in settings)
    for source in sources:
        execute_notebook(source, parameters=parameters)
        click.echo(f"wrote {Path(source).with_suffix('.ipynb')}")
