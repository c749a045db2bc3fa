"""What a processing run produced, as a typed object, and its two files.

:class:`ProcessingResult` holds the histograms ``{sample: {name: hist.Hist}}`` (names in
:mod:`alpfusion.processors.layouts`) with what is needed to interpret them: each sample's
:class:`SampleInfo`, the mass hypotheses (regions) with their cuts, the luminosity, the
configuration and its hash, and the package versions. ``signal_for(region)`` and ``backgrounds``
say which sample plays which part.

:func:`save_result` writes, each atomically (``alpfusion.atomic``), so that the outputs of an earlier
run are replaced only by complete new ones (histograms.root only when asked for, as by default):

* ``histograms.root``: for cabinetry, ``{region}_{sample}`` = the analysis planes of the region
  (mass hypothesis ``ma1p000`` = 1 GeV; a signal sample has only its own) unrolled into 1D (bin
  ``((k * P + l) * (n + 2) + i) * (n + 2) + j`` holds |eta*_miss| slice k, slice l of the P slices of
  the missing p_T's excess over two lost photons, m_ee bin i, |m_ee^tau| bin j, flow bins of the mass
  axes included, so nothing is lost); ``plane/{region}_{sample}`` the plane summed over the slices as
  a TH2D; ``control/{name}_{sample}`` the control histograms;
  ``cutflow/{region}_{sample}`` the weighted cut flow (bins labelled by cut).
* ``histograms.npz``: the lossless copy, data only (no pickle: loading a file from someone else
  runs none of their code). A numpy ``.npz`` archive read with ``allow_pickle=False``: the member
  ``meta.json`` (UTF-8 JSON) holds the format name and version, the samples, hypotheses,
  luminosity, configuration, hash and versions, and every histogram in the UHI serialisation
  (``hist.serialization.to_uhi``) whose arrays are references ``{"array": k}`` to the member
  ``a{k}``, or, mostly empty, ``{"sparse": k, "shape": [...]}`` to the members ``i{k}`` (flat
  indices of the non-zero entries) and ``a{k}`` (their values).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import hist
import numpy as np
import uproot
from hist.serialization import from_uhi, to_uhi

from ..atomic import atomic_path
from ..samples.reproducible import recreate
from .layouts import CONTROLS, CUTFLOW, HISTOGRAMS, bin_histogram, weight_view
from .processor import ProcessingError, SampleInfo
from .selection import CUTS, MassHypothesis

__all__ = [
    "COPY_NAME",
    "FORMAT",
    "ROOT_NAME",
    "CutflowRow",
    "ProcessingResult",
    "cutflow_rows",
    "format_cutflow",
    "load_result",
    "mean_of_samples",
    "save_result",
]

log = logging.getLogger(__name__)

ROOT_NAME = "histograms.root"
COPY_NAME = "histograms.npz"
FORMAT = {"name": "alpfusion-histograms", "version": 2}


@dataclass(frozen=True)
class ProcessingResult:
    """The histograms of a run with what is needed to interpret them (module docstring)."""

    histograms: dict[str, dict[str, hist.Hist]]
    samples: dict[str, SampleInfo]
    hypotheses: tuple[MassHypothesis, ...]
    luminosity_fb: float
    config: dict[str, Any]
    config_hash: str
    versions: dict[str, str]

    @property
    def regions(self) -> tuple[str, ...]:
        """The region names of the mass hypotheses, in grid order."""
        return tuple(h.region for h in self.hypotheses)

    def hypothesis(self, region: str) -> MassHypothesis:
        """The mass hypothesis of a region."""
        for h in self.hypotheses:
            if h.region == region:
                return h
        raise ProcessingError(f"no mass hypothesis '{region}' in the histograms (have {list(self.regions)})")

    @property
    def backgrounds(self) -> tuple[str, ...]:
        """The background samples, in name order."""
        return tuple(sorted(n for n, info in self.samples.items() if info.kind == "background"))

    def signal_for(self, region: str) -> str | None:
        """The signal sample of a region's mass (None if there is none). Two signal samples of one mass
        are refused when the samples are inspected, so there is at most one."""
        m_a = self.hypothesis(region).m_a
        for name, info in sorted(self.samples.items()):
            if info.kind == "signal" and info.m_a is not None and math.isclose(info.m_a, m_a, abs_tol=1e-9):
                return name
        return None

    def signal_sample(self, region: str) -> str:
        """The signal sample of a region's mass; ProcessingError if there is none."""
        name = self.signal_for(region)
        if name is None:
            raise ProcessingError(f"no signal sample of the mass of region '{region}'")
        return name

    def require(self, names: Sequence[str], purpose: str) -> None:
        """Raise ProcessingError unless every sample has the named histograms: a processing pass may
        fill some only (``process_samples(histograms=...)``; ``alpfusion run``'s first pass fills the
        optimisation's input alone, its second everything else)."""
        for sample, hists in sorted(self.histograms.items()):
            missing = [name for name in names if name not in hists]
            if missing:
                raise ProcessingError(
                    f"{purpose} needs the histograms {missing}, which these histograms of sample '{sample}' "
                    f"do not hold (they hold {sorted(hists)}); 'alpfusion process' fills all"
                )

    def with_signal(self) -> tuple[MassHypothesis, ...]:
        """The mass hypotheses that have a signal sample of their mass."""
        return tuple(h for h in self.hypotheses if self.signal_for(h.region) is not None)


