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

from .config import ConfigError, default_config_text, load_config
from .samples.generator import Generator
from .samples.lhe import lhe_to_root
from .samples.processes import PROCESSES, SignalProcess, SignalSettings
from .samples.rootio import SampleError, read_metadata, write_sample
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
@click.pass_obj
def config_cmd(cfg, show_default: bool) -> None:
    """Print the validated configuration (or the shipped default) and its hash."""
    if show_default:
        click.echo(default_config_text(), nl=False)
        return
    import yaml

    click.echo(f"# source: {cfg.source}\n# hash: {cfg.hash}")
    click.echo(yaml.safe_dump(cfg.as_dict(), sort_keys=False), nl=False)


def _sample_path(out_dir: Path, process: str, m_a: float, component: str) -> Path:
    tag = "" if process == "ee_to_gamma_a" or component == "both" else f"_{component}"
    return out_dir / f"{process}{tag}_ma{m_a:g}.root"


def _up_to_date(path: Path, expected: dict) -> bool:
    """True when `path` is a valid sample whose metadata has all the `expected` values."""
    if not path.exists():
        return False
    try:
        meta = read_metadata(path)
    except SampleError:
        return False
    return all(meta.get(key) == value for key, value in expected.items())


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
@click.pass_obj
def generate(cfg, process, mass, events, seed, output, component, unweight, force) -> None:
    """Generate weighted events and write them as ROOT samples, one file per mass.

    Samples already on disk with the same configuration, seed and size are kept, so an
    interrupted mass scan resumes where it stopped.
    """
    base_seed = cfg.generation.seed if seed is None else seed
    out_dir = Path(output or cfg.generation.output_dir)
    component = component or cfg.signal.component
    try:
        if process == TAU_PAIR:
            jobs = [(out_dir / f"{TAU_PAIR}.root", TauPairProcess(TauPairSettings.from_config(cfg)), base_seed,
                     events or cfg.backgrounds.tautau.events, "")]
        else:
            jobs = [(_sample_path(out_dir, process, m_a, component),
                     SignalProcess(SignalSettings.from_config(cfg, process, m_a, component=component)),
                     base_seed + i, events or cfg.generation.events, f"m_a={m_a:g}")
                    for i, m_a in enumerate(_masses(mass, cfg.signal.masses))]
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    for path, proc, seed_used, n_events, label in jobs:
        expected = {"config_hash": cfg.hash, "seed": seed_used, "n_draws": n_events, "unweighted": unweight,
                    "process": proc.name}
        if proc.name == "ee_to_eea":
            expected["component"] = component
        if not force and _up_to_date(path, expected):
            click.echo(f"{path}: up to date, kept")
            continue
        gen = Generator(proc, cfg.generation.vegas, seed_used)
        click.echo(f"{proc.name} {label}: adapting vegas ...", err=True)
        gen.train()
        stream = gen.events(n_events, cfg.generation.chunk_size, unweight=unweight,
                            provenance={"config_hash": cfg.hash, "config_source": cfg.source})
        try:
            with tqdm(total=n_events, unit="ev", unit_scale=True, desc=label or proc.name, file=sys.stderr) as bar:
                draws = iter(stream.draws_per_chunk)
                meta = write_sample(path, stream, progress=lambda _n: bar.update(next(draws)))
        except SampleError as err:
            raise click.ClickException(str(err)) from None
        click.echo(f"{path}: {meta['n_events']} events, sigma = {meta['sigma_pb'] * 1e3:.6g} "
                   f"+- {meta['sigma_err_pb'] * 1e3:.2g} fb")


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


def _format_rows(rows: list[XsecRow], fmt: str, g: float) -> str:
    records = [row.__dict__ for row in rows]
    if fmt == "json":
        return json.dumps({"g_ref": g, "unit": "fb", "rows": records}, indent=1) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(records[0]) if records else ["process"])
        writer.writeheader()
        writer.writerows(records)
        return buf.getvalue()
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

