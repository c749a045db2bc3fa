"""The coffea processor end to end: executors, chunking, cut flow, outputs, bad inputs."""

import json
import math

import hist
import numpy as np
import pytest
import uproot
from click.testing import CliRunner

from alpfusion.cli import main
from alpfusion.config import ConfigError, Vegas, load_config
from alpfusion.models.workspace import mass_point_models
from alpfusion.observables import compute_observables, four_momenta
from alpfusion.processors.detector import measure, pt_excess_resolution, pt_excess_significance
from alpfusion.processors.events import measured_events
from alpfusion.processors.executors import inspect_samples, process_samples
from alpfusion.processors.kernels import BinSums, log_position
from alpfusion.processors.layouts import HISTOGRAMS, OPTIMISATION, mass_edges
from alpfusion.processors.optimise import optimise_all
from alpfusion.processors.processor import AlpProcessor, ProcessingError
from alpfusion.processors.results import (
    COPY_NAME,
    ROOT_NAME,
    cutflow_rows,
    load_result,
    save_result,
)
from alpfusion.processors.selection import (
    CUTS,
    e_miss_max,
    missing_mass2_resolution,
    region_name,
)
from alpfusion.samples.generator import Generator
from alpfusion.samples.processes import SignalProcess, SignalSettings
from alpfusion.samples.rootio import read_sample, write_sample

from .fakes import FakeStream, signal_like, tau_pairs

MASSES = [0.5, 1.0, 3.0]
SETTINGS = {
    "detector": {"smearings": 1},  # one smearing per event, as the physics functions compute; copies below
    "signal": {"masses": MASSES},
    "histograms": {"mass_min": 0.05},
    "selection": {"per_mass": [{"m_a": 3.0, "kappa": 1.5, "eta_high": 2.0}]},
}


@pytest.fixture(scope="module")
def small_cfg():
    return load_config().replace(**SETTINGS)


@pytest.fixture(scope="module")
def samples(tmp_path_factory, small_cfg):
    """A fake tau-pair sample with MC truth, a signal-like sample, and a generated e+e- -> e+e- a sample."""
    tmp = tmp_path_factory.mktemp("samples")
    rng = np.random.default_rng(11)
    taus = tau_pairs(24_000, rng, m_nunu=0.6)
    write_sample(tmp / "tautau.root", FakeStream(taus, rng.uniform(0.5, 1.5, 24_000) * 900.0 / 24_000, 5000))
    write_sample(tmp / "fake_ma3.root", FakeStream(signal_like(9000, rng, 3.0), 2e-5 / 9000, 4000, m_a=3.0))
    settings = SignalSettings.from_config(small_cfg, "ee_to_eea", 1.0)
    gen = Generator(SignalProcess(settings), Vegas(nitn=3, neval=4000, ninc=50, alpha=0.5), seed=5)
    write_sample(tmp / "ee_to_eea_ma1.root", gen.events(8000, 3000))
    return [tmp / "ee_to_eea_ma1.root", tmp / "fake_ma3.root", tmp / "tautau.root"]


@pytest.fixture(scope="module")
def reference(small_cfg, samples):
    return process_samples(small_cfg, samples, executor="iterative", chunk_size=2999)


def own_regions(result, sample):
    """The cut-flow rows (hypotheses) of the regions that a sample's analysis planes hold."""
    return [result.regions.index(r) for r in result.histograms[sample]["analysis"].axes["region"]]


def assert_identical(a, b, names=HISTOGRAMS + (OPTIMISATION,)):
    assert a.keys() == b.keys()
    for sample in a:
        assert a[sample].keys() == b[sample].keys() == set(names)
        for name, h in a[sample].items():
            assert np.array_equal(h.values(flow=True), b[sample][name].values(flow=True)), (sample, name)
            if h.storage_type is hist.storage.Weight:
                assert np.array_equal(h.variances(flow=True), b[sample][name].variances(flow=True)), (sample, name)


@pytest.mark.parametrize(
    "executor, workers, chunk_size",
    [("iterative", 1, 10_000), ("futures", 1, 6_000), ("futures", 2, 4_000), ("dask", 2, 7_000)],
)
def test_executors_and_chunk_sizes_give_identical_histograms(
    small_cfg, samples, reference, executor, workers, chunk_size
):
    result = process_samples(small_cfg, samples, executor=executor, workers=workers, chunk_size=chunk_size)
    assert_identical(reference.histograms, result.histograms)


