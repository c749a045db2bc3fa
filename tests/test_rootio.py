"""Tests of the ROOT sample writer and reader (alpfusion.samples.rootio)."""

from __future__ import annotations

import datetime
import filecmp
import json
import shutil

import numpy as np
import pytest
import uproot

from alpfusion.samples.rootio import (
    REQUIRED_BRANCHES,
    SampleError,
    branch_names,
    iterate_sample,
    open_sample,
    read_metadata,
    read_sample,
    write_sample,
)

PARTICLES = ("e_minus", "e_plus", "invisible")


class FakeStream:
    """Event stream with seeded random momenta and positive weights.

    ``fail_after`` makes ``chunks()`` raise after that many chunks;
    ``bad_weight`` = (chunk, row, value) plants a bad weight.
    """

    def __init__(self, chunk_sizes=(7, 5, 9), seed=1, fail_after=None, bad_weight=None):
        self.particles = PARTICLES
        self.chunk_sizes = chunk_sizes
        self.seed = seed
        self.fail_after = fail_after
        self.bad_weight = bad_weight
        self.done = False

    def chunks(self):
        rng = np.random.default_rng(self.seed)
        start = 0
        for k, n in enumerate(self.chunk_sizes):
            if k == self.fail_after:
                raise RuntimeError("generator exploded")
            chunk = {name: rng.normal(0.0, 3.0, n) for name in branch_names(PARTICLES)}
            chunk["weight"] = rng.uniform(0.1, 1.0, n)
            chunk["event"] = np.arange(start, start + n, dtype=np.uint64)
            if self.bad_weight is not None and self.bad_weight[0] == k:
                chunk["weight"][self.bad_weight[1]] = self.bad_weight[2]
            start += n
            yield chunk
        self.done = True

    def metadata(self):
        assert self.done, "metadata() called before chunks() was exhausted"
        return {
            "process": "ee_to_eea",
            "m_a": 0.5,
            "g_ref": 1e-3,
            "sqrt_s": 10.58,
            "cuts": {"theta_min": 0.3},
            "sigma_pb": 1.25,
            "sigma_err_pb": 0.01,
            "n_events": -1,
            "seed": self.seed,
            "alpfusion_version": "test",
            "config_hash": "abc123",
            "particles": list(PARTICLES),
            "extra": np.float64(2.5),
        }

    def all_arrays(self):
        """The concatenated chunks (test-side only)."""
        chunks = list(FakeStream(self.chunk_sizes, self.seed).chunks())
        return {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}


@pytest.fixture
def sample(tmp_path):
    path = tmp_path / "sample.root"
    write_sample(path, FakeStream())
    return path


def test_branch_names():
    assert branch_names(("photon",)) == ("photon_E", "photon_px", "photon_py", "photon_pz", "weight", "event")
    assert REQUIRED_BRANCHES == ("weight", "event")


def test_round_trip(tmp_path):
    path = tmp_path / "sample.root"
    progress = []
    meta = write_sample(path, FakeStream(), progress=progress.append)
    assert progress == [7, 5, 9]
    assert meta["n_events"] == 21
    assert meta["sigma_pb"] == 1.25 and meta["extra"] == 2.5
    assert meta["cuts"] == {"theta_min": 0.3}
    arrays, meta_read = read_sample(path)
    assert meta_read == meta == read_metadata(path)
    expected = FakeStream().all_arrays()
    assert set(arrays) == set(branch_names(PARTICLES))
    for name, values in expected.items():
        assert arrays[name].dtype == values.dtype
        np.testing.assert_array_equal(arrays[name], values)

    chunks = list(iterate_sample(path, step_size=8))
    assert [len(c["weight"]) for c in chunks] == [8, 8, 5]
    np.testing.assert_array_equal(np.concatenate([c["e_plus_pz"] for c in chunks]), expected["e_plus_pz"])
    with open_sample(path) as sample:
        assert sample.particles == PARTICLES and sample.n_events == 21

    # independent check with plain uproot
    with uproot.open(path) as f:
        assert f["events"].num_entries == 21
        assert json.loads(str(f["metadata"]))["process"] == "ee_to_eea"
        np.testing.assert_array_equal(f["events"]["weight"].array(library="np"), expected["weight"])


def test_empty_stream(tmp_path):
    path = tmp_path / "empty.root"
    assert write_sample(path, FakeStream(chunk_sizes=()))["n_events"] == 0
    arrays, meta = read_sample(path)
    assert meta["n_events"] == 0 and all(len(a) == 0 for a in arrays.values())


