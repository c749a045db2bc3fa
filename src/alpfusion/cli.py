"""The `alpfusion` command line: a thin layer over the library."""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import click
from tqdm import tqdm

from .config import ConfigError, config_schema, default_config_text, load_config
from .samples.generator import Generator
from .samples.lhe import lhe_to_root
from .samples.processes import PROCESSES, SignalProcess, SignalSettings
from .samples.production import SampleJob, produce_all, up_to_date
from .samples.rootio import SampleError, read_metadata
from .samples.taupair import TauPairProcess, TauPairSettings

TAU_PAIR = "ee_to_tautau"


def _masses(values: tuple[str, ...], default: tuple[float, ...]) -> list[float]:
    """Masses from repeated --mass options, each possibly a comma-separated list."""
    if not values:
        return list(default)
    out = []
    for value in values:
        for item in value.split(","):
            try:
                out.append(float(item))
            except ValueError:
                raise click.BadParameter(f"'{item}' is not a number", param_hint="--mass") from None
    return out


@click.group()
@click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False),
              help="Analysis configuration (YAML); keys not given take the shipped default.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """alpfusion: samples, histograms, workspaces and limits for invisible ALPs at Belle II."""
    try:
        ctx.obj = load_config(config_path)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None


@main.command("config")
@click.option("--default", "show_default", is_flag=True, help="Print the shipped default YAML, comments included.")
@click.option("--schema", "show_schema", is_flag=True, help="Print the JSON schema of the configuration.")
@click.pass_obj
def config_cmd(cfg, show_default: bool, show_schema: bool) -> None:
    """Print the validated configuration (or the shipped default, or its JSON schema) and its hash."""
    if show_default:
        click.echo(default_config_text(), nl=False)
        return
    if show_schema:
        click.echo(json.dumps(config_schema(), indent=2))
        return
    import yaml

    click.echo(f"# source: {cfg.source}\n# hash: {cfg.hash}")
    click.echo(yaml.safe_dump(cfg.as_dict(), sort_keys=False), nl=False)


def _sample_path(out_dir: Path, process: str, m_a: float, component: str) -> Path:
    tag = "" if process == "ee_to_gamma_a" or component == "both" else f"_{component}"
    return out_dir / f"{process}{tag}_ma{m_a:g}.root"


@main.command()
@click.option("--process", "-p", type=click.Choice(PROCESSES + (TAU_PAIR,)), default="ee_to_eea", show_default=True,
              help=f"Signal process, or {TAU_PAIR} (the tau-pair background; masses do not apply).")
@click.option("--mass", "-m", "mass", multiple=True,
              help="ALP mass in GeV; repeat or give a comma-separated list (default: the configuration's grid).")
@click.option("--events", "-n", type=int,
              help="Weighted events (draws) per sample [generation.events; backgrounds.tautau.events].")
@click.option("--seed", type=int, help="Random seed [generation.seed]; each mass gets its own stream.")
@click.option("--output", "-o", type=click.Path(file_okay=False), help="Output directory [generation.output_dir].")
@click.option("--component", type=click.Choice(["both", "fusion", "dalitz"]),
              help="e+e- -> e+e- a diagrams [signal.component].")
@click.option("--unweight", is_flag=True, help="Unweight the events (hit-or-miss against the largest weight).")
@click.option("--force", is_flag=True, help="Regenerate samples that are already up to date.")
@click.option("--workers", "-j", type=click.IntRange(min=1),
              help="Samples generated at once, one per process [processing.workers].")
@click.pass_obj
def generate(cfg, process, mass, events, seed, output, component, unweight, force, workers) -> None:
    """Generate weighted events and write them as ROOT samples, one file per mass.

    Samples already on disk with the same configuration, seed and size are kept, so an
    interrupted mass scan resumes where it stopped. The samples are generated in parallel, one per
    worker process; each file is the same whatever the number of workers.
    """
    jobs = _sample_jobs(cfg, process, _masses(mass, cfg.signal.masses), events, seed, output, component,
                        unweight, force)
    _produce(jobs, workers or cfg.processing.workers)


def _sample_jobs(cfg, process: str, masses: list[float], events: int | None, seed: int | None,
                 output: str | None, component: str | None, unweight: bool, force: bool) -> list[SampleJob]:
    """The samples of `generate` that are not up to date on disk (those are named and kept)."""
    base_seed = cfg.generation.seed if seed is None else seed
    out_dir = Path(output or cfg.generation.output_dir)
    component = component or cfg.signal.component
    try:
        if process == TAU_PAIR:
            planned = [(out_dir / f"{TAU_PAIR}.root", TauPairProcess(TauPairSettings.from_config(cfg)), base_seed,
                        events or cfg.backgrounds.tautau.events, TAU_PAIR)]
        else:
            planned = [(_sample_path(out_dir, process, m_a, component),
                        SignalProcess(SignalSettings.from_config(cfg, process, m_a, component=component)),
                        base_seed + i, events or cfg.generation.events, f"{process} m_a={m_a:g}")
                       for i, m_a in enumerate(masses)]
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    jobs = []
    for path, proc, seed_used, n_events, label in planned:
        expected = {"config_hash": cfg.hash, "seed": seed_used, "n_draws": n_events, "unweighted": unweight,
                    "process": proc.name}
        if proc.name == "ee_to_eea":
            expected["component"] = component
        if not force and up_to_date(path, expected):
            click.echo(f"{path}: up to date, kept")
            continue
        jobs.append(SampleJob(path, proc, cfg.generation.vegas, seed_used, n_events, cfg.generation.chunk_size,
                              unweight, {"config_hash": cfg.hash, "config_source": cfg.source}, label))
    return jobs


def _produce(jobs: list[SampleJob], workers: int) -> None:
    """Generate the samples, `workers` at a time, with one progress bar over all their draws."""
    if not jobs:
        return
    click.echo(f"generating {len(jobs)} sample(s), {min(workers, len(jobs))} at a time ...", err=True)
    try:
        with tqdm(total=sum(job.n_draws for job in jobs), unit="ev", unit_scale=True, desc="generating",
                  file=sys.stderr) as bar:
            for job, meta in produce_all(jobs, workers, progress=bar.update):
                bar.write(f"{job.path}: {meta['n_events']} events, sigma = {meta['sigma_pb'] * 1e3:.6g} "
                          f"+- {meta['sigma_err_pb'] * 1e3:.2g} fb", file=sys.stdout)
    except SampleError as err:
        raise click.ClickException(str(err)) from None


@dataclass
class XsecRow:
    process: str
    m_a: float
    component: str
    theta_min_deg: float | str
    sigma_fb: float
    error_fb: float


@main.command()
@click.option("--process", "-p", "processes", type=click.Choice(PROCESSES), multiple=True,
              help="Process (repeatable; default: both).")
@click.option("--mass", "-m", "mass", multiple=True, help="ALP mass in GeV; repeat or comma-separate.")
@click.option("--component", type=click.Choice(["both", "fusion", "dalitz", "all"]), default="all",
              show_default=True, help="Diagrams of e+e- -> e+e- a ('all': each in turn).")
@click.option("--theta-min", "theta_mins", type=float, multiple=True,
              help="Polar acceptance theta_min in degrees (theta_max = 180 - theta_min); repeatable.")
@click.option("--inclusive", is_flag=True, help="No acceptance cuts at all (needs the electron mass).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--seed", type=int, help="Random seed [generation.seed].")
@click.pass_obj
def xsec(cfg, processes, mass, component, theta_mins, inclusive, fmt, seed) -> None:
    """Print cross sections with their MC errors, without writing events (fb; g = signal.g_ref)."""
    masses = _masses(mass, cfg.signal.masses)
    thetas = list(theta_mins) or [None]
    tasks = []
    for process in processes or PROCESSES:
        comps = ["both"] if process == "ee_to_gamma_a" else (
            ["both", "fusion", "dalitz"] if component == "all" else [component])
        for theta in ([None] if inclusive else thetas):
            for m_a in masses:
                for comp in comps:
                    tasks.append((process, m_a, comp, theta))
    rows = []
    for process, m_a, comp, theta in tqdm(tasks, unit="xsec", file=sys.stderr, disable=len(tasks) < 2):
        try:
            settings = SignalSettings.from_config(cfg, process, m_a, component=comp, theta_min_deg=theta,
                                                  inclusive=inclusive)
            res = Generator(SignalProcess(settings), cfg.generation.vegas,
                            cfg.generation.seed if seed is None else seed).train()
        except (ValueError, ConfigError) as err:
            raise click.ClickException(str(err)) from None
        rows.append(XsecRow(process, m_a, comp if process == "ee_to_eea" else "-",
                            "none" if inclusive else settings.acceptance.theta_min_deg,
                            res.sigma * 1e3, res.error * 1e3))
    click.echo(_format_rows(rows, fmt, cfg.signal.g_ref), nl=False)


def _csv_text(records: list[dict]) -> str:
    """Rows of equal keys as CSV text, a header line first."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(records[0]) if records else [])
    writer.writeheader()
    writer.writerows(records)
    return buf.getvalue()