def test_cutflow_is_consistent_and_scaled_to_the_luminosity(small_cfg, samples, reference):
    to_yield = small_cfg.beam.luminosity_fb * 1000.0
    assert reference.regions == ("ma0p500", "ma1p000", "ma3p000")
    assert reference.hypotheses[2].kappa == 1.5 and reference.hypotheses[2].eta_high == 2.0
    assert reference.hypotheses[0].kappa == small_cfg.selection.kappa
    for path in samples:
        arrays, meta = read_sample(path)
        hists = reference.histograms[path.stem]
        flow, raw = hists["cutflow"], hists["cutflow_raw"].values()
        assert np.allclose(flow.values()[:, 0], arrays["weight"].sum() * to_yield, rtol=1e-12)
        assert np.allclose(flow.variances()[:, 0], np.sum((arrays["weight"] * to_yield) ** 2), rtol=1e-12)
        assert np.all(raw[:, 0] == meta["n_events"])
        assert np.all(np.diff(raw, axis=1) <= 0) and np.all(np.diff(flow.values(), axis=1) <= 0)
        plane, own = hists["analysis"], own_regions(reference, path.stem)
        # every selected event is in the planes of its slices (flow bins included), exactly; the plane's y^2
        # also has the fine parts (kernels.FINE), of at most half the sample's y^2 quantum each
        slices_and_plane = tuple(range(1, plane.ndim))
        assert np.array_equal(
            plane.values(flow=True).sum(axis=slices_and_plane), flow.values()[own, CUTS.index("eta_miss")]
        )
        fine = np.abs(plane.variances(flow=True).sum(axis=slices_and_plane) - flow.variances()[own, -1])
        assert np.all(fine <= 0.5 * reference.samples[path.stem].yield2_quantum * raw[own, -1])
        assert np.array_equal(hists["m2_miss"].values(flow=True).sum(), flow.values()[0, 1])
    # a signal sample has the planes of its own mass only, a background those of every mass
    assert list(reference.histograms["ee_to_eea_ma1"]["analysis"].axes["region"]) == ["ma1p000"]
    assert list(reference.histograms["tautau"]["analysis"].axes["region"]) == list(reference.regions)
    signal = reference.histograms["ee_to_eea_ma1"]["cutflow_raw"].values()
    assert signal[1, -1] > 0.8 * signal[1, 1] and signal[2, -1] == 0  # 1 GeV events pass at 1 GeV, not at 3 GeV
    assert reference.samples["ee_to_eea_ma1"].kind == "signal" and reference.samples["tautau"].kind == "background"
    assert reference.signal_for("ma1p000") == "ee_to_eea_ma1" and reference.signal_for("ma0p500") is None
    assert reference.backgrounds == ("tautau",)


