"""Background replicas: the spread of the limits over independently generated backgrounds."""

import math

import numpy as np
import pytest

from alpfusion.fits.replicas import format_spread, spread
from alpfusion.fits.scan import MassPoint
from alpfusion.samples.generator import Generator
from alpfusion.samples.processes import SignalProcess, SignalSettings
from alpfusion.samples.rootio import read_metadata, write_sample
from alpfusion.workflow import replica_limits

from .test_workflow import QED_SMALL


def row(m_a, g_lambda, g_cls):
    return MassPoint(
        m_a,
        2,
        0,
        3,
        1,
        0,
        1,
        0,
        1,
        0,
        0.0,
        0.0,
        g_lambda,
        0.0,
        g_lambda,
        g_lambda,
        g_cls,
        g_cls,
        g_cls,
        g_cls,
        g_cls,
        0.0,
        g_cls / 2,
        False,
        float("nan"),
        "asymptotic",
        False,
    )


def test_spread_by_hand():
    tables = [[row(1.0, 1.0, 2.0)], [row(1.0, 3.0, 2.0)], [row(1.0, 2.0, 5.0)]]
    (s,) = spread(tables)
    assert (s.replicas, s.g_lambda_mean, s.g_cls_mean) == (3, 2.0, 3.0)
    assert s.g_lambda_std == pytest.approx(1.0) and s.g_cls_std == pytest.approx(math.sqrt(3.0))
    assert (s.g_cls_infinite_mc_mean, s.g_cls_infinite_mc_std) == (1.5, pytest.approx(math.sqrt(0.75)))
    assert "g(CLs,MC=inf) mean" in format_spread([s])


def small_with_signal(cfg, folder, **sections):
    """A one-mass configuration (m_a = 2 GeV, small vegas) with ``sections`` and its signal sample."""
    small = cfg.replace(
        signal={"masses": [2.0]},
        generation={"vegas": {"nitn": 3, "neval": 5000, "ninc": 50}},
        statistics={"sb_groups": 4, "empty_bins": "none"},
        **sections,
    )
    signal = folder / "ee_to_eea_ma2.root"
    process = SignalProcess(SignalSettings.from_config(small, "ee_to_eea", 2.0))
    write_sample(signal, Generator(process, small.generation.vegas, 1).events(20_000, 20_000))
    return small, signal


def test_replicas_differ_and_agree(cfg, tmp_path):
    small, signal = small_with_signal(cfg, tmp_path)
    tables = [replica_limits(small, [signal], tmp_path, events=40_000, seed=s) for s in (11, 12)]
    assert read_metadata(tmp_path / "tautau_seed11_n40000" / "ee_to_tautau.root")["seed"] == 11
    g = np.array([t[0].g_lambda for t in tables])
    assert g[0] != g[1]  # different backgrounds
    assert abs(g[0] / g[1] - 1) < 0.5  # but statistically alike


def test_a_replica_of_the_qed_background_keeps_the_tau_pairs(cfg, tmp_path):
    """Regenerating the QED background holds the tau-pair sample given with the signal fixed: the
    background of each mass is then the sum of both, more than the tau pairs alone."""
    small, signal = small_with_signal(cfg, tmp_path, backgrounds={"qed2": QED_SMALL})
    (tau,) = replica_limits(small, [signal], tmp_path, events=40_000, seed=11)
    (both,) = replica_limits(
        small,
        [signal, tmp_path / "tautau_seed11_n40000" / "ee_to_tautau.root"],
        tmp_path,
        events=30_000,
        seed=5,
        background="ee_to_eegg",
    )
    assert read_metadata(tmp_path / "qed2_seed5_n30000" / "ee_to_eegg.root")["process"] == "ee_to_eegg"
    assert both.background > tau.background > 0
