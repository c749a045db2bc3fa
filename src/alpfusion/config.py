"""The analysis configuration: one YAML file, validated on load.

A configuration is a tree of frozen pydantic models, one per section of the YAML file. `load_config`
reads YAML, overlays it on the shipped default (`alpfusion/data/default.yaml`) and validates every
key: unknown keys, wrong types and impossible values raise `ConfigError` naming the key (as a dotted
path, ``signal.masses[1]``) and the problem. Types are strict: an integer is accepted for a number
(and becomes a float), nothing else is converted (no strings for numbers, no 0 or 1 for booleans),
and numbers must be finite. The configuration hash (`Config.hash`) is the SHA-256 of the canonical
JSON of the validated tree, recorded in every output for provenance; `config_schema` is the JSON
schema of the tree (docs/configuration.schema.json).

Each choice is a ``Literal`` type with the tuple of its values next to it (``Executor`` and
``EXECUTORS``, ...), for the command line's ``click.Choice``.
"""

from __future__ import annotations

import hashlib
import json
import math
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from . import constants
from .errors import AlpfusionError

__all__ = [
    "ACCEPTANCE_ON",
    "ALPHA_NAMES",
    "CLS_METHODS",
    "COMPONENTS",
    "CPHI_ESTIMATORS",
    "EMPTY_BINS",
    "EXECUTORS",
    "MIN_MASS_SPACING",
    "Acceptance",
    "AcceptanceOn",
    "AlphaName",
    "Backgrounds",
    "Beam",
    "ClsMethod",
    "Component",
    "Config",
    "ConfigError",
    "CphiEstimator",
    "Detector",
    "EmptyBins",
    "Executor",
    "Generation",
    "Histograms",
    "MassSelection",
    "Observables",
    "Processing",
    "Selection",
    "Signal",
    "Statistics",
    "TauPair",
    "Vegas",
    "config_schema",
    "default_config_text",
    "load_config",
]

AlphaName = Literal["thomson", "mz"]
ALPHA_NAMES = get_args(AlphaName)
"""Named values of beam.alpha (constants.ALPHA_THOMSON, constants.ALPHA_MZ)."""

Component = Literal["both", "fusion", "dalitz"]
COMPONENTS = get_args(Component)
"""Diagrams of e+e- -> e+e- a (signal.component)."""

AcceptanceOn = Literal["truth", "smeared"]
ACCEPTANCE_ON = get_args(AcceptanceOn)
"""Whether the acceptance is decided on the true or on the smeared momenta (detector.acceptance_on)."""

CphiEstimator = Literal["pair_axis", "beam_axis", "truth", "tau_like"]
CPHI_ESTIMATORS = get_args(CphiEstimator)
"""Names of the c_phi estimators (alpfusion.observables.estimate_cphi): the axes of TAU_AXES and
the axis-free tau_like."""

Executor = Literal["iterative", "futures", "dask"]
EXECUTORS = get_args(Executor)
"""Coffea executors (processing.executor)."""

EmptyBins = Literal["none", "floor", "smooth"]
EMPTY_BINS = get_args(EmptyBins)
"""Treatments of bins without background MC (statistics.empty_bins)."""

BackgroundProcess = Literal["ee_to_tautau", "ee_to_eegg"]
BACKGROUND_PROCESSES = get_args(BackgroundProcess)
"""The background samples of a run, by process name: the tau pairs and the QED background
(alpfusion.workflow.TAU_PAIR, LOST_PHOTONS; statistics.edges)."""

ClsMethod = Literal["asymptotic", "toys"]
CLS_METHODS = get_args(ClsMethod)
"""CLs calculations (statistics.cls_method)."""

MIN_MASS_SPACING = 1e-3
"""GeV: the closest two masses of signal.masses may be; a region is named by m_a in MeV
(alpfusion.processors.selection.region_name)."""


class ConfigError(AlpfusionError, ValueError):
    """An invalid configuration; the message names the file, the key and the problem."""

    def __init__(self, key: str, problem: str, source: str | None = None):
        where = f"{source}: " if source else ""
        super().__init__(f"{where}configuration key '{key}': {problem}")
        self.key = key
        self.problem = problem
        self.source = source


class _Invalid(ValueError):
    """A problem a model validator found at `loc`, relative to the model it checks."""

    def __init__(self, loc: tuple[str | int, ...], problem: str):
        super().__init__(problem)
        self.loc = loc