def mean_of_samples(results: Sequence[ProcessingResult], name: str) -> ProcessingResult:
    """The first result with the histograms of sample ``name`` replaced by their mean over K results
    of independently generated samples of it (the others as processed with it, the same everywhere).

    Each sample estimates the expected yields without bias; their mean, every weighted histogram's
    values summed over the K results and divided by K and its variances (sums of y^2) divided by K^2,
    is the histogram of all K samples' events with every yield divided by K: one unbiased estimate from
    K times the events and K independent trainings. Counts of MC events (Int64 storage) add up. The
    sample's info counts all K samples' events and gives their mean cross section."""
    if not results:
        raise ProcessingError("no processing results to average")
    first, k = results[0], len(results)
    for result in results:
        if name not in result.histograms:
            have = sorted(result.histograms)
            raise ProcessingError(f"sample '{name}' is not in every result to average (one has {have})")
        if result.regions != first.regions or sorted(result.histograms[name]) != sorted(first.histograms[name]):
            raise ProcessingError(f"the results to average differ in their mass hypotheses or histograms of '{name}'")
    averaged = {}
    for hist_name, h in first.histograms[name].items():
        out = h.copy()
        view: Any = out.view(flow=True)
        others: list[Any] = [r.histograms[name][hist_name].view(flow=True) for r in results[1:]]
        if isinstance(out.storage_type(), hist.storage.Weight):
            view.value = sum((o.value for o in others), view.value) / k
            view.variance = sum((o.variance for o in others), view.variance) / k**2
        elif isinstance(out.storage_type(), hist.storage.Int64):
            view[...] = sum(others, view)
        else:
            raise ProcessingError(f"histogram '{hist_name}' of '{name}': cannot average {out.storage_type} storage")
        averaged[hist_name] = out
    infos = [r.samples[name] for r in results]
    info = dataclasses.replace(
        infos[0],
        path=", ".join(i.path for i in infos),
        n_events=sum(i.n_events for i in infos),
        sigma_pb=sum(i.sigma_pb for i in infos) / k,
    )
    return dataclasses.replace(
        first, histograms={**first.histograms, name: averaged}, samples={**first.samples, name: info}
    )


# --------------------------------------------------------------------------------------------------
# the lossless copy


