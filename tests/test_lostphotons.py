"""The phase space of e+e- -> e+e- gamma gamma with lost photons."""

import math

import numpy as np
import pytest

from alpfusion.config import Vegas, load_config
from alpfusion.constants import GEV2_TO_PB
from alpfusion.kinematics import pseudorapidity
from alpfusion.models.workspace import missing_mass_support
from alpfusion.observables import missing_pt_fraction
from alpfusion.processors import layouts
from alpfusion.processors.selection import MassHypothesis
from alpfusion.samples import lostphotons
from alpfusion.samples.generator import Generator
from alpfusion.samples.lostphotons import (
    EdgeLeptonPhotonChannel,
    LeptonPhotonChannel,
    LostPhotonCuts,
    LostPhotonProcess,
    LostPhotonsChannel,
    LostPhotonsProcess,
    LostPhotonsSettings,
    MissingEnergyChannel,
    PairMassChannel,
    TwoLeptonPhotonChannel,
    in_region,
)

SETTINGS = LostPhotonsSettings(10.58, 1 / 137.036, load_config().acceptance, LostPhotonCuts(0.01, 1.0, 1.0))


class PhaseSpaceVolume:
    """The accepted phase-space volume of given channels (|M|^2 = 1)."""

    name = "volume"
    particles = LostPhotonsProcess.particles

    def __init__(self, channels):
        self.channels = channels
        self._cuts = LostPhotonsProcess(SETTINGS)

    def differential(self, channel, momenta, ps_weight):
        return self._cuts.accepted(momenta) * ps_weight

    def metadata(self):
        return {}


def volume(channel):
    xs = Generator(PhaseSpaceVolume((channel,)), Vegas(nitn=5, neval=10000, ninc=100, alpha=0.5), 1).train()
    return xs.sigma, xs.error


def test_two_maps_of_a_central_photon_cover_the_same_phase_space():
    """A central soft photon and one near the +z beam: drawn directly, or around the e- (the map of its
    collinear peak), the accepted phase-space volume is the same within the MC errors."""
    direct = volume(LostPhotonsChannel(SETTINGS, ("central", "+z")))
    around = volume(LeptonPhotonChannel(SETTINGS, 0, "central", "+z", "e_minus"))
    assert abs(direct[0] - around[0]) < 4 * math.hypot(direct[1], around[1])
    assert direct[1] < 0.05 * direct[0]


@pytest.mark.parametrize(
    "regions, channel",
    [
        (("-z", "central"), TwoLeptonPhotonChannel(SETTINGS, 1, "-z", "e_minus", "e_plus")),
        (("central", "+z"), TwoLeptonPhotonChannel(SETTINGS, 0, "+z", "e_minus", "e_minus")),
    ],
    ids=["two leptons", "one lepton"],
)
def test_a_central_photon_and_one_beyond_the_edge_drawn_around_the_leptons_cover_their_phase_space(regions, channel):
    """A central soft photon drawn around the e-, the other beyond the edge drawn around the e+ (the
    edge cone and the recoiling lepton + photon system Y of mass M_Y), or around Y itself (the first
    body of the edge decay, both photons the e-'s): the accepted phase-space volume equals that of the
    direct map within the MC errors."""
    direct = volume(LostPhotonsChannel(SETTINGS, regions))
    vegas = Vegas(nitn=8, neval=50000, ninc=200, alpha=0.5)
    mapped = Generator(PhaseSpaceVolume((channel,)), vegas, 1).train()
    assert abs(direct[0] - mapped.sigma) < 4 * math.hypot(direct[1], mapped.error)
    assert mapped.error < 0.02 * mapped.sigma


