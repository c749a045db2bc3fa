"""From analysis histograms to cabinetry configurations and pyhf workspaces, one per mass point.

For a mass hypothesis (a region of the processor's `analysis` histogram: the plane
(m_ee, |m_ee^tau|), one per slice of |eta*_miss|) the statistical model has one channel built from
the *signal bins*, the 2% bins of every slice's plane where the signal has a yield. The planes of
different slices are separate: no bin of one is a neighbour of a bin of another. Bins without signal
carry no information on mu in this model (every nuisance parameter is a per-bin MC-statistical one),
so leaving them out changes no limit.

A realistic mass point has thousands of signal bins, and pyhf minimises over one MC-statistical
parameter per bin: minutes per fit. The channel's bins are therefore groups of 2% bins ordered
by S/B (`group_by_signal_to_background`): the likelihood ratio depends on a bin only through
its S/B, so bins of nearly equal S/B merge with little loss, which the Lambda criterion on the
full and on the grouped binning measures (both are reported). Background-free bins form their
own group.

Samples: `signal` with the normfactor `mu` (signal strength at the reference coupling), and every
background sample present; every sample's MC-statistical uncertainty comes from its sum of w^2
(cabinetry's automatic `staterror`). The data are the background-only Asimov data (the expected
yields), labelled `asimov_data`: the published likelihoods are for expected limits.

Bins where the background MC is empty (`EmptyBins`) are never dropped silently:

* "none": kept with zero background, counting as background-free (pyhf fixes their staterror);
* "floor": a separate sample `mc_floor`, present only in those bins, with a yield of one background
  MC event of the bin's neighbourhood (`nearest_mc`: the effective event yield sum(y^2)/sum(y) of
  the nearest background MC around the bin; a biased sample gives different parts of the plane
  different weights, so no region-wide average stands for a bin), or a given number, and a
  relative uncertainty (100% by default) as its MC-statistical uncertainty. With a `floor_reach`
  of R bins, only the empty bins within R bins (Chebyshev distance in the plane) of background MC
  get a floor: farther ones lie beyond the edge of the background that the MC has mapped, and
  count as background-free. A background with a measured kinematic edge in the offset
  ln(|m_ee^tau| / m_ee) (`edges`: the tau pairs end at the diagonal with the `tau_like` c_phi)
  gives no floor to the bins wholly above it, whatever its MC nearby; a background of lost photons
  whose support the missing-mass bound draws (`missing_mass_support`, statistics.missing_mass_bound)
  gives a floor to every empty bin within it, whatever the reach, and none beyond it. With a
  `floor_neighbourhood` of n bins, every bin with background MC and every floored empty bin holds at
  least one effective MC event of the (2n + 1)^2 bins around it (`neighbourhood_event_yield`), the
  difference part of `mc_floor`: the MC resolves no less, and an S/B order would pick bins whose one
  light event reads far below their neighbours;
* "smooth": in every signal bin the backgrounds are replaced by one sample `smooth_background`, the
  smooth model of `alpfusion.models.smooth` built from their sum in the region, with its own
  MC-statistical uncertainty.

The templates are written to a ROOT file as `{region}_{sample}` TH1Ds that cabinetry reads with
`InputPath: "templates.root:{RegionPath}_{SamplePath}"`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import hist
import numpy as np

from ..atomic import atomic_path, write_json
from ..config import EMPTY_BINS, Acceptance, Statistics
from ..errors import AlpfusionError
from ..processors.layouts import bin_histogram, region_view, weight_view
from ..processors.results import ProcessingResult
from ..processors.selection import MassHypothesis, missing_energy, missing_mass2_resolution
from ..samples.lostphotons import missing_mass2_bound
from ..samples.reproducible import recreate

SIGNAL = "signal"
FLOOR = "mc_floor"
DATA = "asimov_data"
POI = "mu"
SMOOTH = "smooth_background"
SUPPORT_ETA_MARGIN = 0.05
"""|eta*_miss| beyond a slice's upper edge that the smearing may move an event of lost photons
(:func:`missing_mass_support`)."""


class ModelError(AlpfusionError, ValueError):
    """A statistical model cannot be built; the message names the region, sample and problem."""


@dataclass(frozen=True)
class EmptyBins:
    """How bins without background MC are treated (module docstring)."""

    treatment: str = "floor"
    floor_yield: float | None = None  # None: one background MC event of the bin's neighbourhood
    floor_uncertainty: float = 1.0  # relative
    smooth_slices: int = 8  # m_ee slices of the smooth model
    floor_reach: int | None = None  # bins; None: floor every empty bin, however far from MC
    edges: Mapping[str, float | None] = field(default_factory=dict)  # background -> largest offset it reaches
    floor_scale: float = 1.0  # factor on every floor yield (a study of how much the limits rest on them)
    floor_neighbourhood: int | None = None  # bins; None: floors in empty bins only

    def __post_init__(self):
        if self.treatment not in EMPTY_BINS:
            raise ModelError(f"empty-bin treatment must be one of {EMPTY_BINS}, got '{self.treatment}'")
        if self.floor_yield is not None and not self.floor_yield > 0:
            raise ModelError(f"floor yield must be positive, got {self.floor_yield}")
        if not self.floor_uncertainty > 0:
            raise ModelError(f"floor uncertainty must be positive, got {self.floor_uncertainty}")
        if not self.floor_scale > 0:
            raise ModelError(f"floor scale must be positive, got {self.floor_scale}")
        if self.floor_reach is not None and self.floor_reach < 0:
            raise ModelError(f"floor reach must be a non-negative number of bins, got {self.floor_reach}")
        if self.floor_neighbourhood is not None and self.floor_neighbourhood < 0:
            n = self.floor_neighbourhood
            raise ModelError(f"floor neighbourhood must be a non-negative number of bins, got {n}")


@dataclass(frozen=True)
class Template:
    """Expected yields and their MC-statistical variances over the signal bins."""

    yields: np.ndarray
    variances: np.ndarray

    @property
    def effective_events(self) -> np.ndarray:
        """Per bin the effective number of MC events, y^2 / v = (sum w)^2 / sum w^2; 0 where v = 0."""
        return np.divide(self.yields**2, self.variances, out=np.zeros_like(self.yields), where=self.variances > 0)


@dataclass(frozen=True)
class RegionModel:
    """The inputs of one mass point's statistical model."""

    region: str
    m_a: float
    bins: np.ndarray  # flat indices (C order) of the signal bins in the 2D analysis histogram
    signal: Template
    backgrounds: dict[str, Template]
    empty: np.ndarray  # bool over `bins`: no background MC
    treatment: EmptyBins = field(default_factory=EmptyBins)

    @property
    def samples(self) -> dict[str, Template]:
        return {SIGNAL: self.signal, **self.backgrounds}

    @property
    def total_background(self) -> np.ndarray:
        return sum((t.yields for t in self.backgrounds.values()), np.zeros(len(self.bins)))


