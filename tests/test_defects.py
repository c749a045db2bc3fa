"""Defects found by careful and adversarial use (issue 8), each reproduced: a clear message or the
right behaviour now, never a traceback, a silent wrong result or a file left behind."""

import json
import os
import stat
import zipfile

import numpy as np
import pytest
import uproot
import yaml
from click.testing import CliRunner

from alpfusion import workflow
from alpfusion.atomic import OutputError, OutputLock, write_text
from alpfusion.cli import main
from alpfusion.config import load_config
from alpfusion.parallel import LocalPool
from alpfusion.processors import ProcessingError
from alpfusion.processors.executors import inspect_samples
from alpfusion.processors.results import load_result
from alpfusion.samples.production import prepare, produce, train_channel
from alpfusion.samples.rootio import read_metadata, read_sample, write_sample

from .fakes import FakeStream, signal_like
from .test_workflow import SMALL, small_config

TINY = {"generation": {"events": 2000, "chunk_size": 1000, "vegas": {"nitn": 2, "neval": 2000, "ninc": 20}}}


def cli(tmp_path, *args, config=TINY):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return CliRunner().invoke(main, ["-c", str(path), *map(str, args)])


def assert_message(res, *fragments):
    assert res.exit_code != 0, res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    for fragment in fragments:
        assert fragment in res.output, res.output


def test_the_seed_of_a_mass_does_not_depend_on_the_other_masses(tmp_path):
    assert cli(tmp_path, "generate", "-p", "ee_to_gamma_a", "-m", "1", "-o", tmp_path / "a").exit_code == 0
    res = cli(tmp_path, "generate", "-p", "ee_to_gamma_a", "-m", "0.5,1", "-o", tmp_path / "b")
    assert res.exit_code == 0
    name = "ee_to_gamma_a_ma1.root"
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    again = cli(tmp_path, "generate", "-p", "ee_to_gamma_a", "-m", "0.5,1", "-o", tmp_path / "a")
    assert again.output.count("up to date, kept") == 1  # ma1 kept, ma0.5 made


@pytest.mark.parametrize(
    "args, fragment", [(["-n", "0"], "--events"), (["-n", "-5"], "--events"), (["--seed", "-1"], "--seed")]
)
def test_impossible_generation_requests_are_refused(tmp_path, args, fragment):
    assert_message(cli(tmp_path, "generate", "-m", "1", *args, "-o", tmp_path), fragment)


def test_one_draw_is_a_sample_that_stays_up_to_date(tmp_path):
    args = ["generate", "-p", "ee_to_gamma_a", "-m", "1", "-n", "1", "-o", tmp_path / "s"]
    assert cli(tmp_path, *args).exit_code == 0
    assert "up to date, kept" in cli(tmp_path, *args).output


def test_run_into_an_earlier_runs_folder(tmp_path):
    """Leftover samples are not processed; workspaces of masses no longer in the grid are gone."""
    out = tmp_path / "output"
    workflow.run(small_config(signal={"masses": [1.0, 3.0]}), out)
    assert (out / "limits/workspaces/ma3p000.json").exists()
    result = workflow.run(small_config(signal={"masses": [1.0]}), out)
    assert (out / "samples/ee_to_eea_ma3.root").exists()  # kept on disk, but not processed
    assert set(result.histograms.samples) == {"ee_to_eea_ma1", "ee_to_tautau", "ee_to_eegg"}
    assert sorted(p.name for p in (out / "limits/workspaces").iterdir()) == ["ma1p000.json"]
    assert sorted(p.name for p in (out / "limits/configs").iterdir()) == ["ma1p000.yml"]