def test_bit_identical(tmp_path, monkeypatch):
    paths = [tmp_path / d / "sample.root" for d in ("a", "b")]
    for path in paths:
        path.parent.mkdir()
        write_sample(path, FakeStream())
    assert filecmp.cmp(*paths, shallow=False)
    with uproot.open(paths[0]) as f:
        uuid_a = f.file.uuid
        assert f.file.root_directory.created_on == datetime.datetime(2000, 1, 1)
        assert f.key("events").created_on == datetime.datetime(2000, 1, 1)
    # another sample gets another UUID; SOURCE_DATE_EPOCH changes the timestamps only
    other = tmp_path / "c" / "sample.root"
    other.parent.mkdir()
    write_sample(other, FakeStream(seed=2))
    with uproot.open(other) as f:
        assert f.file.uuid != uuid_a
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    write_sample(other, FakeStream())
    assert not filecmp.cmp(paths[0], other, shallow=False)
    with uproot.open(other) as f:
        assert f.file.uuid == uuid_a
        assert f.key("metadata").created_on == datetime.datetime(2023, 11, 14, 22, 13, 20)
    # the clock is restored afterwards
    assert uproot.writing._cascade.datetime.datetime.now().year >= 2024


def test_atomic_failure_leaves_nothing(tmp_path):
    path = tmp_path / "sample.root"
    with pytest.raises(RuntimeError, match="exploded"):
        write_sample(path, FakeStream(fail_after=2))
    assert list(tmp_path.iterdir()) == []


def test_atomic_failure_keeps_existing(tmp_path, sample):
    before = sample.read_bytes()
    with pytest.raises(RuntimeError, match="exploded"):
        write_sample(sample, FakeStream(seed=5, fail_after=1))
    assert sample.read_bytes() == before
    assert list(tmp_path.iterdir()) == [sample]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (np.nan, "1 events have NaN weights"),
        (-0.5, "1 events have negative weights"),
        (np.inf, "1 events have infinite weights"),
    ],
)
def test_writer_rejects_bad_weights(tmp_path, value, problem):
    path = tmp_path / "bad.root"
    with pytest.raises(SampleError, match="bad.root") as err:
        write_sample(path, FakeStream(bad_weight=(1, 3, value)))
    assert problem in str(err.value) and "event 10" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_bad_chunks(tmp_path):
    class Broken(FakeStream):
        def chunks(self):
            for chunk in super().chunks():
                del chunk["event"]
                yield chunk

    with pytest.raises(SampleError, match=r"out\.root: stream chunk has wrong branches \(missing \['event'\]"):
        write_sample(tmp_path / "out.root", Broken())
    assert list(tmp_path.iterdir()) == []


def _write_raw(path, branches, metadata):
    """Write a TTree and metadata (dict: as JSON, str: as is, None: none) with uproot directly.

    (Note: ``f["events"] = branches`` would write an RNTuple in uproot 5.7.)
    """
    with uproot.recreate(path) as f:
        f.mktree("events", {name: values.dtype for name, values in branches.items()}).extend(branches)
        if metadata is not None:
            f["metadata"] = metadata if isinstance(metadata, str) else json.dumps(metadata)


def _raw_sample(n=4, drop=(), nan_weights=0, n_events=None):
    rng = np.random.default_rng(0)
    branches = {name: rng.uniform(0.1, 1.0, n) for name in branch_names(PARTICLES) if name not in drop}
    if "event" in branches:
        branches["event"] = np.arange(n, dtype=np.uint64)
    if "weight" in branches:
        branches["weight"][:nan_weights] = np.nan
    metadata = {"particles": list(PARTICLES), "n_events": n if n_events is None else n_events}
    return branches, metadata


def test_reader_missing_file(tmp_path):
    with pytest.raises(SampleError, match=r"nothere\.root: no such file"):
        read_sample(tmp_path / "nothere.root")


def test_reader_truncated(tmp_path, sample):
    cut = tmp_path / "cut.root"
    data = sample.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SampleError, match=r"cut\.root: not a ROOT file or truncated"):
        read_sample(cut)


def test_reader_truncated_tail(tmp_path, sample):
    """Cutting only the last bytes (inside the keys list) is detected too."""
    cut = tmp_path / "tail.root"
    data = sample.read_bytes()
    cut.write_bytes(data[:-10])
    with pytest.raises(SampleError, match=r"tail\.root: not a ROOT file or truncated"):
        read_sample(cut)