@dataclass(frozen=True)
class _Planes:
    """One sample's planes in one region of its `analysis` histogram ``h`` (region, |eta*_miss| slice,
    p_T,miss excess slice, m_ee, |m_ee^tau|; or without slice axes), the last two axes (m_ee,
    |m_ee^tau|): values and variances read out once per model, as C-ordered copies (the histogram's
    storage is column-major: a region of the default binning takes 12 ms to copy), with the histogram
    for its axes."""

    h: hist.Hist
    values: np.ndarray
    variances: np.ndarray

    @classmethod
    def of(cls, h: hist.Hist, region: str) -> _Planes:
        view = region_view(h, region)
        return cls(h, np.array(view.value), np.array(view.variance))

    @classmethod
    def of_samples(cls, hists: Mapping[str, hist.Hist], region: str) -> dict[str, _Planes]:
        """:meth:`of` for every sample of ``hists``."""
        return {name: cls.of(h, region) for name, h in hists.items()}


def _summed_plane(backgrounds: Mapping[str, _Planes]) -> tuple[np.ndarray, np.ndarray]:
    """Values and variances of one region's plane summed over the background samples (at least one)."""
    first, *rest = backgrounds.values()
    return sum((p.values for p in rest), first.values), sum((p.variances for p in rest), first.variances)


def region_model(
    region: str,
    m_a: float,
    signal: hist.Hist,
    backgrounds: Mapping[str, hist.Hist],
    treatment: EmptyBins = EmptyBins(),
    supports: Mapping[str, np.ndarray] | None = None,
) -> RegionModel:
    """Templates of one mass point from the `analysis` histograms of its signal and backgrounds.

    ``supports`` (background -> bool over the region's planes, :func:`missing_mass_support`): the bins a
    background's events can reach; with the floor, an empty bin within a support gets a floor whatever
    ``floor_reach``, and none from that background outside it."""
    planes = _Planes.of_samples(backgrounds, region)
    return _region_model(region, m_a, _Planes.of(signal, region), planes, treatment, supports)


