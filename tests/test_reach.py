"""The reach plot with its context: every layer drawn (read back from the figure's artists and from
the written layer table), the freeze-out targets and the N_eff band, and overlays from the
configuration with clear errors for bad curves."""

import csv
import dataclasses

import numpy as np
import pytest
import yaml

from alpfusion import cosmology, workflow
from alpfusion.config import load_config
from alpfusion.fits.scan import MassPoint, format_table, read_rows, write_rows
from alpfusion.plotting import CONVERGENCE_LIMITS, convergence_figure, reach_figure, reach_plot, reach_title


def rows(masses=(0.1, 1.0, 5.0)):
    """A limits table with plausible numbers (the plot does not judge them)."""
    names = [f.name for f in dataclasses.fields(MassPoint)]
    out = []
    for i, m in enumerate(masses):
        g = 1e-5 * (1 + i)
        values = dict.fromkeys(names, 1.0)
        values.update(
            m_a=m, signal_bins=10, empty_bins=2, g_lambda=g, g_lambda_mc_error=0.1 * g, g_lambda_coarse=20 * g,
            g_lambda_coarse_mc_error=2 * g, g_lambda_grouped=1.1 * g, g_lambda_grouped_mc_error=0.1 * g,
            g_cls_infinite_mc_mc_error=0.2 * g, g_cls_toys_mc_error=0.3 * g,
            g_lambda_bound=g, g_lambda_bound_mc_error=0.1 * g,
            g_cls=3 * g, g_cls_minus2=1.5 * g, g_cls_minus1=2 * g, g_cls_plus1=4 * g, g_cls_plus2=5 * g,
            g_cls_mc_error=0.05 * g, g_cls_infinite_mc=(2.9 if i else 2) * g, cls_mc_limited=i == 0,
            g_cls_bound=0.98 * g, g_cls_bound_mc_error=0.1 * g, g_cls_bound_minus2=0.5 * g,
            g_cls_bound_minus1=0.7 * g, g_cls_bound_plus1=1.4 * g, g_cls_bound_plus2=1.9 * g,
            g_cls_toys=np.nan if i else 3.2 * g, cls_method="asymptotic", small_background=i == 2,
            expected_from=("cls_bound", "cls", "toys")[i], g_expected=2.5 * g, g_expected_mc_error=0.08 * g,
            g_expected_minus2=1.2 * g, g_expected_minus1=1.8 * g, g_expected_plus1=3.5 * g, g_expected_plus2=4.5 * g,
        )  # fmt: skip
        out.append(MassPoint(**values))
    return out


def overlay_config(tmp_path, curve_text, name="curve.csv"):
    (tmp_path / name).write_text(curve_text)
    entry = {"csv": name, "label": "Another experiment", "citation": "Someone et al. (2030)"}
    entry["style"] = {"color": "tab:purple", "linestyle": "-."}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump({"reach_plot": {"overlays": [entry]}}))
    return load_config(tmp_path / "cfg.yaml")