class _Strict(BaseModel):
    """A part of the configuration: immutable, strictly typed, no keys beyond its fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class Beam(_Strict):
    """The collider: centre-of-mass energy, fine-structure constant, integrated luminosity."""

    sqrt_s: float = Field(gt=0, description="centre-of-mass energy, GeV")
    alpha: AlphaName | Annotated[float, Field(gt=0, lt=1)] = Field(
        description="fine-structure constant of every vertex: 'thomson' (alpha(0) = 1/137.036), "
        "'mz' (alpha(m_Z) = 1/127.951) or a number"
    )
    luminosity_fb: float = Field(gt=0, description="integrated luminosity, fb^-1")

    @field_validator("alpha", mode="wrap")
    @classmethod
    def _name_or_number(cls, alpha: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """One message for both kinds of value (pydantic would report each kind's failure)."""
        try:
            return handler(alpha)
        except ValidationError:
            names = ", ".join(f"'{name}'" for name in ALPHA_NAMES)
            raise ValueError(f"must be {names} or a number in (0, 1), got {alpha!r}") from None

    @property
    def alpha_value(self) -> float:
        """The fine-structure constant used in every vertex."""
        if isinstance(self.alpha, str):
            return {"thomson": constants.ALPHA_THOMSON, "mz": constants.ALPHA_MZ}[self.alpha]
        return self.alpha

    @property
    def s(self) -> float:
        return self.sqrt_s**2

    @property
    def luminosity_pb(self) -> float:
        """The integrated luminosity in pb^-1: an expected yield is a weight in pb times this."""
        return self.luminosity_fb * 1000.0


class Acceptance(_Strict):
    """The acceptance of visible particles in the centre-of-mass frame (physics.md section 3)."""

    theta_min_deg: float = Field(
        ge=0, lt=90, description="polar-angle acceptance of electrons and photons: lower edge, degrees"
    )
    theta_max_deg: float = Field(gt=90, le=180, description="polar-angle acceptance: upper edge, degrees")
    energy_min: float = Field(ge=0, description="minimum energy of a visible particle, GeV")
    delta_r_ee_min: float = Field(
        ge=0,
        description="minimum (eta, phi) distance between the two electrons "
        "(MadGraph's drll); with massless electrons a value > 0 "
        "is needed to regulate the ALP-Dalitz pair",
    )

    @property
    def cos_theta_range(self) -> tuple[float, float]:
        """(cos theta_max, cos theta_min): the accepted interval of cos(theta*)."""
        return (math.cos(math.radians(self.theta_max_deg)), math.cos(math.radians(self.theta_min_deg)))

    @property
    def edge_deg(self) -> float:
        """The smallest polar angle between the acceptance and either beam, min(theta_min, 180 - theta_max),
        degrees: a particle closer than this to a beam is outside it (22 deg for Belle II)."""
        return min(self.theta_min_deg, 180.0 - self.theta_max_deg)


class Signal(_Strict):
    """The signal e+e- -> e+e- a: reference coupling, mass grid, diagrams."""

    g_ref: float = Field(gt=0, description="reference coupling g_agg, GeV^-1; rates scale as g^2")
    # strict=False lets the tuple take YAML's list; its items stay strict
    masses: tuple[Annotated[float, Field(ge=0)], ...] = Field(
        strict=False,
        min_length=1,
        description="the mass grid m_a, GeV: strictly increasing, at least 1 MeV apart, each below sqrt_s and "
        f"below {constants.DELTA_M2_MASS_SCALE:g} GeV (where the missing-mass resolution vanishes)",
    )
    electron_mass: bool = Field(description="keep m_e: regulates the collinear e+e- pair of the ALP-Dalitz diagram")
    component: Component = Field(description="diagrams of e+e- -> e+e- a: both, fusion, dalitz")

    @field_validator("masses")
    @classmethod
    def _increasing_and_apart(cls, masses: tuple[float, ...]) -> tuple[float, ...]:
        """Strictly increasing, and no two masses in one region (regions are named by m_a in MeV)."""
        for a, b in pairwise(masses):
            if b <= a:
                raise ValueError("must be strictly increasing")
        for a, b in pairwise(masses):
            # isclose: 1.001 - 1.0 is 1 MeV, whatever binary floating point makes of it
            if b - a < MIN_MASS_SPACING and not math.isclose(b - a, MIN_MASS_SPACING):
                raise ValueError(f"m_a = {a} and {b} GeV are closer than 1 MeV (a region is named by m_a in MeV)")
        return masses


class Vegas(_Strict):
    """The settings of the vegas integrator that adapts the sampling of each sample."""

    nitn: int = Field(ge=1, description="adaptation iterations")
    neval: int = Field(ge=1000, description="integrand evaluations per adaptation iteration")
    ninc: int = Field(ge=2, description="increments of the vegas map per dimension")
    alpha: float = Field(ge=0, le=2, description="vegas grid damping")


class Generation(_Strict):
    """Signal sample generation: seed, sizes, vegas settings, output directory."""

    seed: int = Field(ge=0, description="seed of everything random in the generation")
    events: int = Field(ge=1, description="weighted events (draws) per signal sample")
    chunk_size: int = Field(ge=1, description="draws per chunk, in memory and per ROOT basket")
    vegas: Vegas
    output_dir: str = Field(description="where `generate` writes the samples")


BiasObservable = Literal[
    "e_miss", "abs_eta_miss", "m2_miss", "m_ee", "diagonal_offset", "diagonal_side", "pt_fraction_miss"
]
"""Truth-level observables a generation bias may depend on (alpfusion.samples.bias)."""
BIAS_OBSERVABLES = get_args(BiasObservable)


class BiasFactor(_Strict):
    """One factor of a generation bias: b(x) interpolated linearly in ln b between the points (x, b),
    constant beyond the first and the last."""

    observable: BiasObservable = Field(
        description="e_miss (E*_miss, GeV), abs_eta_miss (|eta*_miss|), m2_miss (GeV^2), m_ee (GeV) or "
        "diagonal_offset (|ln(|m_ee^tau| / m_ee)|, with observables.cphi_estimator) or diagonal_side "
        "(ln(|m_ee^tau| / m_ee), signed: positive above the diagonal) or pt_fraction_miss (p_T,miss / E*_miss; "
        "lost photons end at sin(theta_min))"
    )
    points: tuple[Annotated[tuple[float, float], Strict(False)], ...] = Field(
        strict=False, min_length=2, description="(value, b) pairs, values strictly increasing, every b >= 1"
    )

    @field_validator("points")
    @classmethod
    def _increasing_and_at_least_one(cls, points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        for (a, _), (b, _) in pairwise(points):
            if b <= a:
                raise ValueError("the values must be strictly increasing")
        for value, b in points:
            if not b >= 1:
                raise ValueError(f"every bias must be at least 1, got {b} at {value}")
        return points


class Bias(_Strict):
    """A generation bias b >= 1 (the product of its factors): vegas adapts to b dsigma, the weights stay
    dsigma / (sampling density), so every histogram is still an unbiased estimate (alpfusion.samples.bias)."""

    factors: tuple[BiasFactor, ...] = Field(
        strict=False, min_length=1, description="the factors whose product is the bias"
    )
    defensive: float = Field(
        default=0.2,
        ge=0,
        lt=1,
        description="share of each channel's draws from a map adapted to dsigma alone, the weights dsigma over "
        "the mixture's density (defensive importance sampling): no weight exceeds 1/share times an unbiased "
        "sample's, so the regions the bias neglects are not starved; 0: the biased map alone",
    )
    maps: int = Field(
        default=1,
        ge=1,
        description="biased maps per channel, each trained from its own random stream, the biased draws split "
        "equally among them and every weight dsigma over the whole mixture's density: a peak one training "
        "missed is covered by another (alpfusion.samples.generator)",
    )


class TauPair(_Strict):
    """The background e+e- -> gamma*/Z -> tau+ tau-, each tau -> e nu nu (physics.md section 2)."""

    events: int = Field(ge=1, description="tau-pair draws")
    both_electrons_in_acceptance: bool = Field(
        description="generate only events with both electrons accepted (weights unchanged)"
    )
    sigma_override_pb: float | None = Field(
        gt=0,
        description="sigma(e+e- -> tau tau) to normalise to, pb (e.g. 919.0, the measured value); "
        "null keeps the generator's lowest-order value (772 pb)",
    )
    bias: Bias | None = Field(
        description="generation bias towards where the signal lies (null: none); part of the sample's identity"
    )
    vegas: Vegas | None = Field(
        default=None,
        description="vegas settings of the tau-pair sample (null: generation.vegas); a strong bias needs "
        "more adaptation than the signal",
    )


class LostPhotons(_Strict):
    """The QED background e+e- -> e+e- gamma gamma with both photons lost (physics.md section 2): its
    generation cuts, looser than every analysis cut (docs/workflow.md shows the yields do not move)."""

    events: int = Field(ge=1, description="draws")
    photon_energy_min: float = Field(gt=0, description="minimum energy of each photon, GeV")
    missing_energy_min: float = Field(
        ge=0, description="minimum E_gamma1 + E_gamma2 (= E*_miss), GeV; below every E_low of the selection"
    )
    photon_angle_min_deg: float = Field(
        ge=0, lt=90, description="minimum angle of each photon to either beam, degrees (0: the electron mass regulates)"
    )
    bias: Bias | None = Field(
        description="generation bias towards where the selection looks (null: none); part of the sample's identity"
    )
    vegas: Vegas | None = Field(default=None, description="vegas settings of the QED sample (null: generation.vegas)")


class Backgrounds(_Strict):
    """The background samples."""

    tautau: TauPair
    qed2: LostPhotons | None = Field(
        default=None, description="e+e- -> e+e- gamma gamma with both photons lost (null: not generated)"
    )


class Detector(_Strict):
    """The detector model: Gaussian smearing and the order of smearing and acceptance (docs/processing.md)."""

    smearing: bool = Field(description="Gaussian smearing of the visible particles; false uses the true momenta")
    seed: int = Field(
        ge=0,
        lt=2**64,
        description="seed of the smearing; with the sample name, particle, "
        "component and event index it fixes each deviate",
    )
    acceptance_on: AcceptanceOn = Field(
        description="truth: accept the true momenta, then smear (matches the generators' cuts); "
        "smeared: smear, then accept the measured ones (needs samples generated with looser cuts)"
    )
    energy_noise: float = Field(ge=0, description="a in sigma_E/E = sqrt((a/E)^2 + (b/E^(1/4))^2 + c^2), E in GeV")
    energy_stochastic: float = Field(ge=0, description="b in sigma_E/E")
    energy_constant: float = Field(ge=0, description="c in sigma_E/E")
    angle_resolution: float = Field(ge=0, description="sigma of theta and of phi, rad")
    smearings: int = Field(
        ge=1,
        le=1024,
        description="independent smearings of every MC event, each with 1/smearings of its weight "
        "(copy c smeared as event index + c * 2^40); an event's copies in one bin add before squaring",
    )


class Observables(_Strict):
    """Choices in the computation of the observables."""

    cphi_estimator: CphiEstimator = Field(
        description="c_phi in |m_ee^tau|: the decay-plane cosine around the pair_axis, the beam_axis or the MC-truth "
        "tau axis (truth; tau samples only), or tau_like, the axis-free c_phi in [-1, 1] that brings |m_ee^tau| "
        "closest to m_ee (docs/processing.md)"
    )


def _each_mass_once(per_mass: tuple) -> tuple:
    """Per-mass overrides (items with an ``m_a``), each mass at most once."""
    masses = [item.m_a for item in per_mass]
    if len(masses) != len(set(masses)):
        raise ValueError(f"lists a mass twice: {masses}")
    return per_mass


def _override(per_mass: tuple, m_a: float):
    """The per-mass override of the mass hypothesis m_a, or None."""
    return next((item for item in per_mass if item.m_a == m_a), None)


class MassSelection(_Strict):
    """The cuts of one mass hypothesis that differ from the defaults of `Selection`."""

    m_a: float = Field(description="the mass hypothesis, GeV: one of signal.masses")
    kappa: float | None = Field(None, gt=0, description="selection.kappa for this mass (null: the default)")
    e_low: float | None = Field(None, ge=0, description="selection.e_low for this mass, GeV (null: the default)")
    eta_high: float | None = Field(None, gt=0, description="selection.eta_high for this mass (null: the default)")


class Selection(_Strict):
    """The per-mass selection of physics.md section 5: default cuts and per-mass overrides."""

    kappa: float = Field(gt=0, description="missing-mass window |m2_miss - m_a^2| <= kappa * delta_m2(m_a)")
    e_low: float = Field(
        ge=0, description="lower cut E_low <= E*_miss, GeV; the upper one is (s + m_a^2) / (2 sqrt(s))"
    )
    eta_high: float = Field(gt=0, description="|eta*_miss| <= eta_high")
    per_mass: Annotated[tuple[MassSelection, ...], AfterValidator(_each_mass_once)] = Field(
        strict=False,
        description="per-mass overrides, e.g. [{m_a: 1.0, kappa: 1.5, eta_high: 2.0}], each m_a a mass "
        "of signal.masses; keys not given take the defaults of this section",
    )

    def for_mass(self, m_a: float) -> tuple[float, float, float]:
        """(kappa, E_low, eta_high) for the mass hypothesis m_a: its override, else the defaults."""
        override = _override(self.per_mass, m_a) or MassSelection(m_a=m_a, kappa=None, e_low=None, eta_high=None)
        return (
            self.kappa if override.kappa is None else override.kappa,
            self.e_low if override.e_low is None else override.e_low,
            self.eta_high if override.eta_high is None else override.eta_high,
        )


class Histograms(_Strict):
    """The binning of the histograms: logarithmic mass axes and the control histograms."""

    mass_min: float = Field(gt=0, description="lower edge of the logarithmic m_ee and |m_ee^tau| axes, GeV")
    mass_max: float = Field(description="GeV, above mass_min: the upper edge is the first bin edge at or above it")
    relative_width: float = Field(gt=0, le=1, description="bin width delta m / m")
    control_bins: int = Field(ge=1, description="bins per axis of the control histograms")
    eta_slices: tuple[float, ...] = Field(
        strict=False,
        description="inner edges of the |eta*_miss| slices of the analysis plane (a plane per slice, "
        "from 0 to the first edge, ..., from the last edge on); [] for one plane",
    )
    pt_excess_sigmas: tuple[float, ...] = Field(
        strict=False,
        description="inner edges of slices of the analysis plane in the missing p_T's excess over the reach of two "
        "lost photons, p_T,miss - [E*_miss sin(theta_min) + (1 - sin(theta_min)) E_min], in units of its "
        "resolution event by event (a plane per slice and |eta*_miss| slice); a slice whose lower edge is above 0 "
        "lies beyond the reach of the samples of statistics.missing_mass_bound, so the edge must leave the "
        "smearing's tail behind; [] for one plane",
    )

    @model_validator(mode="after")
    def _mass_range(self) -> Histograms:
        if self.mass_max <= self.mass_min:
            raise _Invalid(("mass_max",), f"must exceed mass_min = {self.mass_min}, got {self.mass_max}")
        return self

    @field_validator("eta_slices", "pt_excess_sigmas")
    @classmethod
    def _increasing(cls, edges: tuple[float, ...], info: ValidationInfo) -> tuple[float, ...]:
        positive = info.field_name == "eta_slices"  # |eta*_miss| >= 0; the excess takes either sign
        if not all(math.isfinite(e) and (e > 0 or not positive) for e in edges) or any(
            b <= a for a, b in pairwise(edges)
        ):
            raise ValueError(f"must be finite, {'positive ' if positive else ''}and increasing, got {list(edges)}")
        return edges


class Processing(_Strict):
    """How `process` runs: coffea executor, workers, work items, output directory."""

    executor: Executor = Field(description="coffea executor: iterative, futures, dask")
    workers: int = Field(
        ge=1,
        description="worker processes: samples generated at once, the futures pool, "
        "the dask LocalCluster, the mass points of `limits`",
    )
    chunk_size: int = Field(ge=1, description="events per work item; memory is bounded by it")
    scheduler: str | None = Field(
        description="dask scheduler address (e.g. tcp://host:8786); null starts a LocalCluster"
    )
    output_dir: str = Field(description="where `process` writes histograms.root and histograms.npz")


class CoarseGrouping(_Strict):
    """The coarse groups (g_lambda_coarse) of one mass hypothesis, where they differ from the defaults."""

    m_a: float = Field(gt=0, description="the mass hypothesis, GeV (a mass not scanned leaves it unused)")
    blocks: int = Field(ge=1, le=100, description="statistics.coarse_blocks for this mass")
    groups: int = Field(ge=1, le=200, description="statistics.coarse_groups for this mass")


class Statistics(_Strict):
    """The statistical model and the limits (physics.md section 6, docs/statistics.md)."""

    empty_bins: EmptyBins = Field(description="bins without background MC: none (background-free), floor, smooth")
    floor_yield: float | None = Field(
        gt=0,
        description="floor yield per empty bin; null: one background MC event of its neighbourhood, "
        "sum(y^2)/sum(y) of the nearest background MC",
    )
    floor_uncertainty: float = Field(gt=0, description="relative uncertainty of the floor")
    floor_scale: float = Field(
        default=1.0,
        gt=0,
        description="factor on every floor yield: 0.5 and 2 show how much the limits rest on the floors' size",
    )
    floor_reach: int | None = Field(
        default=None,
        ge=0,
        description="bins: only empty bins within this many bins of background MC get a floor, farther ones "
        "lie beyond the background's mapped edge (background-free); null: every empty bin",
    )
    floor_neighbourhood: int | None = Field(
        default=None,
        ge=0,
        description="bins, with empty_bins floor: every bin with background MC (or a floor) gets at least one "
        "effective MC event of the (2n+1)^2 bins around it, sum(y^2)/sum(y) (the MC resolves no less), the "
        "excess as floor; null: floors in empty bins only",
    )
    edges: dict[BackgroundProcess, float | None] = Field(
        default_factory=dict,
        description="per background sample, the largest offset ln(|m_ee^tau| / m_ee) its events reach after the "
        "smearing (a measured kinematic edge): empty bins wholly above it get no floor from it, and its MC "
        "there is an error; null: no edge",
    )
    missing_mass_bound: list[BackgroundProcess] = Field(
        default_factory=list,
        description="background samples of lost photons whose support in each |eta*_miss| slice's plane the "
        "missing-mass bound draws (and whose planes of histograms.pt_excess_sigmas beyond 0 lie outside it): "
        "every empty bin within it gets a floor whatever floor_reach, none beyond it, and their MC beyond it is "
        "an error",
    )
    smooth_slices: int = Field(ge=1, le=50, description="m_ee slices of the smooth background model")
    sb_groups: int = Field(ge=1, le=200, description="bins of the pyhf channel: the signal bins grouped by S/B")
    coarse_blocks: int = Field(
        ge=1,
        le=100,
        description="g_lambda_coarse: S/B order from the background averaged over blocks of this many bins "
        "a side, each group's background the MC summed in it (no empty-bin treatment)",
    )
    coarse_groups: int = Field(
        ge=1,
        le=200,
        description="g_lambda_coarse: the signal bins in this many groups of equal signal, few enough that "
        "each holds background MC (there is no empty-bin treatment)",
    )
    coarse_per_mass: Annotated[tuple[CoarseGrouping, ...], AfterValidator(_each_mass_once)] = Field(
        default=(),
        strict=False,
        description="per-mass coarse groupings, e.g. [{m_a: 7.0, blocks: 10, groups: 10}]: chosen from "
        "independent trainings (benchmarks/coarse_ordering.py, docs/statistics.md); other masses take "
        "coarse_blocks and coarse_groups",
    )
    cls_method: ClsMethod = Field(description="asymptotic, or toys (pseudo-experiments as well, a column of their own)")
    toys: int = Field(ge=100, description="pseudo-experiments per tested mu")
    small_background_events: float = Field(
        ge=0,
        description="flag mass points whose sensitive bins (those giving the first half of Lambda at its limit, "
        "in S/B order) expect fewer background events than this: asymptotic CLs unreliable, quote the toys",
    )
    hepdata_record: str = Field(
        pattern=r"^ins[0-9]{7}$", description="INSPIRE record in the patchset metadata, 'ins' and 7 digits"
    )

    def coarse_grouping(self, m_a: float) -> tuple[int, int]:
        """(blocks, groups) of the coarse groups of the mass hypothesis m_a: its override, else the defaults."""
        override = _override(self.coarse_per_mass, m_a)
        return (self.coarse_blocks, self.coarse_groups) if override is None else (override.blocks, override.groups)


class OverlayStyle(_Strict):
    """How an overlay curve is drawn (matplotlib line properties; null: matplotlib's choice)."""

    color: str | None = Field(default=None, description="matplotlib colour, e.g. tab:purple or '#7f3fbf'")
    linestyle: str | None = Field(default=None, description="matplotlib line style: '-', '--', '-.', ':'")
    linewidth: float | None = Field(default=None, gt=0, description="line width, points")


class Overlay(_Strict):
    """Another experiment's limit or projection drawn beside ours on the reach plot."""

    csv: str = Field(
        min_length=1,
        description="CSV with a header line and columns m_a (GeV) and g (GeV^-1); a relative path is taken "
        "from the configuration file's folder",
    )
    label: str = Field(min_length=1, description="legend label")
    citation: str = Field(min_length=1, description="where the curve comes from (layer table and HEPData)")
    style: OverlayStyle = Field(default_factory=OverlayStyle, description="line properties")


class ReachPlot(_Strict):
    """The context layers of the reach plot (physics.md section 7; docs/statistics.md)."""

    fine_tuning: tuple[Annotated[float, Field(gt=0, lt=0.5)], ...] = Field(
        strict=False,
        description="resonant freeze-out targets to draw, F.T. = 1/2 - M/m_a (M: the DM mass); [] draws none",
    )
    neff_dm_mass_min: float | None = Field(
        gt=0, description="GeV: DM lighter than this is excluded by N_eff (ALPs below 2x it shaded); null: not drawn"
    )
    overlays: tuple[Overlay, ...] = Field(
        strict=False, description="other experiments' curves: [{csv, label, citation, style}]"
    )


class Config(_Strict):
    """The analysis configuration: every setting of every stage, one section each."""

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
    reach_plot: ReachPlot
    _source: str = PrivateAttr(default="<default>")

    @model_validator(mode="after")
    def _masses_usable(self) -> Config:
        """Every mass lies below sqrt_s, then below the mass where the missing-mass window closes."""
        masses, sqrt_s = self.signal.masses, self.beam.sqrt_s
        for m in masses:
            if m >= sqrt_s:
                raise _Invalid(("signal", "masses"), f"m_a = {m} GeV is not below sqrt_s = {sqrt_s} GeV")
        scale = constants.DELTA_M2_MASS_SCALE
        for m in masses:
            if m >= scale:
                raise _Invalid(
                    ("signal", "masses"),
                    f"m_a = {m} GeV has no missing-mass window: delta_m2 = 1 - (m_a / {scale:g} GeV)^4 "
                    f"is not positive (physics.md section 4)",
                )
        return self

    @model_validator(mode="after")
    def _photons_can_be_lost(self) -> Config:
        """The QED sample's photons can pass near a beam outside the acceptance and carry the missing energy."""
        qed, acc = self.backgrounds.qed2, self.acceptance
        if qed is None:
            return self
        edge = acc.edge_deg
        if qed.photon_angle_min_deg >= edge:
            raise _Invalid(
                ("backgrounds", "qed2", "photon_angle_min_deg"),
                f"{qed.photon_angle_min_deg} deg leaves no photon between the beams and the acceptance edge "
                f"({edge} deg)",
            )
        if qed.missing_energy_min >= self.beam.sqrt_s:
            raise _Invalid(
                ("backgrounds", "qed2", "missing_energy_min"),
                f"{qed.missing_energy_min} GeV is not below sqrt_s = {self.beam.sqrt_s} GeV",
            )
        return self

    @model_validator(mode="after")
    def _per_mass_in_grid(self) -> Config:
        for i, cuts in enumerate(self.selection.per_mass):
            if cuts.m_a not in self.signal.masses:
                raise _Invalid(("selection", "per_mass", i, "m_a"), f"{cuts.m_a} GeV is not a mass of signal.masses")
        return self

    @model_validator(mode="after")
    def _phase_space_left(self) -> Config:
        emin, sqrt_s = self.acceptance.energy_min, self.beam.sqrt_s
        if 2 * emin >= sqrt_s:
            raise _Invalid(("acceptance", "energy_min"), f"{emin} GeV leaves no phase space at sqrt_s = {sqrt_s} GeV")
        return self

    @property
    def source(self) -> str:
        """The file the configuration was read from ('<default>' for the shipped default)."""
        return self._source

    def __eq__(self, other: object) -> bool:
        """Configurations with the same keys are equal, whichever file they came from."""
        return isinstance(other, Config) and self.__dict__ == other.__dict__

    def as_dict(self) -> dict[str, Any]:
        """The validated tree as plain data (lists are tuples)."""
        return self.model_dump()

    @property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON of the validated tree (the source not included)."""
        canonical = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def replace(self, **sections: dict[str, Any]) -> Config:
        """A validated copy with some keys changed: ``cfg.replace(signal={"g_ref": 1e-3})``."""
        return _validated(_overlay(self.as_dict(), sections), self.source)


def config_schema() -> dict[str, Any]:
    """The JSON schema of a complete configuration (a file may give any part of it).

    docs/configuration.schema.json holds it; ``alpfusion config --schema`` prints it.
    """
    return Config.model_json_schema()


def default_config_text() -> str:
    """The YAML text of the configuration shipped with the package."""
    return resources.files("alpfusion").joinpath("data/default.yaml").read_text(encoding="utf-8")


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate a configuration file, overlaid on the shipped default.

    A file may give only the keys it changes. Unknown keys, wrong types and impossible values
    raise `ConfigError` naming the file, the dotted key and the problem.
    """
    default = yaml.safe_load(default_config_text())
    if path is None:
        return _validated(default, "<default>")
    source = str(path)
    return _validated(_overlay(default, _read_yaml(Path(path), source)), source)


def _read_yaml(path: Path, source: str) -> dict[str, Any]:
    """The mapping of sections in a YAML file (empty for an empty file)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise ConfigError("<file>", f"cannot read: {err.strerror}", source) from None
    except UnicodeDecodeError as err:
        raise ConfigError("<file>", f"not UTF-8 (byte {err.start}: {err.reason}); save it as UTF-8", source) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError("<file>", f"not valid YAML: {err}", source) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            "<top>", f"must be a mapping of sections (beam: ..., signal: ...), got {type(data).__name__}", source
        )
    return data


def _overlay(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`base` with the keys of `overlay`, mappings merged key by key (validation judges the keys)."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = _overlay(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validated(data: dict[str, Any], source: str) -> Config:
    """The Config of `data`, or the ConfigError of its first problem."""
    try:
        cfg = Config.model_validate(data)
    except ValidationError as err:
        raise _config_error(err, source) from None
    cfg._source = source
    return cfg


_EXPECTED = {
    "float_type": "a number",
    "int_type": "an integer",
    "bool_type": "true or false",
    "string_type": "a string",
    "model_type": "a mapping",
    "tuple_type": "a list",
}
"""What the value of a key must be, by the type of pydantic's error."""


def _config_error(err: ValidationError, source: str) -> ConfigError:
    """The first problem of a pydantic ValidationError, as a ConfigError naming the key.

    Allowed keys and bounds are read from the JSON schema, so the messages follow the declarations;
    an error of a kind not listed keeps pydantic's words.
    """
    first = err.errors()[0]
    loc, value, ctx = first["loc"], first["input"], first.get("ctx", {})
    match first["type"]:
        case "value_error":  # a validator of this module: its message, and the key it names
            loc += getattr(ctx["error"], "loc", ())
            problem = str(ctx["error"])
        case "extra_forbidden" | "invalid_key":  # invalid_key: a key that is not even a string (YAML's 1:)
            loc = (*loc[:-1], str(loc[-1]))
            allowed = _schema_at(loc[:-1])[0].get("properties", {})
            problem = f"unknown key (allowed: {', '.join(sorted(allowed))})"
        case "finite_number":
            problem = f"must be finite, got {value}"
        case "literal_error":
            problem = f"must be {ctx['expected']}, got {value!r}"
        case "too_short":
            least = ctx.get("min_length", 1)
            problem = "must not be empty" if least == 1 else f"must have at least {least} entries"
        case "string_pattern_mismatch":
            problem = f"must match {ctx['pattern']}, got {value!r}"
        case "greater_than" | "greater_than_equal" | "less_than" | "less_than_equal":
            schema, nullable = _schema_at(loc)
            problem = f"{_range(schema)}{' or null' if nullable else ''}, got {value}"
        case kind if kind in _EXPECTED:
            nullable = _schema_at(loc)[1]
            problem = f"must be {_EXPECTED[kind]}{' or null' if nullable else ''}, got {type(value).__name__} {value!r}"
        case _:
            problem = first["msg"]
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).removeprefix(".")
    return ConfigError(key, problem, source)


def _schema_at(loc: tuple[str | int, ...]) -> tuple[dict[str, Any], bool]:
    """The JSON schema of the key at `loc` (references resolved), and whether it may be null."""
    root = config_schema()
    node, nullable = root, False
    for part in loc:
        node = node.get("items", {}) if isinstance(part, int) else node.get("properties", {}).get(part, {})
        options = node.get("anyOf", [node])
        values = [option for option in options if option.get("type") != "null"]
        nullable = len(values) < len(options)
        node = values[0] if len(values) == 1 else node
        node = root["$defs"][node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node
    return node, nullable


def _range(schema: dict[str, Any]) -> str:
    """The allowed values of a number, from its JSON schema: 'must lie in [0, 90)', 'must be positive'."""
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    low_open, high_open = "exclusiveMinimum" in schema, "exclusiveMaximum" in schema
    if low is not None and high is not None:
        return f"must lie in {'(' if low_open else '['}{_number(low)}, {_number(high)}{')' if high_open else ']'}"
    if high is not None:
        return f"must be {'below' if high_open else 'at most'} {_number(high)}"
    if low is None:
        return "must be a number"
    if low == 0:
        return "must be positive" if low_open else "must be non-negative"
    return f"must {'exceed' if low_open else 'be at least'} {_number(low)}"


def _number(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"
