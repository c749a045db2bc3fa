"""The mass scan on a hand-built processing result: both criteria, empty-bin bookkeeping, flags."""

import dataclasses
import math
from dataclasses import fields

import hist
import numpy as np
import pytest

from alpfusion.fits import BAND_SIGMAS, band_column
from alpfusion.fits.cls import MEDIAN_Q, LimitError, _asimov_band, asimov_median
from alpfusion.fits.poisson import coupling_from_mu, mu_at_lambda, poisson_lambda
from alpfusion.fits.scan import (
    BAND_COLUMNS,
    MC_LIMITED_VARIANCE,
    MassPoint,
    _sensitive_background,
    cls_infinite_mc,
    expected_source,
    format_expected,
    format_table,
    mc_variance_ratio,
    run_scan,
    write_rows,
)
from alpfusion.fits.toys import StatErrorModel
from alpfusion.models.workspace import FLOOR, RegionModel, Template, coarse_model, mass_point_models
from alpfusion.processors.selection import MassHypothesis

from .fakes import fake_result

EDGES = np.geomspace(0.1, 10.0, 41)


def analysis(region_names, fills):
    h = hist.Hist(
        hist.axis.StrCategory(region_names, name="region"),
        hist.axis.Variable(EDGES, name="m_ee"),
        hist.axis.Variable(EDGES, name="m_ee_tau"),
        storage=hist.storage.Weight(),
    )
    for region, (x, y, w) in fills.items():
        h.fill(region=region, m_ee=x, m_ee_tau=y, weight=w)
    return h


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(3)
    regions = ["ma1p000", "ma3p000"]
    histograms, masses = {}, {}
    for m_a, region in zip((1.0, 3.0), regions):
        x = m_a * np.exp(rng.normal(0, 0.3, 2000))
        histograms[f"sig{region}"] = {
            "analysis": analysis(regions, {region: (x, x * np.exp(rng.normal(0, 0.4, 2000)), np.full(2000, 5e-3))})
        }
        masses[f"sig{region}"] = m_a
    fills = {}
    for m_a, region in zip((1.0, 3.0), regions):
        x = m_a * np.exp(rng.normal(0, 0.3, 500))
        fills[region] = (x, x * np.exp(rng.normal(0, 0.02, 500)), np.full(500, 0.2))
    histograms["tautau"] = {"analysis": analysis(regions, fills)}
    masses["tautau"] = None
    return fake_result(histograms, masses, [MassHypothesis(m, 2.0, 0.0, 3.0, 10.58) for m in (1.0, 3.0)])


def no_mc_constraints(model):
    """The pyhf-like model of a region's templates with every MC-statistical parameter fixed."""
    b = model.total_background
    return StatErrorModel(model.signal.yields, b, np.zeros_like(b), np.ones_like(b), np.ones_like(b))


def assert_expected_is_its_source(row):
    """g_expected, its band and MC error are those of the CLs limit that expected_source picks."""
    source = expected_source(row.small_background, row.g_cls_toys, row.cls_mc_limited)
    assert row.expected_from == source
    column = {"toys": "g_cls_toys", "cls_bound": "g_cls_bound", "cls": "g_cls"}[source]
    expected = [getattr(row, f"g_expected{part}") for part in BAND_COLUMNS]
    assert expected == [getattr(row, f"{column}{part}") for part in BAND_COLUMNS]
    assert row.g_expected_mc_error == getattr(row, f"{column}_mc_error")
    # the toys' MC error is the asymptotic median's, relative: a replica would need its own toys
    assert row.g_cls_toys_mc_error == pytest.approx(row.g_cls_mc_error * row.g_cls_toys / row.g_cls, nan_ok=True)


def test_band_columns_are_named_by_their_sigma():
    assert [band_column("g_cls", n) for n in BAND_SIGMAS] == [
        "g_cls_minus2",
        "g_cls_minus1",
        "g_cls",
        "g_cls_plus1",
        "g_cls_plus2",
    ]
    names = {f.name for f in fields(MassPoint)}
    for limit in ("g_cls_bound", "g_cls", "g_cls_toys", "g_expected"):
        assert {band_column(limit, n) for n in BAND_SIGMAS} <= names


