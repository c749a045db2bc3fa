"""The coffea processor: detector model, observables, per-mass selection, ``hist`` histograms.

For each chunk of a sample (flat TTree ``events`` read with ``BaseSchema``) :class:`AlpProcessor`

1. reads the four-momenta of the visible particles (and the MC-truth tau- for the 'truth' c_phi
   estimator), ``weight`` and ``event``;
2. applies the detector model (:func:`alpfusion.processors.detector.measure`), ``detector.smearings``
   times with independent deviates, each copy of an event with 1/smearings of its yield (:class:`_Copies`);
3. computes the observables once (:func:`alpfusion.processors.observables.compute_observables`);
4. for every mass hypothesis of the grid applies the selection
   (:class:`alpfusion.processors.selection.MassHypothesis`) and fills the histograms: the analysis
   plane per slice of |eta*_miss| (``histograms.eta_slices``) and of the missing p_T's excess over the
   reach of two lost photons in units of its resolution (``histograms.pt_excess_sigmas``), for a signal
   sample only in the region of its own mass (the only one whose model it enters).

Expected yields: ``y = weight * L`` with L = ``Beam.luminosity_pb`` (weights in pb per event). The output
of a chunk is ``{sample: {name: hist.Hist}}`` with the names of the histograms it fills (all of
:data:`~alpfusion.processors.layouts.ALL_HISTOGRAMS` by default), all with
``Weight`` storage (sum of y and of y^2) except ``cutflow_raw`` (``Int64``, raw MC events); dicts of
hists add under coffea's accumulator semantics.

Exact accumulation. Floating-point addition is not associative, so summing the same weights in
chunks of another size, or merging chunks in another order, would change the last bits of the
histograms. To make every executor and chunk size give bit-identical histograms, the processor
rounds each event's yield to a multiple of a per-sample power of two, ``q = 2^(e - 52)`` with
``2^e >= sum of the sample's yields`` (:func:`yield_quantum`), and each y^2 likewise: every
partial sum is then an integer multiple of q below 2^53 q, exactly representable, and the sums do
not depend on order. The rounding moves each yield by at most 2^-52 of the sample's total (about
2e-16), far below any statistical precision; a positive yield below q becomes q, never 0, so that an
MC event of a strongly biased sample (10^-5 expected events where the sample holds 10^11) still marks
its bin as measured rather than empty. The y^2 quantum is 2^-52 of the sample's sum of y^2, which the
heaviest events set: y^2 of much lighter events rounds to 0 (docs/processing.md). Bins are filled
with ``numpy.bincount`` on the bin indices of the ``hist`` axes (``axis.index``, the binning of
``Hist.fill``; for the logarithmic mass axes the equivalent, faster
:func:`alpfusion.processors.kernels.log_position`) so that the sums of y and of y^2 can both be the
rounded ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import awkward as ak
import hist
import numpy as np
from coffea import processor

from ..config import Config
from ..observables import EventObservables, components, compute_observables, four_momenta
from . import ProcessingError
from .detector import is_photon, measure, pt_excess_significance
from .kernels import (
    BinSums,
    add_sums,
    copy_sums,
    log_position,
    merge_sorted,
    position,
    rounded,
    rounded_yields,
    select_kernel,
    split_squares,
)
from .layouts import (
    ALL_HISTOGRAMS,
    CONTROLS,
    CUTFLOW,
    OPTIMISATION,
    OPTIMISATION_AXES,
    SELECTION,
    empty_histograms,
    mass_edges,
    optimisation_histogram,
    weight_view,
)
from .selection import CUTS, MassHypothesis, mass_hypotheses, missing_mass2_resolution

__all__ = ["AlpProcessor", "ProcessingError", "SampleInfo", "yield_quantum"]

REQUIRED_PARTICLES = ("e_minus", "e_plus")


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
    to at most 2^e + N 2^(e - 52), below 2^53 q = 2^(e + 1) for any N < 2^52, even if ``total`` is
    itself a slightly low floating-point sum."""
    if total <= 0:
        return 1.0
    _, exponent = math.frexp(total)
    return math.ldexp(1.0, exponent - 52)


COPY_STRIDE = np.uint64(1 << 40)
"""Copy c of event i is smeared as event i + c * 2^40 (``detector.smearings``): independent deviates,
distinct from every real event's for samples below 2^40 events."""


