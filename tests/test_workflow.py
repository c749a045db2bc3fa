"""The chain as a library: alpfusion.workflow from Python, sample reuse, no hidden global state, the
dask path, and the command line giving the same files."""

import hashlib
import json
import logging

import matplotlib
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

import alpfusion.heap
from alpfusion import workflow
from alpfusion.cli import main
from alpfusion.config import load_config
from alpfusion.processors.layouts import HISTOGRAMS, OPTIMISATION
from alpfusion.processors.results import load_result
from alpfusion.samples.production import up_to_date

QED_VEGAS = {"nitn": 2, "neval": 1000, "ninc": 50, "alpha": 0.5}
QED_SMALL = {"events": 20000, "vegas": QED_VEGAS, "bias": {"maps": 1}}
"""The suite's QED sample, in every small chain of the suite: few draws, a short training (its cost, 50
channels of two maps each, dominates a small chain's), one biased map per channel (the mixture of several
is tested on its own: tests/test_bias.py, and tests/test_defects.py with the default three)."""
SMALL = {
    "generation": {"events": 4000, "chunk_size": 1500, "vegas": {"nitn": 3, "neval": 4000, "ninc": 50}},
    "signal": {"masses": [1.0, 3.0]},
    "backgrounds": {"tautau": {"events": 30000}, "qed2": QED_SMALL},
    "statistics": {"empty_bins": "floor", "sb_groups": 4, "toys": 500},
    "processing": {"workers": 1},
}
OUTPUTS = (
    "samples/ee_to_eea_ma1.root",
    "samples/ee_to_eea_ma3.root",
    "samples/ee_to_tautau.root",
    "samples/ee_to_eegg.root",
    "histograms_configured/histograms.npz",
    "cuts/cuts.csv",
    "cuts/cuts.yaml",
    "histograms/histograms.root",
    "histograms/histograms.npz",
    "limits/limits.csv",
    "limits/reach.png",
    "limits/reach.pdf",
    "limits/reach_layers.csv",
    "limits/reach_summary.png",
    "limits/reach_summary.pdf",
    "limits/reach_summary_layers.csv",
    "limits/hepdata/submission.tar.gz",
    "limits/templates.root",
    "limits/configs/ma1p000.yml",
    "limits/workspaces/ma3p000.json",
    "limits/published/BkgOnly.json",
    "limits/published/patchset.json",
    "provenance.json",
)
SAMPLES = [name for name in OUTPUTS if name.startswith("samples/")]
DETERMINISTIC = [
    name for name in OUTPUTS if not name.endswith(("provenance.json", ".png", ".pdf", ".yml", ".npz", ".tar.gz"))
]


def small_config(**sections):
    cfg = load_config().replace(**SMALL)
    return cfg.replace(**sections) if sections else cfg


def digests(folder, names=DETERMINISTIC):
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in names}


@pytest.fixture(scope="module")
def library_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("library") / "output"
    return out, workflow.run(small_config(), out)


def test_run_from_python_makes_every_output(library_run):
    out, result = library_run
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    assert not (out / "histograms_configured" / "histograms.root").exists()  # the optimisation's input: npz only
    # each pass fills what the next step reads: the optimisation's input, then everything else
    assert all(tuple(h) == (OPTIMISATION,) for h in result.configured.histograms.values())
    assert all(tuple(h) == HISTOGRAMS for h in result.histograms.histograms.values())
    assert [row.m_a for row in result.limits.rows] == [1.0, 3.0]
    # a small configuration (30k tau-pair draws, huge MC-floor yields): still a finite CLs band everywhere
    assert not result.limits.failed
    for row in result.limits.rows:
        assert 0 < row.g_cls_minus2 < row.g_cls_minus1 < row.g_cls < row.g_cls_plus1 < row.g_cls_plus2 < np.inf
    assert result.histograms.signal_for("ma3p000") == "ee_to_eea_ma3"
    assert result.histograms.backgrounds == ("ee_to_eegg", "ee_to_tautau")
    # the QED background is a sample of its own in the published likelihoods, with its staterror
    published = json.loads((out / "limits/published/BkgOnly.json").read_text())
    samples = {sample["name"]: sample for channel in published["channels"] for sample in channel["samples"]}
    assert {"ee_to_eegg", "ee_to_tautau"} <= set(samples)
    assert any(m["type"] == "staterror" for m in samples["ee_to_eegg"]["modifiers"])
    assert all(row.e_low >= workflow.lowest_e_low(result.cuts.config) for row in result.cuts.cuts)
    assert set(result.seconds) == {"produce", "process_configured", "optimise", "process", "limits"}
    assert load_result(out / "histograms").config_hash == result.cuts.config.hash
    assert not list(out.rglob(".*.tmp-*")) and not list(out.rglob(".*.old-*"))


