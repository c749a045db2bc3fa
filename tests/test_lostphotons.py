"""The phase space of e+e- -> e+e- gamma gamma with lost photons."""

import math

import numpy as np

from alpfusion.config import Vegas, load_config
from alpfusion.kinematics import pseudorapidity
from alpfusion.samples.generator import Generator
from alpfusion.samples.lostphotons import (
    LeptonPhotonChannel,
    LostPhotonCuts,
    LostPhotonsChannel,
    LostPhotonsProcess,
    LostPhotonsSettings,
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


def test_two_lost_photons_cannot_fake_a_small_missing_mass():
    """Two photons outside the polar acceptance carry p_T <= E*_miss sin(theta_min), so with the missing
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
        mass = np.sqrt(np.maximum(energy**2 - np.sum(missing[:, 1:] ** 2, axis=1), 0.0))
        central = np.abs(pseudorapidity(missing)) < 0.01
        central_events += central.sum()
        assert np.all(mass[central] >= energy[central] * cos_min * (1 - 0.01))
    assert central_events > 50


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
                isinstance(chan, LeptonPhotonChannel)
                and (chan.mapped_region, chan.beam_region)[:: 1 if chan.mapped == 0 else -1] == regions
            )
        ]
        assert len(covering) == (5 if "central" not in regions else 2)
        total = sum(chan.share(momenta) for chan in covering)
        assert np.allclose(total, 1.0, rtol=1e-12) and len(total) > 1000