def _region_model(
    region: str,
    m_a: float,
    signal: _Planes,
    backgrounds: Mapping[str, _Planes],
    treatment: EmptyBins,
    supports: Mapping[str, np.ndarray] | None,
) -> RegionModel:
    """:func:`region_model` of the planes read out of the histograms."""
    bins = np.flatnonzero(signal.values.ravel() > 0)
    if len(bins) == 0:
        raise ModelError(f"region '{region}': the signal has no selected events, no model can be built")
    templates = {name: Template(p.values.ravel()[bins], p.variances.ravel()[bins]) for name, p in backgrounds.items()}
    total_mc = sum((t.yields for t in templates.values()), np.zeros(len(bins)))
    empty = total_mc <= 0
    if treatment.treatment == "smooth":
        templates = {SMOOTH: _smooth_template(region, backgrounds, bins, treatment.smooth_slices)}
    if treatment.treatment == "floor":
        yields = np.zeros(len(bins))
        if np.any(empty):
            yields[empty] = _empty_bin_floors(region, backgrounds, bins[empty], treatment, supports or {})
        if treatment.floor_neighbourhood is not None:
            least = neighbourhood_event_yield(*_summed_plane(backgrounds), bins, treatment.floor_neighbourhood)
            least = treatment.floor_scale * np.nan_to_num(least)
            reached = ~empty | (yields > 0)  # bins with MC, and the empty bins that get a floor
            yields[reached] = np.maximum(yields[reached], least[reached] - total_mc[reached])
        if np.any(yields > 0):
            templates[FLOOR] = Template(yields, (treatment.floor_uncertainty * yields) ** 2)
    signal_template = Template(signal.values.ravel()[bins], signal.variances.ravel()[bins])
    return RegionModel(region, m_a, bins, signal_template, templates, empty, treatment)


def _empty_bin_floors(
    region: str,
    backgrounds: Mapping[str, _Planes],
    bins: np.ndarray,
    treatment: EmptyBins,
    supports: Mapping[str, np.ndarray],
) -> np.ndarray:
    """The floor yields of empty bins (flat indices; module docstring): one MC event of the nearest
    background MC (or ``floor_yield``) within ``floor_reach`` or a missing-mass support, none beyond
    every sample's edge or support."""
    beyond = _beyond_edges(region, backgrounds, bins, treatment.edges)
    inside = np.zeros(len(bins), dtype=bool)
    for name, outside in _beyond_supports(region, backgrounds, bins, supports).items():
        beyond[name] = beyond[name] | outside if name in beyond else outside
        inside |= ~outside
    reach = np.inf if treatment.floor_reach is None else treatment.floor_reach
    distance, event_yield = _local_floor(region, backgrounds, bins, beyond, reach)
    floored = ((distance <= reach) | inside) & np.isfinite(event_yield)
    return np.where(floored, treatment.floor_scale * (treatment.floor_yield or event_yield), 0.0)


def group_by_signal_to_background(
    model: RegionModel, n_groups: int, order_background: np.ndarray | None = None
) -> tuple[RegionModel, np.ndarray]:
    """Merge the signal bins into groups of equal signal, ordered by S/B; background-free bins apart.

    With ``order_background`` (another estimate of B over the same bins, :func:`coarse_model`) the
    order comes from it, and bins where it vanishes come first but join the groups of equal signal
    (no group apart). Returns the grouped model (yields and variances summed within each group; a
    group is "empty" when it holds no background MC) and, for every signal bin of `model`, its group.
    """
    if n_groups < 1:
        raise ModelError(f"region '{model.region}': the number of S/B groups must be at least 1")
    s = model.signal.yields
    b = model.total_background if order_background is None else np.asarray(order_background, dtype=float)
    free = b <= 0 if order_background is None else np.zeros(len(s), dtype=bool)
    group = np.empty(len(s), dtype=np.int64)
    group[free] = 0
    rest = np.flatnonzero(~free)
    if len(rest):
        with np.errstate(divide="ignore"):
            order = rest[np.argsort(-s[rest] / b[rest], kind="stable")]
        cumulative = np.cumsum(s[order]) / s[order].sum()
        group[order] = 1 + np.minimum((cumulative * n_groups).astype(np.int64), n_groups - 1)
    used, group = np.unique(group, return_inverse=True)

    def merge(t: Template) -> Template:
        return Template(np.bincount(group, t.yields, len(used)), np.bincount(group, t.variances, len(used)))

    backgrounds = {name: merge(t) for name, t in model.backgrounds.items()}
    mc = sum((t.yields for n, t in backgrounds.items() if n != FLOOR), np.zeros(len(used)))
    grouped = RegionModel(model.region, model.m_a, used, merge(model.signal), backgrounds, mc <= 0, model.treatment)
    return grouped, group