def test_every_layer_is_drawn_and_written(tmp_path):
    cfg = overlay_config(tmp_path, "# a projection\nm_a,g,comment\n0.05,3e-4,x\n1,1e-4,y\n8,2e-4,z\n")
    layers = workflow.reach_layers(rows(), cfg)
    names = [layer.name for layer in layers]
    expected = ["neff", "cls_2sigma", "cls_1sigma", "cls_mc_error", "cls_median", "cls_bound_mc_error", "cls_bound"]
    expected += ["lambda_mc_error", "lambda", "lambda_coarse_mc_error", "lambda_coarse", "lambda_bound_mc_error"]
    expected += ["lambda_bound", "cls_toys_mc_error", "cls_toys", "small_background", "cls_mc_limited"]
    expected += ["freeze_out_ft0.1", "freeze_out_ft0.01", "freeze_out_ft0.001", "overlay0"]
    assert names == expected
    paths = reach_plot(layers, tmp_path / "out", title=reach_title(5e4, 10.58))
    assert [p.name for p in paths] == ["reach.png", "reach.pdf", "reach_layers.csv"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[1].read_bytes()[:5] == b"%PDF-"

    # the figure: one artist per layer, carrying its data, and every label in the legend
    fig = reach_figure(layers, "t")
    ax = fig.axes[0]
    artists = {a.get_gid(): a for a in [*ax.lines, *ax.collections, *ax.patches] if a.get_gid()}
    assert set(artists) == set(names)
    np.testing.assert_allclose(artists["lambda"].get_ydata(), [1e-5, 2e-5, 3e-5])
    np.testing.assert_allclose(artists["cls_bound"].get_ydata(), [0.98e-5, 1.96e-5, 2.94e-5])
    limited = artists["cls_mc_limited"]
    np.testing.assert_allclose([limited.get_xdata(), limited.get_ydata()], [[0.1], [3e-5]])
    np.testing.assert_allclose(artists["lambda_coarse"].get_ydata(), [2e-4, 4e-4, 6e-4])
    assert artists["lambda_coarse"].get_linestyle() == ":"
    np.testing.assert_allclose(artists["lambda_bound"].get_ydata(), [1e-5, 2e-5, 3e-5])
    np.testing.assert_allclose(artists["overlay0"].get_xdata(), [0.05, 1.0, 8.0])
    assert artists["overlay0"].get_linestyle() == "-."
    freeze = artists["freeze_out_ft0.01"]
    np.testing.assert_allclose(freeze.get_ydata(), cosmology.freeze_out_coupling(freeze.get_xdata(), 0.01))
    # the N_eff band ends at 2 M_min (ALPs at r -> 1/2) and the axis shows it
    band = artists["neff"].get_extents().transformed(ax.transData.inverted())
    assert band.x1 == pytest.approx(0.02) and ax.get_xlim()[0] < 0.02
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert {layer.label for layer in layers} == legend
    # beside it the top octave of the limits' masses (up to 5 GeV here), every layer but the N_eff band
    zoom = fig.axes[1]
    assert zoom.get_xlim() == pytest.approx((2.5, 5.25)) and zoom.get_xscale() == "linear"
    drawn = {a.get_gid() for a in [*zoom.lines, *zoom.collections, *zoom.patches] if a.get_gid()}
    assert drawn == set(names) - {"neff"}
    low, high = zoom.get_ylim()
    assert low < 0.88 * 3e-5 and high > 5 * 3e-5  # at 5 GeV: the CLs bound's MC band, the CLs +2 sigma edge

    # the layer table: every layer with its points and citation
    with open(paths[2], newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["layer"] for r in table].count("freeze_out_ft0.1") == 60
    assert {r["layer"] for r in table} == set(names)
    overlay = [r for r in table if r["layer"] == "overlay0"]
    assert [float(r["g"]) for r in overlay] == [3e-4, 1e-4, 2e-4]
    assert {r["citation"] for r in overlay} == {"Someone et al. (2030)"}
    assert "Steigman" in next(r["citation"] for r in table if r["layer"] == "freeze_out_ft0.1")
    cls = [r for r in table if r["layer"] == "cls_1sigma"]
    assert [float(r["g_high"]) for r in cls] == pytest.approx([4e-5, 8e-5, 1.2e-4])
    # the two bounds, the limits to quote where the MC sets g(CLs), each with its MC-statistical band
    for layer, g in (("lambda_bound_mc_error", 1e-5), ("cls_bound_mc_error", 0.98e-5)):
        edges = [(float(r["g"]), float(r["g_high"])) for r in table if r["layer"] == layer]
        np.testing.assert_allclose(edges, [((k + 1) * (g - 1e-6), (k + 1) * (g + 1e-6)) for k in range(3)])
    # and every other limit drawn: the coarse one, and the toys where they ran (the first mass point)
    edges = [(float(r["g"]), float(r["g_high"])) for r in table if r["layer"] == "lambda_coarse_mc_error"]
    np.testing.assert_allclose(edges, [((k + 1) * 1.8e-4, (k + 1) * 2.2e-4) for k in range(3)])
    toys = [(float(r["m_a"]), float(r["g"]), float(r["g_high"])) for r in table if r["layer"] == "cls_toys_mc_error"]
    np.testing.assert_allclose(toys, [(0.1, 2.9e-5, 3.5e-5)])


def test_the_summary_plot_draws_the_limit_to_quote(tmp_path):
    """The summary reach plot: the expected limit to quote with its bands and MC band, a marker per
    mass point for the CLs limit it is, and the same context as the reach plot."""
    table = rows()
    layers = workflow.summary_layers(table, load_config())
    names = [layer.name for layer in layers]
    ours = ["expected_2sigma", "expected_1sigma", "expected_mc_error", "expected"]
    ours += ["expected_toys", "expected_cls_bound", "expected_cls"]
    assert names == ["neff", *ours, "freeze_out_ft0.1", "freeze_out_ft0.01", "freeze_out_ft0.001"]
    by_name = {layer.name: layer for layer in layers}
    np.testing.assert_allclose(by_name["expected"].g, [2.5e-5, 5e-5, 7.5e-5])
    np.testing.assert_allclose(by_name["expected_1sigma"].upper, [3.5e-5, 7e-5, 10.5e-5])
    np.testing.assert_allclose(by_name["expected_mc_error"].g, [2.42e-5, 4.84e-5, 7.26e-5])
    for source, m_a in (("toys", 5.0), ("cls_bound", 0.1), ("cls", 1.0)):  # rows(): one mass point each
        np.testing.assert_allclose(by_name[f"expected_{source}"].m_a, [m_a])
    paths = reach_plot(layers, tmp_path, title="t", stem="reach_summary")
    assert [p.name for p in paths] == ["reach_summary.png", "reach_summary.pdf", "reach_summary_layers.csv"]


def test_context_layers_follow_the_configuration(tmp_path):
    cfg = load_config().replace(reach_plot={"fine_tuning": [0.05], "neff_dm_mass_min": None})
    names = [layer.name for layer in workflow.reach_layers(rows(), cfg)]
    assert "neff" not in names and [n for n in names if n.startswith("freeze")] == ["freeze_out_ft0.05"]


def test_limits_table_round_trip(tmp_path):
    table = rows()
    write_rows(tmp_path / "limits.csv", table)
    back = read_rows(tmp_path / "limits.csv")
    assert [r.small_background for r in back] == [False, False, True]
    assert [r.cls_mc_limited for r in back] == [True, False, False]
    assert back[0] == table[0] and np.isnan(back[1].g_cls_toys)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("m_a,limit\n1,2\n2,3\n", r"lacks the column\(s\) \['g'\]"),
        ("m_a,g\n1,2e-4\n2,-3e-4\n", "row 2 has m_a or g not a positive number"),
        ("m_a,g\n1,2e-4\n2,nan\n", "row 2 has m_a or g not a positive number"),
        ("m_a,g\n1,2e-4\n2,abc\n", "not a number"),
        ("m_a,g\n1,2e-4\n", "at least 2 points"),
    ],
)
def test_bad_overlay_curves_are_named(tmp_path, text, message):
    cfg = overlay_config(tmp_path, text)
    with pytest.raises(workflow.WorkflowError, match=message) as err:
        workflow.overlay_curves(cfg)
    assert "reach_plot.overlays[0]" in str(err.value) and "curve.csv" in str(err.value)


