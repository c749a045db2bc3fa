"""The mass scan: from the processor's histograms to the limits table, workspaces and publication.

For every mass hypothesis (a region of the `analysis` histograms):

1. the templates of `alpfusion.models.workspace` (signal bins, explicit empty-bin treatment),
   grouped by S/B into `statistics.sb_groups` bins for pyhf;
2. the Poisson Lambda = 4 limit on the full 2% binning and on the grouped one (their ratio is
   what the grouping costs), the share of Lambda that comes from bins without background
   MC, at the Lambda limit, the limit on the coarse groups (no empty-bin treatment) and, where every
   coarse group holds background MC, the tighter of the per-bin and coarse limits, both upper bounds
   on the per-bin limit with infinite MC (`alpfusion.fits.poisson.lambda_bound`); the same at the
   asymptotic CLs median without MC constraints, whose q_mu,A is Lambda at 1.96^2 (g_cls_bound);
3. the cabinetry configuration, the pyhf workspace (`cabinetry.workspace.build`) and the expected
   CLs limit with its +-1, +-2 sigma band (`alpfusion.fits.cls`), asymptotic, and with
   `cls_method: toys` (the default) the median expected limit from pseudo-experiments
   (`alpfusion.fits.toys`) as a column of its own; mass points whose sensitive bins (those giving
   the first half of Lambda at its limit, in S/B order) expect fewer than
   `statistics.small_background_events` background events are flagged: there the asymptotic formulae
   are unreliable and the toys' limit is the one to quote;
4. couplings g = g_ref sqrt(mu) (every signal rate scales as g^2);
5. the expected limit to quote (:func:`expected_source`), with its band and MC-statistical error: the
   toys' where the asymptotic formulae fail, the CLs bound where the background MC sets the profiled
   CLs, else the asymptotic CLs;
6. every limit's MC-statistical error (a column ``{limit}_mc_error``): its standard deviation over
   replicas of its templates (:func:`lambda_mc_errors`, :func:`cls_mc_error`); for the toys' limit the
   asymptotic median's relative error (a replica would need its own pseudo-experiments).

Mass points are independent and run in parallel worker processes.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_text, write_yaml
from ..config import Statistics
from ..models.workspace import (
    FLOOR,
    MassPointModel,
    RegionModel,
    Template,
    build_workspace,
    cabinetry_config,
    write_templates,
)
from ..processors.optimise import SelectedYields
from . import BAND_SIGMAS, band_column
from .cls import MEDIAN_Q, CLsLimit, LimitError, asimov_median, band_target, toy_scan
from .poisson import (
    LAMBDA_95,
    coupling_error,
    coupling_from_mu,
    lambda_bound,
    lambda_per_bin,
    mu_at_lambda,
    poisson_lambda,
)
from .toys import StatErrorModel

log = logging.getLogger(__name__)

MC_REPLICAS = 64
"""Template replicas for the MC-statistical error of a limit (lambda_mc_errors, cls_mc_error)."""
MC_ERROR_STREAM = 7
"""The random stream of the Lambda limit's replicas, after generation.seed and before the mass point's index."""
CLS_MC_ERROR_STREAM = 8
"""The random stream of the CLs limit's replicas (as :data:`MC_ERROR_STREAM`)."""
COARSE_MC_ERROR_STREAM = 9
"""The random stream of the coarse Lambda limit's replicas (as :data:`MC_ERROR_STREAM`)."""
GROUPED_MC_ERROR_STREAM = 10
"""The random stream of the replicas of the S/B-grouped templates for the limits without MC constraints
(as :data:`MC_ERROR_STREAM`)."""
MC_LIMITED_VARIANCE = (1 - 0.9**4) / (0.9**4 - 0.5)
"""The background's MC variance over its Poisson variance, w (:func:`mc_variance_ratio`), above which
doubling the background MC moves g(CLs) by more than 10%: :func:`mc_growth_factor` (w, 2) = 0.9 solved
for w, 2.2."""

Mapper = Callable[[Callable[[Any], Any], Sequence[Any]], Iterable[Any]]
"""Runs a function over items, results in the items' order (the builtin ``map``, or a pool's)."""