def test_two_lost_photons_cannot_fake_a_small_missing_mass():
    """Two photons outside the polar acceptance carry p_T <= E*_miss sin(theta_min) (the bias observable
    pt_fraction_miss ends there), so with the missing
    momentum central (|eta*_miss| -> 0) the missing mass is at least E*_miss cos(theta_min) (paper
    section IV A): every generated event respects it."""
    rng = np.random.default_rng(1)
    cos_min = math.cos(math.radians(SETTINGS.acceptance.theta_min_deg))
    central_events = 0
    for regions in (("+z", "-z"), ("-z", "+z"), ("+z", "+z")):
        channel = LostPhotonsChannel(SETTINGS, regions)
        y = rng.random((200_000, channel.dim))
        momenta, weight = channel(y, rng.uniform(0, 2 * math.pi, len(y)))
        missing = momenta["invisible"][weight > 0]
        energy, p_t = missing[:, 0], np.hypot(missing[:, 1], missing[:, 2])
        assert np.all(p_t <= energy * math.sqrt(1 - cos_min**2) * (1 + 1e-12))
        mass2 = energy**2 - np.sum(missing[:, 1:] ** 2, axis=1)
        fraction = missing_pt_fraction(energy, mass2, pseudorapidity(missing))
        assert np.allclose(fraction, p_t / energy, rtol=1e-9)  # the bias observable where lost photons end
        mass = np.sqrt(np.maximum(mass2, 0.0))
        central = np.abs(pseudorapidity(missing)) < 0.01
        central_events += central.sum()
        assert np.all(mass[central] >= energy[central] * cos_min * (1 - 0.01))
    assert central_events > 50


def test_lost_photons_respect_the_missing_mass_bound_at_every_eta():
    """Every event of every channel (photons near the beams, central soft photons, converted pairs)
    has m2_miss at least lostphotons.missing_mass2_bound at its E*_miss and eta*_miss, with E_soft the
    energy of its photons inside the polar acceptance; some come within 2% of it, at central and at
    forward eta*_miss; the bound is the paper's E*_miss cos(theta_min) at eta = 0."""
    rng = np.random.default_rng(5)
    acceptance = SETTINGS.acceptance
    cos_min = math.cos(math.radians(acceptance.theta_min_deg))
    assert lostphotons.missing_mass2_bound(3.0, 0.0, acceptance) == pytest.approx((3.0 * cos_min) ** 2, rel=1e-12)
    near = {"central": 0, "forward": 0}
    for channel in LostPhotonsProcess(SETTINGS).channels:
        y = rng.random((20_000, channel.dim))
        momenta, weight = channel(y, rng.uniform(0, 2 * math.pi, len(y)))
        momenta = {name: p[weight > 0] for name, p in momenta.items()}
        missing = momenta["invisible"]
        energy, mass2 = missing[:, 0], missing[:, 0] ** 2 - np.sum(missing[:, 1:] ** 2, axis=1)
        eta = pseudorapidity(missing)
        soft = sum(p[:, 0] * in_region(SETTINGS, p, "central") for p in (momenta["photon_1"], momenta["photon_2"]))
        bound = lostphotons.missing_mass2_bound(energy, eta, acceptance, soft)
        assert np.all(mass2 >= bound - 1e-9 * energy**2), channel.name
        close = (bound > 0) & (mass2 < bound + 0.02 * energy**2)
        near["central"] += np.sum(close & (np.abs(eta) < 0.5))
        near["forward"] += np.sum(close & (np.abs(eta) > 1.0))
    assert near["central"] > 10 and near["forward"] > 10


def test_lost_photons_stay_within_their_missing_pt_reach():
    """Every accepted event of every channel (E*_miss >= 1 GeV: one photon at most inside the acceptance,
    below its threshold) has p_T,miss <= E*_miss sin(theta_min) + (1 - sin(theta_min)) E_min, the event
    by event form of the missing-mass bound (``lostphotons.missing_pt_excess`` <= 0), and some come within
    2% of E*_miss of it (as of the missing-mass bound); without p_T (m2_miss > E*_miss^2) the excess is
    -inf; an ALP of 6.5 GeV, massive, reaches beyond it."""
    rng = np.random.default_rng(12)
    acceptance = SETTINGS.acceptance
    process = LostPhotonsProcess(SETTINGS)
    close = 0
    for channel in process.channels:
        y = rng.random((20_000, channel.dim))
        momenta, weight = channel(y, rng.uniform(0, 2 * math.pi, len(y)))
        missing = momenta["invisible"][(weight > 0) & process.accepted(momenta)]
        energy, p_t = missing[:, 0], np.hypot(missing[:, 1], missing[:, 2])
        mass2 = energy**2 - np.sum(missing[:, 1:] ** 2, axis=1)
        excess = lostphotons.missing_pt_excess(energy, mass2, pseudorapidity(missing), acceptance)
        assert np.allclose(excess, p_t - lostphotons.lost_pt_max(energy, acceptance, acceptance.energy_min), atol=1e-9)
        assert np.all(excess <= 1e-9 * energy), channel.name
        close += np.sum(excess > -0.02 * energy)
    assert close > 10
    assert lostphotons.missing_pt_excess(3.0, 10.0, 0.0, acceptance) == -np.inf
    # a 6.5 GeV ALP with p_T = 4 GeV at eta = 0: E*_miss = sqrt(m^2 + p_T^2), beyond the reach by 0.98 GeV
    e_alp = math.hypot(6.5, 4.0)
    excess = lostphotons.missing_pt_excess(e_alp, 6.5**2, 0.0, acceptance)
    assert excess == pytest.approx(4.0 - lostphotons.lost_pt_max(e_alp, acceptance, acceptance.energy_min), rel=1e-12)
    assert excess > 0.25