def test_run_publishes_a_valid_hepdata_submission_with_usable_likelihoods(library_run, tmp_path):
    import tarfile

    import pyhf

    from alpfusion.hepdata import validate_submission

    out, result = library_run
    folder = out / "limits/hepdata"
    assert validate_submission(folder) == []
    data = yaml.safe_load((folder / "expected_limits_on_g_agg.yaml").read_text())
    quoted, g_lambda = ([v["value"] for v in data["dependent_variables"][k]["values"]] for k in (0, 1))
    assert quoted == pytest.approx([row.g_expected for row in result.limits.rows], rel=1e-4)  # 5 digits
    assert g_lambda == pytest.approx([row.g_lambda for row in result.limits.rows], rel=1e-4)
    with tarfile.open(folder / "likelihoods.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    bkg_only = pyhf.Workspace(json.loads((tmp_path / "BkgOnly.json").read_text()))
    patchset = pyhf.PatchSet(json.loads((tmp_path / "patchset.json").read_text()))
    assert len(patchset.patches) == len(result.limits.rows)
    model = patchset.apply(bkg_only, patchset.patches[0].name).model()
    assert model.config.poi_name == "mu"


def test_command_line_writes_the_same_files(library_run, tmp_path):
    out, _ = library_run
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump(SMALL))
    res = CliRunner().invoke(main, ["-c", str(config), "run", "-o", str(tmp_path / "output")])
    assert res.exit_code == 0, res.output
    # the samples' metadata names the configuration file, the rest is byte for byte the same
    names = [n for n in DETERMINISTIC if not n.startswith("samples/")]
    assert digests(tmp_path / "output", names) == digests(out, names)
    again = CliRunner().invoke(main, ["-c", str(config), "run", "-o", str(tmp_path / "output")])
    assert again.exit_code == 0 and again.output.count("up to date, kept") == len(SAMPLES)


@pytest.mark.parametrize(
    "sections",
    [
        {"processing": {"workers": 2}},
        {"processing": {"executor": "futures"}},
        {"statistics": {"empty_bins": "none", "cls_method": "toys"}},
        {"selection": {"kappa": 1.5, "eta_high": 2.0}},
        {"reach_plot": {"fine_tuning": [0.2], "neff_dm_mass_min": None}},
    ],
)
def test_settings_that_do_not_make_samples_keep_them(library_run, sections):
    out, _ = library_run
    for job in workflow.plan_samples(small_config(**sections), out / "samples"):
        assert up_to_date(job), (sections, job.label)


@pytest.mark.parametrize(
    "sections",
    [
        {"generation": {"seed": 7}},
        {"generation": {"events": 5000}},
        {"generation": {"vegas": {"neval": 5000}}},
        {"signal": {"g_ref": 2e-4}},
    ],
)
def test_settings_that_make_samples_regenerate(library_run, sections):
    out, _ = library_run
    jobs = workflow.plan_samples(small_config(**sections), out / "samples")
    assert not all(up_to_date(job) for job in jobs)


