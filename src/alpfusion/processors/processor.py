"""The coffea processor: detector model, observables, per-mass selection, ``hist`` histograms.

For each chunk of a sample (flat TTree ``events`` read with ``BaseSchema``) :class:`AlpProcessor`

1. reads the four-momenta of the visible particles (and the MC-truth tau- for the 'truth' c_phi
   estimator), ``weight`` and ``event``;
2. applies the detector model (:func:`alpfusion.processors.detector.measure`);
3. computes the observables once (:func:`alpfusion.processors.observables.compute_observables`);
4. for every mass hypothesis of the grid applies the selection
   (:class:`alpfusion.processors.selection.MassHypothesis`) and fills the histograms.

Expected yields: ``y = weight * L`` with L = ``Beam.luminosity_pb`` (weights in pb per event). The output
of a chunk is ``{sample: {name: hist.Hist}}`` with the names of :data:`HISTOGRAMS`, all with
``Weight`` storage (sum of y and of y^2) except ``cutflow_raw`` (``Int64``, raw MC events); dicts of
hists add under coffea's accumulator semantics.

Exact accumulation. Floating-point addition is not associative, so summing the same weights in
chunks of another size, or merging chunks in another order, would change the last bits of the
histograms. To make every executor and chunk size give bit-identical histograms, the processor
rounds each event's yield to a multiple of a per-sample power of two, ``q = 2^(e - 52)`` with
``2^e >= sum of the sample's yields`` (:func:`yield_quantum`), and each y^2 likewise: every
partial sum is then an integer multiple of q below 2^53 q, exactly representable, and the sums do
not depend on order. The rounding moves each yield by at most 2^-53 of the sample's total (about
1e-16), far below any statistical precision. Bins are filled with ``numpy.bincount`` on the bin
indices of the ``hist`` axes (``axis.index``, the binning of ``Hist.fill``; for the logarithmic
mass axes the equivalent, faster :func:`_log_position`) so that the sums of y and of y^2 can both
be the rounded ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import awkward as ak
import hist
import numba
import numpy as np
from coffea import processor

from ..config import Config, Histograms
from ..heap import retain_freed_memory
from .detector import is_photon, measure
from .observables import EventObservables, compute_observables, four_momenta
from .selection import CUTS, MassHypothesis, mass_hypotheses, missing_mass2_resolution

__all__ = [
    "HISTOGRAMS",
    "AlpProcessor",
    "BinSums",
    "ProcessingError",
    "SampleInfo",
    "empty_histograms",
    "mass_edges",
    "yield_quantum",
]

HISTOGRAMS = ("analysis", "emiss_eta", "m2_miss", "mee_minus_mtau", "cutflow", "cutflow_raw")
OPTIMISATION = "optimisation"
"""The cut-optimisation input (region, |z|, d, |eta*_miss|) of the accepted events, z =
(m2_miss - m_a^2) / delta_m2(m_a), d = E_max(m_a) - E*_miss (alpfusion.fits.optimise); a signal sample
fills only the region of its own mass, a background every region. Kept in histograms.coffea only."""
OPTIMISATION_AXES = (("abs_z", 50, 5.0), ("e_below_max", 53, 10.6), ("abs_eta", 25, 5.0))
"""(name, bins, upper edge) from 0: steps of 0.1 in kappa, 0.2 GeV in E_max - E_low, 0.2 in eta_high."""
"""Histograms per sample: the analysis plane (region, m_ee, |m_ee^tau|) after each mass selection;
control histograms after the acceptance (E*_miss vs eta*_miss, m2_miss, m_ee - |m_ee^tau|); the
cut flow (region, cut) as weighted yields and as raw MC counts."""

REQUIRED_PARTICLES = ("e_minus", "e_plus")


class ProcessingError(Exception):
    """A problem with an input or a setting during processing; the message names the file."""


@dataclass(frozen=True)
class SampleInfo:
    """What the processor needs to know about a sample beyond its events (see ``run.inspect_sample``)."""

    name: str
    path: str
    kind: str
    process: str
    m_a: float | None
    particles: tuple[str, ...]
    n_events: int
    sigma_pb: float
    yield_quantum: float
    yield2_quantum: float


def yield_quantum(total: float) -> float:
    """2^(e - 52) for the e with 2^(e-1) <= total < 2^e (1 for total = 0): the rounding unit of
    non-negative yields whose sum is ``total`` (module docstring). The rounded yields of N events sum
    to at most 2^e + N 2^(e - 53), below 2^53 q = 2^(e + 1) for any N < 2^52, even if ``total`` is
    itself a slightly low floating-point sum."""
    if total <= 0:
        return 1.0
    _, exponent = math.frexp(total)
    return math.ldexp(1.0, exponent - 52)


def _rounded(values: np.ndarray, quantum: float) -> np.ndarray:
    """values rounded to the nearest multiple of the power of two ``quantum`` (exact scaling)."""
    return np.rint(values / quantum) * quantum


def mass_edges(settings: Histograms) -> np.ndarray:
    """Logarithmic bin edges lo * (1 + w)^k, k = 0..n, n = ceil(ln(hi / lo) / ln(1 + w)).

    Every bin has the relative width w exactly (delta m / m = 0.02 by default, physics.md
    section 6); the last edge is the first one at or above ``histograms.mass_max``.
    """
    n = math.ceil(math.log(settings.mass_max / settings.mass_min) / math.log1p(settings.relative_width))
    return settings.mass_min * (1.0 + settings.relative_width) ** np.arange(n + 1)


def empty_histograms(cfg: Config, hypotheses: tuple[MassHypothesis, ...],
                     names: tuple[str, ...] = HISTOGRAMS) -> dict[str, hist.Hist]:
    """The empty histograms of one sample with the given names of :data:`HISTOGRAMS` (default all)."""
    regions = hist.axis.StrCategory([h.region for h in hypotheses], name="region", label="mass hypothesis",
                                    flow=False)
    cuts = hist.axis.StrCategory(list(CUTS), name="cut", label="cut", flow=False)
    edges = mass_edges(cfg.histograms)
    n, rs = cfg.histograms.control_bins, cfg.beam.sqrt_s
    weight = hist.storage.Weight()
    layout = {
        "analysis": lambda: hist.Hist(regions, hist.axis.Variable(edges, name="m_ee", label="m_ee [GeV]"),
                                      hist.axis.Variable(edges, name="m_ee_tau", label="|m_ee^tau| [GeV]"),
                                      storage=weight),
        "emiss_eta": lambda: hist.Hist(hist.axis.Regular(n, 0.0, rs, name="e_miss", label="E*_miss [GeV]"),
                                       hist.axis.Regular(n, -5.0, 5.0, name="eta_miss", label="eta*_miss"),
                                       storage=weight),
        "m2_miss": lambda: hist.Hist(hist.axis.Regular(n, -rs, rs * rs, name="m2_miss", label="m2_miss [GeV^2]"),
                                     storage=weight),
        "mee_minus_mtau": lambda: hist.Hist(hist.axis.Regular(n, -rs, rs, name="mee_minus_mtau",
                                                              label="m_ee - |m_ee^tau| [GeV]"), storage=weight),
        "cutflow": lambda: hist.Hist(regions, cuts, storage=weight),
        "cutflow_raw": lambda: hist.Hist(regions, cuts, storage=hist.storage.Int64()),
    }
    return {name: layout[name]() for name in names}


def optimisation_histogram(regions: list[str]) -> hist.Hist:
    """The empty cut-optimisation histogram over the given regions (see :data:`OPTIMISATION`)."""
    axes = [hist.axis.Regular(n, 0.0, hi, name=name) for name, n, hi in OPTIMISATION_AXES]
    return hist.Hist(hist.axis.StrCategory(regions, name="region", flow=False), *axes, storage=hist.storage.Weight())


class BinSums:
    """Sums of y and y^2 in the filled bins of a flattened histogram view, kept sparsely.

    The per-chunk form of the analysis plane: as a Weight histogram (30 regions x 354 x 354 bins by
    default) every chunk's result would be 60 MB to create, pickle, send and add, while a chunk fills
    a small part of it (about 190k of the 3.8M bins for 500k signal events). The indices increase;
    BinSums add (coffea's accumulator semantics need only ``+``) by merging their bins in one
    compiled linear pass; the sums are exact (the yields are rounded, see the module docstring), so
    the order of merging does not matter. :meth:`AlpProcessor.postprocess` turns the total into the
    histogram.
    """

    def __init__(self, index: np.ndarray, value: np.ndarray, variance: np.ndarray):
        self.index, self.value, self.variance = index, value, variance

    @classmethod
    def of(cls, flat: np.ndarray, y: np.ndarray, y2: np.ndarray, size: int) -> BinSums:
        """The sums of y and y2 per bin ``flat`` (indices into a view of ``size`` bins)."""
        value = np.bincount(flat, weights=y, minlength=size)
        variance = np.bincount(flat, weights=y2, minlength=size)
        index = np.flatnonzero((value != 0) | (variance != 0))
        return cls(index, value[index], variance[index])

    def __add__(self, other: BinSums) -> BinSums:
        return BinSums(*_merge_sorted(self.index, self.value, self.variance,
                                      other.index, other.value, other.variance))

    def add_to(self, view: np.ndarray) -> None:
        """Add the sums to a Weight-storage view (flow included) whose flattening the indices address."""
        where = np.unravel_index(self.index, view.shape)
        view["value"][where] += self.value
        view["variance"][where] += self.variance


@numba.njit(cache=True)
def _merge_sorted(index_a, value_a, variance_a, index_b, value_b, variance_b):  # pragma: no cover - compiled
    """The union of two sparse bin lists with increasing indices, the sums added where both have a
    bin, in one linear pass (the coordinator of the futures executor adds every chunk's output into
    the growing total while the workers run)."""
    size = index_a.size + index_b.size
    index, value, variance = np.empty(size, index_a.dtype), np.empty(size), np.empty(size)
    i = j = k = 0
    while i < index_a.size or j < index_b.size:
        if j == index_b.size or (i < index_a.size and index_a[i] < index_b[j]):
            index[k], value[k], variance[k] = index_a[i], value_a[i], variance_a[i]
            i += 1
        elif i == index_a.size or index_b[j] < index_a[i]:
            index[k], value[k], variance[k] = index_b[j], value_b[j], variance_b[j]
            j += 1
        else:
            index[k], value[k], variance[k] = index_a[i], value_a[i] + value_b[j], variance_a[i] + variance_b[j]
            i += 1
            j += 1
        k += 1
    return index[:k], value[:k], variance[:k]


def _position(axis, values: np.ndarray) -> np.ndarray:
    """Position of ``values`` along a flow-included axis: ``axis.index`` (-1 = underflow) shifted."""
    return axis.index(values) + (1 if axis.traits.underflow else 0)


def _log_position(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``_position`` for a Variable axis with the geometric edges of :func:`mass_edges`, computed from
    the logarithm and then corrected against the edges, so that it equals hist's binary search
    (bin i holds [e_i, e_i+1); NaN and +inf go to the overflow, values below e_0 to the underflow)
    at a third of its cost."""
    n = len(edges) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(np.maximum(values, np.finfo(np.float64).tiny) / edges[0]) / np.log(edges[1] / edges[0])
    position = np.clip(np.nan_to_num(t, nan=n, posinf=n), -1, n).astype(np.intp) + 1
    bounds = np.concatenate([[-np.inf], edges, [np.inf]])
    position -= values < bounds[position]
    position += values >= bounds[position + 1]
    return np.minimum(position, n + 1, out=position)  # +inf: overflow, like hist


def _add_sums(view: np.ndarray, flat: np.ndarray, y: np.ndarray, y2: np.ndarray) -> None:
    """Add the sums of y and y^2 per bin to a Weight-storage view (flow included)."""
    view["value"] += np.bincount(flat, weights=y, minlength=view.size).reshape(view.shape)
    view["variance"] += np.bincount(flat, weights=y2, minlength=view.size).reshape(view.shape)


@numba.njit(cache=True)
def _select_kernel(m2, e_miss, eta_miss, y, y2, cell, bounds, plane_size, sums, flow, raw):  # pragma: no cover
    """The selection of every hypothesis k (bounds[k] = m2 window, E*_miss window, eta_high, from
    :class:`MassHypothesis`), one pass over the events: flow[k, stage] += (y, y^2) and raw[k, stage]
    += 1 for the three stages, sums[k * plane_size + cell] += (y, y^2) for the events that pass.
    Contiguous outputs with y and y^2 side by side (one cache line per bin); exact in any order
    (rounded yields)."""
    for n in range(m2.shape[0]):
        m, e, eta, w, w2, c = m2[n], e_miss[n], abs(eta_miss[n]), y[n], y2[n], cell[n]
        for k in range(bounds.shape[0]):
            if not bounds[k, 0] <= m <= bounds[k, 1]:  # written so that NaN fails, as in passes()
                continue
            flow[k, 0, 0] += w
            flow[k, 0, 1] += w2
            raw[k, 0] += 1
            if not bounds[k, 2] <= e <= bounds[k, 3]:
                continue
            flow[k, 1, 0] += w
            flow[k, 1, 1] += w2
            raw[k, 1] += 1
            if not eta <= bounds[k, 4]:
                continue
            flow[k, 2, 0] += w
            flow[k, 2, 1] += w2
            raw[k, 2] += 1
            sums[k * plane_size + c, 0] += w
            sums[k * plane_size + c, 1] += w2


class AlpProcessor(processor.ProcessorABC):
    """Detector model, observables, per-mass selection and histograms (see the module docstring).

    ``samples`` maps each sample (dataset) name of the fileset to its :class:`SampleInfo`.
    """

    def __init__(self, cfg: Config, samples: Mapping[str, SampleInfo]):
        self.cfg = cfg
        self.samples = dict(samples)
        self.hypotheses = mass_hypotheses(cfg)
        self.edges = mass_edges(cfg.histograms)
        self.yield_per_pb = cfg.beam.luminosity_pb

    def _columns(self, info: SampleInfo) -> list[str]:
        """The particles read from the file: electrons, photons, the truth tau- if needed."""
        wanted = [p for p in info.particles if p in REQUIRED_PARTICLES or is_photon(p)]
        if self.cfg.observables.cphi_estimator == "truth":
            wanted.append("tau_minus")
        return wanted

    def check_sample(self, info: SampleInfo) -> None:
        """Raise ProcessingError (naming the file) if the sample lacks a particle the analysis needs."""
        missing = [p for p in REQUIRED_PARTICLES if p not in info.particles]
        if missing:
            raise ProcessingError(f"{info.path}: the sample has no {' and no '.join(missing)} "
                                  f"(particles {list(info.particles)}); the analysis needs e+e- + invisible")
        if self.cfg.observables.cphi_estimator == "truth" and "tau_minus" not in info.particles:
            raise ProcessingError(f"{info.path}: observables.cphi_estimator 'truth' needs the MC-truth "
                                  f"tau_minus, which the sample does not have (particles {list(info.particles)})")

    def _read(self, events, info: SampleInfo) -> tuple[dict[str, ak.Array], np.ndarray, np.ndarray]:
        """(particles, weight, event) of a chunk as Momentum4D and numpy arrays."""
        meta = events.metadata
        try:
            particles = {p: four_momenta(*(ak.to_numpy(events[f"{p}_{c}"]) for c in ("E", "px", "py", "pz")))
                         for p in self._columns(info)}
            weight = ak.to_numpy(events["weight"])
            event = ak.to_numpy(events["event"])
        except Exception as err:
            raise ProcessingError(
                f"{meta['filename']}: cannot read the events {meta['entrystart']}-{meta['entrystop']}, "
                f"corrupt or truncated ({type(err).__name__}: {' '.join(str(err).split())})") from err
        return particles, weight, event

    def process(self, events) -> dict[str, dict[str, hist.Hist | BinSums]]:
        """The histograms of one chunk: ``{sample: {name: hist}}``, the analysis plane as BinSums."""
        retain_freed_memory()
        info = self.samples[events.metadata["dataset"]]
        self.check_sample(info)
        return {info.name: self._fill(info, *self._read(events, info))}

    def warm_up(self) -> None:
        """Run a chunk of no events through the whole chain and merge two empty outputs, once per
        process.

        The first chunk of a process pays about 0.8 s of one-time start-up, mostly numba's
        initialisation and the loading of the compiled kernels from their cache. The coordinator of
        the futures executor calls this before it forks its workers, which then inherit the loaded
        kernels instead of each loading them again (run.process_samples).
        """
        info = next(iter(self.samples.values()), None)
        if info is not None:
            empty = four_momenta(*(np.zeros(0) for _ in range(4)))
            self._fill(info, {p: empty for p in self._columns(info)}, np.zeros(0), np.zeros(0, dtype=np.uint64))
        _merge_sorted(*[np.zeros(0, dtype=np.intp), np.zeros(0), np.zeros(0)] * 2)

    def _fill(self, info: SampleInfo, particles: dict[str, ak.Array], weight: np.ndarray,
              event: np.ndarray) -> dict[str, hist.Hist | BinSums]:
        """The histograms of a chunk of one sample from its true particles, weights and event indices."""
        cfg = self.cfg
        e_minus, e_plus, ok = measure(particles, event, cfg.detector, cfg.acceptance, info.name)
        truth = particles["tau_minus"][ok] if "tau_minus" in particles else None
        obs = compute_observables(e_minus, e_plus, cfg.beam.sqrt_s, cfg.observables.cphi_estimator, truth)
        y = _rounded(weight * self.yield_per_pb, info.yield_quantum)
        y2 = _rounded(y * y, info.yield2_quantum)

        out: dict[str, hist.Hist | BinSums] = empty_histograms(cfg, self.hypotheses, HISTOGRAMS[1:])
        flow, raw = out["cutflow"].view(flow=True), out["cutflow_raw"].view(flow=True)
        flow["value"][:, 0], flow["variance"][:, 0], raw[:, 0] = y.sum(), y2.sum(), y.size
        y, y2 = y[ok], y2[ok]
        flow["value"][:, 1], flow["variance"][:, 1], raw[:, 1] = y.sum(), y2.sum(), y.size
        self._fill_controls(out, obs, y, y2)
        out["analysis"] = self._select(obs, y, y2, flow, raw)
        out[OPTIMISATION] = self._fill_optimisation(info, obs, y, y2)
        return out

    def _optimisation_hypotheses(self, info: SampleInfo) -> list[MassHypothesis]:
        """The hypotheses whose optimisation a sample feeds: its own mass (signal) or all (background)."""
        if info.m_a is None:
            return list(self.hypotheses)
        return [h for h in self.hypotheses if math.isclose(h.m_a, info.m_a, abs_tol=1e-9)]

    def _fill_optimisation(self, info: SampleInfo, obs: EventObservables, y: np.ndarray, y2: np.ndarray) -> BinSums:
        """The accepted events in (|z|, E_max - E*_miss, |eta*_miss|) per hypothesis, as BinSums (|z| < 5)."""
        template = optimisation_histogram(["-"])
        axes = template.axes[1:]
        eta_position = _position(axes[2], np.abs(obs.eta_miss))
        per_region = axes[0].extent * axes[1].extent * axes[2].extent
        flats, ys, y2s = [], [], []
        for k, h in enumerate(self._optimisation_hypotheses(info)):
            z = np.abs(obs.m2_miss - h.m_a**2) / missing_mass2_resolution(h.m_a)
            near = np.flatnonzero(z < OPTIMISATION_AXES[0][2])
            below_max = h.e_miss_window[1] - obs.e_miss[near]
            cell = _position(axes[1], below_max) * axes[2].extent + eta_position[near]
            flats.append(k * per_region + _position(axes[0], z[near]) * axes[1].extent * axes[2].extent + cell)
            ys.append(y[near])
            y2s.append(y2[near])
        size = len(self._optimisation_hypotheses(info)) * per_region
        if not flats:
            return BinSums.of(np.zeros(0, dtype=np.intp), np.zeros(0), np.zeros(0), max(size, 1))
        return BinSums.of(np.concatenate(flats), np.concatenate(ys), np.concatenate(y2s), size)

    @staticmethod
    def _fill_controls(out: dict[str, hist.Hist], obs: EventObservables, y: np.ndarray, y2: np.ndarray) -> None:
        """Fill the control histograms with the accepted events."""
        for name, values in (("emiss_eta", (obs.e_miss, obs.eta_miss)), ("m2_miss", (obs.m2_miss,)),
                             ("mee_minus_mtau", (obs.m_ee - obs.m_ee_tau,))):
            axes = out[name].axes
            position = _position(axes[0], values[0])
            for axis, value in zip(axes[1:], values[1:]):
                position = position * axis.extent + _position(axis, value)
            _add_sums(out[name].view(flow=True), position, y, y2)

    def _select(self, obs: EventObservables, y: np.ndarray, y2: np.ndarray, flow: np.ndarray,
                raw: np.ndarray) -> BinSums:
        """Apply each mass hypothesis's cuts to the accepted events: fill the cut-flow views from the
        missing-mass stage on and return the analysis plane (region, m_ee, |m_ee^tau|) as BinSums."""
        extent = len(self.edges) + 1  # bins of a mass axis, flow included
        cell = _log_position(self.edges, obs.m_ee) * extent + _log_position(self.edges, obs.m_ee_tau)
        bounds = np.array([(*h.m2_window, *h.e_miss_window, h.eta_high) for h in self.hypotheses])
        stages = len(CUTS) - CUTS.index("missing_mass")
        sums = np.zeros((len(self.hypotheses) * extent**2, 2))
        stage_sums = np.zeros((len(self.hypotheses), stages, 2))
        stage_raw = np.zeros((len(self.hypotheses), stages), dtype=np.int64)
        _select_kernel(obs.m2_miss, obs.e_miss, obs.eta_miss, y, y2, cell, bounds, extent**2, sums, stage_sums,
                       stage_raw)
        flow["value"][:, -stages:] += stage_sums[..., 0]
        flow["variance"][:, -stages:] += stage_sums[..., 1]
        raw[:, -stages:] += stage_raw
        index = np.flatnonzero((sums[:, 0] != 0) | (sums[:, 1] != 0))
        return BinSums(index, sums[index, 0], sums[index, 1])

    def postprocess(self, accumulator: dict[str, dict]) -> dict[str, dict[str, hist.Hist]]:
        """The accumulated output with each sample's BinSums turned into their histograms."""
        for sample, hists in accumulator.items():
            plane = empty_histograms(self.cfg, self.hypotheses, ("analysis",))["analysis"]
            hists["analysis"].add_to(plane.view(flow=True))
            hists["analysis"] = plane
            regions = [h.region for h in self._optimisation_hypotheses(self.samples[sample])]
            optimisation = optimisation_histogram(regions)
            if regions:
                hists[OPTIMISATION].add_to(optimisation.view(flow=True))
            hists[OPTIMISATION] = optimisation
        return {sample: {name: hists[name] for name in HISTOGRAMS + (OPTIMISATION,)}
                for sample, hists in accumulator.items()}