def test_every_limit_has_its_mc_error_column():
    names = [f.name for f in fields(MassPoint)]
    band_parts = tuple(part for part in BAND_COLUMNS if part)
    limits = [n for n in names if n.startswith("g_") and not n.endswith(("_mc_error", "_toy_error", *band_parts))]
    assert limits == [
        "g_lambda",
        "g_lambda_grouped",
        "g_lambda_coarse",
        "g_lambda_bound",
        "g_cls_bound",
        "g_cls",
        "g_cls_infinite_mc",
        "g_cls_toys",
        "g_expected",
    ]
    assert [n for n in limits if f"{n}_mc_error" not in names] == []


def test_the_expected_limit_to_quote():
    """The toys where the asymptotic formulae fail and the toys ran; else the CLs bound where the
    background MC sets the profiled CLs; else the asymptotic CLs."""
    assert expected_source(True, 1e-5, False) == "toys" and expected_source(True, 1e-5, True) == "toys"
    assert expected_source(True, math.nan, True) == "cls_bound" and expected_source(False, 1e-5, True) == "cls_bound"
    assert expected_source(True, math.nan, False) == "cls" and expected_source(False, 1e-5, False) == "cls"


def scan(result, cfg, tmp_path):
    return run_scan(mass_point_models(result, cfg.statistics), cfg.statistics, cfg.signal.g_ref, tmp_path, seed=1)