def test_reader_corrupt_basket(tmp_path, sample):
    """A garbled basket header surfaces as SampleError on reading."""
    bad = tmp_path / "corrupt.root"
    shutil.copy(sample, bad)
    with uproot.open(sample) as f:
        seek = int(f["events"]["e_minus_E"].member("fBasketSeek")[0])
    with open(bad, "r+b") as fh:
        fh.seek(seek)  # fNbytes of the first basket's key
        fh.write(b"\xff" * 8)
    with open_sample(bad) as s, pytest.raises(SampleError, match=r"corrupt\.root: cannot read the events"):
        s.arrays()


def test_reader_not_root(tmp_path):
    text = tmp_path / "notes.root"
    text.write_text("this is not a ROOT file\n" * 20)
    with pytest.raises(SampleError, match=r"notes\.root: not a ROOT file or truncated \(.+\)"):
        read_sample(text)


def test_reader_missing_branch(tmp_path):
    path = tmp_path / "noweight.root"
    _write_raw(path, *_raw_sample(drop=("weight",)))
    with pytest.raises(SampleError, match=r"noweight\.root: missing branch 'weight'"):
        read_sample(path)


def test_reader_missing_particle_branch(tmp_path):
    path = tmp_path / "nopz.root"
    _write_raw(path, *_raw_sample(drop=("invisible_pz",)))
    with pytest.raises(SampleError, match=r"nopz\.root: missing branch 'invisible_pz'"):
        read_metadata(path)


def test_reader_nan_weights(tmp_path):
    path = tmp_path / "nan.root"
    _write_raw(path, *_raw_sample(nan_weights=3))
    with pytest.raises(SampleError, match=r"nan\.root: 3 events have NaN weights"):
        read_sample(path)


def test_reader_negative_weights(tmp_path):
    path = tmp_path / "neg.root"
    branches, metadata = _raw_sample()
    branches["weight"][[1, 3]] = -1.0
    _write_raw(path, branches, metadata)
    with pytest.raises(SampleError, match=r"neg\.root: 2 events have negative weights \(first: event 1\)"):
        list(iterate_sample(path, 2))


def test_reader_entry_count_mismatch(tmp_path):
    path = tmp_path / "short.root"
    _write_raw(path, *_raw_sample(n_events=10))
    with pytest.raises(
        SampleError, match=r"short\.root: the events tree has 4 entries but the metadata says n_events=10"
    ):
        read_sample(path)


def test_reader_missing_tree_and_metadata(tmp_path):
    no_tree = tmp_path / "notree.root"
    with uproot.recreate(no_tree) as f:
        f["metadata"] = json.dumps({"particles": [], "n_events": 0})
    with pytest.raises(SampleError, match=r"notree\.root: no 'events' tree"):
        read_sample(no_tree)

    no_meta = tmp_path / "nometa.root"
    _write_raw(no_meta, _raw_sample()[0], None)
    with pytest.raises(SampleError, match=r"nometa\.root: no 'metadata' object"):
        read_sample(no_meta)

    bad_json = tmp_path / "badjson.root"
    _write_raw(bad_json, _raw_sample()[0], "{not json")
    with pytest.raises(SampleError, match=r"badjson\.root: metadata is not valid JSON"):
        read_sample(bad_json)


def test_writer_creates_directories_and_reports_unwritable_places(tmp_path):
    write_sample(tmp_path / "new" / "dir" / "sample.root", FakeStream())
    assert (tmp_path / "new" / "dir" / "sample.root").exists()
    (tmp_path / "a_file").write_text("not a directory")
    with pytest.raises(SampleError, match=r"sample\.root: the output folder .*a_file cannot be created"):
        write_sample(tmp_path / "a_file" / "sample.root", FakeStream())


def test_reader_counts_bad_weights_over_whole_file(tmp_path):
    path = tmp_path / "mixed.root"
    branches, metadata = _raw_sample(n=6, nan_weights=2)
    branches["weight"][[3, 5]] = [-2.0, -np.inf]
    _write_raw(path, branches, metadata)
    with pytest.raises(SampleError) as err:
        read_sample(path)
    assert str(err.value).endswith(
        "mixed.root: 2 events have NaN weights (first: event 0); "
        "1 events have infinite weights (first: event 5); "
        "1 events have negative weights (first: event 3)"
    )