def _pack(value: Any, arrays: list[tuple[str, np.ndarray]]) -> Any:
    """The UHI dict with every numpy array replaced by a reference to an archive member."""
    if isinstance(value, dict):
        return {k: _pack(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_pack(v, arrays) for v in value]
    if isinstance(value, np.ndarray):
        k = len(arrays)
        flat = value.ravel()
        nonzero = np.flatnonzero(flat)
        if value.dtype.kind in "fiu" and value.size > 64 and nonzero.size < value.size // 3:
            arrays.append((f"i{k}", nonzero))
            arrays.append((f"a{k}", flat[nonzero]))
            return {"sparse": k, "shape": list(value.shape), "dtype": value.dtype.str}
        arrays.append((f"a{k}", value))
        return {"array": k}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _unpack(value: Any, archive: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"array"}:
            return archive[f"a{value['array']}"]
        if set(value) == {"sparse", "shape", "dtype"}:
            k = value["sparse"]
            out = np.zeros(math.prod(value["shape"]), dtype=np.dtype(value["dtype"]))
            out[archive[f"i{k}"]] = archive[f"a{k}"]
            return out.reshape(value["shape"])
        return {k: _unpack(v, archive) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v, archive) for v in value]
    return value


def _write_copy(result: ProcessingResult, path: Path) -> None:
    arrays: list[tuple[str, np.ndarray]] = []
    histograms = {
        sample: {name: _pack(to_uhi(h), arrays) for name, h in hists.items()}
        for sample, hists in result.histograms.items()
    }
    meta = {
        "format": FORMAT,
        "samples": {name: dataclasses.asdict(info) for name, info in result.samples.items()},
        "hypotheses": [dataclasses.asdict(h) for h in result.hypotheses],
        "luminosity_fb": result.luminosity_fb,
        "config": result.config,
        "config_hash": result.config_hash,
        "versions": result.versions,
        "histograms": histograms,
    }
    with open(path, "xb") as stream:
        members: dict[str, Any] = {
            "meta.json": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            **dict(arrays),
        }
        np.savez(stream, **members)


def _read_copy(path: Path) -> ProcessingResult:
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(bytes(archive["meta.json"]).decode())
            if not isinstance(meta, dict) or meta.get("format", {}).get("name") != FORMAT["name"]:
                raise ProcessingError(
                    f"{path}: not a histogram file of alpfusion process (no '{FORMAT['name']}' format in it)"
                )
            if meta["format"].get("version") != FORMAT["version"]:
                raise ProcessingError(
                    f"{path}: histogram format version {meta['format'].get('version')} is not "
                    f"{FORMAT['version']}: rerun 'alpfusion process'"
                )
            histograms = {
                sample: {name: from_uhi(_unpack(h, archive)) for name, h in hists.items()}
                for sample, hists in meta["histograms"].items()
            }
            return ProcessingResult(
                histograms=histograms,
                samples={
                    name: SampleInfo(**{**info, "particles": tuple(info["particles"])})
                    for name, info in meta["samples"].items()
                },
                hypotheses=tuple(MassHypothesis(**h) for h in meta["hypotheses"]),
                luminosity_fb=float(meta["luminosity_fb"]),
                config=meta["config"],
                config_hash=str(meta["config_hash"]),
                versions=dict(meta["versions"]),
            )
    except ProcessingError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as err:
        raise ProcessingError(
            f"{path}: not a readable histogram file of alpfusion process "
            f"({type(err).__name__}: {' '.join(str(err).split())})"
        ) from err


# --------------------------------------------------------------------------------------------------
# the ROOT file for cabinetry


def _unrolled(planes: hist.Hist) -> hist.Hist:
    """A Weight histogram (flow bins included) as a 1D one of unit bins, in C order."""
    view = weight_view(planes, flow=True)
    return bin_histogram(
        view.value.ravel(),
        view.variance.ravel(),
        "(|eta*_miss| slice, p_T,miss excess slice, m_ee, |m_ee^tau|) bin, flow bins included",
    )


def _root_objects(result: ProcessingResult) -> Iterator[tuple[str, Any]]:
    """(name, hist) pairs written to histograms.root (names in the module docstring)."""
    for sample, hists in result.histograms.items():
        for region in hists["analysis"].axes["region"]:
            planes = cast(hist.Hist, hists["analysis"][{"region": region}])
            yield f"{region}_{sample}", _unrolled(planes)
            yield f"plane/{region}_{sample}", planes.project("m_ee", "m_ee_tau")
        for k, region in enumerate(result.regions):
            yield f"cutflow/{region}_{sample}", hists["cutflow"][k, :]
        for name in CONTROLS:
            yield f"control/{name}_{sample}", hists[name]