def block_average(values: np.ndarray, k: int) -> np.ndarray:
    """Each bin of a plane (the last two axes; planes stacked along leading axes apart) replaced by the
    mean over its k x k block of bins (blocks counted from the low edges; those at the high edges hold
    fewer bins): the density on a coarser grid."""
    if k < 1:
        raise ModelError(f"block size must be at least 1 bin, got {k}")
    *lead, n0, n1 = values.shape
    pad = [(0, 0)] * len(lead) + [(0, -n0 % k), (0, -n1 % k)]

    def block_sums(a: np.ndarray) -> np.ndarray:
        padded = np.pad(a, pad)
        shape = (*lead, padded.shape[-2] // k, k, padded.shape[-1] // k, k)
        return padded.reshape(shape).sum(axis=(-3, -1))

    blocks = block_sums(values) / block_sums(np.ones(values.shape))
    return np.repeat(np.repeat(blocks, k, axis=-2), k, axis=-1)[..., :n0, :n1]


def coarse_model(
    region: str, m_a: float, signal: hist.Hist, backgrounds: Mapping[str, hist.Hist], blocks: int, n_groups: int
) -> tuple[RegionModel, np.ndarray]:
    """The signal bins in ``n_groups`` groups of equal signal ordered by S/B, with B for the order the
    summed background MC averaged over ``blocks`` x ``blocks`` bins (:func:`block_average`) and B in the
    groups the background MC summed over their bins, without any treatment of empty bins.

    Ordering the 2% bins by their own MC estimate of B keeps, with a sparse, heavy-weighted MC, the bins
    whose B fluctuated low (and counts those without MC as background-free or floored): the limit
    follows the MC size. With the order from a coarser grid and each group's B summed over its many
    bins, the estimate of each group's B is the MC's own, unbiased, and converges with the MC; the
    order is cruder, so the limit is weaker: a conservative limit with no empty-bin treatment.
    Returns the grouped model and every signal bin's group (as :func:`group_by_signal_to_background`).
    """
    planes = _Planes.of_samples(backgrounds, region)
    return _coarse_model(region, m_a, _Planes.of(signal, region), planes, blocks, n_groups)


def _coarse_model(
    region: str, m_a: float, signal: _Planes, backgrounds: Mapping[str, _Planes], blocks: int, n_groups: int
) -> tuple[RegionModel, np.ndarray]:
    """:func:`coarse_model` of the planes read out of the histograms."""
    model = _region_model(region, m_a, signal, backgrounds, EmptyBins("none"), None)
    if not backgrounds:  # background-free: the order is the signal's
        return group_by_signal_to_background(model, n_groups, np.ones(len(model.bins)))
    order = block_average(_summed_plane(backgrounds)[0], blocks).ravel()[model.bins]
    return group_by_signal_to_background(model, n_groups, order)


def _smooth_template(region: str, backgrounds: Mapping[str, _Planes], bins: np.ndarray, slices: int) -> Template:
    """The smooth model (alpfusion.models.smooth) of the summed backgrounds, over the signal bins: one
    per plane (slice); a plane without background MC has none (zero)."""
    from .smooth import SmoothModelError, smooth_plane

    values, variances = _summed_plane(backgrounds)
    shape = values.shape
    values, variances = values.reshape(-1, *shape[-2:]), variances.reshape(-1, *shape[-2:])
    if not values.any():
        raise ModelError(f"region '{region}': no background MC, no smooth model can be built")
    try:
        planes = [
            smooth_plane(v, w, region, slices) if v.any() else (np.zeros_like(v), np.zeros_like(v))
            for v, w in zip(values, variances)
        ]
    except SmoothModelError as err:
        raise ModelError(str(err)) from None
    yields, yield_variances = (np.stack([p[i] for p in planes]).ravel() for i in (0, 1))
    return Template(yields[bins], yield_variances[bins])


def nearest_mc(
    values: np.ndarray, variances: np.ndarray, where: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(distance, event yield) of the background MC nearest to bins of a plane: the Chebyshev distance
    max(|di|, |dj|) in bins to the nearest bin with MC (0 for a bin with MC), and the yield of one MC
    event there, sum(y^2)/sum(y) over the bins with MC at that distance.

    ``where`` (flat indices; default every bin) selects the bins; the results are flat over them
    (distance inf and yield NaN when the plane holds no MC). Sums run over the bins found, never over
    differences of running sums, so a bin next to MC of weight 10^-3 is not swamped by MC of weight
    10^6 elsewhere. Planes stacked along leading axes (the slices) are apart: a bin's
    nearest MC is sought in its own plane only.
    """
    where = np.arange(values.size) if where is None else np.asarray(where)
    size = values.shape[-2] * values.shape[-1]
    planes, variance_planes = values.reshape(-1, *values.shape[-2:]), variances.reshape(-1, *values.shape[-2:])
    distance, event_yield = np.full(len(where), np.inf), np.full(len(where), np.nan)
    for k in np.unique(where // size):
        rows = where // size == k
        distance[rows], event_yield[rows] = _nearest_in_plane(planes[k], variance_planes[k], where[rows] % size)
    return distance, event_yield


def neighbourhood_event_yield(values: np.ndarray, variances: np.ndarray, where: np.ndarray, radius: int) -> np.ndarray:
    """The yield of one effective MC event around bins of a plane: sum(y^2) / sum(y) over the
    (2 radius + 1)^2 bins centred on each bin ``where`` (flat indices), clipped at the plane's
    borders; NaN where they hold no MC. Planes stacked along leading axes (the slices)
    are apart. Each sum adds the bins themselves, never differences of running sums (:func:`nearest_mc`).

    The MC resolves a bin's background only down to about this yield: a bin whose few events are
    light beside heavier ones around it (a biased sample's maps sample its neighbourhood unevenly)
    reads low by the luck of where the light events fell, and an order by S/B picks such bins
    (docs/statistics.md, "The neighbourhood floor")."""
    shape = values.shape[-2:]
    planes, variance_planes = values.reshape(-1, *shape), variances.reshape(-1, *shape)
    k, i, j = np.unravel_index(np.asarray(where), planes.shape)
    sum_y, sum_y2 = np.zeros(len(k)), np.zeros(len(k))
    for di in range(-radius, radius + 1):
        for dj in range(-radius, radius + 1):
            ii, jj = i + di, j + dj
            ok = (ii >= 0) & (ii < shape[0]) & (jj >= 0) & (jj < shape[1])
            sum_y[ok] += planes[k[ok], ii[ok], jj[ok]]
            sum_y2[ok] += variance_planes[k[ok], ii[ok], jj[ok]]
    return np.divide(sum_y2, sum_y, out=np.full(len(k), np.nan), where=sum_y > 0)


def _nearest_in_plane(values: np.ndarray, variances: np.ndarray, where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nearest_mc` in one plane (2D ``values``)."""
    from scipy.spatial import cKDTree

    shape = values.shape
    filled = np.flatnonzero(values.ravel() > 0)
    if len(filled) == 0:
        return np.full(len(where), np.inf), np.full(len(where), np.nan)
    if len(where) == 0:
        return np.zeros(0), np.zeros(0)
    tree = cKDTree(np.column_stack(np.unravel_index(filled, shape)))
    queries = np.column_stack(np.unravel_index(where, shape))
    distance, _ = tree.query(queries, p=np.inf)
    flat_values, flat_variances = values.ravel()[filled], variances.ravel()[filled]
    found = tree.query_ball_point(queries, distance, p=np.inf)  # each query's bins at its distance, at least one
    starts = np.cumsum([0, *map(len, found[:-1])])
    index = np.concatenate(found)
    return distance, np.add.reduceat(flat_variances[index], starts) / np.add.reduceat(flat_values[index], starts)


def lowest_offset(h: hist.Hist) -> np.ndarray:
    """The smallest offset ln(|m_ee^tau| / m_ee) within each bin of the planes of one region of an
    `analysis` histogram (the shape of :func:`_plane`): ln of the bin's lower |m_ee^tau| edge minus ln of
    its upper m_ee edge."""
    m_ee, m_tau = h.axes["m_ee"].edges, h.axes["m_ee_tau"].edges
    offset = np.log(m_tau[:-1])[None, :] - np.log(m_ee[1:])[:, None]
    return np.broadcast_to(offset, _plane_shape(h))


def _plane_shape(h: hist.Hist) -> tuple[int, ...]:
    """The shape of the planes of one region of an `analysis` histogram (:func:`_plane`)."""
    return tuple(a.size for a in h.axes if a.name != "region")


def missing_mass_support(hypothesis: MassHypothesis, h: hist.Hist, acceptance: Acceptance) -> np.ndarray:
    """Which bins of the planes of one region of an `analysis` histogram (the shape of :func:`_plane`)
    events of lost photons can reach after the selection of ``hypothesis``: those where some point allows
    m2_miss >= ``lostphotons.missing_mass2_bound`` (one soft photon at the energy threshold), in the
    slices of the missing p_T's excess over their reach (``lostphotons.missing_pt_excess``, an axis
    ``pt_excess`` where the histogram has one, in units of its resolution) that begin at or below 0: a
    slice beyond 0 is the same inequality event by event, with the smearing left to its lower edge
    (``histograms.pt_excess_sigmas``).

    In the window m2_miss <= m2_hi, E*_miss (``selection.missing_energy``) is fixed by m_ee; the
    bound falls with |eta*_miss| and m2_miss - bound rises with m2_miss (d bound / d m2_miss <= E*_miss /
    sqrt(s) < 1), so a bin is reachable when m2_hi is at least the smallest bound over its m_ee range at
    the upper |eta*_miss| edge of its slice (the last slice, unbounded, is reachable everywhere). The
    smearing moves events across these edges, by about its resolution: m2_hi is the window's upper edge
    plus delta_m2(m_a), the m_ee range reaches one bin (2%) beyond each edge and the slice's edge
    ``SUPPORT_ETA_MARGIN`` further.
    """
    m2_max = hypothesis.m2_window[1] + missing_mass2_resolution(hypothesis.m_a)
    m_ee = h.axes["m_ee"].edges
    m_lo, m_hi = np.concatenate([[m_ee[0]], m_ee[:-2]]), np.concatenate([m_ee[2:], [m_ee[-1]]])
    # E*_miss over the m_ee range on a grid fine enough for the bound, a quadratic in E*_miss
    m_ee_grid = np.sqrt(np.linspace(m_lo**2, m_hi**2, 33))
    e_miss = missing_energy(m2_max, m_ee_grid, hypothesis.sqrt_s)
    eta_max = h.axes["abs_eta_miss"].edges[1:] + SUPPORT_ETA_MARGIN
    bound = missing_mass2_bound(e_miss[:, None, :], eta_max[None, :, None], acceptance, acceptance.energy_min)
    reachable = m2_max >= bound.min(axis=0)  # (slice, m_ee)
    names = [a.name for a in h.axes if a.name != "region"]
    support = np.expand_dims(reachable, [i for i, name in enumerate(names) if name not in ("abs_eta_miss", "m_ee")])
    if "pt_excess" in names:
        within = h.axes["pt_excess"].edges[:-1] <= 0
        support = support & np.expand_dims(within, [i for i, name in enumerate(names) if name != "pt_excess"])
    return np.broadcast_to(support, _plane_shape(h))


EDGE_TAIL_SHARE = 1e-4
"""The share of a sample's MC in a region that may lie wholly above its measured edge
(:func:`_beyond_edges`): the far tail of the c_phi estimator on smeared events, not a misplaced edge.
The tau pairs' edge holds for the default seed's 1.6 x 10^7 smeared events; with another seed
(generation.seed 777) one event lies two bins above the diagonal at m_a = 7 GeV, 12.8 of the region's
4 x 10^7 expected events (3 x 10^-7; docs/statistics.md); an edge in the wrong place leaves a large
share of the sample beyond it."""


def _beyond_edges(
    region: str, backgrounds: Mapping[str, _Planes], bins: np.ndarray, edges: Mapping[str, float | None]
) -> dict[str, np.ndarray]:
    """For every background sample with a kinematic edge (its events reach offsets ln(|m_ee^tau| /
    m_ee) up to the edge, statistics.edges), which of the bins (flat indices) lie wholly above it
    (:func:`_outside_claim`, tolerating ``EDGE_TAIL_SHARE`` of the sample beyond it: bins with MC keep
    it, only empty ones count as beyond the edge)."""
    return {
        name: _outside_claim(
            region,
            name,
            backgrounds[name],
            lowest_offset(backgrounds[name].h) > edge,
            f"wholly above its edge ln(|m_ee^tau| / m_ee) = {edge} (statistics.edges.{name}; more than "
            f"{EDGE_TAIL_SHARE:g} of the sample's events there); the edge does not hold for these samples and "
            "this c_phi estimator: raise it or remove it",
            tolerance=EDGE_TAIL_SHARE,
        )[bins]
        for name, edge in edges.items()
        if name in backgrounds and edge is not None
    }


def _beyond_supports(
    region: str, backgrounds: Mapping[str, _Planes], bins: np.ndarray, supports: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """For every background sample with a support (``region_model``), which of the bins (flat indices) lie
    beyond it (:func:`_outside_claim`)."""
    return {
        name: _outside_claim(
            region,
            name,
            backgrounds[name],
            ~within,
            "beyond the missing-mass bound of lost photons or their p_T reach (statistics.missing_mass_bound, "
            "histograms.pt_excess_sigmas): the bound does not hold for these samples, or the smearing carries them "
            "beyond the first slice edge above 0",
        )[bins]
        for name, within in supports.items()
        if name in backgrounds
    }


def _outside_claim(
    region: str, name: str, planes: _Planes, outside: np.ndarray, claim: str, tolerance: float = 0.0
) -> np.ndarray:
    """``outside`` (bool over the region's planes, where the sample's physics says it has no events) flat.
    The claim is one its MC must bear out: MC there, more than ``tolerance`` of the sample's yield in the
    region, is an error that names the sample, the region, the yield and the claim."""
    values = planes.values
    outside = np.broadcast_to(outside, values.shape)
    contradicted = outside & (values > 0)
    found = values[contradicted].sum()
    if found > tolerance * values.sum():
        raise ModelError(
            f"region '{region}': the MC of '{name}' has {found:.4g} expected events in "
            f"{contradicted.sum()} bins {claim}"
        )
    return outside.ravel()


def _local_floor(
    region: str,
    backgrounds: Mapping[str, _Planes],
    bins: np.ndarray,
    beyond: Mapping[str, np.ndarray],
    reach: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(distance, floor yield) of bins (flat indices) of a region's plane: :func:`_nearest_floor` of the
    summed backgrounds, each bin leaving out the samples whose edge it lies beyond (``beyond``, from
    :func:`_beyond_edges`); a bin beyond every sample's edge gets distance inf and yield NaN (no floor)."""
    if not backgrounds:
        raise ModelError(f"region '{region}': no background samples, the floor yield must be given")
    names = list(backgrounds)
    admissible = np.column_stack([~beyond[n] if n in beyond else np.ones(len(bins), bool) for n in names])
    distance, event_yield = np.full(len(bins), np.inf), np.full(len(bins), np.nan)
    for pattern in np.unique(admissible, axis=0):
        rows = np.all(admissible == pattern, axis=1)
        chosen = {n: backgrounds[n] for n, ok in zip(names, pattern) if ok}
        if chosen:
            distance[rows], event_yield[rows] = _nearest_floor(region, chosen, bins[rows], reach)
    return distance, event_yield


def _nearest_floor(
    region: str, backgrounds: Mapping[str, _Planes], bins: np.ndarray, reach: float
) -> tuple[np.ndarray, np.ndarray]:
    """(distance, floor yield) of bins of a region's planes from the summed backgrounds (at least one):
    :func:`nearest_mc` within ``reach`` bins of their MC. Farther (a bin that a support floors, however
    far from the MC) no MC measures the bin's neighbourhood, and the nearest event, perhaps tens of
    bins away, may have any weight that a biased sample gives (10^-4 to 10^7 expected events): the
    yield is one effective event of the bin's plane, sum(y^2)/sum(y) over it. Where the plane holds
    no MC of them, the distance is inf and the yield one effective event of the region's MC, or where
    the region has none, of their whole histograms (all regions)."""
    values, variances = _summed_plane(backgrounds)
    distance, event_yield = nearest_mc(values, variances, bins)
    size = values.shape[-2] * values.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        plane_yield = variances.reshape(-1, size).sum(axis=1) / values.reshape(-1, size).sum(axis=1)
    far = distance > reach
    event_yield[far] = plane_yield[bins[far] // size]
    lone = np.isnan(event_yield)
    if not lone.any():
        return distance, event_yield
    sums = np.array([values.sum(), variances.sum()])
    if sums[0] <= 0:
        sums = np.zeros(2)
        for planes in backgrounds.values():
            view = weight_view(planes.h)
            sums += (np.asarray(view.value).sum(), np.asarray(view.variance).sum())
    if sums[0] <= 0:
        raise ModelError(f"region '{region}': no background MC anywhere, the floor yield must be given")
    event_yield[lone] = sums[1] / sums[0]
    return distance, event_yield


def write_templates(path: str | os.PathLike, models: Sequence[RegionModel]) -> Path:
    """Write every region's templates (and its Asimov data) as `{region}_{sample}` TH1Ds, atomically."""
    key = "templates " + " ".join(m.region for m in models)
    with atomic_path(path) as tmp, recreate(tmp, key) as f:
        for model in models:
            for name, t in model.samples.items():
                f[f"{model.region}_{name}"] = bin_histogram(t.yields, t.variances)
            asimov = model.total_background  # every background sample, the floor included
            f[f"{model.region}_{DATA}"] = bin_histogram(asimov, asimov)
    return Path(path)


def cabinetry_config(
    model: RegionModel, template_file: str | os.PathLike, histogram_folder: str | os.PathLike, mu_max: float
) -> dict:
    """The cabinetry configuration of one mass point (histogram inputs, one region)."""
    samples = [{"Name": DATA, "SamplePath": DATA, "Data": True}]
    samples += [{"Name": name, "SamplePath": name} for name in model.samples]
    return {
        "General": {
            "Measurement": f"alp_{model.region}",
            "POI": POI,
            "InputPath": f"{template_file}:{{RegionPath}}_{{SamplePath}}",
            "HistogramFolder": str(histogram_folder),
        },
        "Regions": [{"Name": model.region, "RegionPath": model.region}],
        "Samples": samples,
        "NormFactors": [{"Name": POI, "Samples": SIGNAL, "Nominal": 0.0, "Bounds": [0.0, float(mu_max)]}],
    }


@dataclass(frozen=True)
class MassPointModel:
    """The statistical-model inputs of one mass point: its templates on the full 2% binning and
    grouped by S/B (what pyhf fits), and the selected background MC in all bins with its MC error."""

    hypothesis: MassHypothesis
    full: RegionModel
    grouped: RegionModel
    coarse: RegionModel  # grouped by an S/B order from coarse blocks, MC only (coarse_model)
    background: float
    background_error: float


def _selected_background(result: ProcessingResult, region: str) -> tuple[float, float]:
    """The background MC after the selection of a region, in all its bins, and its MC error."""
    total, variance = 0.0, 0.0
    for name in result.backgrounds:
        view = region_view(result.histograms[name]["analysis"], region, flow=True)
        total += float(np.sum(view.value))
        variance += float(np.sum(view.variance))
    return total, math.sqrt(variance)


def mass_point_models(result: ProcessingResult, stats: Statistics) -> list[MassPointModel]:
    """The models of every mass hypothesis with a signal sample of its mass (``statistics`` gives the
    empty-bin treatment, the number of S/B groups and, per mass, the blocks and groups of the coarse
    model)."""
    treatment = EmptyBins(
        stats.empty_bins,
        stats.floor_yield,
        stats.floor_uncertainty,
        stats.smooth_slices,
        stats.floor_reach,
        {str(name): edge for name, edge in stats.edges.items()},
        stats.floor_scale,
        stats.floor_neighbourhood,
    )
    result.require(("analysis",), "the statistical model")
    backgrounds = {name: result.histograms[name]["analysis"] for name in result.backgrounds}
    bounded = [str(name) for name in stats.missing_mass_bound if name in backgrounds]
    out = []
    for hypothesis in result.with_signal():
        region = hypothesis.region
        signal = _Planes.of(result.histograms[result.signal_sample(region)]["analysis"], region)
        planes = _Planes.of_samples(backgrounds, region)
        supports = _missing_mass_supports(result, hypothesis, bounded)
        full = _region_model(region, hypothesis.m_a, signal, planes, treatment, supports)
        grouped = group_by_signal_to_background(full, stats.sb_groups)[0]
        coarse = _coarse_model(region, hypothesis.m_a, signal, planes, *stats.coarse_grouping(hypothesis.m_a))[0]
        out.append(MassPointModel(hypothesis, full, grouped, coarse, *_selected_background(result, region)))
    return out


def _missing_mass_supports(
    result: ProcessingResult, hypothesis: MassHypothesis, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """:func:`missing_mass_support` of the named backgrounds in the region of ``hypothesis``, with the
    acceptance the histograms were made with."""
    if not names:
        return {}
    acceptance = Acceptance(**result.config["acceptance"])
    return {name: missing_mass_support(hypothesis, result.histograms[name]["analysis"], acceptance) for name in names}


@contextlib.contextmanager
def _quiet_cabinetry() -> Iterator[None]:
    """cabinetry warns for every template with empty bins, which the empty-bin treatment makes
    explicit here: its logger is held at ERROR while a workspace is built, then restored."""
    logger = logging.getLogger("cabinetry")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def build_workspace(config: dict, path: str | os.PathLike) -> dict:
    """Collect the templates of a cabinetry configuration, build its pyhf workspace and save it
    (atomically) to ``path``; returns the workspace specification."""
    import cabinetry

    with _quiet_cabinetry():
        cabinetry.templates.collect(config)
        spec = cabinetry.workspace.build(config)
    write_json(path, spec, indent=4, sort_keys=True)  # as cabinetry.workspace.save
    return spec