def test_processor_agrees_with_the_physics_functions(small_cfg, samples, reference):
    """Recompute one sample with the library functions and the selection of physics.md section 5."""
    path = samples[2]
    arrays, _ = read_sample(path)
    particles = {p: four_momenta(*(arrays[f"{p}_{c}"] for c in ("E", "px", "py", "pz"))) for p in ("e_minus", "e_plus")}
    e_minus, e_plus, ok = measure(particles, arrays["event"], small_cfg.detector, small_cfg.acceptance, path.stem)
    obs = compute_observables(e_minus, e_plus, small_cfg.beam.sqrt_s, small_cfg.observables.cphi_estimator)
    y = arrays["weight"][ok] * small_cfg.beam.luminosity_fb * 1000.0
    events = measured_events(path, small_cfg)  # the same, event by event, for studies
    assert np.array_equal(events.rows, np.flatnonzero(ok)) and np.allclose(events.yields, y, rtol=1e-12)
    hists = reference.histograms[path.stem]
    control = hists["m2_miss"].copy().reset()
    control.fill(obs.m2_miss, weight=y)
    assert np.allclose(control.values(flow=True), hists["m2_miss"].values(flow=True), rtol=1e-9, atol=0)
    edges = mass_edges(small_cfg.histograms)
    for k, m_a in enumerate(MASSES):
        kappa, e_low, eta_high = small_cfg.selection.for_mass(m_a)
        passed = (
            (np.abs(obs.m2_miss - m_a**2) <= kappa * missing_mass2_resolution(m_a))
            & (obs.e_miss >= e_low)
            & (obs.e_miss <= e_miss_max(m_a, small_cfg.beam.sqrt_s))
            & (np.abs(obs.eta_miss) <= eta_high)
        )
        assert hists["cutflow_raw"].values()[k, -1] == passed.sum()
        if k not in own_regions(reference, path.stem):
            continue
        slices = hist.axis.Variable([0.0, *small_cfg.histograms.eta_slices, np.inf], underflow=False, overflow=False)
        pt_edges = [-np.inf, *small_cfg.histograms.pt_excess_sigmas, np.inf]
        excess = hist.axis.Variable(pt_edges, underflow=False, overflow=False)
        plane = hist.Hist(
            slices, excess, hist.axis.Variable(edges), hist.axis.Variable(edges), storage=hist.storage.Weight()
        )
        p_t = np.hypot(e_minus.px + e_plus.px, e_minus.py + e_plus.py)
        share = math.sin(math.radians(small_cfg.acceptance.theta_min_deg))  # p_T / E of a photon at the edge
        pt_max = obs.e_miss * share + (1 - share) * small_cfg.acceptance.energy_min
        sigmas = (p_t - pt_max) / pt_excess_resolution(e_minus, e_plus, small_cfg.detector, share)
        plane.fill(
            np.abs(obs.eta_miss[passed]), sigmas[passed], obs.m_ee[passed], obs.m_ee_tau[passed], weight=y[passed]
        )
        filled = hists["analysis"][{"region": reference.regions[k]}].values(flow=True)
        assert np.allclose(plane.values(flow=True), filled, rtol=1e-9, atol=0)
        assert all(np.any(filled[s, 0] > 0) for s in range(len(slices)))  # every slice holds events


def test_log_bins_have_the_relative_width(small_cfg):
    edges = mass_edges(small_cfg.histograms)
    assert np.allclose(edges[1:] / edges[:-1], 1.02, rtol=1e-14)
    assert edges[0] == 0.05 and edges[-2] < small_cfg.histograms.mass_max <= edges[-1]


@pytest.mark.parametrize("executor, names", [("futures", (OPTIMISATION,)), ("iterative", HISTOGRAMS)])
def test_a_pass_fills_the_histograms_asked_for_and_the_same_ones(small_cfg, samples, reference, executor, names):
    """A pass that fills some histograms only (run's two passes) gives those of the full pass bit for bit,
    and the tools that need another histogram say which."""
    part = process_samples(small_cfg, samples, executor=executor, workers=2, chunk_size=5000, histograms=names)
    assert all(tuple(hists) == names for hists in part.histograms.values())
    assert_identical(part.histograms, {s: {n: h[n] for n in names} for s, h in reference.histograms.items()}, names)
    if names == HISTOGRAMS:
        with pytest.raises(ProcessingError, match=r"^the cut optimisation needs the histograms \['optimisation'\]"):
            optimise_all(part)
    else:
        with pytest.raises(ProcessingError, match=r"^the cut flow needs .* of sample 'ee_to_eea_ma1' do not hold"):
            cutflow_rows(part)


def test_tools_name_the_histograms_a_partial_pass_lacks(tmp_path, small_cfg, samples):
    part = process_samples(small_cfg, samples[2:], executor="iterative", histograms=(OPTIMISATION,))
    with pytest.raises(ProcessingError, match=r"^histograms.root needs the histograms \['analysis', 'emiss_eta'"):
        save_result(part, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ProcessingError, match=r"^the statistical model needs the histograms \['analysis'\]"):
        mass_point_models(part, small_cfg.statistics)
    assert save_result(part, tmp_path / "out", root=False) == [tmp_path / "out" / COPY_NAME]
    assert tuple(load_result(tmp_path / "out").histograms["tautau"]) == (OPTIMISATION,)
    with pytest.raises(ValueError, match=r"histograms to fill: \['plane'\] \(choose from \['analysis'"):
        process_samples(small_cfg, samples[2:], histograms=("analysis", "plane"))


def test_the_lossless_copy_alone_when_no_root_file_is_asked_for(tmp_path, reference):
    save_result(reference, tmp_path / "out")  # an earlier run's files: its ROOT file must not stay beside the new copy
    assert save_result(reference, tmp_path / "out", root=False) == [tmp_path / "out" / COPY_NAME]
    assert [p.name for p in (tmp_path / "out").iterdir()] == [COPY_NAME]
    assert_identical(load_result(tmp_path / "out").histograms, reference.histograms)