@pytest.mark.parametrize("treatment", ["none", "floor", "smooth"])
def test_scan_rows(cfg, result, tmp_path, treatment):
    cfg = cfg.replace(statistics={"empty_bins": treatment, "sb_groups": 6})
    out = scan(result, cfg, tmp_path)
    rows = out.rows
    assert [r.m_a for r in rows] == [1.0, 3.0] and [w.m_a for w in out.workspaces] == [1.0, 3.0]
    coarse_b = [p.coarse.total_background for p in mass_point_models(result, cfg.statistics)]
    assert not np.all(coarse_b[0] > 0) and np.all(coarse_b[1] > 0)  # a coarse group without MC at 1 GeV
    assert all(w.path.is_file() for w in out.workspaces)
    for row, region in zip(rows, ("ma1p000", "ma3p000")):
        in_plane = result.histograms[f"sig{region}"]["analysis"][{"region": region}].values().sum()
        assert row.signal == pytest.approx(in_plane) and 9.5 < in_plane <= 10.0 + 1e-9  # S inside the plane
        assert row.background == pytest.approx(100.0)  # B: every selected event, flow bins included
        assert 0 < row.empty_bins < row.signal_bins and 0 <= row.lambda_empty_fraction <= 1
        assert 0 <= row.lambda_floor_fraction <= row.lambda_empty_fraction  # floored bins are empty bins
        assert row.g_cls_minus2 < row.g_cls_minus1 < row.g_cls < row.g_cls_plus1 < row.g_cls_plus2
        assert row.g_lambda <= row.g_lambda_grouped * (1 + 1e-9)  # grouping can only lose sensitivity
        assert (tmp_path / "configs" / f"ma{row.m_a:.3f}".replace(".", "p")).with_suffix(".yml").exists()
    # the tighter of the two upper bounds, where every coarse group's B is measured by MC
    assert rows[0].g_lambda_bound == rows[0].g_lambda
    assert rows[1].g_lambda_bound == min(rows[1].g_lambda, rows[1].g_lambda_coarse)
    # its MC error is that of the limit it is, from replicas of that limit's templates
    assert rows[0].g_lambda_bound_mc_error == rows[0].g_lambda_mc_error
    for row in rows:
        chosen = "g_lambda_coarse" if row.g_lambda_bound == row.g_lambda_coarse else "g_lambda"
        assert row.g_lambda_bound_mc_error == getattr(row, f"{chosen}_mc_error")
        for limit in ("g_lambda", "g_lambda_grouped", "g_lambda_bound", "g_cls_infinite_mc"):
            assert 0 < getattr(row, f"{limit}_mc_error") < 0.5 * getattr(row, limit)
    assert 0 < rows[1].g_lambda_coarse_mc_error < 0.5 * rows[1].g_lambda_coarse
    # the CLs bound: the asymptotic CLs machinery (fits.cls) without MC constraints on the same templates
    # gives q_mu,A = Lambda(mu), so its band is the tighter of the per-bin and coarse limits at f_N^2
    for row, point in zip(rows, mass_point_models(result, cfg.statistics)):
        fine, coarse = (np.array(_asimov_band(no_mc_constraints(m))) for m in (point.full, point.coarse))
        expected = [
            coupling_from_mu(mu, cfg.signal.g_ref) for mu in (fine if row is rows[0] else np.fmin(fine, coarse))
        ]
        band = [getattr(row, f"g_cls_bound{part}") for part in BAND_COLUMNS]
        assert band == pytest.approx(expected, rel=1e-5)
        assert row.g_cls_bound <= row.g_cls_infinite_mc * (1 + 1e-6)  # the 2% bins are finer than the S/B groups
        # the pyhf workspace without MC constraints gives Lambda(mu) on the S/B groups: its median is
        # Lambda = 1.96^2 there, the limit whose replicas give g_cls_infinite_mc's MC error
        g_grouped = coupling_from_mu(
            mu_at_lambda(point.grouped.signal.yields, point.grouped.total_background, MEDIAN_Q), cfg.signal.g_ref
        )
        assert row.g_cls_infinite_mc == pytest.approx(g_grouped, rel=1e-5)
        assert 0 < row.g_cls_bound_mc_error < row.g_cls_bound
        # each bin's term of Lambda grows between linearly (B = 0) and quadratically (S << B) in mu
        t = MEDIAN_Q / 4.0
        assert t**0.5 * (1 - 1e-6) <= row.g_cls_bound / row.g_lambda_bound <= t**0.25 * (1 + 1e-6)
        assert_expected_is_its_source(row)
    if treatment == "floor":
        for row, point in zip(rows, mass_point_models(result, cfg.statistics)):
            model = point.full
            s, b, floored = model.signal.yields, model.total_background, model.backgrounds[FLOOR].yields > 0
            mu = mu_at_lambda(s, b)
            assert 0 < floored.sum() < model.empty.sum()  # some empty bins floored, some beyond the reach
            assert row.lambda_floor_fraction == pytest.approx(poisson_lambda(mu * s[floored], b[floored]) / 4.0)
    else:
        assert all(r.lambda_floor_fraction == 0 for r in rows)
    if treatment == "none":
        # background-free bins carry 2 mu S of Lambda: with most signal there, they dominate
        assert all(r.lambda_empty_fraction > 0.5 for r in rows)
        assert all(r.small_background for r in rows)
    table = format_table(rows, cfg.signal.g_ref)
    assert "g(Lambda)" in table and len(table.splitlines()) >= 4
    # the limit to quote alone: a line per mass point with its band, relative MC error and source
    quoted = format_expected(rows).splitlines()
    header = ["m_a", "g(expected)", "-2s", "-1s", "+1s", "+2s", "MC", "err", "toys", "err", "from"]
    assert quoted[1].split() == header
    for line, row in zip(quoted[2:], rows, strict=True):
        m_a, *band, error, toy_error, source = line.split()
        assert float(m_a) == row.m_a and source == row.expected_from
        g = [getattr(row, f"g_expected{part}") for part in BAND_COLUMNS]
        assert [float(v) for v in band] == pytest.approx([g[2], g[0], g[1], g[3], g[4]], rel=5e-3)
        assert float(error.rstrip("%")) == pytest.approx(100 * row.g_expected_mc_error / row.g_expected, abs=0.051)
        assert float(toy_error.rstrip("%")) == pytest.approx(100 * row.g_expected_toy_error / row.g_expected, abs=0.051)
    csv_text = write_rows(tmp_path / "limits.csv", rows).read_text()
    assert csv_text.splitlines()[0].startswith("m_a,kappa,e_low,eta_high,signal")


def test_lambda_column_is_the_full_binning(cfg, result, tmp_path):
    """g(Lambda) comes from the 2% bins themselves: recompute it from the histograms."""
    rows = scan(result, cfg.replace(statistics={"empty_bins": "none"}), tmp_path).rows
    s = result.histograms["sigma1p000"]["analysis"][{"region": "ma1p000"}].values().ravel()
    b = result.histograms["tautau"]["analysis"][{"region": "ma1p000"}].values().ravel()
    keep = s > 0
    expected = coupling_from_mu(mu_at_lambda(s[keep], b[keep]), cfg.signal.g_ref)
    assert rows[0].g_lambda == pytest.approx(expected, rel=1e-9)