def _format_rows(rows: list[XsecRow], fmt: str, g: float) -> str:
    records = [row.__dict__ for row in rows]
    if fmt == "json":
        return json.dumps({"g_ref": g, "unit": "fb", "rows": records}, indent=1) + "\n"
    if fmt == "csv":
        return _csv_text(records)
    lines = [f"# g_agg = {g:g} GeV^-1; sigma in fb (1 fb = 1000 ab)",
             f"{'process':<15}{'m_a/GeV':>9}{'component':>11}{'theta_min':>11}{'sigma/fb':>14}{'error/fb':>11}{'rel.err':>9}"]
    for r in rows:
        theta = r.theta_min_deg if isinstance(r.theta_min_deg, str) else f"{r.theta_min_deg:g}"
        rel = r.error_fb / r.sigma_fb if r.sigma_fb > 0 else float("inf")
        lines.append(f"{r.process:<15}{r.m_a:>9g}{r.component:>11}{theta:>11}{r.sigma_fb:>14.6g}"
                     f"{r.error_fb:>11.2g}{rel:>9.1e}")
    return "\n".join(lines) + "\n"


@main.command("import-lhe")
@click.argument("lhe_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="ROOT sample to write.")
def import_lhe(lhe_file: str, output: str) -> None:
    """Convert a MadGraph LHE file (plain or .gz) into an alpfusion ROOT sample."""
    try:
        with tqdm(unit="ev", unit_scale=True, desc=Path(lhe_file).name, file=sys.stderr) as bar:
            meta = lhe_to_root(lhe_file, output, progress=bar.update)
    except SampleError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"{output}: {meta['n_events']} events, sigma = {meta['sigma_pb']:.6g} pb, "
               f"particles {', '.join(meta['particles'])}")