def test_outputs_are_cabinetry_ready_and_lossless(tmp_path, reference):
    save_result(reference, tmp_path / "out")
    root_path = tmp_path / "out" / ROOT_NAME
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([COPY_NAME, ROOT_NAME])
    with uproot.open(root_path) as f:
        for sample in reference.histograms:
            plane = reference.histograms[sample]["analysis"]
            for k, region in enumerate(plane.axes["region"]):
                unrolled = f[f"{region}_{sample}"]
                assert np.array_equal(unrolled.values(), plane.values(flow=True)[k].ravel())
                assert np.array_equal(unrolled.variances(), plane.variances(flow=True)[k].ravel())
                summed = f[f"plane/{region}_{sample}"].values(flow=True)
                assert np.allclose(summed, plane.values(flow=True)[k].sum(axis=(0, 1)), rtol=1e-12, atol=0)
            for region in reference.regions:
                assert list(f[f"cutflow/{region}_{sample}"].axis().labels()) == list(CUTS)
            for name in ("emiss_eta", "m2_miss", "mee_minus_mtau"):
                assert f"control/{name}_{sample}" in f
    again = load_result(tmp_path / "out")
    assert_identical(reference.histograms, again.histograms)
    assert again.config_hash == reference.config_hash and region_name(0.1) == "ma0p100"


def write_missing_branch(path, source):
    arrays, meta = read_sample(source)
    arrays.pop("e_plus_pz")
    with uproot.recreate(path) as f:
        f.mktree("events", {k: v.dtype for k, v in arrays.items()})
        f["events"].extend(arrays)
        f["metadata"] = json.dumps(meta)


def write_corrupt_basket(path, source):
    """A zlib-compressed copy of a sample whose first e_minus_px basket is damaged: the file opens and
    its weights read, the damage shows only when the processor reads the momenta."""
    arrays, meta = read_sample(source)
    with uproot.recreate(path, compression=uproot.ZLIB(1)) as f:
        f.mktree("events", {k: v.dtype for k, v in arrays.items()})
        f["events"].extend(arrays)
        f["metadata"] = json.dumps(meta)
    with uproot.open(path) as f:
        seek = int(f["events"]["e_minus_px"].member("fBasketSeek")[0])
    data = bytearray(path.read_bytes())
    data[seek + 100 : seek + 140] = bytes(40)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage, executor",
    [
        ("garbage", "iterative"),
        ("truncated", "iterative"),
        ("missing_branch", "iterative"),
        ("corrupt_basket", "iterative"),
        ("corrupt_basket", "futures"),
    ],
)
def test_bad_input_stops_the_run_names_the_file_and_keeps_earlier_outputs(tmp_path, samples, damage, executor):
    """Also when the damage is found inside a worker process."""
    config = tmp_path / "small.yaml"
    config.write_text(json.dumps(SETTINGS))
    out = tmp_path / "histograms"
    runner = CliRunner()
    good = runner.invoke(main, ["-c", str(config), "process", str(samples[1]), "-o", str(out)])
    assert good.exit_code == 0, good.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / "bad.root"
    if damage == "garbage":
        bad.write_bytes(b"this is not a ROOT file" * 100)
    elif damage == "truncated":
        bad.write_bytes(samples[1].read_bytes()[:50_000])
    elif damage == "missing_branch":
        write_missing_branch(bad, samples[1])
    else:
        write_corrupt_basket(bad, samples[1])
    res = runner.invoke(main, ["-c", str(config), "process", str(samples[1]), str(bad), "-o", str(out), "-e", executor])
    assert res.exit_code != 0 and "Traceback" not in res.output
    message = res.output.strip().splitlines()[-1]
    assert message.startswith(f"Error: {bad}: "), message
    if damage == "missing_branch":
        assert "e_plus_pz" in message
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_truth_estimator_needs_tau_truth(small_cfg, samples):
    truth = small_cfg.replace(observables={"cphi_estimator": "truth"})
    with pytest.raises(ProcessingError, match=f"^{samples[1]}: observables.cphi_estimator 'truth' needs"):
        process_samples(truth, samples[1:])
    result = process_samples(truth, samples[2:], chunk_size=50_000)
    assert result.histograms["tautau"]["cutflow_raw"].values()[0, 1] > 0