def test_rerun_with_other_workers_and_statistics_keeps_the_sample_files(library_run, tmp_path):
    import shutil

    out = tmp_path / "output"
    shutil.copytree(library_run[0] / "samples", out / "samples")
    stamps = {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in (out / "samples").iterdir()}
    result = workflow.run(small_config(processing={"workers": 2}, statistics={"sb_groups": 3}), out)
    assert len(result.samples.kept) == len(SAMPLES) and not result.samples.produced
    assert {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in (out / "samples").iterdir()} == stamps


def test_library_calls_leave_global_state_alone(tmp_path, monkeypatch):
    """numpy's global random state, matplotlib's backend and rc settings, the cabinetry logger, pyhf's
    backend and glibc's malloc settings (no mallopt call in this process) are as they were (the toys'
    use of the random state: tests/test_limits.py)."""
    calls = []
    monkeypatch.setattr(alpfusion.heap, "_mallopt", lambda: calls.append(1))
    np.random.seed(123)
    state = np.random.get_state()
    backend, rc = matplotlib.get_backend(), dict(matplotlib.rcParams)
    cabinetry_level = logging.getLogger("cabinetry").level
    import pyhf

    pyhf_backend = pyhf.get_backend()
    workflow.run(small_config(), tmp_path / "output")
    after = np.random.get_state()
    assert after[0] == state[0] and np.array_equal(after[1], state[1]) and after[2:] == state[2:]
    assert matplotlib.get_backend() == backend and dict(matplotlib.rcParams) == rc
    assert logging.getLogger("cabinetry").level == cabinetry_level
    assert pyhf.get_backend() == pyhf_backend
    assert calls == []
    import datetime

    import uproot.writing._cascade as cascade

    assert cascade.datetime is datetime  # the frozen clock is only on while a sample is written


def test_dask_cluster_gives_the_same_histograms_and_limits(library_run, tmp_path):
    """Samples, processing and limits as tasks on a LocalCluster, reached through a client given to
    run and through processing.scheduler: the local pool's files and histograms."""
    from distributed import Client, LocalCluster

    out, _ = library_run
    names = [n for n in DETERMINISTIC if not n.endswith("histograms.npz")]
    local = load_result(out / "histograms")
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    ) as cluster:
        with Client(cluster) as client:
            result = workflow.run(small_config(), tmp_path / "client", client=client)
        by_address = workflow.run(
            small_config(processing={"scheduler": cluster.scheduler_address}), tmp_path / "address"
        )
    assert not result.samples.kept and not by_address.samples.kept  # generated on the cluster's workers
    # the files record the configuration's hash, which processing.scheduler changes: compare the others
    unstamped = [n for n in names if not n.startswith("samples/") and not n.endswith((".root", "patchset.json"))]
    for folder, compared in ((tmp_path / "client", names), (tmp_path / "address", unstamped)):
        assert digests(folder, compared) == digests(out, compared)
        distributed = load_result(folder / "histograms")
        for sample, hists in local.histograms.items():
            for name, h in hists.items():
                assert np.array_equal(h.values(flow=True), distributed.histograms[sample][name].values(flow=True))


def test_cross_sections_from_the_library():
    """The inclusive e+e- -> gamma a cross section is alpha g^2 / 24 (1 - m^2/s)^3 (physics.md section 1);
    e+e- -> e+e- a gets one row per diagram component."""
    cfg = small_config()
    tasks = workflow.cross_section_tasks(cfg, ["ee_to_gamma_a", "ee_to_eea"], [1.0], inclusive=True)
    assert [(t.process, t.component) for t in tasks] == [
        ("ee_to_gamma_a", "both"),
        ("ee_to_eea", "both"),
        ("ee_to_eea", "fusion"),
        ("ee_to_eea", "dalitz"),
    ]
    (row,) = workflow.cross_sections(cfg, tasks[:1])
    g, s = cfg.signal.g_ref, cfg.beam.sqrt_s**2
    expected_fb = cfg.beam.alpha_value * g * g / 24 * (1 - 1.0 / s) ** 3 * 0.3893794e9 * 1e3
    assert row.theta_min_deg == "none" and row.sigma_fb == pytest.approx(
        expected_fb, rel=max(5 * row.error_fb / row.sigma_fb, 1e-9)
    )