def test_every_event_of_lost_photons_in_a_mass_window_lies_within_their_support():
    """The support of lost photons in the analysis planes (``models.workspace.missing_mass_support``) holds
    every accepted event of every channel whose m2_miss falls in a mass's window, at 1, 3 and 6 GeV, each in its
    slice of |eta*_miss| and of the missing p_T's excess and its m_ee bin; and it is no formality: the central
    slice leaves out bins next to those the events reach (at 1 and 3 GeV, the low m_ee where most of the
    signal lies), and the planes beyond the first excess edge above 0 lie outside it."""
    cfg = load_config()
    rng = np.random.default_rng(9)
    hypotheses = tuple(MassHypothesis(m_a, 2.0, 0.0, 3.0, SETTINGS.sqrt_s) for m_a in (1.0, 3.0, 6.0))
    h = layouts.empty_histograms(cfg, hypotheses, ("analysis",))["analysis"]
    process = LostPhotonsProcess(SETTINGS)
    for channel in process.channels:
        y = rng.random((20_000, channel.dim))
        momenta, weight = channel(y, rng.uniform(0, 2 * math.pi, len(y)))
        keep = (weight > 0) & process.accepted(momenta)
        missing, pair = (p[keep] for p in (momenta["invisible"], momenta["e_minus"] + momenta["e_plus"]))
        mass2 = missing[:, 0] ** 2 - np.sum(missing[:, 1:] ** 2, axis=1)
        m_ee = np.sqrt(pair[:, 0] ** 2 - np.sum(pair[:, 1:] ** 2, axis=1))
        for hyp in hypotheses:
            lo, hi = hyp.m2_window
            inside = (mass2 >= lo) & (mass2 <= hi)
            eta = pseudorapidity(missing[inside])
            # the true excess (<= 0), below any positive edge of the slices in units of its resolution
            excess = lostphotons.missing_pt_excess(missing[inside, 0], mass2[inside], eta, SETTINGS.acceptance)
            h.fill(
                region=hyp.region, abs_eta_miss=np.abs(eta), pt_excess=excess, m_ee=m_ee[inside], m_ee_tau=m_ee[inside]
            )
    assert list(h.axes["pt_excess"].edges) == [-np.inf, 7.0, np.inf]  # the excess over its resolution
    for hyp in hypotheses:
        values = h[{"region": hyp.region}].values()
        support = missing_mass_support(hyp, h, SETTINGS.acceptance)
        assert values.sum() > 100 and not np.any((values > 0) & ~support), hyp.m_a
        assert support[:, 0].any() and not support[:, 1].any()
        reached = np.flatnonzero(values[0, 0].sum(axis=1) > 0)
        excluded = np.flatnonzero(~support[0, 0, :, 0])
        if hyp.m_a < 5:
            assert len(excluded) and excluded.max() + 10 >= reached.min()