@pytest.mark.parametrize("estimator", ["beam_axis", "truth"])
def test_warm_up_runs_a_chunk_of_no_events(small_cfg, samples, estimator):
    """The warm-up (run before the futures executor forks its workers) goes through the whole chain
    with zero events, which fills nothing."""
    cfg = small_cfg.replace(observables={"cphi_estimator": estimator})
    infos = inspect_samples(samples[2:], cfg)
    proc = AlpProcessor(cfg, infos)
    proc.warm_up()
    info = infos["tautau"]
    empty = four_momenta(*(np.zeros(0) for _ in range(4)))
    out = proc._fill(info, {p: empty for p in proc._columns(info)}, np.zeros(0), np.zeros(0, dtype=np.uint64))
    assert out["analysis"].index.size == 0 and out[OPTIMISATION].index.size == 0
    assert all(not out[name].values(flow=True).any() for name in HISTOGRAMS if name != "analysis")


def test_cutflow_command(tmp_path, samples):
    config = tmp_path / "small.yaml"
    config.write_text(json.dumps(SETTINGS))
    out = tmp_path / "histograms"
    runner = CliRunner()
    assert runner.invoke(main, ["-c", str(config), "process", str(samples[0]), "-o", str(out)]).exit_code == 0
    res = runner.invoke(main, ["-c", str(config), "cutflow", "-i", str(out), "-m", "1"])
    assert res.exit_code == 0, res.output
    assert "ee_to_eea_ma1 (signal), ma1p000 (m_a = 1 GeV)" in res.output and "ma3p000" not in res.output
    assert all(cut in res.output for cut in CUTS)
    rows = json.loads(runner.invoke(main, ["-c", str(config), "cutflow", "-i", str(out), "--format", "json"]).output)
    assert len(rows["rows"]) == len(MASSES) * len(CUTS) and rows["luminosity_fb"] == 50000.0
    res = runner.invoke(main, ["-c", str(config), "cutflow", "-i", str(out), "-s", "nothere"])
    assert res.exit_code != 0 and "nothere" in res.output
    assert cutflow_rows(load_result(out / COPY_NAME), masses=[3.0])[0].region == "ma3p000"


