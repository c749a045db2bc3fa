"""Tests of the LHE importer (alpfusion.samples.lhe) on tests/data/ee_to_eea_ma1.lhe."""

from __future__ import annotations

import gzip
import importlib.util
import math
from pathlib import Path

import numpy as np
import pylhe
import pytest

from alpfusion.samples.lhe import lhe_to_root
from alpfusion.samples.rootio import SampleError, read_sample

DATA = Path(__file__).parent / "data"
LHE_FILE = DATA / "ee_to_eea_ma1.lhe"
COMPONENTS = ("E", "px", "py", "pz")


def _load_maker():
    spec = importlib.util.spec_from_file_location("make_test_lhe", DATA / "make_test_lhe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_test_lhe = _load_maker()


def _reference():
    """Init block and final-state particles of the test file, read with plain pylhe."""
    lhef = pylhe.LHEFile.fromfile(LHE_FILE)
    events = [[p for p in event.particles if p.status == 1] for event in lhef.events]
    return lhef.init, events


def _four_momenta(arrays, particles):
    """(n, 4) array of the summed four-momenta of the given particles."""
    return sum(np.column_stack([arrays[f"{p}_{c}"] for c in COMPONENTS]) for p in particles)


def _edit_event(tmp_path, name, index, line, field, value):
    """Copy the test file with one field of one line of event ``index`` replaced.

    Line 0 is the event-info line (field 2 = XWGTUP), lines 1-2 the beams,
    lines 3-5 the e-, e+ and ALP (field 0 = pdg id).
    """
    head, *events = LHE_FILE.read_text().split("<event>\n")
    lines = events[index].split("\n")
    fields = lines[line].split()
    fields[field] = value
    lines[line] = " ".join(fields)
    events[index] = "\n".join(lines)
    path = tmp_path / name
    path.write_text("<event>\n".join([head, *events]))
    return path


def test_shipped_file_is_reproducible(tmp_path):
    """The committed test file is exactly what make_test_lhe.py writes."""
    copy = tmp_path / "copy.lhe"
    make_test_lhe.write_lhe(copy)
    assert copy.read_bytes() == LHE_FILE.read_bytes()
    assert LHE_FILE.stat().st_size < 30_000


def test_convert(tmp_path):
    out = tmp_path / "ee.root"
    progress = []
    meta = lhe_to_root(LHE_FILE, out, progress=progress.append, chunk_size=7)
    assert progress == [7, 7, 6]
    arrays, meta_read = read_sample(out)
    assert meta_read == meta
    init, events = _reference()

    sigma = sum(p.xSection for p in init.procInfo)
    assert meta["sigma_pb"] == sigma
    assert meta["sigma_err_pb"] == pytest.approx(init.procInfo[0].error, rel=1e-15)
    assert math.isclose(arrays["weight"].sum(), sigma, rel_tol=1e-12)
    assert meta["n_events"] == len(events) == 20
    assert meta["particles"] == ["e_minus", "e_plus", "invisible"]
    assert meta["process"] == "lhe:e+ e- > e+ e- ax"
    assert meta["sqrt_s"] == 10.58 and meta["boosted_to_cm"] is False
    assert meta["source"] == "ee_to_eea_ma1.lhe"
    assert meta["g_ref"] is None and meta["seed"] is None and meta["config_hash"] is None
    assert meta["cuts"] == {}
    np.testing.assert_array_equal(arrays["event"], np.arange(20, dtype=np.uint64))

    alp_masses = {p.m for ev in events for p in ev if p.id == 9000005}
    assert alp_masses == {1.0}
    assert meta["m_a"] == pytest.approx(1.0, rel=1e-6)

    names = {11: "e_minus", -11: "e_plus", 9000005: "invisible"}
    for i, particles in enumerate(events):
        for p in particles:
            got = [arrays[f"{names[p.id]}_{c}"][i] for c in COMPONENTS]
            assert got == [p.e, p.px, p.py, p.pz]
    weights = np.array([ev.eventinfo.weight for ev in pylhe.LHEFile.fromfile(LHE_FILE).events])
    np.testing.assert_allclose(arrays["weight"], sigma * weights / weights.sum(), rtol=1e-14)

    total = _four_momenta(arrays, meta["particles"])
    np.testing.assert_allclose(total, np.tile([10.58, 0, 0, 0], (20, 1)), rtol=0, atol=1e-9)


def test_convert_gzip(tmp_path):
    gz = tmp_path / "ee.lhe.gz"
    gz.write_bytes(gzip.compress(LHE_FILE.read_bytes()))
    lhe_to_root(gz, tmp_path / "gz.root")
    lhe_to_root(LHE_FILE, tmp_path / "plain.root")
    gz_arrays, gz_meta = read_sample(tmp_path / "gz.root")
    plain_arrays, plain_meta = read_sample(tmp_path / "plain.root")
    assert gz_meta["source"] == "ee.lhe.gz"
    for name, values in plain_arrays.items():
        np.testing.assert_array_equal(gz_arrays[name], values)


def test_asymmetric_beams_are_boosted(tmp_path):
    """Belle II-like 7 GeV e- on 4 GeV e+: momenta come back in the CM frame."""
    lhe = tmp_path / "asym.lhe"
    cm = make_test_lhe.write_lhe(lhe, beam_energies=(7.0, 4.0))
    meta = lhe_to_root(lhe, tmp_path / "asym.root")
    arrays, _ = read_sample(tmp_path / "asym.root")
    sqrt_s = 2.0 * math.sqrt(28.0)
    assert meta["boosted_to_cm"] is True
    assert meta["sqrt_s"] == pytest.approx(sqrt_s, rel=1e-15)
    assert meta["m_a"] == pytest.approx(1.0, rel=1e-6)
    total = _four_momenta(arrays, meta["particles"])
    np.testing.assert_allclose(total, np.tile([sqrt_s, 0, 0, 0], (20, 1)), rtol=0, atol=1e-9)
    for name, key in (("e_minus", "e_minus"), ("e_plus", "e_plus"), ("invisible", "alp")):
        got = np.column_stack([arrays[f"{name}_{c}"] for c in COMPONENTS])
        np.testing.assert_allclose(got, cm[key], rtol=0, atol=1e-9)


@pytest.mark.parametrize(("value", "problem"), [("-1.0e-03", "negative"), ("nan", "non-finite")])
def test_bad_weight_rejected(tmp_path, value, problem):
    bad = _edit_event(tmp_path, "badweight.lhe", 3, 0, 2, value)
    out = tmp_path / "out.root"
    with pytest.raises(SampleError, match=rf"badweight\.lhe: event 3 has a {problem} weight"):
        lhe_to_root(bad, out)
    assert not out.exists()


def test_inconsistent_content_rejected(tmp_path):
    bad = _edit_event(tmp_path, "mixed.lhe", 5, 4, 0, "22")  # e+ -> photon in event 5
    with pytest.raises(
        SampleError,
        match=r"mixed\.lhe: event 5 has final state \['e_minus', 'photon', 'invisible'\], "
        r"but the events before have \['e_minus', 'e_plus', 'invisible'\]",
    ):
        lhe_to_root(bad, tmp_path / "out.root")
    assert list(tmp_path.iterdir()) == [bad]


def test_two_electrons_rejected(tmp_path):
    bad = _edit_event(tmp_path, "twoe.lhe", 2, 4, 0, "11")  # e+ -> e- in event 2
    with pytest.raises(SampleError, match=r"twoe\.lhe: event 2 has more than one final-state e_minus"):
        lhe_to_root(bad, tmp_path / "out.root")


def test_unsupported_particle_rejected(tmp_path):
    bad = _edit_event(tmp_path, "gluon.lhe", 0, 3, 0, "21")
    with pytest.raises(SampleError, match=r"gluon\.lhe: event 0 has an unsupported final-state particle \(pdg 21\)"):
        lhe_to_root(bad, tmp_path / "out.root")


def test_truncated_and_missing_files_rejected(tmp_path):
    cut = tmp_path / "cut.lhe"
    text = LHE_FILE.read_text()
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(SampleError, match=r"cut\.lhe: cannot read event \d+ \(RuntimeWarning: Parse Error"):
        lhe_to_root(cut, tmp_path / "out.root")
    with pytest.raises(SampleError, match=r"nothere\.lhe: no such file"):
        lhe_to_root(tmp_path / "nothere.lhe", tmp_path / "out.root")
    junk = tmp_path / "junk.lhe"
    junk.write_text("not an LHE file")
    with pytest.raises(SampleError, match=r"junk\.lhe: not a valid LHE file"):
        lhe_to_root(junk, tmp_path / "out.root")
    assert not (tmp_path / "out.root").exists()