def test_the_channels_of_a_pair_of_regions_share_all_of_it():
    """At any point, the shares of |M|^2 of the channels that cover its pair of photon regions add
    up to one (so the channels' integrals add up to the cross section), near beams and central."""
    rng = np.random.default_rng(3)
    process = LostPhotonsProcess(SETTINGS)
    for regions in (("+z", "-z"), ("-z", "-z"), ("central", "+z"), ("-z", "central")):
        channel = LostPhotonsChannel(SETTINGS, regions)
        y = rng.random((5000, channel.dim))
        momenta, weight = channel(y, rng.uniform(0, 2 * math.pi, len(y)))
        momenta = {name: p[weight > 0] for name, p in momenta.items()}
        covering = [
            chan
            for chan in process.channels
            if (isinstance(chan, LostPhotonsChannel) and chan.regions == regions)
            or (
                isinstance(chan, (PairMassChannel, MissingEnergyChannel, LeptonPhotonChannel, TwoLeptonPhotonChannel))
                and chan.regions == regions
            )
        ]
        assert len(covering) == {("+z", "-z"): 7, ("-z", "-z"): 6}.get(regions, 6)
        total = sum(chan.share(momenta) for chan in covering)
        assert np.allclose(total, 1.0, rtol=1e-12) and len(total) > 1000


def rambo(n, masses, rng, sqrt_s):
    """n events of massive RAMBO (Kleiss, Stirling & Ellis, Comput. Phys. Commun. 40 (1986) 359): momenta
    (n, len(masses), 4) and weights of dPhi = prod d^3p / ((2 pi)^3 2E) (2 pi)^4 delta^4(P - sum p)."""
    k = len(masses)
    cos_t, phi = 2 * rng.random((n, k)) - 1, 2 * math.pi * rng.random((n, k))
    q0 = -np.log(rng.random((n, k)) * rng.random((n, k)))
    sin_t = np.sqrt(1 - cos_t**2)
    q = np.stack([q0, q0 * sin_t * np.cos(phi), q0 * sin_t * np.sin(phi), q0 * cos_t], axis=-1)
    total = q.sum(axis=1)
    mass = np.sqrt(total[:, 0] ** 2 - np.sum(total[:, 1:] ** 2, axis=1))
    b, x, g = -total[:, 1:] / mass[:, None], sqrt_s / mass, total[:, 0] / mass
    bq = np.einsum("ej,eij->ei", b, q[:, :, 1:])
    p = np.empty_like(q)
    p[..., 0] = x[:, None] * (g[:, None] * q[..., 0] + bq)
    p[..., 1:] = x[:, None, None] * (
        q[..., 1:] + b[:, None, :] * q[..., :1] + (bq / (1 + g[:, None]))[..., None] * b[:, None]
    )
    weight = (math.pi / 2) ** (k - 1) * sqrt_s ** (2 * k - 4) / (math.factorial(k - 1) * math.factorial(k - 2))
    weight *= (2 * math.pi) ** (4 - 3 * k)
    m = np.asarray(masses)
    energy = p[..., 0]
    xi = np.full(n, math.sqrt(1 - (m.sum() / sqrt_s) ** 2))
    for _ in range(30):  # Newton: sum sqrt(m^2 + xi^2 E^2) = sqrt(s)
        scaled = np.sqrt(m**2 + (xi[:, None] * energy) ** 2)
        xi -= (scaled.sum(axis=1) - sqrt_s) / (xi[:, None] * energy**2 / scaled).sum(axis=1)
    scaled = np.sqrt(m**2 + (xi[:, None] * energy) ** 2)
    out = np.concatenate([scaled[..., None], xi[:, None, None] * p[..., 1:]], axis=-1)
    pabs = xi[:, None] * energy
    weight = weight * xi ** (2 * k - 3) * np.prod(pabs / scaled, axis=1) * sqrt_s / np.sum(pabs**2 / scaled, axis=1)
    return out, weight


def phase_space_only(process_class):
    """A lost-photon process with |M|^2 = 1: its channels' integrals add up to the accepted phase space."""
    return type("PhaseSpaceOnly", (process_class,), {"matrix_element": lambda self, m: np.ones(len(m["e_minus"]))})


def test_rambo_gives_the_two_body_phase_space():
    """Massless two-body phase space is 1/(8 pi) whatever the energy; massive, beta/(8 pi)."""
    rng = np.random.default_rng(1)
    _, weight = rambo(1000, [0.0, 0.0], rng, 10.0)
    assert np.allclose(weight, 1 / (8 * math.pi))
    _, weight = rambo(1000, [3.0, 3.0], rng, 10.0)
    assert np.allclose(weight, math.sqrt(1 - 4 * 9 / 100) / (8 * math.pi))