@pytest.mark.parametrize(
    "text, key, problem",
    [
        ("selection:\n  per_mass: [{m_a: 1.1}]\n", "selection.per_mass[0].m_a", "not a mass of signal.masses"),
        ("selection:\n  per_mass: [{m_a: 1.0, kapa: 1}]\n", "selection.per_mass[0].kapa", "unknown key"),
        ("selection:\n  per_mass: [{m_a: 1.0}, {m_a: 1.0}]\n", "selection.per_mass", "twice"),
        ("selection:\n  kappa: 0\n", "selection.kappa", "positive"),
        ("detector:\n  acceptance_on: both\n", "detector.acceptance_on", "'truth' or 'smeared'"),
        (
            "observables:\n  cphi_estimator: thrust\n",
            "observables.cphi_estimator",
            "'pair_axis', 'beam_axis', 'truth' or 'tau_like'",
        ),
        ("processing:\n  executor: threads\n", "processing.executor", "'iterative', 'futures' or 'dask'"),
        ("histograms:\n  mass_max: 0.001\n", "histograms.mass_max", "must exceed mass_min"),
        ("histograms:\n  eta_slices: [1.4, 1.0]\n", "histograms.eta_slices", "positive and increasing"),
        ("histograms:\n  eta_slices: [0.0]\n", "histograms.eta_slices", "positive and increasing"),
    ],
)
def test_processing_settings_are_validated(tmp_path, text, key, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"'{key}'" in str(err.value) and problem in str(err.value) and str(path) in str(err.value)


def test_per_mass_overrides_fall_back_to_the_defaults(tmp_path):
    path = tmp_path / "cuts.yaml"
    path.write_text("selection:\n  e_low: 0.5\n  per_mass: [{m_a: 1.0, kappa: 1.5}]\n")
    cfg = load_config(path)
    assert cfg.selection.for_mass(1.0) == (1.5, 0.5, 3.0) and cfg.selection.for_mass(2.0) == (2.0, 0.5, 3.0)


def test_log_bin_lookup_equals_hist():
    edges = mass_edges(load_config().histograms)
    axis = hist.axis.Variable(edges)
    rng = np.random.default_rng(3)
    values = np.concatenate(
        [
            rng.uniform(-1, 12, 100_000),
            np.exp(rng.uniform(-8, 3, 100_000)),
            edges,
            np.nextafter(edges, 0),
            np.nextafter(edges, 100),
            [np.nan, np.inf, -np.inf, 0.0, 1e-320],
        ]
    )
    assert np.array_equal(log_position(edges, values), axis.index(values) + 1)


@pytest.mark.parametrize("sizes", [(500, 40), (40, 500), (300, 300), (0, 50), (50, 0), (0, 0)])
def test_bin_sums_add_like_dense_histograms(sizes):
    """The sum of two sparse BinSums (overlapping, disjoint, empty) is the sparse form of the summed
    dense arrays, whichever is larger."""
    rng = np.random.default_rng(sum(sizes))
    parts = []
    for n in sizes:
        flat = rng.integers(0, 2000, n)
        y = rng.integers(1, 9, n).astype(float)  # integers: exact in any order
        parts.append((flat, y, y * y, y / 4))
    total = BinSums.of(*(np.concatenate(column) for column in zip(*parts)), 2000)
    merged = BinSums.of(*parts[0], 2000) + BinSums.of(*parts[1], 2000)
    assert np.array_equal(merged.index, total.index) and np.all(np.diff(merged.index) > 0)
    assert np.array_equal(merged.sums, total.sums)


def test_optimisation_histogram_holds_the_accepted_events(reference):
    """A signal sample fills only its own mass's region, with every accepted event there within |z| < 5;
    a background fills every region."""
    for name, info in reference.samples.items():
        h = reference.histograms[name][OPTIMISATION]
        regions = list(h.axes["region"])
        if info.kind == "background":
            assert regions == list(reference.regions)
            continue
        own = [h.region for h in reference.hypotheses if abs(h.m_a - info.m_a) < 1e-9]
        assert regions == own
        if own:
            accepted = reference.histograms[name]["cutflow"][{"region": own[0], "cut": "acceptance"}].value
            inside = h[{"region": own[0]}].sum(flow=True).value
            assert 0.8 * accepted < inside <= accepted * (1 + 1e-12)


def assert_same_histograms(a, b, copies):
    """Values and variances of every histogram equal up to the rounding of each copy's yield to the
    sample's quantum, about 2^-52 of its total: at most (copies + 1) quanta per event, the rounding
    errors of N events alike in the worst case (equal weights), and likewise for the squares."""
    for sample in a:
        events = a[sample]["cutflow_raw"].values()[0, 0]
        flow = a[sample]["cutflow"]
        atol = [(copies + 1) * events * 2.0**-52 * t for t in (flow.values()[0, 0], flow.variances()[0, 0])]
        for name, h in a[sample].items():
            other = b[sample][name]
            assert np.allclose(h.values(flow=True), other.values(flow=True), rtol=0, atol=atol[0]), name
            if h.storage_type is hist.storage.Weight:
                assert np.allclose(h.variances(flow=True), other.variances(flow=True), rtol=0, atol=atol[1]), name


def test_copies_without_smearing_are_the_event(small_cfg, samples):
    """With the smearing off, four copies of every event (``detector.smearings: 4``) land where the
    event does: every histogram, values and variances, equals that of one copy. The copies' yields add
    before they are squared; counted as independent events, the variances would be 4 times smaller."""
    off = small_cfg.replace(detector={"smearing": False})
    one = process_samples(off, samples, executor="iterative", chunk_size=2999)
    four = process_samples(off.replace(detector={"smearings": 4}), samples, executor="iterative", chunk_size=2999)
    assert_same_histograms(one.histograms, four.histograms, copies=4)


def test_several_smearings_keep_the_yields_and_spread_the_copies(small_cfg, samples, reference):
    """Each copy is smeared with its own deviates and carries 1/4 of the event's yield: the truth
    yields are unchanged, the selected yields agree with one smearing's within their MC errors, the
    plane still holds every selected yield exactly, and the variance of the missing-mass histogram falls
    from 1 (copies smeared alike) to 1/4 + 3/4 P(two copies share a bin), towards the bound 1/4."""
    four = process_samples(small_cfg.replace(detector={"smearings": 4}), samples, executor="iterative", chunk_size=2999)
    chunks = process_samples(
        small_cfg.replace(detector={"smearings": 4}), samples, executor="futures", workers=2, chunk_size=4000
    )
    assert_identical(four.histograms, chunks.histograms)
    for sample, hists in four.histograms.items():
        ref, flow = reference.histograms[sample], hists["cutflow"]
        assert np.allclose(flow.values()[:, 0], ref["cutflow"].values()[:, 0], rtol=1e-12)
        assert np.array_equal(hists["cutflow_raw"].values()[:, 0], ref["cutflow_raw"].values()[:, 0])
        selected, error = flow.values()[:, -1], np.sqrt(ref["cutflow"].variances()[:, -1])
        assert np.all(np.abs(selected - ref["cutflow"].values()[:, -1]) <= 3 * error + 1e-12 * selected)
        plane, own = hists["analysis"], own_regions(four, sample)
        assert np.array_equal(plane.values(flow=True).sum(axis=(1, 2, 3, 4)), flow.values()[own, -1])
        # an event's copies square together in the cut flow, per bin in the plane: between 1/4 and 1 of it
        # (up to the plane's fine parts of y^2, at most half the y^2 quantum per event and bin)
        plane_variance, flow_variance = plane.variances(flow=True).sum(axis=(1, 2, 3, 4)), flow.variances()[own, -1]
        fine = 0.5 * four.samples[sample].yield2_quantum * 4 * hists["cutflow_raw"].values()[own, -1]
        assert np.all(plane_variance <= flow_variance + fine)
        assert np.all(plane_variance >= 0.25 * flow_variance - fine)
        ratio = hists["m2_miss"].variances(flow=True).sum() / ref["m2_miss"].variances(flow=True).sum()
        assert 0.25 * (1 - 1e-9) <= ratio < 0.9, sample  # 0.51-0.59 here


def test_an_mc_event_far_lighter_than_its_sample_keeps_its_bin_and_variance(tmp_path, small_cfg):
    """Yields are rounded to 2^-52 of the sample's total for exact sums: an event of 10^-25 of the
    total (a strongly biased sample's events where the selection looks) still fills its bins, every
    bin of the missing-mass histogram that an accepted event reaches is non-empty as hist fills it.
    The plane keeps y^2 in a coarse and a fine part (kernels.FINE): events of 10^-9 of the heaviest,
    whose y^2 the coarse part alone rounds to 0, keep their variance there to 1e-4."""
    rng = np.random.default_rng(3)
    taus = tau_pairs(3000, rng, m_nunu=0.6)
    weight = np.where(np.arange(3000) % 2 == 0, 1e-9, 1e-25)
    weight[0] = 1.0
    path = tmp_path / "light.root"
    write_sample(path, FakeStream(taus, weight, 1000))
    result = process_samples(small_cfg, [path], executor="iterative", chunk_size=1000)
    arrays, _ = read_sample(path)
    particles = {p: four_momenta(*(arrays[f"{p}_{c}"] for c in ("E", "px", "py", "pz"))) for p in ("e_minus", "e_plus")}
    e_minus, e_plus, ok = measure(particles, arrays["event"], small_cfg.detector, small_cfg.acceptance, path.stem)
    obs = compute_observables(e_minus, e_plus, small_cfg.beam.sqrt_s, small_cfg.observables.cphi_estimator)
    y = arrays["weight"][ok] * small_cfg.beam.luminosity_pb
    hists = result.histograms[path.stem]
    expected = hists["m2_miss"].copy().reset()
    expected.fill(obs.m2_miss, weight=y)
    assert ok.sum() > 1000
    assert np.array_equal(hists["m2_miss"].values(flow=True) > 0, expected.values(flow=True) > 0)
    selected = [h.passes(obs.m2_miss, obs.e_miss, obs.eta_miss)[2] for h in result.hypotheses]
    k = int(np.argmax([len(s) for s in selected]))
    plane = hist.Hist(*hists["analysis"].axes[1:], storage=hist.storage.Weight())
    chosen = selected[k]
    sigmas = pt_excess_significance(obs, e_minus, e_plus, small_cfg.detector, small_cfg.acceptance)
    plane.fill(np.abs(obs.eta_miss[chosen]), sigmas[chosen], obs.m_ee[chosen], obs.m_ee_tau[chosen], weight=y[chosen])
    reference, variances = plane.variances(flow=True), hists["analysis"].variances(flow=True)[k]
    light = (reference > 1e-20 * y.max() ** 2) & (reference < 1e-12 * y.max() ** 2)  # the 1e-9 events' bins
    assert light.sum() > 20 and np.all(variances[light] > 0)
    assert np.allclose(variances, reference, rtol=1e-4, atol=1e-40 * y.max() ** 2)