def test_missing_overlay_fails_before_any_sample_is_made(tmp_path):
    cfg = overlay_config(tmp_path, "m_a,g\n1,2\n2,3\n")
    (tmp_path / "curve.csv").unlink()
    with pytest.raises(workflow.WorkflowError, match="cannot read the overlay curve"):
        workflow.run(cfg, tmp_path / "output")
    assert not (tmp_path / "output").exists()


def test_the_table_says_which_limit_to_quote_where_the_background_is_small():
    """A flagged mass point (few background events) without the toys' limit: the table advises running
    them; with it, the table says that it is the limit there."""
    table = rows()  # the flagged point (5 GeV) has no toys' limit
    assert "run pseudo-experiments" in format_table(table, 1e-4)
    with_toys = [dataclasses.replace(r, g_cls_toys=3.3 * r.g_lambda) for r in table]
    assert "g(toys) is the limit there" in format_table(with_toys, 1e-4)


def test_convergence_figure_draws_each_limit_over_the_largest_sample():
    small, large = rows((5.0, 6.5, 7.0)), rows((5.0, 6.5, 7.0))
    halved = [dataclasses.replace(r, g_lambda=2 * r.g_lambda, g_cls=1.5 * r.g_cls) for r in small]
    fig = convergence_figure({4000: halved, 8000: large}, "ee_to_eegg")
    lines = {line.get_gid(): line for ax in fig.axes for line in ax.lines}
    assert set(lines) == {f"{c}:{i}" for c in CONVERGENCE_LIMITS for i in (1, 2)}  # from 6 GeV on
    np.testing.assert_allclose(lines["g_lambda:1"].get_ydata(), [2.0, 1.0])
    np.testing.assert_allclose(lines["g_cls:2"].get_ydata(), [1.5, 1.0])
    np.testing.assert_allclose(lines["g_lambda_bound:2"].get_xdata(), [4000, 8000])
    np.testing.assert_allclose(lines["g_cls_bound:1"].get_ydata(), [1.0, 1.0])
    with pytest.raises(ValueError, match="at least two sample sizes"):
        convergence_figure({8000: large}, "ee_to_eegg")
