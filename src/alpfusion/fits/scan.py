"""The mass scan: from the processor's histograms to the limits table, workspaces and publication.

For every mass hypothesis (a region of the `analysis` histograms):

1. the templates of `alpfusion.models.workspace` (signal bins, explicit empty-bin treatment),
   grouped by S/B into `statistics.sb_groups` bins for pyhf;
2. the Poisson Lambda = 4 limit on the full 2% binning and on the grouped one (their ratio is
   what the grouping costs), and the share of Lambda that comes from bins without background
   MC, at the Lambda limit;
3. the cabinetry configuration, the pyhf workspace (`cabinetry.workspace.build`) and the expected
   CLs limit with its +-1, +-2 sigma band (`alpfusion.fits.cls`), asymptotic by default; mass points
   whose signal-rich bins (those holding the first half of the signal in S/B order) expect fewer
   than `statistics.small_background_events` background events are flagged: there the asymptotic
   formulae are unreliable and pseudo-experiments (`cls_method: toys`) should be run; with toys,
   their median expected limit is a column of its own beside the asymptotic one;
4. couplings g = g_ref sqrt(mu) (every signal rate scales as g^2).

Mass points are independent and run in parallel worker processes.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from ..config import Config
from ..models.workspace import (EmptyBins, RegionModel, cabinetry_config, group_by_signal_to_background,
                                region_model, write_templates, write_yaml)
from .optimise import SelectedYields
from .poisson import coupling_from_mu, mu_at_lambda, poisson_lambda

@dataclass(frozen=True)
class MassPoint(SelectedYields):
    """One row of the limits table (couplings in GeV^-1, yields in expected events)."""

    signal_bins: int
    empty_bins: int
    lambda_empty_fraction: float
    g_lambda: float
    g_lambda_grouped: float
    g_cls_minus2: float
    g_cls_minus1: float
    g_cls: float
    g_cls_plus1: float
    g_cls_plus2: float
    g_cls_toys: float  # median expected limit from pseudo-experiments, NaN unless run
    cls_method: str
    small_background: bool


def _signal_rich_background(model: RegionModel) -> float:
    """Background expected in the bins that hold the first half of the signal, in S/B order."""
    b = model.total_background
    s = model.signal.yields
    order = np.argsort(-np.divide(s, b, out=np.full_like(s, np.inf), where=b > 0), kind="stable")
    half = np.searchsorted(np.cumsum(s[order]), 0.5 * s.sum()) + 1
    return float(b[order[:half]].sum())


def _mc(template_values) -> tuple[float, float]:
    return float(template_values.yields.sum()), float(np.sqrt(template_values.variances.sum()))


def _selected_background(backgrounds: dict, region: str) -> tuple[float, float]:
    """The background MC after the selection of a region, in all its bins, and its MC error."""
    total, variance = 0.0, 0.0
    for h in backgrounds.values():
        view = h[{"region": region}].view(flow=True)
        total += float(np.sum(view.value))
        variance += float(np.sum(view.variance))
    return total, math.sqrt(variance)


def region_models(result: dict, cfg: Config) -> tuple[list[dict], list[RegionModel], list[RegionModel]]:
    """The regions with a signal sample of their mass, their full and their grouped templates.

    Each region dict gains `background` and `background_error`: the selected background MC in
    all its bins (not only the signal bins).
    """
    stats = cfg.statistics
    treatment = EmptyBins(stats.empty_bins, stats.floor_yield, stats.floor_uncertainty, stats.smooth_slices)
    samples = result["samples"]
    histos = result["histograms"]
    backgrounds = {n: histos[n]["analysis"] for n, info in samples.items() if info["kind"] == "background"}
    regions, full, grouped = [], [], []
    for region in result["regions"]:
        signal = [n for n, info in samples.items()
                  if info["kind"] == "signal" and math.isclose(info["m_a"], region["m_a"], abs_tol=1e-9)]
        if len(signal) != 1:
            continue
        model = region_model(region["region"], region["m_a"], histos[signal[0]]["analysis"], backgrounds, treatment)
        b, b_err = _selected_background(backgrounds, region["region"])
        regions.append(dict(region, background=b, background_error=b_err))
        full.append(model)
        grouped.append(group_by_signal_to_background(model, stats.sb_groups)[0])
    return regions, full, grouped


def _cls_job(args):
    """Worker: cabinetry templates -> workspace -> expected CLs limit of one mass point."""
    import cabinetry
    import pyhf

    from .cls import expected_limit

    # cabinetry warns for every template with empty bins: the empty-bin treatment is explicit here
    logging.getLogger("cabinetry").setLevel(logging.ERROR)

    cfg_dict, method, toys, seed, workspace_path = args
    cabinetry.templates.collect(cfg_dict)
    spec = cabinetry.workspace.build(cfg_dict)
    cabinetry.workspace.save(spec, workspace_path)
    model = pyhf.Workspace(spec).model()
    try:
        asymptotic = expected_limit(model)
        with_toys = (expected_limit(model, method="toys", ntoys=toys, seed=seed,
                                    scan=np.linspace(0.5, 2.0, 7) * asymptotic.median) if method == "toys" else None)
        return spec, (asymptotic, with_toys)
    except (ValueError, pyhf.exceptions.FailedMinimization) as err:
        # e.g. no sensitivity at all, or a fit that fails: the row says so instead of stopping the scan
        return spec, f"{type(err).__name__}: {err}"


def run_scan(result: dict, cfg: Config, out_dir: str | os.PathLike, *, workers: int = 1,
             method: str | None = None) -> tuple[list[MassPoint], dict[float, dict]]:
    """Limits for every mass point with a signal sample; writes templates, configs and workspaces.

    Returns the table rows and the workspaces (keyed by m_a).
    """
    out_dir = Path(out_dir)
    stats = cfg.statistics
    method = method or stats.cls_method
    regions, full, grouped = region_models(result, cfg)
    if not regions:
        raise ValueError("no mass hypothesis has a signal sample of its mass: nothing to set limits on")
    templates = write_templates(out_dir / "templates.root", grouped)
    jobs = []
    for model in grouped:
        s, b = model.signal.yields, model.total_background
        mu_max = 1e3 * mu_at_lambda(s, b)  # a range for fits by users of the workspace
        config = cabinetry_config(model, templates, out_dir / "histograms", mu_max)
        write_yaml(out_dir / "configs" / f"{model.region}.yml", config)
        jobs.append((config, method, stats.toys, cfg.generation.seed,
                     str(out_dir / "workspaces" / f"{model.region}.json")))
    (out_dir / "workspaces").mkdir(parents=True, exist_ok=True)
    # cabinetry creates its histogram folder without exist_ok: made here, before the workers race for it
    (out_dir / "histograms").mkdir(parents=True, exist_ok=True)
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            limits = list(pool.map(_cls_job, jobs))
    else:
        limits = [_cls_job(job) for job in jobs]
    g_ref = cfg.signal.g_ref
    rows, workspaces = [], {}
    for region, model, merged, (spec, limit) in zip(regions, full, grouped, limits):
        s, b = model.signal.yields, model.total_background
        mu_lambda = mu_at_lambda(s, b)
        lam_empty = poisson_lambda(mu_lambda * s[model.empty], b[model.empty]) / poisson_lambda(mu_lambda * s, b)
        if isinstance(limit, str):
            band, g_toys, cls_method = [math.nan] * 5, math.nan, f"failed: {limit}"
        else:
            asymptotic, with_toys = limit
            band = [coupling_from_mu(mu, g_ref) for mu in asymptotic.band]
            g_toys = coupling_from_mu(with_toys.median, g_ref) if with_toys else math.nan
            cls_method = "asymptotic + toys" if with_toys else "asymptotic"
        rows.append(MassPoint(
            m_a=model.m_a, kappa=region["kappa"], e_low=region["e_low"], eta_high=region["eta_high"],
            signal=float(s.sum()), signal_error=float(np.sqrt(model.signal.variances.sum())),
            background=region["background"], background_error=region["background_error"],
            signal_bins=len(model.bins),
            empty_bins=int(model.empty.sum()), lambda_empty_fraction=float(lam_empty),
            g_lambda=coupling_from_mu(mu_lambda, g_ref),
            g_lambda_grouped=coupling_from_mu(mu_at_lambda(merged.signal.yields, merged.total_background), g_ref),
            g_cls_minus2=band[0], g_cls_minus1=band[1], g_cls=band[2], g_cls_plus1=band[3], g_cls_plus2=band[4],
            g_cls_toys=g_toys,
            cls_method=cls_method, small_background=_signal_rich_background(model) < stats.small_background_events,
        ))
        workspaces[model.m_a] = spec
    return rows, workspaces


def write_rows(path: str | os.PathLike, rows: list) -> Path:
    """Dataclass rows (limits table, cut table) as CSV, atomically; the columns are the fields."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=[f.name for f in fields(rows[0])] if rows else ["m_a"])
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)
    os.replace(tmp, path)
    return path


