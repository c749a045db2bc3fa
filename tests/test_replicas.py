"""Background replicas: the spread of the limits over independently generated backgrounds."""

import dataclasses
import math

import hist
import numpy as np
import pytest

from alpfusion.fits.replicas import format_spread, spread
from alpfusion.fits.scan import BAND_COLUMNS, MassPoint, read_rows
from alpfusion.processors.processor import ProcessingError
from alpfusion.processors.results import mean_of_samples
from alpfusion.processors.selection import MassHypothesis
from alpfusion.samples.generator import Generator
from alpfusion.samples.processes import SignalProcess, SignalSettings
from alpfusion.samples.rootio import read_metadata, write_sample
from alpfusion.workflow import replica_limits, replicas

from .fakes import fake_result
from .test_scan import analysis
from .test_workflow import QED_SMALL


def row(m_a, g_lambda, g_cls):
    """A limits-table row: the bounds are g_lambda's, the CLs bound's band 0.5-1.5 g_lambda, the CLs
    limit without MC constraints g_cls / 2, no toys; every other number 0 (the spread does not read them)."""
    values = dict.fromkeys((f.name for f in dataclasses.fields(MassPoint)), 0.0)
    values.update(
        m_a=m_a, kappa=2, e_low=0, eta_high=3, signal=1, background=1, signal_bins=1, empty_bins=0,
        g_lambda=g_lambda, g_lambda_grouped=g_lambda, g_lambda_coarse=g_lambda, g_lambda_bound=g_lambda,
        **{f"g_cls_bound{part}": f * g_lambda for part, f in zip(BAND_COLUMNS, (0.5, 0.7, 0.9, 1.2, 1.5))},
        **{f"g_cls{part}": g_cls for part in BAND_COLUMNS},
        g_cls_infinite_mc=g_cls / 2, cls_mc_limited=False,
        **{f"g_cls_toys{part}": float("nan") for part in BAND_COLUMNS}, g_cls_toys_mc_error=float("nan"),
        cls_method="asymptotic", small_background=False, expected_from="cls",
        **{f"g_expected{part}": g_cls for part in BAND_COLUMNS},
    )  # fmt: skip
    return MassPoint(**values)


def test_spread_by_hand():
    tables = [[row(1.0, 1.0, 2.0)], [row(1.0, 3.0, 2.0)], [row(1.0, 2.0, 5.0)]]
    (s,) = spread(tables)
    assert (s.replicas, s.g_lambda_mean, s.g_cls_mean) == (3, 2.0, 3.0)
    assert s.g_lambda_std == pytest.approx(1.0) and s.g_cls_std == pytest.approx(math.sqrt(3.0))
    assert (s.g_cls_infinite_mc_mean, s.g_cls_infinite_mc_std) == (1.5, pytest.approx(math.sqrt(0.75)))
    assert (s.g_lambda_bound_mean, s.g_lambda_bound_std) == (2.0, pytest.approx(1.0))  # row(): the bound is g_lambda
    assert (s.g_cls_bound_mean, s.g_cls_bound_std) == (pytest.approx(1.8), pytest.approx(0.9))
    assert "g(CLs,MC=inf) mean" in format_spread([s]) and "g(bound) mean" in format_spread([s])
    assert math.isnan(s.g_lambda_combined)
    (with_combined,) = spread(tables, [row(1.0, 1.5, 2.5)])
    assert (with_combined.g_lambda_combined, with_combined.g_cls_combined) == (1.5, 2.5)
    assert with_combined.g_lambda_bound_combined == 1.5 and with_combined.g_cls_bound_combined == pytest.approx(1.35)
    assert "1.5000e+00" in format_spread([with_combined])