@dataclass(frozen=True)
class MassPoint(SelectedYields):
    """One row of the limits table (couplings in GeV^-1, yields in expected events)."""

    signal_bins: int
    empty_bins: int
    lambda_empty_fraction: float
    lambda_floor_fraction: float  # share of Lambda from bins with a floor (empty, or raised to one local event)
    g_lambda: float
    g_lambda_mc_error: float  # MC-statistical error of g_lambda (lambda_mc_errors)
    g_lambda_grouped: float
    g_lambda_grouped_mc_error: float  # MC-statistical error of g_lambda_grouped (lambda_mc_errors)
    g_lambda_coarse: float  # Lambda on groups ordered from coarse blocks, MC only (coarse_model)
    g_lambda_coarse_mc_error: float  # MC-statistical error of g_lambda_coarse (lambda_mc_errors)
    g_lambda_bound: float  # min(g_lambda, g_lambda_coarse) where every coarse group holds MC (lambda_bound)
    g_lambda_bound_mc_error: float  # MC-statistical error of the limit g_lambda_bound is (lambda_mc_errors)
    g_cls_bound_minus2: float  # the -2 sigma value of g_cls_bound's band
    g_cls_bound_minus1: float
    g_cls_bound: float  # asymptotic CLs median without MC constraints, the tighter of per-bin and coarse (_Bound)
    g_cls_bound_plus1: float
    g_cls_bound_plus2: float
    g_cls_bound_mc_error: float  # MC-statistical error of the limit g_cls_bound is (lambda_mc_errors)
    g_cls_minus2: float
    g_cls_minus1: float
    g_cls: float
    g_cls_plus1: float
    g_cls_plus2: float
    g_cls_mc_error: float  # MC-statistical error of g_cls (cls_mc_error); NaN without a CLs limit or a replica's
    g_cls_infinite_mc: float  # g_cls without the MC-statistical constraints (cls_infinite_mc)
    g_cls_infinite_mc_mc_error: float  # its MC-statistical error (lambda_mc_errors at q_mu,A = 1.96^2)
    cls_mc_limited: bool  # mc_variance_ratio > MC_LIMITED_VARIANCE: g_cls moves > 10% when the MC doubles
    g_cls_toys_minus2: float  # the -2 sigma value of the toys' band, NaN unless run
    g_cls_toys_minus1: float
    g_cls_toys: float  # median expected limit from pseudo-experiments, NaN unless run
    g_cls_toys_plus1: float
    g_cls_toys_plus2: float
    g_cls_toys_mc_error: float  # its MC-statistical error: the asymptotic median's, relative
    g_cls_toys_toy_error: float  # its statistical error from the finite number of toys (toys.median_error)
    cls_method: str
    small_background: bool
    expected_from: str  # which CLs limit g_expected is (expected_source): toys, cls_bound or cls
    g_expected_minus2: float
    g_expected_minus1: float
    g_expected: float  # the expected CLs limit to quote
    g_expected_plus1: float
    g_expected_plus2: float
    g_expected_mc_error: float  # its MC-statistical error (that of its source's column)
    g_expected_toy_error: float  # the toys' statistical error where it is the toys' limit, else 0


@dataclass(frozen=True)
class MassPointWorkspace:
    """The pyhf workspace of one mass point and where it was written."""

    m_a: float
    region: str
    spec: dict
    path: Path


@dataclass(frozen=True)
class ScanResult:
    """The limits table and the workspaces of a mass scan, in mass order."""

    rows: list[MassPoint]
    workspaces: list[MassPointWorkspace]


@dataclass(frozen=True)
class _MassPointJob:
    """One mass point's work for a worker: its models, the cabinetry configuration to build, and
    what the limits need (the ``index`` of the mass point picks its stream of MC-error replicas)."""

    point: MassPointModel
    config: dict
    workspace_path: str
    method: str
    stats: Statistics
    g_ref: float
    seed: int
    index: int


def _sensitive_background(model: RegionModel, mu: float) -> float:
    """Background expected in the bins that give the first half of Lambda at the signal strength mu, in
    S/B order: where the limit comes from. A few background-free bins with a small share of the signal
    can give most of Lambda (2 S each), and there the asymptotic formulae fail whatever the background
    of the bins that hold most of the signal."""
    b = model.total_background
    s = model.signal.yields
    order = np.argsort(-np.divide(s, b, out=np.full_like(s, np.inf), where=b > 0), kind="stable")
    terms = lambda_per_bin(mu * s[order], b[order])
    half = np.searchsorted(np.cumsum(terms), 0.5 * terms.sum()) + 1
    return float(b[order[:half]].sum())