def save_result(result: ProcessingResult, out_dir: str | os.PathLike, *, root: bool = True) -> list[Path]:
    """Write histograms.npz and, with ``root``, histograms.root into ``out_dir``, each atomically and
    both or neither (without ``root``, a histograms.root of an earlier run there is removed: never a
    mix of two runs); the paths written."""
    if root:
        result.require(HISTOGRAMS, ROOT_NAME)
    out_dir = Path(out_dir)
    copy_path, root_path = out_dir / COPY_NAME, out_dir / ROOT_NAME
    with contextlib.ExitStack() as files:
        _write_copy(result, files.enter_context(atomic_path(copy_path)))
        if root:
            tmp_root = files.enter_context(atomic_path(root_path))
            with recreate(tmp_root, f"{ROOT_NAME} {result.config_hash}", compression=uproot.ZSTD(1)) as rootfile:
                for name, obj in _root_objects(result):
                    rootfile[name] = obj
    if not root:
        root_path.unlink(missing_ok=True)
    return [root_path, copy_path] if root else [copy_path]


def load_result(path: str | os.PathLike) -> ProcessingResult:
    """Read the lossless copy written by :func:`save_result` (histograms.npz or its folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / COPY_NAME
    if not path.is_file():
        raise ProcessingError(f"{path}: no such file (run 'alpfusion process' first)")
    return _read_copy(path)


# --------------------------------------------------------------------------------------------------
# cut flows


@dataclass(frozen=True)
class CutflowRow:
    """One stage of a sample's cut flow for one mass hypothesis: expected events, their MC error
    (sqrt of the sum of y^2) and the raw MC events."""

    sample: str
    kind: str
    region: str
    m_a: float
    cut: str
    expected: float
    error: float
    raw: int


def cutflow_rows(
    result: ProcessingResult, samples: Sequence[str] = (), masses: Sequence[float] = ()
) -> list[CutflowRow]:
    """The cut flow for the chosen samples and masses (all when empty)."""
    unknown = sorted(set(samples) - set(result.histograms))
    if unknown:
        raise ProcessingError(f"no sample {unknown} in the histograms (have {sorted(result.histograms)})")
    result.require(CUTFLOW, "the cut flow")
    chosen = [
        (k, h) for k, h in enumerate(result.hypotheses) if not masses or any(math.isclose(h.m_a, m) for m in masses)
    ]
    if masses and not chosen:
        raise ProcessingError(
            f"no mass hypothesis {list(masses)} in the histograms (have {[h.m_a for h in result.hypotheses]})"
        )
    rows = []
    for sample in samples or sorted(result.histograms):
        hists = result.histograms[sample]
        for k, h in chosen:
            view = weight_view(hists["cutflow"])
            values, variances = view.value[k], view.variance[k]
            raw = np.asarray(hists["cutflow_raw"].values())[k]
            for j, cut in enumerate(CUTS):
                rows.append(
                    CutflowRow(
                        sample,
                        result.samples[sample].kind,
                        h.region,
                        h.m_a,
                        cut,
                        float(values[j]),
                        float(np.sqrt(variances[j])),
                        int(raw[j]),
                    )
                )
    return rows


def format_cutflow(rows: Sequence[CutflowRow], luminosity_fb: float) -> str:
    """The cut-flow rows as a text table, one block per sample and mass hypothesis."""
    lines = [
        f"# expected events for {luminosity_fb:g} fb^-1 (error: MC statistics, sqrt of the sum of y^2); raw: MC events"
    ]
    previous = None
    for row in rows:
        if (row.sample, row.region) != previous:
            previous = (row.sample, row.region)
            lines += [
                "",
                f"{row.sample} ({row.kind}), {row.region} (m_a = {row.m_a:g} GeV)",
                f"  {'cut':<14}{'yield':>14}{'error':>12}{'raw':>12}",
            ]
        lines.append(f"  {row.cut:<14}{row.expected:>14.6g}{row.error:>12.3g}{row.raw:>12d}")
    return "\n".join(lines) + "\n"