def format_table(rows: list[MassPoint], g_ref: float) -> str:
    """The limits table as text: cuts, S and B, and the couplings of both criteria."""
    head = (f"{'m_a':>6} {'kappa':>5} {'E_low':>5} {'eta_hi':>6} {'S':>9} {'B':>11} {'bins':>6} {'empty':>6}"
            f" {'L_empty':>7} {'g(Lambda)':>10} {'g(CLs)':>10} {'-2s':>9} {'-1s':>9} {'+1s':>9} {'+2s':>9}"
            f" {'g(toys)':>9}")
    lines = [f"# expected 95% CL limits on g_agg [GeV^-1]; yields in events; g_ref = {g_ref:g}", head]
    for r in rows:
        flag = " *" if r.small_background else ""
        lines.append(f"{r.m_a:6.3g} {r.kappa:5.2f} {r.e_low:5.2f} {r.eta_high:6.2f} {r.signal:9.3g}"
                     f" {r.background:11.4g} {r.signal_bins:6d} {r.empty_bins:6d} {r.lambda_empty_fraction:7.2f}"
                     f" {r.g_lambda:10.3e} {r.g_cls:10.3e} {r.g_cls_minus2:9.2e} {r.g_cls_minus1:9.2e}"
                     f" {r.g_cls_plus1:9.2e} {r.g_cls_plus2:9.2e} {r.g_cls_toys:9.2e}{flag}")
    for r in rows:
        if r.cls_method.startswith("failed"):
            lines.append(f"m_a = {r.m_a:g}: CLs {r.cls_method}")
    if any(r.small_background for r in rows):
        lines.append("* fewer background events than statistics.small_background_events in the signal-rich bins: "
                     "asymptotic CLs unreliable, run pseudo-experiments (statistics.cls_method: toys)")
    return "\n".join(lines) + "\n"