def _cls_limit(model: Any, job: _MassPointJob) -> tuple[CLsLimit, CLsLimit | str | None] | str:
    """The expected CLs limit of one mass point's pyhf model, and the toys' limit when asked for. A
    limit that cannot be set is returned as its reason (a failure of the toys leaves the asymptotic
    limit standing), so that one mass point does not stop the scan."""
    from .cls import expected_limit

    try:
        asymptotic = expected_limit(model)
    except LimitError as err:
        return f"{type(err).__name__}: {err}"
    if job.method != "toys":
        return asymptotic, None
    try:
        scan = toy_scan(asymptotic)
        return asymptotic, expected_limit(model, method="toys", ntoys=job.stats.toys, seed=job.seed, scan=scan)
    except (LimitError, ValueError) as err:
        return asymptotic, f"{type(err).__name__}: {err}"


def _mass_point_job(job: _MassPointJob) -> tuple[dict, MassPoint, list[str]]:
    """Worker: cabinetry templates -> workspace of one mass point, its row of the limits table (both
    criteria and their MC errors) and what could not be set, for the caller to report."""
    import pyhf

    spec = build_workspace(job.config, job.workspace_path)
    model = pyhf.Workspace(spec).model()
    limit = _cls_limit(model, job)
    problems, cls_error, g_infinite = [], math.nan, math.nan
    if isinstance(limit, str):
        problems.append(f"no CLs limit ({limit})")
    else:
        if isinstance(limit[1], str):
            problems.append(f"no limit from pseudo-experiments ({limit[1]})")
        binned = StatErrorModel.from_pyhf(model)
        try:
            cls_error = cls_mc_error(binned, job.point.grouped, job.g_ref, _replica_rng(job, CLS_MC_ERROR_STREAM))
        except LimitError as err:
            problems.append(f"no MC error of the CLs limit ({err})")
        try:
            g_infinite = cls_infinite_mc(binned, job.g_ref)
        except LimitError as err:
            problems.append(f"no CLs limit with infinite MC ({err})")
    row = _row(job.point, limit, _Bounds.of(job), cls_error, g_infinite, job.stats, job.g_ref)
    return spec, row, problems


@dataclass(frozen=True)
class _Bound:
    """The limits of one mass point at one threshold of Lambda (couplings in GeV^-1): on the full
    binning and on the coarse groups, and the tighter of the two (``fits.poisson.lambda_bound``).

    Without MC constraints q_mu,A of the CLs band on background-only Asimov data is
    2 sum_i [mu s_i - b_i ln(1 + mu s_i / b_i)] = Lambda(mu) (``fits.cls``, ``fits.poisson``): at the
    thresholds f_N^2 (``fits.cls.band_target``) these are the asymptotic CLs band values, and the
    data-processing inequality bounds them as it bounds Lambda = 4."""

    mu_fine: float
    g_fine: float
    g_coarse: float
    g: float

    @classmethod
    def of(cls, point: MassPointModel, g_ref: float, threshold: float) -> _Bound:
        mu_fine = mu_at_lambda(point.full.signal.yields, point.full.total_background, threshold)
        g_fine = coupling_from_mu(mu_fine, g_ref)
        coarse_b = point.coarse.total_background
        g_coarse = coupling_from_mu(mu_at_lambda(point.coarse.signal.yields, coarse_b, threshold), g_ref)
        return cls(mu_fine, g_fine, g_coarse, lambda_bound(g_fine, g_coarse, coarse_b))