def test_a_failing_limits_stage_keeps_the_earlier_limits_whole(tmp_path, monkeypatch):
    out = tmp_path / "output"
    result = workflow.run(small_config(), out)
    before = {p: p.read_bytes() for p in (out / "limits").rglob("*") if p.is_file()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(workflow, "reach_plot", broken)
    with pytest.raises(RuntimeError):
        workflow.set_limits(result.histograms, small_config(statistics={"sb_groups": 3}), out / "limits")
    assert {p: p.read_bytes() for p in (out / "limits").rglob("*") if p.is_file()} == before
    assert not [p for p in out.iterdir() if p.name.startswith(".limits.")]


def test_temporaries_of_killed_runs_are_removed(tmp_path):
    samples = tmp_path / "output" / "samples"
    samples.mkdir(parents=True)
    dead = samples / ".ee_to_tautau.root.tmp-999999999-0123abcd"
    dead.mkdir()
    (dead / "ee_to_tautau.root").write_bytes(b"half a file")
    workflow.run(small_config(), tmp_path / "output")
    assert not dead.exists()


def test_two_runs_into_one_folder_are_refused(tmp_path):
    with OutputLock(tmp_path / "s"):
        res = cli(tmp_path, "generate", "-p", "ee_to_gamma_a", "-m", "1", "-o", tmp_path / "s")
    assert_message(res, "another alpfusion run is writing into this folder")
    assert cli(tmp_path, "generate", "-p", "ee_to_gamma_a", "-m", "1", "-o", tmp_path / "s").exit_code == 0


def fake_signal(path, m_a, weight=2e-5 / 3000, n=3000):
    rng = np.random.default_rng(4)
    write_sample(path, FakeStream(signal_like(n, rng, 3.0), weight, 1000, m_a=m_a))
    return path


def test_two_signal_samples_of_one_mass_are_refused(tmp_path):
    a, b = fake_signal(tmp_path / "a.root", 3.0), fake_signal(tmp_path / "b.root", 3.0)
    with pytest.raises(ProcessingError, match="a second signal sample of m_a = 3 GeV"):
        inspect_samples([a, b], small_config())


def test_a_mass_that_is_not_a_number_is_refused(tmp_path):
    path = fake_signal(tmp_path / "s.root", "3.0")
    with pytest.raises(ProcessingError, match=r"s\.root: metadata 'm_a' must be a number"):
        inspect_samples([path], small_config())


def test_huge_weights_are_refused_before_they_overflow(tmp_path):
    path = fake_signal(tmp_path / "huge.root", 3.0, weight=1e300, n=100)
    res = cli(tmp_path, "process", path, "-o", tmp_path / "h", config={**TINY, "signal": {"masses": [3.0]}})
    assert_message(res, "huge.root: the weights are too large")
    assert not (tmp_path / "h").exists() or not list((tmp_path / "h").iterdir())


def test_outputs_under_a_file_or_in_an_unwritable_folder(tmp_path):
    (tmp_path / "a_file").write_text("x")
    res = cli(tmp_path, "generate", "-p", "ee_to_gamma_a", "-m", "1", "-o", tmp_path / "a_file" / "samples")
    assert_message(res, "a_file")
    with pytest.raises(OutputError, match="a_file"):
        write_text(tmp_path / "a_file" / "x.txt", "text")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(OutputError, match="not writable"):
            write_text(locked / "x.txt", "text")


def test_foreign_and_pickled_histogram_files_are_refused(tmp_path):
    foreign = tmp_path / "foreign" / "histograms.npz"
    foreign.parent.mkdir()
    np.savez(foreign, x=np.zeros(3))
    with pytest.raises(ProcessingError, match="not a readable histogram file"):
        load_result(foreign)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{"meta.json": np.array([{"format": "x"}], dtype=object)})
    with pytest.raises(ProcessingError, match="pickled.npz"):
        load_result(pickled)
    zipped = tmp_path / "zip.npz"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("meta.json.npy", b"garbage")
    with pytest.raises(ProcessingError, match="zip.npz"):
        load_result(zipped)
    res = cli(tmp_path, "cutflow", "-i", foreign)
    assert_message(res, "foreign")


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "output"
        workflow.run(small_config(), out)
        for name in (
            "cuts/cuts.yaml",
            "limits/configs/ma1p000.yml",
            "limits/templates.root",
            "limits/published/patchset.json",
            "limits/limits.csv",
            "histograms/histograms.npz",
            "samples/ee_to_tautau.root",
            "provenance.json",
        ):
            assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name
        assert stat.S_IMODE((out / "limits").stat().st_mode) == 0o755
    finally:
        os.umask(old)


def test_replicas_on_an_empty_or_corrupt_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_message(cli(tmp_path, "replicas", tmp_path / "empty"), "no sample files")
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "x.root").write_bytes(b"not root" * 100)
    assert_message(cli(tmp_path, "replicas", tmp_path / "corrupt"), "x.root")


def test_a_cuts_file_that_is_not_utf8(tmp_path):
    fake_signal(tmp_path / "s.root", 3.0)
    cuts = tmp_path / "cuts.yaml"
    cuts.write_bytes(b"selection:\n  kappa: \xff\xfe\n")
    assert_message(cli(tmp_path, "replicas", tmp_path / "s.root", "--cuts", cuts), "cuts.yaml")


def test_estimators_on_a_truncated_file(tmp_path):
    good = fake_signal(tmp_path / "s.root", 3.0)
    bad = tmp_path / "truncated.root"
    bad.write_bytes(good.read_bytes()[:20_000])
    res = cli(tmp_path, "estimators", "--tau", good, "--signal", bad, "-o", tmp_path / "e.png")
    assert_message(res, "truncated.root")


def test_the_sample_key_is_in_the_metadata(tmp_path):
    (job,) = workflow.plan_samples(small_config(), tmp_path, process="ee_to_gamma_a", masses=[1.0], events=2000)
    produce(job)
    assert read_metadata(job.path)["sample_key"] == job.key
    arrays, _ = read_sample(job.path)
    with uproot.open(job.path) as f:
        assert json.loads(str(f["metadata"]))["seed"] == job.seed
    assert len(arrays["weight"]) > 0


def test_a_stage_result_is_not_a_dict(tmp_path):
    cfg = small_config()
    jobs = workflow.plan_samples(cfg, tmp_path)
    assert [job.label for job in jobs] == ["ee_to_tautau", "ee_to_eegg", "ee_to_eea m_a=1", "ee_to_eea m_a=3"]
    assert SMALL["signal"]["masses"] == [1.0, 3.0]