@main.command()
@click.argument("samples", nargs=-1, type=click.Path())
@click.option("--executor", "-e", type=click.Choice(["iterative", "futures", "dask"]),
              help="coffea executor [processing.executor].")
@click.option("--workers", "-j", type=click.IntRange(min=1),
              help="Worker processes for futures and dask [processing.workers].")
@click.option("--chunk-size", type=click.IntRange(min=1), help="Events per work item [processing.chunk_size].")
@click.option("--scheduler", help="dask scheduler address; default a LocalCluster [processing.scheduler].")
@click.option("--output", "-o", type=click.Path(file_okay=False), help="Output directory [processing.output_dir].")
@click.pass_obj
def process(cfg, samples, executor, workers, chunk_size, scheduler, output) -> None:
    """Run the processor over sample files and save the histograms.

    SAMPLES are ROOT sample files or directories of them (default: the *.root files of
    generation.output_dir); each file is one sample named by its stem. Writes histograms.root
    (cabinetry names {region}_{sample}) and histograms.coffea (lossless) into the output directory,
    replacing earlier ones only when the run succeeds.
    """
    from .processors.processor import ProcessingError
    from .processors.run import find_samples, process_samples, save_result

    try:
        paths = find_samples(samples, cfg.generation.output_dir)
        result = process_samples(cfg, paths, executor=executor, workers=workers, chunk_size=chunk_size,
                                 scheduler=scheduler, status=True)
        root_path, copy_path = save_result(result, output or cfg.processing.output_dir)
    except (ProcessingError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    for name, info in result.samples.items():
        click.echo(f"{name}: {info['kind']}, {info['n_events']} events ({info['path']})")
    click.echo(f"{len(result.regions)} mass hypotheses; wrote {root_path} and {copy_path}")


@main.command()
@click.option("--input", "-i", "input_path", type=click.Path(),
              help="histograms.coffea of 'alpfusion process', or its directory [processing.output_dir].")
@click.option("--sample", "-s", "sample_names", multiple=True, help="Sample name (repeatable; default all).")
@click.option("--mass", "-m", "mass", multiple=True, help="ALP mass in GeV; repeat or comma-separate (default all).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.pass_obj
def cutflow(cfg, input_path, sample_names, mass, fmt) -> None:
    """Print the cut flow (expected events, MC error, raw MC events) per sample and mass hypothesis."""
    from .processors.processor import ProcessingError
    from .processors.run import cutflow_rows, format_cutflow, load_result

    try:
        result = load_result(input_path or cfg.processing.output_dir)
        rows = cutflow_rows(result, sample_names, _masses(mass, ()))
    except ProcessingError as err:
        raise click.ClickException(str(err)) from None
    if fmt == "json":
        click.echo(json.dumps({"luminosity_fb": result.luminosity_fb, "rows": rows}, indent=1))
    elif fmt == "csv":
        click.echo(_csv_text(rows), nl=False)
    else:
        click.echo(format_cutflow(rows, result.luminosity_fb), nl=False)


@main.command()
@click.option("--input", "-i", "input_path", type=click.Path(),
              help="histograms.coffea of 'alpfusion process', or its directory [processing.output_dir].")
@click.option("--output", "-o", type=click.Path(file_okay=False), default="output/limits", show_default=True)
@click.option("--method", type=click.Choice(["asymptotic", "toys"]), help="CLs calculation [statistics.cls_method].")
@click.option("--empty-bins", type=click.Choice(["none", "floor", "smooth"]),
              help="Bins without background MC [statistics.empty_bins].")
@click.option("--workers", "-j", type=click.IntRange(1), help="Parallel mass points [processing.workers].")
@click.pass_obj
def limits(cfg, input_path, output, method, empty_bins, workers) -> None:
    """Expected 95% CL limits on g_agg per mass point: Lambda < 4 and CLs, side by side.

    Writes into OUTPUT: limits.csv, reach.png, templates.root, configs/ (cabinetry, one per mass
    point), workspaces/ (pyhf), published/BkgOnly.json and published/patchset.json.
    """
    from .fits.scan import format_table, run_scan, write_rows
    from .models.publish import publish
    from .plotting import reach_plot
    from .processors.processor import ProcessingError
    from .processors.run import load_result

    overrides = {k: v for k, v in (("cls_method", method), ("empty_bins", empty_bins)) if v}
    cfg = cfg.replace(statistics=overrides) if overrides else cfg
    out = Path(output)
    try:
        result = load_result(input_path or cfg.processing.output_dir)
        rows, workspaces = run_scan(result.as_dict(), cfg, out, workers=workers or cfg.processing.workers)
    except (ProcessingError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    write_rows(out / "limits.csv", rows)
    reach_plot(rows, out / "reach.png", luminosity_fb=cfg.beam.luminosity_fb, sqrt_s=cfg.beam.sqrt_s)
    names = {r["m_a"]: r["region"] for r in result.regions}
    publish(workspaces, names, out / "published", hepdata=cfg.statistics.hepdata_record,
            description=f"alpfusion {cfg.hash[:12]}: e+e- -> e+e- a (a -> invisible), expected limits, "
                        f"background-only Asimov data; one patch per ALP mass")
    click.echo(format_table(rows, cfg.signal.g_ref), nl=False)
    click.echo(f"wrote {out}/limits.csv, {out}/reach.png, {out}/published/ (BkgOnly.json, patchset.json)")


def _optimised(cfg, histograms: Path, out_dir: Path):
    """Optimise the cuts on a processing result; write cuts.csv and cuts.yaml; the updated configuration."""
    from .fits.optimise import format_cuts, optimise_all, per_mass_selection
    from .fits.scan import write_rows
    from .models.workspace import write_yaml
    from .processors.run import load_result

    cuts, failures = optimise_all(load_result(histograms).as_dict(), cfg.beam.sqrt_s)
    for message in failures:
        click.echo(f"warning: {message}; the configuration's cuts are kept for this mass", err=True)
    write_rows(out_dir / "cuts.csv", cuts)
    selection = {"per_mass": per_mass_selection(cuts)}
    write_yaml(out_dir / "cuts.yaml", {"selection": selection})
    click.echo(format_cuts(cuts), nl=False)
    click.echo(f"wrote {out_dir}/cuts.csv and {out_dir}/cuts.yaml (a 'selection' section for the configuration)")
    return cfg.replace(selection=selection)


@main.command()
@click.option("--input", "-i", "input_path", type=click.Path(),
              help="histograms.coffea of 'alpfusion process', or its directory [processing.output_dir].")
@click.option("--output", "-o", type=click.Path(file_okay=False), default="output/cuts", show_default=True)
@click.pass_obj
def optimise(cfg, input_path, output) -> None:
    """Optimise (kappa, E_low, eta_high) per mass: the largest S/sqrt(B + dB^2 + 1) keeping 90% of the signal."""
    from .processors.processor import ProcessingError

    try:
        _optimised(cfg, Path(input_path or cfg.processing.output_dir), Path(output))
    except ProcessingError as err:
        raise click.ClickException(str(err)) from None


@main.command()
@click.option("--output", "-o", type=click.Path(file_okay=False), default="output", show_default=True)
@click.pass_context
def run(ctx: click.Context, output: str) -> None:
    """The whole chain on the configuration: samples, histograms, optimised cuts, limits, reach plot,
    workspaces.

    Samples already generated with the same configuration are kept (an interrupted run resumes). The
    histograms are made twice: with the configuration's cuts (for the optimisation), then with the
    optimised ones (output/cuts/), which the limits use.
    """
    out = Path(output)
    samples = out / "samples"
    cfg = ctx.obj
    # one pool for all samples, the longest (the tau pairs) first
    _produce([*_sample_jobs(cfg, TAU_PAIR, [], None, None, str(samples), None, False, False),
              *_sample_jobs(cfg, "ee_to_eea", list(cfg.signal.masses), None, None, str(samples), None, False, False)],
             cfg.processing.workers)
    ctx.invoke(process, samples=(str(samples),), output=str(out / "histograms_configured"))
    ctx.obj = _optimised(ctx.obj, out / "histograms_configured", out / "cuts")
    ctx.invoke(process, samples=(str(samples),), output=str(out / "histograms"))
    ctx.invoke(limits, input_path=str(out / "histograms"), output=str(out / "limits"))


@main.command()
@click.option("--tau", "tau_file", type=click.Path(exists=True, dir_okay=False), required=True,
              help="Tau-pair sample (ROOT).")
@click.option("--signal", "signal_files", type=click.Path(exists=True, dir_okay=False), multiple=True,
              required=True, help="Signal sample (ROOT); repeatable.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default="output/estimators.png", show_default=True)
@click.pass_obj
def estimators(cfg, tau_file, signal_files, output) -> None:
    """Compare the c_phi estimators: fraction of events on the diagonal m_ee = |m_ee^tau|, and a figure."""
    from .processors.estimators import study
    from .samples.rootio import read_metadata

    samples = {"tau pairs": tau_file}
    for path in signal_files:
        samples[f"signal {read_metadata(path)['m_a']:g} GeV"] = path
    try:
        results = study(samples, cfg, output)
    except (SampleError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"# weighted fraction with |ln(|m_ee^tau| / m_ee)| <= ln(1 + {cfg.histograms.relative_width:g})")
    click.echo(f"{'sample':<16}{'estimator':<12}{'fraction':>10}{'error':>9}")
    for r in results:
        click.echo(f"{r.sample:<16}{r.estimator:<12}{r.fraction:>10.4f}{r.fraction_error:>9.4f}")
    click.echo(f"wrote {output}")


def _with_cuts(cfg, cuts_file: str | None):
    """The configuration with the `selection` section of a cuts.yaml (from 'alpfusion optimise')."""
    if not cuts_file:
        return cfg
    import yaml

    try:
        selection = yaml.safe_load(Path(cuts_file).read_text())["selection"]
        return cfg.replace(selection=selection)
    except (OSError, KeyError, TypeError, yaml.YAMLError) as err:
        raise click.ClickException(f"{cuts_file}: not a cuts file with a 'selection' section ({err})") from None
    except ConfigError as err:
        raise click.ClickException(f"{cuts_file}: {err}") from None


@main.command()
@click.argument("signal_samples", nargs=-1, type=click.Path(exists=True))
@click.option("--replicas", "-n", "n_replicas", type=click.IntRange(2), default=4, show_default=True)
@click.option("--events", type=click.IntRange(1), help="Tau-pair draws per replica [backgrounds.tautau.events].")
@click.option("--cuts", "cuts_file", type=click.Path(exists=True, dir_okay=False),
              help="cuts.yaml of 'alpfusion optimise' (default: the configuration's selection).")
@click.option("--output", "-o", type=click.Path(file_okay=False), default="output/replicas", show_default=True)
@click.pass_obj
def replicas(cfg, signal_samples, n_replicas, events, cuts_file, output) -> None:
    """Regenerate the tau-pair background with N seeds and report the spread of the limits per mass.

    SIGNAL_SAMPLES: signal sample files or directories (default: the signal files of
    generation.output_dir); background samples among them are left out.
    """
    from .fits.replicas import format_spread, limits_with_background, spread
    from .fits.scan import write_rows
    from .processors.run import find_samples

    cfg = _with_cuts(cfg, cuts_file)
    signals = [p for p in find_samples(signal_samples, cfg.generation.output_dir)
               if read_metadata(p).get("m_a") is not None]
    if not signals:
        raise click.ClickException("no signal samples found")
    out = Path(output)
    tables = []
    for i in tqdm(range(n_replicas), unit="replica", file=sys.stderr):
        tables.append(limits_with_background(cfg, signals, out, events=events or cfg.backgrounds.tautau.events,
                                             seed=cfg.generation.seed + 1000 * (i + 1), workers=cfg.processing.workers))
    spreads = spread(tables)
    write_rows(out / "spread.csv", spreads)
    click.echo(format_spread(spreads), nl=False)
    click.echo(f"wrote {out}/spread.csv and each replica's limits in {out}/limits_seed*/")