@dataclass(frozen=True)
class _Bounds:
    """One mass point's limits at Lambda = 4 and its CLs band without MC constraints (:class:`_Bound`),
    with the MC-statistical errors of g_lambda, g_lambda_coarse, g_lambda_bound and the CLs median, and
    those of the limits on the S/B-grouped templates: Lambda = 4 and the CLs median without MC
    constraints, which is Lambda = 1.96^2 there (``fits.cls``)."""

    lam: _Bound
    lam_errors: tuple[float, float, float]  # g_fine, g_coarse, g
    cls_band: tuple[_Bound, ...]  # at band_target(n), n in BAND_SIGMAS
    cls_error: float
    grouped_errors: tuple[float, float]  # Lambda = 4, Lambda = 1.96^2

    @classmethod
    def of(cls, job: _MassPointJob) -> _Bounds:
        """The limits, and their MC-statistical errors from one set of replicas per template set (full
        binning, coarse groups, S/B groups; :func:`lambda_mc_errors`) at Lambda = 4 and 1.96^2; a
        bound's error is that of the limit it is."""
        lam = _Bound.of(job.point, job.g_ref, LAMBDA_95)
        band = tuple(_Bound.of(job.point, job.g_ref, band_target(n)) for n in BAND_SIGMAS)
        median = band[BAND_SIGMAS.index(0)]
        fine, coarse, grouped = (
            lambda_mc_errors(model, job.g_ref, _replica_rng(job, stream), (LAMBDA_95, MEDIAN_Q))
            for model, stream in (
                (job.point.full, MC_ERROR_STREAM),
                (job.point.coarse, COARSE_MC_ERROR_STREAM),
                (job.point.grouped, GROUPED_MC_ERROR_STREAM),
            )
        )
        bound_error = lambda bound, k: fine[k] if bound.g == bound.g_fine else coarse[k]
        return cls(
            lam, (fine[0], coarse[0], bound_error(lam, 0)), band, bound_error(median, 1), (grouped[0], grouped[1])
        )


def _replica_rng(job: _MassPointJob, stream: int) -> np.random.Generator:
    """The random stream ``stream`` of a mass point's template replicas."""
    return np.random.default_rng([job.seed, stream, job.index])


def run_scan(
    models: Sequence[MassPointModel],
    stats: Statistics,
    g_ref: float,
    out_dir: str | os.PathLike,
    *,
    seed: int,
    mapper: Mapper = map,
    method: str | None = None,
    final_dir: str | os.PathLike | None = None,
) -> ScanResult:
    """Limits for every mass point; writes templates.root, configs/ and workspaces/ into ``out_dir``.

    ``mapper`` runs the mass points' CLs jobs (independent: in parallel where it is a pool's map).
    ``final_dir`` is where ``out_dir`` will be moved (by default ``out_dir`` itself): the cabinetry
    configurations written name their inputs there.
    """
    out_dir = Path(out_dir)
    final_dir = Path(final_dir or out_dir)
    method = method or stats.cls_method
    if not models:
        raise LimitError("no mass hypothesis has a signal sample of its mass: nothing to set limits on")
    templates = write_templates(out_dir / "templates.root", [m.grouped for m in models])
    # cabinetry creates its histogram folder without exist_ok: made here, before parallel workers race for it
    (out_dir / "histograms").mkdir(parents=True, exist_ok=True)
    jobs = []
    for index, point in enumerate(models):
        grouped = point.grouped
        mu_max = 1e3 * mu_at_lambda(grouped.signal.yields, grouped.total_background)  # a range for users' fits
        config = cabinetry_config(grouped, templates, out_dir / "histograms", mu_max)
        write_yaml(
            out_dir / "configs" / f"{grouped.region}.yml",
            cabinetry_config(grouped, final_dir / templates.name, final_dir / "histograms", mu_max),
        )
        workspace = str(out_dir / "workspaces" / f"{grouped.region}.json")
        jobs.append(_MassPointJob(point, config, workspace, method, stats, g_ref, seed, index))
    rows: list[MassPoint] = []
    workspaces: list[MassPointWorkspace] = []
    for job, (spec, row, problems) in zip(jobs, mapper(_mass_point_job, jobs)):
        for problem in problems:
            log.warning("m_a = %g GeV: %s", row.m_a, problem)
        rows.append(row)
        h = job.point.hypothesis
        workspaces.append(MassPointWorkspace(h.m_a, h.region, spec, Path(job.workspace_path)))
    return ScanResult(rows, workspaces)