def test_the_frozen_clock_is_guarded_by_the_uproot_version(monkeypatch, caplog):
    """With an uproot it was not checked against, the clock patch does nothing and says so."""
    import datetime

    import uproot.writing._cascade as cascade

    from alpfusion.samples import reproducible

    reproducible._supported.cache_clear()
    monkeypatch.setattr(uproot, "__version__", "6.0.0")
    try:
        with caplog.at_level("WARNING"), reproducible.deterministic_writing():
            assert cascade.datetime is datetime
        assert "not byte-reproducible" in caplog.text
        monkeypatch.setattr(uproot, "__version__", "5.7.7")
        with reproducible.deterministic_writing():
            assert cascade.datetime is not datetime
        assert cascade.datetime is datetime
    finally:
        reproducible._supported.cache_clear()


def test_a_killed_stage_outside_a_run_leaves_nothing_behind_the_next_write(tmp_path):
    """alpfusion limits (or process, optimise) killed outside a locked run: the next write of the same
    output removes the dead process's temporary; a live process's temporary is left alone."""
    out = tmp_path / "output"
    result = workflow.run(small_config(), out)
    dead = tmp_path / ".limits.tmp-999999999-0123abcd"
    dead.mkdir()
    alive = tmp_path / f".limits.tmp-{os.getppid()}-0123abcd"
    alive.mkdir()
    workflow.set_limits(result.histograms, small_config(), tmp_path / "limits")
    assert not dead.exists() and alive.exists() and (tmp_path / "limits" / "limits.csv").is_file()


def test_an_interrupted_production_draws_each_missing_chunk_once(tmp_path, monkeypatch):
    """Chunks are kept as they are drawn: after a failure at the third chunk the rerun draws only
    the chunks not kept, and the file is the one an uninterrupted production writes."""
    cfg = small_config()
    (clean,) = workflow.plan_samples(cfg, tmp_path / "clean", process="ee_to_gamma_a", masses=[1.0], events=6000)
    workflow.produce_samples([clean])
    (job,) = workflow.plan_samples(cfg, tmp_path / "resumed", process="ee_to_gamma_a", masses=[1.0], events=6000)
    drawn = []
    real = workflow.draw_chunk

    def failing(task):
        if task[1] == 2:
            raise RuntimeError("killed")
        drawn.append(task[1])
        return real(task)

    monkeypatch.setattr(workflow, "draw_chunk", failing)
    with pytest.raises(RuntimeError, match="killed"):
        workflow.produce_samples([job])
    assert drawn == [0, 1] and not os.path.exists(job.path)

    def counting(task):
        drawn.append(task[1])
        return real(task)

    monkeypatch.setattr(workflow, "draw_chunk", counting)
    workflow.produce_samples([job])
    assert drawn == [0, 1, 2, 3]  # 2 and 3 once more, 0 and 1 not again
    (resumed, resumed_meta), (uninterrupted, clean_meta) = read_sample(job.path), read_sample(clean.path)
    assert all(np.array_equal(resumed[name], uninterrupted[name]) for name in uninterrupted)
    assert resumed_meta == clean_meta
    assert not list(tmp_path.rglob(".*.chunks-*"))


def test_the_chunks_of_one_sample_drawn_on_two_workers_give_the_same_sample(tmp_path):
    """One sample's chunks are tasks of their own: on two worker processes they give the file that
    one process writes."""
    cfg = small_config()
    samples = {}
    for workers in (1, 2):
        (job,) = workflow.plan_samples(cfg, tmp_path / str(workers), process="ee_to_gamma_a", masses=[1.0], events=6000)
        workflow.produce_samples([job], LocalPool(workers))
        samples[workers] = read_sample(job.path)
    (one, one_meta), (two, two_meta) = samples[1], samples[2]
    assert all(np.array_equal(one[name], two[name]) for name in one) and one_meta == two_meta


def test_the_channels_of_one_sample_trained_on_two_workers_give_the_same_sample(tmp_path):
    """The vegas maps of a sample are trained one task per channel: the biased QED sample (50
    channels, each with a biased and a defensive map) trained on two worker processes is the file
    that one process training every channel in turn (``production.produce``) writes."""
    cfg = load_config().replace(
        backgrounds={"qed2": {"events": 4000, "vegas": {"nitn": 2, "neval": 1000, "ninc": 50}}},
        generation={"chunk_size": 2000},
    )
    samples = []
    for folder, make in (("pool", lambda job: workflow.produce_samples([job], LocalPool(2))), ("one", produce)):
        (job,) = workflow.plan_samples(cfg, tmp_path / folder, process="ee_to_eegg")
        make(job)
        samples.append(read_sample(job.path))
    (pooled, pooled_meta), (one, one_meta) = samples
    assert len(one_meta["channels"]) == 50 and len(one["weight"]) > 0
    assert all(np.array_equal(one[name], pooled[name]) for name in one) and one_meta == pooled_meta
    trained = [train_channel((job, i)) for i in (1, 0)]
    with pytest.raises(ValueError, match="are not those of ee_to_eegg"):
        prepare(job, trained)