def test_toys_column_beside_asymptotic(cfg, result, tmp_path):
    """With pseudo-experiments requested, both the asymptotic band and the toys' median are in the row."""
    cfg = cfg.replace(statistics={"empty_bins": "floor", "sb_groups": 3, "cls_method": "toys", "toys": 100})
    one = dataclasses.replace(result, hypotheses=result.hypotheses[:1])
    (row,) = scan(one, cfg, tmp_path).rows
    assert row.cls_method == "asymptotic + toys" and np.isfinite(row.g_cls) and np.isfinite(row.g_cls_toys)
    assert 0.3 < row.g_cls_toys / row.g_cls < 3.0  # 100 toys: a rough agreement is all one can ask
    toys = [getattr(row, f"g_cls_toys{part}") for part in BAND_COLUMNS]
    assert toys == sorted(toys) and toys[0] < toys[-1]  # the toys' band beside their median
    assert row.expected_from == "toys"  # few background events where Lambda comes from
    assert_expected_is_its_source(row)


def test_the_coarse_limit_has_groups_of_its_own(cfg, result):
    """statistics.sb_groups sets the pyhf channel's bins; g_lambda_coarse keeps statistics.coarse_groups,
    which are few so that each holds background MC (it has no empty-bin treatment)."""
    points = [mass_point_models(result, cfg.replace(statistics={"sb_groups": k}).statistics)[0] for k in (3, 30)]
    assert [len(p.grouped.signal.yields) for p in points] == [3 + 1, 30 + 1]  # + the background-free group
    coarse = [p.coarse.signal.yields for p in points]
    assert len(coarse[0]) == cfg.statistics.coarse_groups and np.array_equal(coarse[0], coarse[1])


def test_a_mass_may_have_a_coarse_grouping_of_its_own(cfg, result):
    """statistics.coarse_per_mass gives one mass its own blocks and groups; the other keeps the defaults."""
    stats = cfg.replace(statistics={"coarse_per_mass": [{"m_a": 3.0, "blocks": 1, "groups": 4}]}).statistics
    one, three = mass_point_models(result, stats)
    assert len(one.coarse.signal.yields) == cfg.statistics.coarse_groups
    assert len(three.coarse.signal.yields) == 4
    analysis = {name: h["analysis"] for name, h in result.histograms.items()}
    direct = coarse_model("ma3p000", 3.0, analysis["sigma3p000"], {"tautau": analysis["tautau"]}, 1, 4)[0]
    assert np.array_equal(three.coarse.signal.yields, direct.signal.yields)
    assert np.array_equal(three.coarse.total_background, direct.total_background)


def test_no_signal_sample_is_an_error(cfg, result, tmp_path):
    bare = dataclasses.replace(result, samples={"tautau": result.samples["tautau"]})
    with pytest.raises(LimitError, match="no mass hypothesis has a signal sample"):
        scan(bare, cfg, tmp_path)


def test_the_mc_error_of_the_lambda_limit_scales_with_the_mc_errors(cfg, result):
    """No MC variance, no error; four times the MC statistics (a quarter of the variances), half the error."""
    from alpfusion.fits.scan import lambda_mc_error

    model = mass_point_models(result, cfg.replace(statistics={"empty_bins": "none"}).statistics)[0].full

    def scaled(factor):
        def t(template):
            return Template(template.yields, template.variances * factor)

        return RegionModel(
            model.region,
            model.m_a,
            model.bins,
            t(model.signal),
            {n: t(b) for n, b in model.backgrounds.items()},
            model.empty,
        )

    error = {f: lambda_mc_error(scaled(f), 1e-4, np.random.default_rng(5), replicas=400) for f in (0.0, 1.0, 0.25)}
    assert error[0.0] == 0.0 and error[1.0] > 0
    assert error[1.0] / error[0.25] == pytest.approx(2.0, rel=0.2)


def test_the_small_count_flag_looks_where_lambda_comes_from():
    """Ten background-free bins with 5% of the signal beside 90 bins of 10^3 background events each: at the
    Lambda limit the free bins give all but 0.4% of Lambda (2 S each), so the bins that give its first
    half expect no background (the asymptotic CLs fails there), while the bins holding the first half of
    the signal in S/B order expect 4.3 x 10^4 events."""
    s = np.r_[np.full(10, 0.5), np.full(90, 95.0 / 90)]
    b = np.r_[np.zeros(10), np.full(90, 1e3)]
    model = RegionModel("r", 1.0, np.arange(100), Template(s, 0 * s), {"b": Template(b, 0 * b)}, b <= 0)
    mu = mu_at_lambda(s, b)
    assert poisson_lambda(mu * s[:10], b[:10]) / poisson_lambda(mu * s, b) > 0.99
    assert _sensitive_background(model, mu) == 0.0
    half_signal = np.searchsorted(np.cumsum(s), 0.5 * s.sum()) + 1
    assert b[:half_signal].sum() == pytest.approx(4.3e4)
    assert _sensitive_background(model, 1e4 * mu) > 0  # where the free bins no longer dominate, B counts