def _gamma_replica(t: Template, rng: np.random.Generator) -> np.ndarray:
    """A replica of a template's yields: every bin's yield y with MC variance v drawn from a Gamma
    distribution of mean y and variance v (shape y^2/v, the number of effective MC events); a bin
    with v = 0 keeps y."""
    shape = t.effective_events
    drawn = rng.gamma(
        np.where(shape > 0, shape, 1.0),
        np.divide(t.variances, t.yields, out=np.ones_like(t.yields), where=t.yields > 0),
    )
    return np.where(shape > 0, drawn, t.yields)


def _replicas(model: RegionModel, rng: np.random.Generator, replicas: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(signal, total background) of ``replicas`` replicas of a model's templates (:func:`_gamma_replica`
    of the signal and of each background, the floor included)."""
    for _ in range(replicas):
        s = _gamma_replica(model.signal, rng)
        yield s, sum((_gamma_replica(t, rng) for t in model.backgrounds.values()), np.zeros(len(model.bins)))


def lambda_mc_errors(
    model: RegionModel,
    g_ref: float,
    rng: np.random.Generator,
    thresholds: Sequence[float],
    replicas: int = MC_REPLICAS,
) -> tuple[float, ...]:
    """The MC-statistical errors of the couplings at Lambda = each of ``thresholds``: their standard
    deviations over one set of replicas of the model's templates (:func:`_replicas`)."""
    couplings = [
        [coupling_from_mu(mu_at_lambda(s, b, threshold), g_ref) for threshold in thresholds]
        for s, b in _replicas(model, rng, replicas)
    ]
    return tuple(float(np.std(column, ddof=1)) for column in zip(*couplings))


def lambda_mc_error(model: RegionModel, g_ref: float, rng: np.random.Generator, replicas: int = MC_REPLICAS) -> float:
    """The MC-statistical error of the coupling at Lambda = 4 (:func:`lambda_mc_errors`)."""
    return lambda_mc_errors(model, g_ref, rng, (LAMBDA_95,), replicas)[0]


def cls_mc_error(
    binned: StatErrorModel, grouped: RegionModel, g_ref: float, rng: np.random.Generator, replicas: int = MC_REPLICAS
) -> float:
    """The MC-statistical error of the asymptotic CLs median coupling: its standard deviation over
    replicas of the S/B-grouped templates of the workspace (``grouped``, :func:`_replicas`), each set
    in ``binned`` (the workspace's model) with its per-bin relative MC constraints held: a replica
    is another MC sample of the same effective size."""
    couplings = [
        coupling_from_mu(asimov_median(replace(binned, signal=s, background=b)), g_ref)
        for s, b in _replicas(grouped, rng, replicas)
    ]
    return float(np.std(couplings, ddof=1))


def cls_infinite_mc(binned: StatErrorModel, g_ref: float) -> float:
    """The asymptotic CLs median coupling of the workspace's model ``binned`` with its MC-statistical
    constraints removed (every staterror parameter fixed at 1): the limit its templates would give
    with infinite MC (:func:`mc_variance_ratio`)."""
    return coupling_from_mu(asimov_median(replace(binned, sigma=np.zeros_like(binned.sigma))), g_ref)


def mc_variance_ratio(g_cls: float, g_infinite: float) -> float:
    """w = (g(CLs) / g(CLs, infinite MC))^4 - 1: the background's MC variance over its Poisson
    variance, as the CLs limit sees it.

    For one bin of background B known to the MC variance w B (w = sum w_i^2 / sum w_i, the expected
    events per effective MC event), profiling the MC constraint adds w B to the Poisson variance B:
    the median limit on the signal grows as sqrt(B (1 + w)) (B >> 1), the coupling as (1 + w)^(1/4).
    Doubling the MC halves w; a limit with large w moves by up to 2^(-1/4) (16%) per doubling.
    """
    return (g_cls / g_infinite) ** 4 - 1.0


def mc_growth_factor(w: float, growth: float) -> float:
    """The factor on g(CLs) when the background MC grows ``growth`` times: w -> w / growth, so
    ((1 + w / growth) / (1 + w))^(1/4) (:func:`mc_variance_ratio`)."""
    return ((1.0 + w / growth) / (1.0 + w)) ** 0.25


