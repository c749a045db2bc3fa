"""The analysis configuration: one YAML file, validated on load.

A configuration is a tree of frozen dataclasses. `load_config` reads YAML, overlays it on the
shipped default (`alpfusion/data/default.yaml`), and checks every key: unknown keys, wrong
types and impossible values raise `ConfigError` naming the key (as a dotted path) and the
problem. The configuration hash (`Config.hash`) is the SHA-256 of the canonical JSON of the
validated tree, recorded in every output for provenance.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from . import constants
from .errors import AlpfusionError

COMPONENTS = ("both", "fusion", "dalitz")
EXECUTORS = ("iterative", "futures", "dask")
EMPTY_BINS = ("none", "floor", "smooth")
CLS_METHODS = ("asymptotic", "toys")


class ConfigError(AlpfusionError, ValueError):
    """An invalid configuration; the message names the key and the problem."""

    def __init__(self, key: str, problem: str, source: str | None = None):
        where = f"{source}: " if source else ""
        super().__init__(f"{where}configuration key '{key}': {problem}")
        self.key = key
        self.problem = problem
        self.source = source

    def located(self, source: str) -> ConfigError:
        """The same error, naming the configuration file it came from."""
        return self if self.source else ConfigError(self.key, self.problem, source)


def _check(condition: bool, key: str, problem: str) -> None:
    if not condition:
        raise ConfigError(key, problem)


@dataclass(frozen=True)
class Beam:
    sqrt_s: float
    alpha: float | str
    luminosity_fb: float

    def validate(self, path: str) -> None:
        _check(self.sqrt_s > 0, f"{path}.sqrt_s", f"must be positive, got {self.sqrt_s}")
        if isinstance(self.alpha, str):
            _check(self.alpha in ("thomson", "mz"), f"{path}.alpha",
                   f"must be 'thomson', 'mz' or a number, got '{self.alpha}'")
        else:
            _check(0 < self.alpha < 1, f"{path}.alpha", f"must lie in (0, 1), got {self.alpha}")
        _check(self.luminosity_fb > 0, f"{path}.luminosity_fb",
               f"must be positive, got {self.luminosity_fb}")

    @property
    def alpha_value(self) -> float:
        """The fine-structure constant used in every vertex."""
        return {"thomson": constants.ALPHA_THOMSON, "mz": constants.ALPHA_MZ}.get(
            self.alpha, self.alpha)

    @property
    def s(self) -> float:
        return self.sqrt_s**2

    @property
    def luminosity_pb(self) -> float:
        """The integrated luminosity in pb^-1: an expected yield is a weight in pb times this."""
        return self.luminosity_fb * 1000.0


@dataclass(frozen=True)
class Acceptance:
    theta_min_deg: float
    theta_max_deg: float
    energy_min: float
    delta_r_ee_min: float

    def validate(self, path: str) -> None:
        _check(0 <= self.theta_min_deg < 90, f"{path}.theta_min_deg",
               f"must lie in [0, 90) deg, got {self.theta_min_deg}")
        _check(90 < self.theta_max_deg <= 180, f"{path}.theta_max_deg",
               f"must lie in (90, 180] deg, got {self.theta_max_deg}")
        _check(self.energy_min >= 0, f"{path}.energy_min",
               f"must be non-negative, got {self.energy_min}")
        _check(self.delta_r_ee_min >= 0, f"{path}.delta_r_ee_min",
               f"must be non-negative, got {self.delta_r_ee_min}")

    @property
    def cos_theta_range(self) -> tuple[float, float]:
        """(cos theta_max, cos theta_min): the accepted interval of cos(theta*)."""
        return (math.cos(math.radians(self.theta_max_deg)),
                math.cos(math.radians(self.theta_min_deg)))

    @property
    def is_inclusive(self) -> bool:
        """True when the acceptance cuts nothing (full solid angle, no energy or separation cut)."""
        return (self.theta_min_deg == 0 and self.theta_max_deg == 180
                and self.energy_min == 0 and self.delta_r_ee_min == 0)


@dataclass(frozen=True)
class Signal:
    g_ref: float
    masses: tuple[float, ...]
    electron_mass: bool
    component: str

    def validate(self, path: str) -> None:
        _check(self.g_ref > 0, f"{path}.g_ref", f"must be positive, got {self.g_ref}")
        _check(len(self.masses) > 0, f"{path}.masses", "must list at least one mass")
        for i, m in enumerate(self.masses):
            _check(m >= 0, f"{path}.masses[{i}]", f"must be non-negative, got {m}")
        _check(list(self.masses) == sorted(set(self.masses)), f"{path}.masses",
               "must be strictly increasing")
        _check(self.component in ("both", "fusion", "dalitz"), f"{path}.component",
               f"must be 'both', 'fusion' or 'dalitz', got '{self.component}'")


@dataclass(frozen=True)
class Vegas:
    nitn: int
    neval: int
    ninc: int
    alpha: float

    def validate(self, path: str) -> None:
        _check(self.nitn >= 1, f"{path}.nitn", f"must be at least 1, got {self.nitn}")
        _check(self.neval >= 1000, f"{path}.neval", f"must be at least 1000, got {self.neval}")
        _check(self.ninc >= 2, f"{path}.ninc", f"must be at least 2, got {self.ninc}")
        _check(0 <= self.alpha <= 2, f"{path}.alpha", f"must lie in [0, 2], got {self.alpha}")


@dataclass(frozen=True)
class Generation:
    seed: int
    events: int
    chunk_size: int
    vegas: Vegas
    output_dir: str

    def validate(self, path: str) -> None:
        _check(self.seed >= 0, f"{path}.seed", f"must be non-negative, got {self.seed}")
        _check(self.events >= 1, f"{path}.events", f"must be at least 1, got {self.events}")
        _check(self.chunk_size >= 1, f"{path}.chunk_size",
               f"must be at least 1, got {self.chunk_size}")


@dataclass(frozen=True)
class TauPair:
    events: int
    both_electrons_in_acceptance: bool
    sigma_override_pb: float | None

    def validate(self, path: str) -> None:
        _check(self.events >= 1, f"{path}.events", f"must be at least 1, got {self.events}")
        if self.sigma_override_pb is not None:
            _check(self.sigma_override_pb > 0, f"{path}.sigma_override_pb",
                   f"must be positive or null, got {self.sigma_override_pb}")


@dataclass(frozen=True)
class Backgrounds:
    tautau: TauPair

    def validate(self, path: str) -> None:
        pass


@dataclass(frozen=True)
class Detector:
    smearing: bool
    seed: int
    acceptance_on: str
    energy_noise: float
    energy_stochastic: float
    energy_constant: float
    angle_resolution: float

    def validate(self, path: str) -> None:
        _check(0 <= self.seed < 2**64, f"{path}.seed", f"must lie in [0, 2^64), got {self.seed}")
        _check(self.acceptance_on in ("truth", "smeared"), f"{path}.acceptance_on",
               f"must be 'truth' or 'smeared', got '{self.acceptance_on}'")
        for name in ("energy_noise", "energy_stochastic", "energy_constant", "angle_resolution"):
            value = getattr(self, name)
            _check(value >= 0, f"{path}.{name}", f"must be non-negative, got {value}")


CPHI_ESTIMATORS = ("pair_axis", "beam_axis", "truth")
"""Names of the tau-axis estimators of c_phi (alpfusion.processors.observables.TAU_AXES)."""


@dataclass(frozen=True)
class Observables:
    cphi_estimator: str

    def validate(self, path: str) -> None:
        _check(self.cphi_estimator in CPHI_ESTIMATORS, f"{path}.cphi_estimator",
               f"must be one of {', '.join(CPHI_ESTIMATORS)}, got '{self.cphi_estimator}'")


@dataclass(frozen=True)
class MassSelection:
    m_a: float
    kappa: float | None = None
    e_low: float | None = None
    eta_high: float | None = None

    def validate(self, path: str) -> None:
        _check_cuts(self, path)


def _check_cuts(cuts: Selection | MassSelection, path: str) -> None:
    if cuts.kappa is not None:
        _check(cuts.kappa > 0, f"{path}.kappa", f"must be positive, got {cuts.kappa}")
    if cuts.e_low is not None:
        _check(cuts.e_low >= 0, f"{path}.e_low", f"must be non-negative, got {cuts.e_low}")
    if cuts.eta_high is not None:
        _check(cuts.eta_high > 0, f"{path}.eta_high", f"must be positive, got {cuts.eta_high}")


@dataclass(frozen=True)
class Selection:
    kappa: float
    e_low: float
    eta_high: float
    per_mass: tuple[MassSelection, ...]

    def validate(self, path: str) -> None:
        _check_cuts(self, path)
        masses = [cuts.m_a for cuts in self.per_mass]
        _check(len(masses) == len(set(masses)), f"{path}.per_mass", f"lists a mass twice: {masses}")

    def for_mass(self, m_a: float) -> tuple[float, float, float]:
        """(kappa, E_low, eta_high) for the mass hypothesis m_a: its override, else the defaults."""
        override = next((c for c in self.per_mass if c.m_a == m_a), MassSelection(m_a))
        return (self.kappa if override.kappa is None else override.kappa,
                self.e_low if override.e_low is None else override.e_low,
                self.eta_high if override.eta_high is None else override.eta_high)


@dataclass(frozen=True)
class Histograms:
    mass_min: float
    mass_max: float
    relative_width: float
    control_bins: int

    def validate(self, path: str) -> None:
        _check(self.mass_min > 0, f"{path}.mass_min", f"must be positive, got {self.mass_min}")
        _check(self.mass_max > self.mass_min, f"{path}.mass_max",
               f"must exceed mass_min = {self.mass_min}, got {self.mass_max}")
        _check(0 < self.relative_width <= 1, f"{path}.relative_width",
               f"must lie in (0, 1], got {self.relative_width}")
        _check(self.control_bins >= 1, f"{path}.control_bins", f"must be at least 1, got {self.control_bins}")


@dataclass(frozen=True)
class Processing:
    executor: str
    workers: int
    chunk_size: int
    scheduler: str | None
    output_dir: str

    def validate(self, path: str) -> None:
        _check(self.executor in ("iterative", "futures", "dask"), f"{path}.executor",
               f"must be 'iterative', 'futures' or 'dask', got '{self.executor}'")
        _check(self.workers >= 1, f"{path}.workers", f"must be at least 1, got {self.workers}")
        _check(self.chunk_size >= 1, f"{path}.chunk_size", f"must be at least 1, got {self.chunk_size}")


@dataclass(frozen=True)
class Statistics:
    empty_bins: str
    floor_yield: float | None
    floor_uncertainty: float
    smooth_slices: int
    sb_groups: int
    cls_method: str
    toys: int
    small_background_events: float
    hepdata_record: str

    def validate(self, path: str) -> None:
        _check(self.empty_bins in ("none", "floor", "smooth"), f"{path}.empty_bins",
               f"must be 'none', 'floor' or 'smooth', got '{self.empty_bins}'")
        _check(1 <= self.smooth_slices <= 50, f"{path}.smooth_slices",
               f"must lie in [1, 50], got {self.smooth_slices}")
        if self.floor_yield is not None:
            _check(self.floor_yield > 0, f"{path}.floor_yield", f"must be positive or null, got {self.floor_yield}")
        _check(self.floor_uncertainty > 0, f"{path}.floor_uncertainty",
               f"must be positive, got {self.floor_uncertainty}")
        _check(1 <= self.sb_groups <= 200, f"{path}.sb_groups", f"must lie in [1, 200], got {self.sb_groups}")
        _check(self.cls_method in ("asymptotic", "toys"), f"{path}.cls_method",
               f"must be 'asymptotic' or 'toys', got '{self.cls_method}'")
        _check(self.toys >= 100, f"{path}.toys", f"must be at least 100, got {self.toys}")
        _check(self.small_background_events >= 0, f"{path}.small_background_events",
               f"must be non-negative, got {self.small_background_events}")
        _check(len(self.hepdata_record) == 10 and self.hepdata_record.startswith("ins")
               and self.hepdata_record[3:].isdigit(), f"{path}.hepdata_record",
               f"must be 'ins' and 7 digits (an INSPIRE record), got '{self.hepdata_record}'")


@dataclass(frozen=True)
class Config:
    beam: Beam
    acceptance: Acceptance
    signal: Signal
    generation: Generation
    backgrounds: Backgrounds
    statistics: Statistics
    detector: Detector
    observables: Observables
    selection: Selection
    histograms: Histograms
    processing: Processing
    source: str = field(default="<default>", compare=False)

    def validate(self, path: str) -> None:
        for m in self.signal.masses:
            _check(m < self.beam.sqrt_s, "signal.masses",
                   f"m_a = {m} GeV is not below sqrt_s = {self.beam.sqrt_s} GeV")
        for i, cuts in enumerate(self.selection.per_mass):
            _check(cuts.m_a in self.signal.masses, f"selection.per_mass[{i}].m_a",
                   f"{cuts.m_a} GeV is not a mass of signal.masses")
        emin = self.acceptance.energy_min
        _check(2 * emin < self.beam.sqrt_s, "acceptance.energy_min",
               f"{emin} GeV leaves no phase space at sqrt_s = {self.beam.sqrt_s} GeV")

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("source")
        return out

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def replace(self, **sections: dict[str, Any]) -> Config:
        """A validated copy with some keys changed: ``cfg.replace(signal={"g_ref": 1e-3})``."""
        data = self.as_dict()
        for section, values in sections.items():
            if section not in data:
                raise ConfigError(section, "unknown section")
            data[section] = _merge(data[section], values, section)
        return _build(Config, data, "", self.source)


def _merge(base: dict, overlay: dict, path: str) -> dict:
    """Overlay `overlay` on `base`, refusing keys that `base` does not have."""
    if not isinstance(overlay, dict):
        raise ConfigError(path or "<top>", f"must be a mapping, got {type(overlay).__name__}")
    merged = dict(base)
    for key, value in overlay.items():
        key_path = f"{path}.{key}" if path else str(key)
        if key not in base:
            raise ConfigError(key_path, f"unknown key (allowed: {', '.join(sorted(base))})")
        if isinstance(base[key], dict):
            merged[key] = _merge(base[key], value, key_path)
        else:
            merged[key] = value
    return merged


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check `value` against a field's type annotation, converting ints to floats and lists to tuples."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return _coerce(value, option, key)
            except ConfigError:
                continue
        names = " or ".join("null" if a is type(None) else getattr(a, "__name__", str(a))
                            for a in typing.get_args(annotation))
        raise ConfigError(key, f"must be {names}, got {type(value).__name__} {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(key, f"must be a list, got {type(value).__name__} {value!r}")
        (item_type, _ellipsis) = typing.get_args(annotation)
        return tuple(_coerce(v, item_type, f"{key}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(key, f"must be a mapping, got {type(value).__name__} {value!r}")
        allowed = [f.name for f in dataclasses.fields(annotation)]
        for name in value:
            if name not in allowed:
                raise ConfigError(f"{key}.{name}", f"unknown key (allowed: {', '.join(allowed)})")
        return _build(annotation, value, key, None)
    if annotation is type(None):
        if value is not None:
            raise ConfigError(key, f"must be null, got {type(value).__name__} {value!r}")
        return None
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(key, f"must be a number, got {type(value).__name__} {value!r}")
        if not math.isfinite(value):
            raise ConfigError(key, f"must be finite, got {value}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"must be an integer, got {type(value).__name__} {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"must be true or false, got {type(value).__name__} {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string, got {type(value).__name__} {value!r}")
        return value
    raise TypeError(f"unsupported annotation {annotation!r} for {key}")


def _build(cls: type, data: dict, path: str, source: str | None) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name == "source":
            continue
        key = f"{path}.{f.name}" if path else f.name
        if f.name not in data:
            if f.default is not dataclasses.MISSING:
                kwargs[f.name] = f.default
                continue
            raise ConfigError(key, "missing", source)
        annotation = hints[f.name]
        try:
            if dataclasses.is_dataclass(annotation):
                kwargs[f.name] = _build(annotation, data[f.name], key, source)
            else:
                kwargs[f.name] = _coerce(data[f.name], annotation, key)
        except ConfigError as err:
            raise err.located(source) from None
    if cls is Config:
        kwargs["source"] = source
    obj = cls(**kwargs)
    try:
        obj.validate(path)
    except ConfigError as err:
        raise err.located(source) from None
    return obj


def default_config_text() -> str:
    """The YAML text of the configuration shipped with the package."""
    return resources.files("alpfusion").joinpath("data/default.yaml").read_text()


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate a configuration file, overlaid on the shipped default.

    A file may give only the keys it changes. Unknown keys, wrong types and impossible values
    raise `ConfigError` naming the file, the dotted key and the problem.
    """
    base = yaml.safe_load(default_config_text())
    if path is None:
        return _build(Config, base, "", "<default>")
    source = str(path)
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise ConfigError("<file>", f"cannot read: {err.strerror}", source) from None
    try:
        user = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ConfigError("<file>", f"not valid YAML: {err}", source) from None
    try:
        merged = _merge(base, user, "")
    except ConfigError as err:
        raise err.located(source) from None
    return _build(Config, merged, "", source)