def test_the_mc_error_of_the_cls_limit_replicates_the_workspace_and_scales_with_the_mc_errors(cfg, result, tmp_path):
    """The replicas replace the workspace's own yields (the grouped templates, bin by bin); no MC
    variance, no error; a quarter of the variances (and of the squared relative constraints), half
    the error; the row carries it."""
    import pyhf

    from alpfusion.fits.scan import cls_mc_error
    from alpfusion.fits.toys import StatErrorModel

    cfg = cfg.replace(statistics={"empty_bins": "floor", "sb_groups": 6})
    one = dataclasses.replace(result, hypotheses=result.hypotheses[:1])
    out = scan(one, cfg, tmp_path)
    grouped = mass_point_models(one, cfg.statistics)[0].grouped
    binned = StatErrorModel.from_pyhf(pyhf.Workspace(out.workspaces[0].spec).model())
    np.testing.assert_allclose(binned.signal, grouped.signal.yields, rtol=1e-12)
    np.testing.assert_allclose(binned.background, grouped.total_background, rtol=1e-12)

    def scaled(factor):
        def t(template):
            return Template(template.yields, template.variances * factor)

        bkg = {n: t(b) for n, b in grouped.backgrounds.items()}
        region = RegionModel(grouped.region, grouped.m_a, grouped.bins, t(grouped.signal), bkg, grouped.empty)
        return dataclasses.replace(binned, sigma=binned.sigma * np.sqrt(factor)), region

    error = {f: cls_mc_error(*scaled(f), 1e-4, np.random.default_rng(5), replicas=400) for f in (0.0, 1.0, 0.25)}
    assert error[1.0] > 0 and error[0.0] < 1e-12 * error[1.0]  # equal limits: np.std's rounding only
    assert error[1.0] / error[0.25] == pytest.approx(2.0, rel=0.2)
    (row,) = out.rows
    assert 0 < row.g_cls_mc_error < 0.5 * row.g_cls


@pytest.mark.parametrize("w", [0.5, MC_LIMITED_VARIANCE, 10.0])
def test_the_cls_limit_grows_with_the_background_mc_variance_as_one_plus_w_to_the_quarter(w):
    """One bin of background B = 10^10 known to the MC variance w B: profiling the MC constraint adds
    w B to the Poisson variance, so g(CLs) / g(CLs, infinite MC) = (1 + w)^(1/4) and doubling the MC
    (w / 2) multiplies g(CLs) by ((1 + w / 2) / (1 + w))^(1/4), 0.9 at MC_LIMITED_VARIANCE. Asymptotic in
    B: the corrections fall as B^(-1/2) (on w, 1.2% at B = 10^6 for w = 10; 1.2e-4 here, 1e-5 on the
    doubling factor)."""
    b = 1e10

    def model(variance_ratio):
        sigma = math.sqrt(variance_ratio / b)
        return StatErrorModel(np.array([1.0]), np.array([b]), np.array([sigma]), np.array([1e-10]), np.array([10.0]))

    g = coupling_from_mu(asimov_median(model(w)), 1e-4)
    assert mc_variance_ratio(g, cls_infinite_mc(model(w), 1e-4)) == pytest.approx(w, rel=1e-3)
    doubled = coupling_from_mu(asimov_median(model(w / 2)), 1e-4) / g
    assert doubled == pytest.approx(((1 + w / 2) / (1 + w)) ** 0.25, rel=1e-4)
    if w == MC_LIMITED_VARIANCE:
        assert doubled == pytest.approx(0.9, rel=1e-4)