def expected_source(small_background: bool, g_toys: float, mc_limited: bool) -> str:
    """Which expected CLs limit to quote (the table's ``expected_from``): "toys" where the sensitive
    bins expect few background events (the asymptotic formulae fail there) and the toys ran; else
    "cls_bound" where the background's MC error sets the profiled CLs (``cls_mc_limited``: it would
    move by more than 10% if the MC doubled), the CLs median without MC constraints, which the MC
    already measures; else "cls", the asymptotic CLs median with the MC errors profiled."""
    if small_background and math.isfinite(g_toys):
        return "toys"
    return "cls_bound" if mc_limited else "cls"


def _row(
    point: MassPointModel,
    limit: tuple[CLsLimit, CLsLimit | str | None] | str,
    bounds: _Bounds,
    cls_error: float,
    g_infinite: float,
    stats: Statistics,
    g_ref: float,
) -> MassPoint:
    """The limits-table row of a mass point from its models, its CLs limit (or the reason it failed),
    the limits at Lambda = 4 and the CLs band without MC constraints (:class:`_Bounds`), the MC error
    of the CLs limit, and the CLs limit with infinite MC (:func:`cls_infinite_mc`)."""
    model, merged, h = point.full, point.grouped, point.hypothesis
    s, b = model.signal.yields, model.total_background
    lam = bounds.lam
    bound_band = [value.g for value in bounds.cls_band]
    mu_lambda = lam.mu_fine
    lam_total = poisson_lambda(mu_lambda * s, b)
    lam_empty = poisson_lambda(mu_lambda * s[model.empty], b[model.empty]) / lam_total
    floored = model.backgrounds[FLOOR].yields > 0 if FLOOR in model.backgrounds else np.zeros(len(s), bool)
    lam_floor = poisson_lambda(mu_lambda * s[floored], b[floored]) / lam_total
    toys, toys_toy_error = [math.nan] * 5, math.nan
    if isinstance(limit, str):
        band, cls_method = [math.nan] * 5, f"failed: {limit}"
    else:
        asymptotic, with_toys = limit
        band = [coupling_from_mu(mu, g_ref) for mu in asymptotic.band]
        cls_method = "asymptotic"
        if isinstance(with_toys, str):
            cls_method = f"asymptotic; toys failed: {with_toys}"
        elif with_toys is not None:
            toys, cls_method = [coupling_from_mu(mu, g_ref) for mu in with_toys.band], "asymptotic + toys"
            toys_toy_error = coupling_error(with_toys.median, with_toys.toy_error, g_ref)
    small_background = _sensitive_background(model, mu_lambda) < stats.small_background_events
    mc_limited = bool(mc_variance_ratio(band[2], g_infinite) > MC_LIMITED_VARIANCE)
    source = expected_source(small_background, toys[2], mc_limited)
    toys_error = toys[2] * cls_error / band[2]
    expected, expected_error, expected_toy_error = {
        "toys": (toys, toys_error, toys_toy_error),
        "cls_bound": (bound_band, bounds.cls_error, 0.0),
        "cls": (band, cls_error, 0.0),
    }[source]
    return MassPoint(
        m_a=h.m_a,
        kappa=h.kappa,
        e_low=h.e_low,
        eta_high=h.eta_high,
        signal=float(s.sum()),
        signal_error=float(np.sqrt(model.signal.variances.sum())),
        background=point.background,
        background_error=point.background_error,
        signal_bins=len(model.bins),
        empty_bins=int(model.empty.sum()),
        lambda_empty_fraction=float(lam_empty),
        lambda_floor_fraction=float(lam_floor),
        g_lambda=lam.g_fine,
        g_lambda_mc_error=bounds.lam_errors[0],
        g_lambda_grouped=coupling_from_mu(mu_at_lambda(merged.signal.yields, merged.total_background), g_ref),
        g_lambda_grouped_mc_error=bounds.grouped_errors[0],
        g_lambda_coarse=lam.g_coarse,
        g_lambda_coarse_mc_error=bounds.lam_errors[1],
        g_lambda_bound=lam.g,
        g_lambda_bound_mc_error=bounds.lam_errors[2],
        **_band_columns("g_cls_bound", bound_band),
        g_cls_bound_mc_error=bounds.cls_error,
        **_band_columns("g_cls", band),
        g_cls_mc_error=cls_error,
        g_cls_infinite_mc=g_infinite,
        g_cls_infinite_mc_mc_error=bounds.grouped_errors[1],
        cls_mc_limited=mc_limited,
        **_band_columns("g_cls_toys", toys),
        g_cls_toys_mc_error=toys_error,
        g_cls_toys_toy_error=toys_toy_error,
        cls_method=cls_method,
        small_background=small_background,
        expected_from=source,
        **_band_columns("g_expected", expected),
        g_expected_mc_error=expected_error,
        g_expected_toy_error=expected_toy_error,
    )