@pytest.mark.parametrize("process_class", [LostPhotonsProcess, LostPhotonProcess])
def test_the_channels_cover_the_accepted_phase_space_once(process_class):
    """With |M|^2 = 1, the channels with their shares integrate to the accepted phase space that flat
    sampling (massive RAMBO) gives, for two lost photons (50 channels) and for one (6): no region
    missed, none counted twice, the 1/2 of identical photons and every Jacobian right."""
    process = phase_space_only(process_class)(SETTINGS)
    ours = Generator(process, Vegas(nitn=6, neval=6000, ninc=100, alpha=0.5), 2).train()
    rng = np.random.default_rng(5)
    m = SETTINGS.electron_mass
    photons = process.photons
    values = []
    for _ in range(10):
        p, weight = rambo(200_000, [m, m] + [0.0] * len(photons), rng, SETTINGS.sqrt_s)
        momenta = {"e_minus": p[:, 0], "e_plus": p[:, 1], **{name: p[:, 2 + i] for i, name in enumerate(photons)}}
        values.append(np.where(process.accepted(momenta), weight, 0.0))
    s = SETTINGS.sqrt_s**2
    scale = GEV2_TO_PB / (2 * math.sqrt(s * (s - 4 * m * m))) * process.symmetry_factor  # flux, identical photons
    flat = np.concatenate(values) * scale
    flat_sigma, flat_error = flat.mean(), flat.std() / math.sqrt(len(flat))
    assert abs(ours.sigma - flat_sigma) < 4 * math.hypot(ours.error, flat_error)
    assert flat_error < 0.02 * flat_sigma and ours.error < 0.02 * ours.sigma  # a 6% gap would show


@pytest.mark.parametrize(
    ("channel_class", "pair_mass2_scale", "neval"),
    [
        (PairMassChannel, 1.0, 6000),
        (MissingEnergyChannel, lostphotons.PAIR_MASS2_SCALE, 20000),
        (EdgeLeptonPhotonChannel, lostphotons.PAIR_MASS2_SCALE, 6000),
    ],
)
def test_the_channels_of_a_map_cover_their_share(monkeypatch, channel_class, pair_mass2_scale, neval):
    """With |M|^2 = 1, the channels of one map alone integrate to what flat sampling (massive RAMBO)
    gives for their share: the pair-mass channels' h a1 a2 of the events with both photons near beams
    (the m_ee^2 map, the photon energy from the pair mass and the pair's decay carry the right
    Jacobians; with mu^2 = 1 GeV^2 their share of the phase space is large enough to be measured to
    1.5% by flat sampling), the missing-energy channels' (1 - h) a1 a2 r of those with the photons near
    opposite beams (the map of E*_miss and of its sharing), the edge channels' lepton share of a photon
    beyond the edge next to a lepton inside it (the cone cut by the edge, the lepton's |p| from the
    other's on-shell condition)."""
    monkeypatch.setattr(lostphotons, "PAIR_MASS2_SCALE", pair_mass2_scale)
    process = phase_space_only(LostPhotonsProcess)(SETTINGS)
    process.channels = tuple(c for c in process.channels if isinstance(c, channel_class))
    ours = Generator(process, Vegas(nitn=6, neval=neval, ninc=100, alpha=0.5), 2).train()
    rng = np.random.default_rng(7)
    m = SETTINGS.electron_mass
    values = []
    for _ in range(10):
        p, weight = rambo(200_000, [m, m, 0.0, 0.0], rng, SETTINGS.sqrt_s)
        momenta = {"e_minus": p[:, 0], "e_plus": p[:, 1], "photon_1": p[:, 2], "photon_2": p[:, 3]}
        keep = process.accepted(momenta)
        share = sum(
            c.share(momenta)
            * in_region(SETTINGS, momenta["photon_1"], c.regions[0])
            * in_region(SETTINGS, momenta["photon_2"], c.regions[1])
            for c in process.channels
        )
        values.append(np.where(keep, weight * share, 0.0))
    s = SETTINGS.sqrt_s**2
    flat = np.concatenate(values) * GEV2_TO_PB / (2 * math.sqrt(s * (s - 4 * m * m))) * process.symmetry_factor
    flat_sigma, flat_error = flat.mean(), flat.std() / math.sqrt(len(flat))
    assert abs(ours.sigma - flat_sigma) < 4 * math.hypot(ours.error, flat_error)
    assert flat_error < 0.03 * flat_sigma and ours.error < 0.03 * ours.sigma