def test_a_cls_limit_set_by_the_background_mc_is_flagged(cfg, tmp_path):
    """A background spread like the signal, 2 x 10^4 MC events: of weight 0.01 expected events (w = 0.01)
    they do not set g(CLs); of weight 10^3 (w = 10^3) they do: the row is flagged, the table says it, and
    the limit with infinite MC lies below g(CLs) by about (1 + w)^(1/4)."""
    rng = np.random.default_rng(4)

    def spread(n):
        x = np.exp(rng.normal(0, 0.3, n))
        return x, x * np.exp(rng.normal(0, 0.4, n))

    signal = {"analysis": analysis(["ma1p000"], {"ma1p000": (*spread(2000), np.full(2000, 5e-3))})}
    x, y = spread(20_000)
    rows = []
    for weight in (0.01, 1e3):
        background = {"analysis": analysis(["ma1p000"], {"ma1p000": (x, y, np.full(len(x), weight))})}
        result = fake_result(
            {"sigma1p000": signal, "tautau": background},
            {"sigma1p000": 1.0, "tautau": None},
            [MassHypothesis(1.0, 2.0, 0.0, 3.0, 10.58)],
        )
        cfg = cfg.replace(statistics={"empty_bins": "floor", "sb_groups": 6, "cls_method": "asymptotic"})
        rows += scan(result, cfg, tmp_path / str(weight)).rows
    light, heavy = rows
    # every bin's MC variance is w times its yield, but the floors' (a few per cent of the signal) and, in
    # the light case, the Poisson regime of the bins' few events: (1 + w)^(1/4) holds to within 10%
    assert mc_variance_ratio(light.g_cls, light.g_cls_infinite_mc) == pytest.approx(0.01, rel=0.1)
    assert mc_variance_ratio(heavy.g_cls, heavy.g_cls_infinite_mc) == pytest.approx(1e3, rel=0.1)
    assert heavy.cls_mc_limited and not light.cls_mc_limited
    assert (heavy.expected_from, light.expected_from) == ("cls_bound", "cls")  # no toys run here
    for row in rows:
        assert_expected_is_its_source(row)
    assert light.g_cls_infinite_mc <= light.g_cls and heavy.g_cls_infinite_mc <= heavy.g_cls
    table = format_table(rows, cfg.signal.g_ref)
    assert table.count(" +\n") == 1 and "+ the background's MC error sets g(CLs)" in table


def test_failed_limits_are_rows_with_their_reason_and_a_warning(cfg, result, tmp_path, monkeypatch, caplog):
    """A mass point whose CLs limit, or whose toys' limit, cannot be set keeps its row: NaN couplings
    where the limit failed, the reason in cls_method, and a warning that names the mass."""
    from alpfusion.fits import cls

    real = cls.expected_limit

    def failing(model, method="asymptotic", **options):
        if method == "toys":
            raise LimitError("no toys today")
        if model.config.channels == ["ma3p000"]:
            raise LimitError("no root in the bracket")
        return real(model, method=method, **options)

    monkeypatch.setattr(cls, "expected_limit", failing)
    cfg = cfg.replace(statistics={"empty_bins": "floor", "sb_groups": 3, "cls_method": "toys", "toys": 100})
    with caplog.at_level("WARNING", logger="alpfusion.fits.scan"):
        low, high = scan(result, cfg, tmp_path).rows
    assert low.cls_method == "asymptotic; toys failed: LimitError: no toys today"
    assert np.isfinite(low.g_cls) and np.isnan(low.g_cls_toys) and np.isfinite(low.g_lambda)
    assert high.cls_method == "failed: LimitError: no root in the bracket"
    assert np.isnan(high.g_cls) and np.isnan(high.g_cls_toys) and np.isnan(high.g_cls_mc_error)
    assert np.isfinite(high.g_lambda) and np.isfinite(low.g_cls_mc_error)
    assert "m_a = 1 GeV: no limit from pseudo-experiments (LimitError: no toys today)" in caplog.text
    assert "m_a = 3 GeV: no CLs limit (LimitError: no root in the bracket)" in caplog.text


def test_a_replica_without_a_cls_limit_leaves_the_limit_without_its_mc_error(cfg, result, tmp_path, monkeypatch):
    from alpfusion.fits import scan as scan_module

    def no_limit(model, **options):
        raise LimitError("no root in the bracket")

    monkeypatch.setattr(scan_module, "asimov_median", no_limit)
    cfg = cfg.replace(statistics={"empty_bins": "floor", "sb_groups": 3, "cls_method": "asymptotic"})
    one = dataclasses.replace(result, hypotheses=result.hypotheses[:1])
    (row,) = scan(one, cfg, tmp_path).rows
    assert np.isnan(row.g_cls_mc_error) and np.isfinite(row.g_cls) and np.isfinite(row.g_lambda_mc_error)
    assert np.isnan(row.g_cls_infinite_mc) and not row.cls_mc_limited
    assert row.cls_method == "asymptotic"