def _repeated(p: ak.Array, copies: int) -> ak.Array:
    """Each four-momentum of an array ``copies`` times, the copies of one event side by side."""
    return four_momenta(*(np.repeat(c, copies) for c in components(p)))


@dataclass(frozen=True)
class _Copies:
    """The accepted entries of a chunk with several smearings per event (``detector.smearings``):
    ``parent`` is each entry's event (increasing: an event's copies are side by side), ``y`` each
    event's yield per copy; an event's copies in one bin add before their sum is squared
    (:func:`alpfusion.processors.kernels.copy_sums`). With one smearing every entry is its own event
    and y^2 is the rounded square of its yield."""

    parent: np.ndarray
    y: np.ndarray
    copies: int
    quantum2: float

    def sums(
        self, entries: np.ndarray, flat: np.ndarray, size: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(bins, y sums, coarse and fine y^2 terms) of the accepted entries ``entries`` filling bins
        ``flat`` (:func:`alpfusion.processors.kernels.split_squares`)."""
        y = self.y[self.parent[entries]]
        if self.copies == 1:
            return flat, y, *split_squares(y, self.quantum2)
        return copy_sums(self.parent[entries], flat, y, size, self.quantum2)

    def starts(self) -> np.ndarray:
        """Where each event's run of copies starts among the entries, with the end appended."""
        return np.flatnonzero(np.diff(self.parent, prepend=-1, append=-1) != 0)


class AlpProcessor(processor.ProcessorABC):
    """Detector model, observables, per-mass selection and histograms (see the module docstring).

    ``samples`` maps each sample (dataset) name of the fileset to its :class:`SampleInfo`;
    ``histograms`` names those of :data:`~alpfusion.processors.layouts.ALL_HISTOGRAMS` to fill (all by
    default; a pass that needs some only skips the work of the others: the selection for the analysis
    planes and cut flow, the optimisation histogram, the control histograms).
    """

    def __init__(self, cfg: Config, samples: Mapping[str, SampleInfo], histograms: Sequence[str] = ALL_HISTOGRAMS):
        unknown = sorted(set(histograms) - set(ALL_HISTOGRAMS))
        if unknown or not histograms:
            raise ValueError(f"histograms to fill: {unknown or 'none'} (choose from {list(ALL_HISTOGRAMS)})")
        self.cfg = cfg
        self.samples = dict(samples)
        self.histograms = tuple(name for name in ALL_HISTOGRAMS if name in histograms)
        self.hypotheses = mass_hypotheses(cfg)
        self.edges = mass_edges(cfg.histograms)
        self.eta_slices = np.asarray(cfg.histograms.eta_slices, dtype=float)
        self.pt_excess_sigmas = np.asarray(cfg.histograms.pt_excess_sigmas, dtype=float)
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
            raise ProcessingError(
                f"{info.path}: the sample has no {' and no '.join(missing)} "
                f"(particles {list(info.particles)}); the analysis needs e+e- + invisible"
            )
        if self.cfg.observables.cphi_estimator == "truth" and "tau_minus" not in info.particles:
            raise ProcessingError(
                f"{info.path}: observables.cphi_estimator 'truth' needs the MC-truth "
                f"tau_minus, which the sample does not have (particles {list(info.particles)})"
            )

    def _read(self, events, info: SampleInfo) -> tuple[dict[str, ak.Array], np.ndarray, np.ndarray]:
        """(particles, weight, event) of a chunk as Momentum4D and numpy arrays."""
        meta = events.metadata
        try:
            particles = {
                p: four_momenta(*(ak.to_numpy(events[f"{p}_{c}"]) for c in ("E", "px", "py", "pz")))
                for p in self._columns(info)
            }
            weight = ak.to_numpy(events["weight"])
            event = ak.to_numpy(events["event"])
        except Exception as err:
            raise ProcessingError(
                f"{meta['filename']}: cannot read the events {meta['entrystart']}-{meta['entrystop']}, "
                f"corrupt or truncated ({type(err).__name__}: {' '.join(str(err).split())})"
            ) from err
        return particles, weight, event

    def process(self, events) -> dict[str, dict[str, hist.Hist | BinSums]]:
        """The histograms of one chunk: ``{sample: {name: hist}}``, the analysis plane as BinSums."""
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
        merge_sorted(*[np.zeros(0, dtype=np.intp), np.zeros((0, 3))] * 2)

    def _fill(
        self, info: SampleInfo, particles: dict[str, ak.Array], weight: np.ndarray, event: np.ndarray
    ) -> dict[str, hist.Hist | BinSums]:
        """The histograms of a chunk of one sample from its true particles, weights and event indices."""
        cfg = self.cfg
        copies = cfg.detector.smearings
        y = rounded_yields(weight * self.yield_per_pb / copies, info.yield_quantum)
        if copies > 1:
            particles = {name: _repeated(p, copies) for name, p in particles.items()}
            copy_index = np.tile(np.arange(copies, dtype=np.uint64), len(event))
            event = np.repeat(event.astype(np.uint64), copies) + copy_index * COPY_STRIDE
        e_minus, e_plus, ok = measure(particles, event, cfg.detector, cfg.acceptance, info.name)
        truth = particles["tau_minus"][ok] if "tau_minus" in particles else None
        obs = compute_observables(e_minus, e_plus, cfg.beam.sqrt_s, cfg.observables.cphi_estimator, truth)
        copy = _Copies(np.flatnonzero(ok) // copies, y, copies, info.yield2_quantum)

        out: dict[str, hist.Hist | BinSums] = {}
        if set(SELECTION) & set(self.histograms):
            hists = empty_histograms(cfg, self.hypotheses, CUTFLOW)
            flow, raw = weight_view(hists["cutflow"], flow=True), hists["cutflow_raw"].view(flow=True)
            for stage, counts in enumerate((np.full(len(y), copies), np.bincount(copy.parent, minlength=len(y)))):
                event_y = counts * y
                flow["value"][:, stage] = event_y.sum()
                flow["variance"][:, stage] = rounded(event_y * event_y, info.yield2_quantum).sum()
                raw[:, stage] = np.count_nonzero(counts)
            significance = pt_excess_significance(obs, e_minus, e_plus, cfg.detector, cfg.acceptance)
            out.update(hists, analysis=self._select(info, obs, significance, copy, flow, raw))
        if set(CONTROLS) & set(self.histograms):
            controls = empty_histograms(cfg, self.hypotheses, CONTROLS)
            self._fill_controls(controls, obs, copy)
            out.update(controls)
        if OPTIMISATION in self.histograms:
            out[OPTIMISATION] = self._fill_optimisation(info, obs, copy)
        return {name: out[name] for name in self.histograms}

    def _own_hypotheses(self, info: SampleInfo) -> list[MassHypothesis]:
        """The hypotheses whose analysis plane and optimisation a sample fills: its own mass (signal) or
        all (background)."""
        if info.m_a is None:
            return list(self.hypotheses)
        return [h for h in self.hypotheses if math.isclose(h.m_a, info.m_a, abs_tol=1e-9)]

    def _fill_optimisation(self, info: SampleInfo, obs: EventObservables, copy: _Copies) -> BinSums:
        """The accepted events in (|z|, E_max - E*_miss, |eta*_miss|) per hypothesis, as BinSums (|z| < 5)."""
        template = optimisation_histogram(["-"])
        axes = template.axes[1:]
        eta_position = position(axes[2], np.abs(obs.eta_miss))
        per_region = axes[0].extent * axes[1].extent * axes[2].extent
        flats, entries = [], []
        for k, h in enumerate(self._own_hypotheses(info)):
            z = np.abs(obs.m2_miss - h.m_a**2) / missing_mass2_resolution(h.m_a)
            near = np.flatnonzero(z < OPTIMISATION_AXES[0][2])
            below_max = h.e_miss_window[1] - obs.e_miss[near]
            cell = position(axes[1], below_max) * axes[2].extent + eta_position[near]
            flats.append(k * per_region + position(axes[0], z[near]) * axes[1].extent * axes[2].extent + cell)
            entries.append(near)
        size = max(len(self._own_hypotheses(info)) * per_region, 1)
        if not flats:
            return BinSums.of(np.zeros(0, dtype=np.intp), np.zeros(0), np.zeros(0), np.zeros(0), size)
        return BinSums.of(*copy.sums(np.concatenate(entries), np.concatenate(flats), size), size)

    @staticmethod
    def _fill_controls(out: dict[str, hist.Hist], obs: EventObservables, copy: _Copies) -> None:
        """Fill the control histograms with the accepted events."""
        for name, values in (
            ("emiss_eta", (obs.e_miss, obs.eta_miss)),
            ("m2_miss", (obs.m2_miss,)),
            ("mee_minus_mtau", (obs.m_ee - obs.m_ee_tau,)),
        ):
            axes = out[name].axes
            flat = position(axes[0], values[0])
            for axis, value in zip(axes[1:], values[1:]):
                flat = flat * axis.extent + position(axis, value)
            view = out[name].view(flow=True)
            bins, y, coarse, _ = copy.sums(np.arange(len(flat)), flat, view.size)
            add_sums(view, bins, y, coarse)  # a histogram added by coffea: the coarse y^2 only

    def _select(
        self,
        info: SampleInfo,
        obs: EventObservables,
        significance: np.ndarray,
        copy: _Copies,
        flow: np.ndarray,
        raw: np.ndarray,
    ) -> BinSums:
        """Apply each mass hypothesis's cuts to the accepted events: fill the cut-flow views from the
        missing-mass stage on and return the analysis planes (region, |eta*_miss| slice, slice of the
        missing p_T's excess over its resolution, ``significance``, m_ee, |m_ee^tau|) of the sample's own
        hypotheses as BinSums."""
        extent = len(self.edges) + 1  # bins of a mass axis, flow included
        eta_slice = np.searchsorted(self.eta_slices, np.abs(obs.eta_miss), side="right")
        pt_slices = len(self.pt_excess_sigmas) + 1
        pt_slice = np.searchsorted(self.pt_excess_sigmas, significance, side="right")
        mass_cell = log_position(self.edges, obs.m_ee) * extent + log_position(self.edges, obs.m_ee_tau)
        cell = (eta_slice * pt_slices + pt_slice) * extent**2 + mass_cell
        plane_size = (len(self.eta_slices) + 1) * pt_slices * extent**2
        bounds = np.array([(*h.m2_window, *h.e_miss_window, h.eta_high) for h in self.hypotheses])
        stages = len(CUTS) - CUTS.index("missing_mass")
        sums = np.zeros((len(self.hypotheses) * plane_size, 3))
        stage_sums = np.zeros((len(self.hypotheses), stages, 2))
        stage_raw = np.zeros((len(self.hypotheses), stages), dtype=np.int64)
        touched = select_kernel(
            obs.m2_miss,
            obs.e_miss,
            obs.eta_miss,
            copy.y[copy.parent],
            copy.starts(),
            cell,
            bounds,
            plane_size,
            copy.quantum2,
            sums,
            stage_sums,
            stage_raw,
        )
        flow["value"][:, -stages:] += stage_sums[..., 0]
        flow["variance"][:, -stages:] += stage_sums[..., 1]
        raw[:, -stages:] += stage_raw
        index = np.unique(touched)
        index = index[np.any(sums[index] != 0, axis=1)]
        filled = sums[index]
        own = [k for k, h in enumerate(self.hypotheses) if h in self._own_hypotheses(info)]
        if len(own) < len(self.hypotheses):  # a signal sample: its own regions' planes, renumbered
            rank = np.full(len(self.hypotheses), -1)
            rank[own] = np.arange(len(own))
            region, cell = np.divmod(index, plane_size)
            mine = rank[region] >= 0
            index, filled = rank[region[mine]] * plane_size + cell[mine], filled[mine]
        return BinSums(index, filled)

    def postprocess(self, accumulator: dict[str, dict]) -> dict[str, dict[str, hist.Hist]]:
        """The accumulated output with each sample's BinSums turned into their histograms."""
        for sample, hists in accumulator.items():
            own = tuple(self._own_hypotheses(self.samples[sample]))
            if "analysis" in hists:
                plane = empty_histograms(self.cfg, own, ("analysis",))["analysis"]
                if own:
                    hists["analysis"].add_to(plane.view(flow=True))
                hists["analysis"] = plane
            if OPTIMISATION in hists:
                regions = [h.region for h in own]
                optimisation = optimisation_histogram(regions)
                if regions:
                    hists[OPTIMISATION].add_to(optimisation.view(flow=True))
                hists[OPTIMISATION] = optimisation
        return {sample: {name: hists[name] for name in self.histograms} for sample, hists in accumulator.items()}
