"""The mass scan on a hand-built processing result: both criteria, empty-bin bookkeeping, flags."""

import hist
import numpy as np
import pytest

from alpfusion.fits.poisson import coupling_from_mu, mu_at_lambda
from alpfusion.fits.scan import format_table, run_scan, write_rows

EDGES = np.geomspace(0.1, 10.0, 41)


def analysis(region_names, fills):
    h = hist.Hist(hist.axis.StrCategory(region_names, name="region"), hist.axis.Variable(EDGES, name="m_ee"),
                  hist.axis.Variable(EDGES, name="m_ee_tau"), storage=hist.storage.Weight())
    for region, (x, y, w) in fills.items():
        h.fill(region=region, m_ee=x, m_ee_tau=y, weight=w)
    return h


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(3)
    regions = ["ma1p000", "ma3p000"]
    histograms, samples = {}, {}
    for m_a, region in zip((1.0, 3.0), regions):
        x = m_a * np.exp(rng.normal(0, 0.3, 2000))
        histograms[f"sig{region}"] = {"analysis": analysis(regions, {region: (x, x * np.exp(rng.normal(0, 0.4, 2000)),
                                                                               np.full(2000, 5e-3))})}
        samples[f"sig{region}"] = {"kind": "signal", "m_a": m_a}
    fills = {}
    for m_a, region in zip((1.0, 3.0), regions):
        x = m_a * np.exp(rng.normal(0, 0.3, 500))
        fills[region] = (x, x * np.exp(rng.normal(0, 0.02, 500)), np.full(500, 0.2))
    histograms["tautau"] = {"analysis": analysis(regions, fills)}
    samples["tautau"] = {"kind": "background", "m_a": None}
    return {"histograms": histograms, "samples": samples,
            "regions": [{"region": r, "m_a": m, "kappa": 2.0, "e_low": 0.0, "eta_high": 3.0}
                        for r, m in zip(regions, (1.0, 3.0))]}


@pytest.mark.parametrize("treatment", ["none", "floor", "smooth"])
def test_scan_rows(cfg, result, tmp_path, treatment):
    cfg = cfg.replace(statistics={"empty_bins": treatment, "sb_groups": 6})
    rows, workspaces = run_scan(result, cfg, tmp_path, workers=1)
    assert [r.m_a for r in rows] == [1.0, 3.0] and set(workspaces) == {1.0, 3.0}
    for row, region in zip(rows, ("ma1p000", "ma3p000")):
        in_plane = result["histograms"][f"sig{region}"]["analysis"][{"region": region}].values().sum()
        assert row.signal == pytest.approx(in_plane) and 9.5 < in_plane <= 10.0 + 1e-9  # S inside the plane
        assert row.background == pytest.approx(100.0)  # B: every selected event, flow bins included
        assert 0 < row.empty_bins < row.signal_bins and 0 <= row.lambda_empty_fraction <= 1
        assert row.g_cls_minus2 < row.g_cls_minus1 < row.g_cls < row.g_cls_plus1 < row.g_cls_plus2
        assert row.g_lambda <= row.g_lambda_grouped * (1 + 1e-9)  # grouping can only lose sensitivity
        assert (tmp_path / "configs" / f"ma{row.m_a:.3f}".replace(".", "p")).with_suffix(".yml").exists()
    if treatment == "none":
        # background-free bins carry 2 mu S of Lambda: with most signal there, they dominate
        assert all(r.lambda_empty_fraction > 0.5 for r in rows)
        assert all(r.small_background for r in rows)
    table = format_table(rows, cfg.signal.g_ref)
    assert "g(Lambda)" in table and len(table.splitlines()) >= 4
    csv_text = write_rows(tmp_path / "limits.csv", rows).read_text()
    assert csv_text.splitlines()[0].startswith("m_a,kappa,e_low,eta_high,signal")


def test_lambda_column_is_the_full_binning(cfg, result, tmp_path):
    """g(Lambda) comes from the 2% bins themselves: recompute it from the histograms."""
    rows, _ = run_scan(result, cfg.replace(statistics={"empty_bins": "none"}), tmp_path)
    s = result["histograms"]["sigma1p000"]["analysis"][{"region": "ma1p000"}].values().ravel()
    b = result["histograms"]["tautau"]["analysis"][{"region": "ma1p000"}].values().ravel()
    keep = s > 0
    expected = coupling_from_mu(mu_at_lambda(s[keep], b[keep]), cfg.signal.g_ref)
    assert rows[0].g_lambda == pytest.approx(expected, rel=1e-9)


def test_toys_column_beside_asymptotic(cfg, result, tmp_path):
    """With pseudo-experiments requested, both the asymptotic band and the toys' median are in the row."""
    cfg = cfg.replace(statistics={"empty_bins": "floor", "sb_groups": 3, "cls_method": "toys", "toys": 100})
    one = dict(result, regions=result["regions"][:1])
    (row,), _ = run_scan(one, cfg, tmp_path)
    assert row.cls_method == "asymptotic + toys" and np.isfinite(row.g_cls) and np.isfinite(row.g_cls_toys)
    assert 0.3 < row.g_cls_toys / row.g_cls < 3.0  # 100 toys: a rough agreement is all one can ask


def test_no_signal_sample_is_an_error(cfg, result, tmp_path):
    bare = dict(result, samples={"tautau": result["samples"]["tautau"]})
    with pytest.raises(ValueError, match="no mass hypothesis has a signal sample"):
        run_scan(bare, cfg, tmp_path)
