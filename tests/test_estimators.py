"""The c_phi estimator study: the diagonal fraction and its figure."""

import numpy as np
import pytest

from alpfusion.config import Vegas
from alpfusion.processors.estimators import diagonal_fraction, study
from alpfusion.samples.generator import Generator
from alpfusion.samples.processes import SignalProcess, SignalSettings
from alpfusion.samples.rootio import write_sample
from alpfusion.samples.taupair import TauPairProcess, TauPairSettings

FAST = Vegas(nitn=3, neval=5000, ninc=50, alpha=0.5)


def test_diagonal_fraction_by_hand():
    m_ee = np.array([1.0, 1.0, 1.0, 2.0])
    m_tau = np.array([1.01, 1.03, 0.5, 2.0])  # on, off (3%), off, on
    y = np.array([1.0, 2.0, 3.0, 4.0])
    f, err = diagonal_fraction(m_ee, m_tau, y, 0.02)
    assert f == pytest.approx(5.0 / 10.0)
    assert err == pytest.approx(np.sqrt((1 + 16) * 0.25 + (4 + 9) * 0.25) / 10)


def test_study_on_small_samples(cfg, tmp_path):
    taus = Generator(TauPairProcess(TauPairSettings.from_config(cfg)), FAST, 1).events(20_000, 20_000)
    write_sample(tmp_path / "tautau.root", taus)
    signal = Generator(SignalProcess(SignalSettings.from_config(cfg, "ee_to_eea", 1.0)), FAST, 2).events(5000, 5000)
    write_sample(tmp_path / "ma1.root", signal)
    results = study({"tau": tmp_path / "tautau.root", "signal": tmp_path / "ma1.root"}, cfg, tmp_path / "est.png")
    by_key = {(r.sample, r.estimator): r for r in results}
    assert np.isnan(by_key[("signal", "truth")].fraction)  # no MC-truth taus in a signal sample
    # the pair axis gives c_phi = 1 for every event: few tau pairs on the diagonal; the beam axis many
    assert by_key[("tau", "beam_axis")].fraction > by_key[("tau", "pair_axis")].fraction + 0.2
    assert by_key[("tau", "beam_axis")].fraction > by_key[("signal", "beam_axis")].fraction
    assert (tmp_path / "est.png").stat().st_size > 10_000
