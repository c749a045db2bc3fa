"""Adaptive importance sampling with vegas: cross sections and weighted events.

For each phase-space channel of a process, vegas (Lepage, J. Comput. Phys. 27 (1978) 192;
arXiv:2009.05112) adapts a map x(y) of the unit hypercube to the integrand. Then

* the cross section is vegas's own estimate from iterations with the map frozen (adapt=False),
  with its error;
* events are drawn by plain importance sampling through the frozen map: y uniform, x = x(y),
  and each event carries the weight w = dsigma/dx(x) * J(y) / N_c in pb, N_c the number of
  draws of channel c. The weights' sum is an unbiased estimate of the cross section, and the
  error follows from their spread. Draws outside the acceptance (w = 0) are not written.

With a bias b(x) >= 1 (``alpfusion.samples.bias``) the map adapts to b dsigma/dx instead; the
cross section is estimated and the weights are computed from dsigma/dx itself, so both stay
unbiased whatever the bias. Unbiased is not enough: a separable map adapted to a bias spanning many
orders of magnitude starves the regions where b is small, whose rare draws then carry huge weights,
and a sample of finite size underestimates them with an error that does not show it (the QED
background's biased maps gave a cross section 9% low, 6 of its quoted errors). With a ``defensive``
share f > 0 (Hesterberg, Technometrics 37 (1995) 185), each channel also adapts a map to dsigma alone,
a share f of every channel's draws comes from it and the rest from the biased map, and every event's
weight is dsigma over the mixture's density, f p_plain(x) + (1 - f) p_biased(x) (both maps' densities
at the event, from their grids): still unbiased, and no weight exceeds 1/f times what a
sample without the bias would give it. The cross section is then estimated with the plain map.

One training's luck still decides where a biased map puts its draws: vegas adapts from a finite
number of points, and a peak that its training rarely hit stays starved, its few draws heavy. With
``maps`` = K > 1, each channel adapts K biased maps from independent random streams, the biased
share of the draws is split equally among them, and every weight is dsigma over the density of the
whole mixture (the balance heuristic of multiple importance sampling: Veach & Guibas, SIGGRAPH 1995):
still unbiased, and no weight exceeds K/(1 - f) times what the best of the K maps would give it, so a
region one training missed is covered by another.

Every random number flows from one seed through numpy's SeedSequence: one training stream per
channel (and map), and one stream per (channel, chunk), so a sample is bit-identical for the same seed
and settings on the same kind of CPU (docs/physics-notes.md: on another, vegas's adaptation amplifies
the last bits in which the floating-point kernels differ).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import vegas

from .. import __version__
from ..config import Vegas

TRAINING_STREAM = 0
EVENT_STREAM = 1
PILOT_STREAM = 2


class Process(Protocol):
    """What the generator needs of a process (`processes.SignalProcess`, `taupair.TauPairProcess`)."""

    @property
    def name(self) -> str: ...

    particles: tuple[str, ...]
    channels: tuple  # phase-space channels: dim, name, __call__(y, azimuth) -> (momenta, weight)

    def differential(self, channel: int, momenta: dict[str, np.ndarray], ps_weight: np.ndarray) -> np.ndarray:
        """dsigma/d^dim y in pb for points of one channel."""

    def metadata(self) -> dict:
        """The process's part of a sample's metadata."""


@dataclass
class ChannelResult:
    """One channel after training: its frozen vegas maps, its cross section in pb, and the root mean
    square per draw of the integrand its maps were adapted to (b dsigma/dx / p(x), dsigma itself
    without a bias), from the last adaptive iteration: sqrt(mean^2 + neval sdev^2), averaged over
    the maps.

    The draws come from the ``maps`` in proportion to their ``shares`` (a map adapted to dsigma alone
    first where there is a defensive share, then the biased maps; module docstring)."""

    name: str
    maps: tuple[vegas.AdaptiveMap, ...]
    shares: tuple[float, ...]
    sigma: float
    error: float
    rms: float


@dataclass
class CrossSection:
    """A cross section in pb with its MC error and the per-channel pieces."""

    sigma: float
    error: float
    channels: list[ChannelResult] = field(default_factory=list)

    @property
    def relative_error(self) -> float:
        return self.error / self.sigma if self.sigma > 0 else math.inf


class Generator:
    """Trains vegas on every channel of a process, then gives cross sections and event streams."""

    def __init__(
        self,
        process: Process,
        settings: Vegas,
        seed: int,
        bias: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None,
        defensive: float = 0.0,
        maps: int = 1,
    ):
        if not 0.0 <= defensive < 1.0:
            raise ValueError(f"the defensive share must lie in [0, 1), got {defensive}")
        if maps < 1:
            raise ValueError(f"a channel needs at least one map, got {maps}")
        self.process = process
        self.settings = settings
        self.seed = seed
        self.bias = bias
        self.defensive = defensive if bias is not None else 0.0
        self.n_maps = maps if bias is not None else 1
        self._trained: CrossSection | None = None

    def _rng(self, *stream: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, *stream]))

    def _integrand(self, channel: int, rng: np.random.Generator, *, biased: bool = False):
        """dsigma/dx of a channel for vegas; with ``biased``, times the bias (if there is one)."""
        chan = self.process.channels[channel]
        bias = self.bias if biased else None

        @vegas.lbatchintegrand
        def f(x):
            momenta, ps_weight = chan(np.asarray(x), rng.uniform(0.0, 2.0 * math.pi, len(x)))
            value = self.process.differential(channel, momenta, ps_weight)
            return value if bias is None else value * bias(momenta)

        return f

    def train(self, channels: Sequence[ChannelResult] | None = None) -> CrossSection:
        """Train every channel (:meth:`train_channel`), or take ``channels``, their results made
        elsewhere (one task per channel: ``alpfusion.samples.production``); the cross section is
        the sum of the channels'. Trained once: later calls return the same result."""
        if self._trained is None:
            if channels is None:
                channels = [self.train_channel(i) for i in range(len(self.process.channels))]
            elif [c.name for c in channels] != [c.name for c in self.process.channels]:
                raise ValueError(f"trained channels {[c.name for c in channels]} are not those of {self.process.name}")
            self._trained = CrossSection(
                sigma=sum(r.sigma for r in channels),
                error=math.sqrt(sum(r.error**2 for r in channels)),
                channels=list(channels),
            )
        return self._trained

    def train_channel(self, i: int) -> ChannelResult:
        """Adapt vegas maps to channel i (nitn iterations each: ``maps`` maps to b dsigma with a bias,
        each from its own random stream; with a defensive share, one more to dsigma alone), then
        estimate its sigma.

        The estimate uses nitn/2 (at least 2) further iterations with the map frozen, so that
        it is not biased by the adaptation, and dsigma itself (never the bias), through the plain
        map where there is one (else the first map). The channel's random streams are its own, so
        channels may be trained in any order, in any process.
        """
        vs = self.settings
        chan = self.process.channels[i]
        rng = self._rng(TRAINING_STREAM, i)
        biased, rms = [], []
        for j in range(self.n_maps):
            stream = rng if j == 0 else self._rng(TRAINING_STREAM, i, j)
            integ = self._integrator(chan.dim, stream)
            last = integ(self._integrand(i, stream, biased=True), nitn=vs.nitn, neval=vs.neval).itn_results[-1]
            biased.append(integ)
            rms.append(math.sqrt(float(last.mean) ** 2 + vs.neval * float(last.sdev) ** 2))
        maps = [integ.map for integ in biased]
        shares = [1.0 / self.n_maps] * self.n_maps
        estimator = biased[0]
        if self.defensive > 0:
            estimator = self._integrator(chan.dim, rng)
            estimator(self._integrand(i, rng), nitn=vs.nitn, neval=vs.neval)
            maps.insert(0, estimator.map)
            shares = [self.defensive] + [(1.0 - self.defensive) * share for share in shares]
        res = estimator(self._integrand(i, rng), nitn=max(2, vs.nitn // 2), neval=vs.neval, adapt=False)
        return ChannelResult(
            chan.name, tuple(maps), tuple(shares), float(res.mean), float(res.sdev), float(np.mean(rms))
        )

    def _integrator(self, dim: int, rng: np.random.Generator) -> vegas.Integrator:
        """A vegas integrator of the unit hypercube with a fresh map, drawing from ``rng``."""
        amap = vegas.AdaptiveMap([[0.0, 1.0]] * dim, ninc=self.settings.ninc)
        return vegas.Integrator(amap, alpha=self.settings.alpha, ran_array_generator=rng.random)

    def _sample(self, channel: int, n: int, rng: np.random.Generator):
        """n draws of one channel through its frozen maps: (momenta, dsigma/dx / density(x)).

        With one map the density is 1 / J of that map. With several, the draws are split among them
        by their shares (:func:`_mixture_bounds`, in order) and the density is the mixture's,
        sum_j (n_j / n) / J_j(x), with each map's J at x from its grid (:func:`_jacobian`; module
        docstring)."""
        chan = self.process.channels[channel]
        trained = self.train().channels[channel]
        y = rng.random((n, chan.dim))
        x = np.empty_like(y)
        jac = np.empty(n)
        if len(trained.maps) == 1:
            trained.maps[0].map(y, x, jac)
        else:
            bounds = _mixture_bounds(n, trained.shares)
            for amap, start, stop in zip(trained.maps, bounds[:-1], bounds[1:]):
                amap.map(y[start:stop], x[start:stop], jac[start:stop])  # jac: scratch, each map's J below
            density = np.zeros(n)
            for amap, start, stop in zip(trained.maps, bounds[:-1], bounds[1:]):
                density += (stop - start) / n / _jacobian(amap, x)
            jac = 1.0 / density
        momenta, ps_weight = chan(x, rng.uniform(0.0, 2.0 * math.pi, n))
        return momenta, self.process.differential(channel, momenta, ps_weight) * jac

    def events(
        self, n_events: int, chunk_size: int, *, unweight: bool = False, provenance: dict | None = None
    ) -> EventStream:
        """A stream of `n_events` draws in chunks (see `EventStream`).

        `provenance` (for example the configuration hash) is added to the sample's metadata.
        """
        return EventStream(self, n_events, chunk_size, unweight, provenance or {"config_hash": None})


def _jacobian(amap: vegas.AdaptiveMap, x: np.ndarray) -> np.ndarray:
    """dx/dy of a vegas map at the points x: 1 / its density there.

    Per dimension d the map is linear within each of its ninc_d increments, so dx/dy = ninc_d
    (g_d[i + 1] - g_d[i]) for the increment i that holds x_d; the product over the dimensions.
    (vegas's ``invmap`` reads past the increments of a dimension that has fewer of them than the
    others, where the grid array holds no values: its Jacobian there changes from run to run.)"""
    grid, ninc = np.asarray(amap.grid), np.asarray(amap.ninc)
    jac = np.ones(len(x))
    for d in range(x.shape[1]):
        edges = grid[d, : ninc[d] + 1]
        i = np.clip(np.searchsorted(edges, x[:, d], side="right") - 1, 0, ninc[d] - 1)
        jac *= ninc[d] * (edges[i + 1] - edges[i])
    return jac


def _mixture_bounds(n: int, shares: tuple[float, ...]) -> list[int]:
    """Where each map's draws of n begin and end, in order: round(n (share_0 + ... + share_j))."""
    cumulative = np.cumsum(shares[:-1])
    return [0, *(round(float(c) * n) for c in cumulative), n]


def _split(total: int, fractions: list[float]) -> list[int]:
    """Split an integer in proportion to `fractions` (largest remainder), each channel >= 1."""
    raw = [total * f for f in fractions]
    counts = [max(1, int(r)) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - int(raw[i]), reverse=True)
    for i in order[: max(0, total - sum(counts))]:
        counts[i] += 1
    return counts


class EventStream:
    """Weighted events of a trained generator, chunk by chunk (the `rootio` EventStream protocol).

    The draws are shared among channels in proportion to the root mean square of each channel's
    per-draw values of the integrand its map follows (b dsigma, or dsigma without a bias), W_i^(1/2):
    the variance of the sum, sum_i W_i / n_i - sigma^2, is smallest for n_i proportional to
    W_i^(1/2) (Kleiss & Pittau, Comput. Phys. Commun. 83 (1994) 141), so a channel whose map follows
    its peaks less well gets more draws, and its weights are smaller. With
    `unweight`, an event of per-draw value v is kept with probability min(1, v / v_max) and
    given the value max(v, v_max), unbiased whatever v_max; v_max per channel is the largest
    value in a pilot sample of neval draws.
    """

    def __init__(self, generator: Generator, n_events: int, chunk_size: int, unweight: bool, provenance: dict):
        self.generator = generator
        self.provenance = provenance
        self.n_events = n_events
        self.chunk_size = chunk_size
        self.unweight = unweight
        self.particles = generator.process.particles
        trained = generator.train()
        total = sum(c.rms for c in trained.channels)
        self._fractions = [c.rms / total if total > 0 else 1.0 / len(trained.channels) for c in trained.channels]
        self.draws_per_chunk = tuple(min(chunk_size, n_events - start) for start in range(0, n_events, chunk_size))
        self._per_chunk = [_split(n, self._fractions) for n in self.draws_per_chunk]
        self._draws = [sum(c[i] for c in self._per_chunk) for i in range(len(self._fractions))]
        self._sums = np.zeros((len(self._fractions), 2))
        self._written = 0
        self._vmax = self._pilot_maxima() if unweight else None
        self._source: Callable[[int], tuple[dict[str, np.ndarray], np.ndarray]] | None = None

    def _pilot_maxima(self) -> list[float]:
        gen = self.generator
        return [
            float(np.max(gen._sample(i, gen.settings.neval, gen._rng(PILOT_STREAM, i))[1]))
            for i in range(len(self._fractions))
        ]

    @property
    def n_chunks(self) -> int:
        return len(self._per_chunk)

    def chunk(self, k: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Chunk k alone, from its own random streams: its branches (all but ``event``) and the
        per-channel (sum v, sum v^2) of its draws' values. Chunks may be drawn in any order, in
        any process; :meth:`chunks` numbers the events and adds up the sums."""
        gen = self.generator
        parts = []
        sums = np.zeros((len(self._fractions), 2))
        for i, n in enumerate(self._per_chunk[k]):
            rng = gen._rng(EVENT_STREAM, i, k)
            momenta, value = gen._sample(i, n, rng)
            sums[i] = (value.sum(), (value * value).sum())
            if self._vmax is not None:
                keep = rng.random(n) * self._vmax[i] < value
                value = np.maximum(value, self._vmax[i])
            else:
                keep = value > 0
            parts.append(({p: v[keep] for p, v in momenta.items()}, value[keep] / self._draws[i]))
        chunk = {}
        for p in self.particles:
            p4 = np.concatenate([m[p] for m, _ in parts])
            for j, comp in enumerate(("E", "px", "py", "pz")):
                chunk[f"{p}_{comp}"] = np.ascontiguousarray(p4[:, j])
        chunk["weight"] = np.concatenate([w for _, w in parts])
        return chunk, sums

    def reading(self, source: Callable[[int], tuple[dict[str, np.ndarray], np.ndarray]]) -> EventStream:
        """This stream with its chunks read from ``source(k)`` (what :meth:`chunk` gave, drawn
        earlier and kept: ``alpfusion.samples.production``) instead of drawn."""
        self._source = source
        return self

    def chunks(self) -> Iterator[dict[str, np.ndarray]]:
        """Every chunk in order, with consecutive ``event`` numbers, drawn or read (:meth:`reading`)."""
        for k in range(self.n_chunks):
            chunk, sums = (self._source or self.chunk)(k)
            self._sums += sums
            n_out = len(chunk["weight"])
            yield {**chunk, "event": np.arange(self._written, self._written + n_out, dtype=np.uint64)}
            self._written += n_out

    def cross_section(self) -> CrossSection:
        """The cross section estimated from all draws so far (sum of weights, spread of weights)."""
        sigma, var = 0.0, 0.0
        for (s1, s2), n in zip(self._sums, self._draws):
            mean = s1 / n
            sigma += mean
            var += max(s2 / n - mean * mean, 0.0) / max(n - 1, 1)
        return CrossSection(sigma, math.sqrt(var))

    def metadata(self) -> dict:
        gen = self.generator
        xs = self.cross_section()
        trained = gen.train()
        return {
            **gen.process.metadata(),
            "sigma_pb": xs.sigma,
            "sigma_err_pb": xs.error,
            "sigma_vegas_pb": trained.sigma,
            "sigma_vegas_err_pb": trained.error,
            "n_events": self._written,
            "n_draws": int(sum(self._draws)),
            "unweighted": self.unweight,
            "seed": gen.seed,
            "vegas": {
                "nitn": gen.settings.nitn,
                "neval": gen.settings.neval,
                "ninc": gen.settings.ninc,
                "alpha": gen.settings.alpha,
            },
            "channels": [c.name for c in trained.channels],
            "alpfusion_version": __version__,
            "particles": list(self.particles),
            **self.provenance,
        }