BAND_COLUMNS = tuple(band_column("", n) for n in BAND_SIGMAS)
"""The suffixes of a limit's band columns, in the order of ``fits.BAND_SIGMAS``."""


def _band_columns(limit: str, band: Sequence[float]) -> dict[str, float]:
    """The columns of a limit's band (:func:`fits.band_column`), from its values at ``fits.BAND_SIGMAS``."""
    return {band_column(limit, n): float(value) for n, value in zip(BAND_SIGMAS, band, strict=True)}


def rows_csv(rows: Sequence[Any]) -> str:
    """Dataclass rows (limits table, cut table) as CSV text; the columns are the fields."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[f.name for f in fields(rows[0])] if rows else ["m_a"])
    writer.writeheader()
    writer.writerows(asdict(row) for row in rows)
    return buf.getvalue()


def write_rows(path: str | os.PathLike, rows: Sequence[Any]) -> Path:
    """Dataclass rows as CSV, atomically."""
    return write_text(path, rows_csv(rows))


def read_rows(path: str | os.PathLike) -> list[MassPoint]:
    """The limits table written by :func:`write_rows` (limits.csv), as MassPoint rows."""
    path = Path(path)
    types = {f.name: f.type for f in fields(MassPoint)}
    parse: dict[str, Callable[[str], Any]] = {"float": float, "int": int, "str": str, "bool": lambda v: v == "True"}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if sorted(reader.fieldnames or []) != sorted(types):
            raise ValueError(f"{path}: not a limits table (columns {reader.fieldnames})")
        return [MassPoint(**{k: parse[str(types[k])](v) for k, v in row.items()}) for row in reader]


def format_expected(rows: list[MassPoint]) -> str:
    """The expected limit to quote as text, one line per mass point: ``g_expected``, its -2 to +2 sigma
    band, its relative MC-statistical error and that of the toys, and the CLs limit it is
    (``expected_from``)."""
    lines = [
        "# the expected 95% CL upper limit to quote on g_agg [GeV^-1] (limits.csv: g_expected, its band, its MC "
        "error and the toys' statistical error; from: toys = pseudo-experiments, cls_bound = CLs without MC "
        "constraints, cls = asymptotic CLs)",
        f"{'m_a':>6} {'g(expected)':>11} {'-2s':>9} {'-1s':>9} {'+1s':>9} {'+2s':>9} {'MC err':>7} {'toys err':>8}"
        f" {'from':>9}",
    ]
    for r in rows:
        lines.append(
            f"{r.m_a:6.3g} {r.g_expected:11.3e} {r.g_expected_minus2:9.2e} {r.g_expected_minus1:9.2e}"
            f" {r.g_expected_plus1:9.2e} {r.g_expected_plus2:9.2e} {r.g_expected_mc_error / r.g_expected:7.1%}"
            f" {r.g_expected_toy_error / r.g_expected:8.1%} {r.expected_from:>9}"
        )
    return "\n".join(lines) + "\n"


def format_table(rows: list[MassPoint], g_ref: float) -> str:
    """The limits table as text: cuts, S and B, and the couplings of both criteria."""
    head = (
        f"{'m_a':>6} {'kappa':>5} {'E_low':>5} {'eta_hi':>6} {'S':>9} {'B':>11} {'bins':>6} {'empty':>6}"
        f" {'L_empty':>7} {'L_floor':>7} {'g(Lambda)':>10} {'MC err':>7} {'g(coarse)':>10} {'MC err':>7}"
        f" {'g(bound)':>10} {'MC err':>7} {'g(CLs)':>10} {'MC err':>7} {'g(CLs,MC=inf)':>13} {'MC err':>7}"
        f" {'g(CLs,bound)':>12} {'MC err':>7} {'-2s':>9} {'-1s':>9} {'+1s':>9} {'+2s':>9} {'g(toys)':>9}"
        f" {'MC err':>7} {'g(expected)':>11} {'MC err':>7} {'from':>9}"
    )
    relative = lambda r, limit: getattr(r, f"{limit}_mc_error") / getattr(r, limit)
    lines = [
        f"# expected 95% CL limits on g_agg [GeV^-1]; yields in events; g_ref = {g_ref:g}; L_empty, L_floor: the "
        "share of Lambda from bins without background MC, and from the bins that carry a floor; "
        "MC err: the relative MC-statistical error of the limit before it, from template replicas (for g(toys) the "
        "asymptotic CLs median's); g(coarse): Lambda "
        "with the S/B order from coarse blocks and no empty-bin treatment (conservative); g(bound): the smaller of "
        "g(Lambda) and g(coarse) where every coarse group holds background MC (else g(Lambda)), both upper bounds on "
        "the per-bin limit with infinite MC; g(CLs,MC=inf): CLs "
        "without the MC-statistical constraints, the limit of these templates with infinite MC; g(CLs,bound): the CLs "
        "median without MC constraints as g(bound), the tighter of the per-bin and coarse ones (MC err from replicas); "
        "g(expected): the expected limit to quote, from the toys (*), the CLs bound (+) or the asymptotic CLs",
        head,
    ]
    for r in rows:
        flag = (" *" if r.small_background else "") + (" +" if r.cls_mc_limited else "")
        lines.append(
            f"{r.m_a:6.3g} {r.kappa:5.2f} {r.e_low:5.2f} {r.eta_high:6.2f} {r.signal:9.3g}"
            f" {r.background:11.4g} {r.signal_bins:6d} {r.empty_bins:6d} {r.lambda_empty_fraction:7.2f}"
            f" {r.lambda_floor_fraction:7.2f} {r.g_lambda:10.3e} {relative(r, 'g_lambda'):7.1%}"
            f" {r.g_lambda_coarse:10.3e} {relative(r, 'g_lambda_coarse'):7.1%}"
            f" {r.g_lambda_bound:10.3e} {relative(r, 'g_lambda_bound'):7.1%}"
            f" {r.g_cls:10.3e} {relative(r, 'g_cls'):7.1%}"
            f" {r.g_cls_infinite_mc:13.3e} {relative(r, 'g_cls_infinite_mc'):7.1%}"
            f" {r.g_cls_bound:12.3e} {relative(r, 'g_cls_bound'):7.1%}"
            f" {r.g_cls_minus2:9.2e} {r.g_cls_minus1:9.2e} {r.g_cls_plus1:9.2e} {r.g_cls_plus2:9.2e}"
            f" {r.g_cls_toys:9.2e} {relative(r, 'g_cls_toys'):7.1%}"
            f" {r.g_expected:11.3e} {relative(r, 'g_expected'):7.1%} {r.expected_from:>9}{flag}"
        )
    for r in rows:
        if "failed" in r.cls_method:
            lines.append(f"m_a = {r.m_a:g}: CLs {r.cls_method}")
    if any(r.small_background for r in rows):
        advice = (
            "g(toys) is the limit there"
            if all(np.isfinite(r.g_cls_toys) for r in rows if r.small_background)
            else "run pseudo-experiments (statistics.cls_method: toys)"
        )
        lines.append(
            "* fewer background events than statistics.small_background_events in the bins that give half of "
            "Lambda: "
            f"asymptotic CLs unreliable, {advice}"
        )
    limited = [r for r in rows if r.cls_mc_limited]
    if limited:
        needed = max(mc_variance_ratio(r.g_cls, r.g_cls_infinite_mc) for r in limited) / MC_LIMITED_VARIANCE
        lines.append(
            "+ the background's MC error sets g(CLs): it moves by more than 10% when the background MC doubles "
            f"(every flagged limit within 10% needs up to {needed:.3g} times the MC in the bins that carry the "
            "signal); g(CLs,MC=inf) is where it converges, and g(CLs,bound), with its MC error from replicas, the CLs "
            "limit that the MC already measures"
        )
    return "\n".join(lines) + "\n"
