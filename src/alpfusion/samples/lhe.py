"""Import of Les Houches Event (LHE) files, e.g. from MadGraph, as alpfusion samples.

:func:`lhe_to_root` converts a (plain or gzipped) LHE file into a ROOT sample of
the format written by :func:`alpfusion.samples.rootio.write_sample`:

* final-state particles (status 1) with pdg 11, -11, 13, -13, 15, -15, 22 become
  ``e_minus``, ``e_plus``, ``mu_minus``, ``mu_plus``, ``tau_minus``,
  ``tau_plus``, ``photon``; each may appear at most once per event and all
  events must have the same visible content;
* every invisible final-state particle (neutrinos, PDG dark-matter codes 51-60,
  the lightest neutralino 1000022, the gravitino 1000039 and any
  ``|pdg| >= 9000000`` such as the ALP 9000005) is summed into one
  ``invisible`` four-vector;
* weights are normalised to the cross section of the ``<init>`` block,
  ``w_i = sigma * XWGTUP_i / sum_j XWGTUP_j``;
* momenta are boosted from the lab frame to the centre-of-mass frame if the
  beam energies differ.

The file is read twice (a validation/normalisation pass and a conversion pass),
event by event, so the memory use is bounded by the chunk size.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pylhe

import alpfusion
from alpfusion.samples.phasespace import boost_from_rest
from alpfusion.samples.rootio import MOMENTUM_COMPONENTS, SampleError, write_sample

__all__ = ["LHEStream", "lhe_to_root", "is_invisible", "VISIBLE_NAMES"]

VISIBLE_NAMES = {
    11: "e_minus",
    -11: "e_plus",
    13: "mu_minus",
    -13: "mu_plus",
    15: "tau_minus",
    -15: "tau_plus",
    22: "photon",
}
"""PDG id -> sample particle name of the visible final-state particles."""

_PARTICLE_ORDER = (*VISIBLE_NAMES.values(), "invisible")
"""Order of the particles in the output sample."""

_INVISIBLE_IDS = frozenset({12, 14, 16, *range(51, 61), 1000022, 1000039})
"""|pdg| of invisible particles below the BSM range (>= 9000000)."""

_MASS_TOLERANCE = 1e-6
"""Relative spread of the invisible mass below which it is reported as ``m_a``."""


def is_invisible(pdg: int) -> bool:
    """Whether a final-state particle escapes detection.

    True for neutrinos (|pdg| 12, 14, 16), the PDG dark-matter codes 51-60,
    the neutralino 1000022, the gravitino 1000039 and every |pdg| >= 9000000
    (BSM particles such as the ALP, pdg 9000005).
    """
    return abs(pdg) in _INVISIBLE_IDS or abs(pdg) >= 9_000_000


def _lab_in_cm(energy_a: float, energy_b: float) -> tuple[np.ndarray | None, float]:
    """The lab frame seen from the centre-of-mass frame of two massless head-on beams, and sqrt(s).

    Beam A moves along +z with energy E_A, beam B along -z with E_B (the LHE convention), so
    the beams' total is P = (E_A + E_B, 0, 0, E_A - E_B) with sqrt(s) = 2 sqrt(E_A E_B). In the
    centre-of-mass frame the lab moves with the opposite velocity: it is the rest frame of a
    system of four-momentum (E_A + E_B, 0, 0, -(E_A - E_B)) and mass sqrt(s), so that
    `phasespace.boost_from_rest` takes lab momenta to the centre-of-mass frame. None for
    symmetric beams (no boost).
    """
    if energy_a == energy_b:
        return None, energy_a + energy_b
    return np.array([energy_a + energy_b, 0.0, 0.0, energy_b - energy_a]), 2.0 * math.sqrt(energy_a * energy_b)


def _mg_process(header: pylhe.LHEHeader | None) -> str | None:
    """The MadGraph process string(s) of an LHE header, or None.

    Taken from the ``generate`` / ``add process`` lines of the ``<MG5ProcCard>``
    (or older ``<MGProcCard>``) block, comments removed, joined with ``"; "``.
    """
    if header is None:
        return None
    processes = []
    for element in header.extra_elements:
        if element.tag not in ("MG5ProcCard", "MGProcCard"):
            continue
        for line in (element.text or "").splitlines():
            line = line.split("#", 1)[0].strip()
            for prefix in ("generate ", "add process "):
                if line.startswith(prefix):
                    processes.append(line[len(prefix) :].strip())
    return "; ".join(processes) or None


class _CompensatedSum:
    """Running sum with Neumaier compensation: error ~ 1 ulp whatever the number of terms."""

    def __init__(self) -> None:
        self._sum = 0.0
        self._compensation = 0.0

    def add(self, x: float) -> None:
        """Add one term, keeping the rounding error of the addition in the compensation."""
        t = self._sum + x
        if abs(self._sum) >= abs(x):
            self._compensation += (self._sum - t) + x
        else:
            self._compensation += (x - t) + self._sum
        self._sum = t

    @property
    def value(self) -> float:
        """The sum of all terms added so far."""
        return self._sum + self._compensation


class LHEStream:
    """An alpfusion event stream (see ``rootio.EventStream``) reading an LHE file.

    The constructor reads the ``<init>`` block and makes a first pass over all
    events to validate them and collect what the normalisation and the metadata
    need: the visible content (the same in every event), sum_j XWGTUP_j, the
    number of events and the spread of the invisible invariant mass.  Every
    problem raises :class:`SampleError` naming the LHE file (and the 0-based
    index of the offending event).  :meth:`chunks` then makes a second pass,
    yielding ``chunk_size`` events at a time.
    """

    def __init__(self, lhe_path: str | os.PathLike, *, chunk_size: int = 10_000) -> None:
        self.path = os.fspath(lhe_path)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, not {chunk_size}")
        self.chunk_size = chunk_size
        lhefile = self._open()
        init = lhefile.init
        if not init.procInfo:
            raise SampleError(f"{self.path}: the <init> block lists no process")
        self.sigma_pb = sum(proc.xSection for proc in init.procInfo)
        self.sigma_err_pb = math.sqrt(sum(proc.error**2 for proc in init.procInfo))
        if not (math.isfinite(self.sigma_pb) and self.sigma_pb > 0):
            raise SampleError(f"{self.path}: the <init> cross section {self.sigma_pb} pb is not positive")
        info = init.initInfo
        self.lab_in_cm, self.sqrt_s = _lab_in_cm(info.energyA, info.energyB)
        self.process = _mg_process(lhefile.header) or Path(self.path).name
        self._scan(lhefile)

    def _open(self) -> Any:
        """Open the file with pylhe (header and init parsed, events lazy)."""
        if not os.path.isfile(self.path):
            raise SampleError(f"{self.path}: no such file")
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("error", message="Parse Error", category=RuntimeWarning)
                return pylhe.LHEFile.fromfile(self.path, with_attributes=False)
        except (ValueError, OSError, RuntimeWarning, EOFError, zlib.error) as err:
            raise SampleError(f"{self.path}: not a valid LHE file ({type(err).__name__}: {err})") from err

    def _events(self, lhefile: Any) -> Iterator[tuple[int, float, dict[str, np.ndarray]]]:
        """Yield ``(index, XWGTUP, {name: (E, px, py, pz)})`` for each event.

        Visible final-state particles are mapped by :data:`VISIBLE_NAMES`, the
        invisible ones summed into ``"invisible"``; other final-state particles
        and duplicates are errors.  pylhe turns XML errors (e.g. a truncated file)
        into a warning and stops; here they raise :class:`SampleError`.
        """
        with contextlib.closing(iter(lhefile.events)) as events:
            for index in itertools.count():
                try:
                    with warnings.catch_warnings():
                        warnings.filterwarnings("error", message="Parse Error", category=RuntimeWarning)
                        event = next(events, None)
                except (ValueError, OSError, RuntimeWarning, EOFError, zlib.error) as err:
                    raise SampleError(f"{self.path}: cannot read event {index} ({type(err).__name__}: {err})") from err
                if event is None:
                    return
                momenta: dict[str, np.ndarray] = {}
                for particle in event.particles:
                    if particle.status != 1:
                        continue
                    p4 = np.array([particle.e, particle.px, particle.py, particle.pz])
                    if is_invisible(particle.id):
                        momenta["invisible"] = momenta.get("invisible", 0.0) + p4
                        continue
                    name = VISIBLE_NAMES.get(particle.id)
                    if name is None:
                        raise SampleError(
                            f"{self.path}: event {index} has an unsupported final-state particle (pdg {particle.id})"
                        )
                    if name in momenta:
                        raise SampleError(
                            f"{self.path}: event {index} has more than one final-state {name} (pdg {particle.id})"
                        )
                    momenta[name] = p4
                yield index, event.eventinfo.weight, momenta

    def _scan(self, lhefile: Any) -> None:
        """First pass: fix the particle list, sum the weights, check the events.

        Sets ``particles``, ``n_events``, ``sum_xwgtup`` and ``m_a``: the mean
        invariant mass sqrt(E^2 - |p|^2) of the invisible system if its spread
        (max - min) is below 1e-6 times the mean, else None.
        """
        particles: tuple[str, ...] | None = None
        total = _CompensatedSum()
        mass_sum = _CompensatedSum()
        mass_min, mass_max = math.inf, -math.inf
        n_events = 0
        for index, weight, momenta in self._events(lhefile):
            content = tuple(name for name in _PARTICLE_ORDER if name in momenta)
            if particles is None:
                particles = content
            elif content != particles:
                raise SampleError(
                    f"{self.path}: event {index} has final state {list(content)}, "
                    f"but the events before have {list(particles)}"
                )
            if not (math.isfinite(weight) and weight >= 0):
                kind = "a negative" if weight < 0 else "a non-finite"
                raise SampleError(f"{self.path}: event {index} has {kind} weight (XWGTUP = {weight})")
            total.add(weight)
            if "invisible" in momenta:
                e, px, py, pz = momenta["invisible"]
                mass = math.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0))
                mass_sum.add(mass)
                mass_min, mass_max = min(mass_min, mass), max(mass_max, mass)
            n_events = index + 1
        if particles is None:
            raise SampleError(f"{self.path}: no events")
        if not total.value > 0:
            raise SampleError(f"{self.path}: the event weights sum to {total.value}")
        self.particles = particles
        self.n_events = n_events
        self.sum_xwgtup = total.value
        self.m_a = None
        if "invisible" in particles:
            mean = mass_sum.value / n_events
            if mass_max - mass_min <= _MASS_TOLERANCE * mean:
                self.m_a = mean

    def chunks(self) -> Iterator[dict[str, np.ndarray]]:
        """Second pass: yield the events as chunks of the sample format.

        Momenta are copied (and boosted to the centre-of-mass frame if the beams
        are asymmetric, see :func:`_lab_in_cm`); ``weight = sigma * XWGTUP /
        sum XWGTUP``; ``event`` counts from 0.
        """
        scale = self.sigma_pb / self.sum_xwgtup
        for index, weight, momenta in self._chunked_events():
            chunk = {}
            for particle in self.particles:
                p4 = np.array([m[particle] for m in momenta], dtype=np.float64)
                if self.lab_in_cm is not None:
                    p4 = boost_from_rest(p4, self.lab_in_cm, self.sqrt_s)
                for component, values in zip(MOMENTUM_COMPONENTS, p4.T):
                    chunk[f"{particle}_{component}"] = np.ascontiguousarray(values)
            chunk["weight"] = scale * np.asarray(weight, dtype=np.float64)
            chunk["event"] = np.asarray(index, dtype=np.uint64)
            yield chunk

    def _chunked_events(self) -> Iterator[tuple[list[int], list[float], list[dict[str, np.ndarray]]]]:
        """Group the second pass over the file into lists of ``chunk_size`` events."""
        batch: tuple[list, list, list] = ([], [], [])
        for index, weight, momenta in self._events(self._open()):
            batch[0].append(index)
            batch[1].append(weight)
            batch[2].append(momenta)
            if len(batch[0]) == self.chunk_size:
                yield batch
                batch = ([], [], [])
        if batch[0]:
            yield batch

    def metadata(self) -> dict:
        """The sample metadata (see ``docs/sample-format.md``, LHE import)."""
        return {
            "process": f"lhe:{self.process}",
            "m_a": self.m_a,
            "g_ref": None,
            "sqrt_s": self.sqrt_s,
            "cuts": {},
            "sigma_pb": self.sigma_pb,
            "sigma_err_pb": self.sigma_err_pb,
            "n_events": self.n_events,
            "seed": None,
            "source": Path(self.path).name,
            "alpfusion_version": alpfusion.__version__,
            "config_hash": None,
            "particles": list(self.particles),
            "boosted_to_cm": self.lab_in_cm is not None,
        }


def lhe_to_root(
    lhe_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    progress: Callable[[int], Any] | None = None,
    chunk_size: int = 10_000,
) -> dict:
    """Convert an LHE file (plain or .gz) into a ROOT sample; return its metadata.

    See the module docstring for the particle mapping and :class:`LHEStream`
    for the checks.  The cross section is the sum of the ``<init>`` block's
    XSECUP (pb), its error the quadratic sum of the XERRUP; the weights are
    w_i = sigma * XWGTUP_i / sum_j XWGTUP_j, so they sum to sigma.  ``sqrt_s``
    comes from the beam energies (E_A + E_B for symmetric beams); with
    asymmetric beams the momenta are boosted to the centre-of-mass frame and the
    metadata says ``boosted_to_cm: true``.  ``progress`` is passed to
    :func:`~alpfusion.samples.rootio.write_sample`.
    """
    return write_sample(out_path, LHEStream(lhe_path, chunk_size=chunk_size), progress=progress)