def test_the_mean_of_two_halves_of_a_sample_is_the_whole_sample():
    """Two samples, each half of one sample's events with every weight doubled (each an unbiased
    estimate alone), averaged: the whole sample's histogram, values and sums of y^2 alike; MC event
    counts add up; the other samples stay as they were."""
    rng = np.random.default_rng(5)
    regions = ["ma1p000"]
    x, y, w = (np.exp(rng.normal(0, 0.5, 1000)), np.exp(rng.normal(0, 0.5, 1000)), rng.exponential(1.0, 1000))
    halves = (slice(0, 600), slice(600, None))
    signal = analysis(regions, {"ma1p000": (x, y, np.full(1000, 0.01))})

    def result(part):
        counts = hist.Hist(hist.axis.Regular(2, 0.0, 2.0, name="n"), storage=hist.storage.Int64())
        counts.fill(np.zeros(len(x[part])))
        background = {"analysis": analysis(regions, {"ma1p000": (x[part], y[part], 2.0 * w[part])}), "raw": counts}
        hypotheses = [MassHypothesis(1.0, 2.0, 0.0, 3.0, 10.58)]
        return fake_result({"sig": {"analysis": signal}, "bkg": background}, {"sig": 1.0, "bkg": None}, hypotheses)

    mean = mean_of_samples([result(h) for h in halves], "bkg")
    whole = analysis(regions, {"ma1p000": (x, y, w)})
    got = mean.histograms["bkg"]["analysis"].view(flow=True)
    assert np.allclose(got.value, whole.view(flow=True).value, rtol=1e-12, atol=0)
    assert np.allclose(got.variance, whole.view(flow=True).variance, rtol=1e-12, atol=0)
    assert mean.histograms["bkg"]["raw"].values()[0] == 1000
    assert mean.histograms["sig"]["analysis"] is signal
    with pytest.raises(ProcessingError, match="not in every result"):
        mean_of_samples([result(halves[0]), fake_result({"sig": {"analysis": signal}}, {"sig": 1.0}, [])], "bkg")


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


def test_replicas_differ_agree_and_combine(cfg, tmp_path):
    """Two tau-pair replicas give different but alike limits; the combined limits see their mean
    background (the selected background is linear in the histograms)."""
    small, signal = small_with_signal(cfg, tmp_path)
    (s,) = replicas(small, [signal], tmp_path, n=2, events=40_000)
    seeds = [small.generation.seed + 1000 * k for k in (1, 2)]
    assert read_metadata(tmp_path / f"tautau_seed{seeds[0]}_n40000" / "ee_to_tautau.root")["seed"] == seeds[0]
    (first,), (second,) = (read_rows(tmp_path / f"limits_seed{seed}_n40000" / "limits.csv") for seed in seeds)
    assert first.g_lambda != second.g_lambda  # different backgrounds
    assert abs(first.g_lambda / second.g_lambda - 1) < 0.5  # but statistically alike
    assert s.g_lambda_mean == pytest.approx((first.g_lambda + second.g_lambda) / 2)
    (combined,) = read_rows(tmp_path / "limits_combined" / "limits.csv")
    assert combined.background == pytest.approx((first.background + second.background) / 2, rel=1e-12)
    assert s.g_lambda_combined == combined.g_lambda


def test_a_replica_of_the_qed_background_keeps_the_tau_pairs(cfg, tmp_path):
    """Regenerating the QED background holds the tau-pair sample given with the signal fixed: the
    background of each mass is then the sum of both, more than the tau pairs alone."""
    small, signal = small_with_signal(cfg, tmp_path, backgrounds={"qed2": QED_SMALL})
    _, (tau,) = replica_limits(small, [signal], tmp_path, events=40_000, seed=11)
    _, (both,) = replica_limits(
        small,
        [signal, tmp_path / "tautau_seed11_n40000" / "ee_to_tautau.root"],
        tmp_path,
        events=30_000,
        seed=5,
        background="ee_to_eegg",
    )
    assert read_metadata(tmp_path / "qed2_seed5_n30000" / "ee_to_eegg.root")["process"] == "ee_to_eegg"
    assert both.background > tau.background > 0
