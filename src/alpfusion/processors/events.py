"""Event by event, what the processor histograms: the observables of a sample file's accepted events
after the detector model, with their expected yields. For studies, figures and notebooks; the
processor (:mod:`alpfusion.processors.processor`) fills the same quantities into histograms chunk by chunk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np

from ..config import Config
from ..observables import EventObservables, compute_observables, four_momenta
from ..samples.rootio import read_sample
from .detector import is_photon, measure

__all__ = ["MeasuredEvents", "measured_events", "measured_observables"]


@dataclass(frozen=True)
class MeasuredEvents:
    """The accepted events of a sample: measured electrons, the MC-truth tau- where the sample has
    one, each event's expected yield (weight times luminosity, events), and which of the sample's
    events (rows) they are."""

    e_minus: ak.Array
    e_plus: ak.Array
    tau_minus: ak.Array | None
    yields: np.ndarray
    rows: np.ndarray


def measured_events(path: str | os.PathLike, cfg: Config) -> MeasuredEvents:
    """Read a sample, apply the acceptance and the smearing of ``cfg.detector`` (``smearing: false``
    keeps the true momenta) as the processor does, once per event: the first of the processor's
    ``detector.smearings`` copies."""
    arrays, meta = read_sample(path)
    momentum = lambda name: four_momenta(*(arrays[f"{name}_{c}"] for c in ("E", "px", "py", "pz")))
    visible = [p for p in meta["particles"] if p in ("e_minus", "e_plus") or is_photon(p)]
    e_minus, e_plus, ok = measure(
        {p: momentum(p) for p in visible}, arrays["event"], cfg.detector, cfg.acceptance, Path(path).stem
    )
    tau_minus = momentum("tau_minus")[ok] if "tau_minus" in meta["particles"] else None
    return MeasuredEvents(e_minus, e_plus, tau_minus, arrays["weight"][ok] * cfg.beam.luminosity_pb, np.flatnonzero(ok))


def measured_observables(
    path: str | os.PathLike, cfg: Config, estimator: str | None = None
) -> tuple[EventObservables, np.ndarray]:
    """(observables, yields) of a sample's accepted events; c_phi from ``estimator`` (default the
    configuration's ``observables.cphi_estimator``)."""
    events = measured_events(path, cfg)
    obs = compute_observables(
        events.e_minus,
        events.e_plus,
        cfg.beam.sqrt_s,
        estimator or cfg.observables.cphi_estimator,
        events.tau_minus,
    )
    return obs, events.yields
