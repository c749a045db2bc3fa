"""Workspaces from analysis histograms: empty-bin treatments, S/B groups, cabinetry, patchsets."""

import json
import subprocess
import sys
from pathlib import Path

import cabinetry
import hist
import numpy as np
import pyhf
import pytest

from alpfusion.atomic import write_yaml
from alpfusion.fits.cls import expected_limit
from alpfusion.fits.poisson import mu_at_lambda
from alpfusion.models.publish import publish_workspaces
from alpfusion.models.workspace import (
    EDGE_TAIL_SHARE,
    FLOOR,
    EmptyBins,
    ModelError,
    Template,
    block_average,
    cabinetry_config,
    coarse_model,
    group_by_signal_to_background,
    lowest_offset,
    nearest_mc,
    neighbourhood_event_yield,
    region_model,
    write_templates,
)

REGIONS = ("ma1p000", "ma3p000")
EDGES = np.geomspace(0.1, 10.0, 41)


def analysis_histogram(m_ee, m_tau, weight, region):
    h = hist.Hist(
        hist.axis.StrCategory(list(REGIONS), name="region"),
        hist.axis.Variable(EDGES, name="m_ee"),
        hist.axis.Variable(EDGES, name="m_ee_tau"),
        storage=hist.storage.Weight(),
    )
    h.fill(region=region, m_ee=m_ee, m_ee_tau=m_tau, weight=weight)
    return h


@pytest.fixture(scope="module")
def histograms():
    """Signal spread over the plane, tau-pair background on the diagonal: most signal bins lack MC."""
    rng = np.random.default_rng(1)
    sig, bkg = None, None
    for region, centre in zip(REGIONS, (1.0, 3.0)):
        x = centre * np.exp(rng.normal(0, 0.3, 3000))
        s = analysis_histogram(x, x * np.exp(rng.normal(0, 0.4, 3000)), np.full(3000, 2e-3), region)
        x = centre * np.exp(rng.normal(0, 0.3, 400))
        b = analysis_histogram(x, x * np.exp(rng.normal(0, 0.02, 400)), np.full(400, 0.05), region)
        sig, bkg = (s, b) if sig is None else (sig + s, bkg + b)
    return sig, {"ee_to_tautau": bkg}


@pytest.mark.parametrize("treatment", ["none", "floor"])
def test_empty_bins_are_explicit(histograms, treatment):
    sig, bkgs = histograms
    model = region_model("ma1p000", 1.0, sig, bkgs, EmptyBins(treatment))
    assert model.empty.sum() > len(model.bins) / 2  # the hard case of physics.md section 6
    total_signal = sig[{"region": "ma1p000"}].values().sum()
    assert model.signal.yields.sum() == pytest.approx(total_signal)
    if treatment == "floor":
        floor = model.backgrounds[FLOOR]
        assert np.all((floor.yields > 0) == model.empty)
        # one effective MC event: all background events weigh 0.05 (times nothing: yields are weights here)
        assert floor.yields[model.empty] == pytest.approx(0.05)
        assert np.sqrt(floor.variances[model.empty]) == pytest.approx(0.05)
    else:
        assert FLOOR not in model.backgrounds


def test_the_floor_is_one_event_of_the_neighbourhood():
    """Two MC events of weights 2 and 0.01 far apart: each empty bin's floor is the weight of the
    nearer one, not an average over the plane; a bin equally near both gives sum(y^2)/sum(y); a plane
    without MC gives NaN."""
    values, variances = np.zeros((40, 40)), np.zeros((40, 40))
    values[5, 5], variances[5, 5] = 2.0, 4.0
    values[30, 30], variances[30, 30] = 0.01, 1e-4
    corners = np.ravel_multi_index(([5, 6, 0, 30, 28, 39, 10, 20], [5, 7, 0, 30, 33, 39, 35, 30]), (40, 40))
    distance, floor = nearest_mc(values, variances, corners)
    assert floor == pytest.approx([2.0, 2.0, 2.0, 0.01, 0.01, 0.01, 0.01, 0.01])
    assert list(distance) == [0, 2, 5, 0, 3, 9, 20, 10]
    distance, both = nearest_mc(values, variances, [np.ravel_multi_index((5, 30), (40, 40))])
    assert list(distance) == [25] and both == pytest.approx([(4.0 + 1e-4) / 2.01])  # 25 bins from either
    distance, none = nearest_mc(np.zeros((3, 3)), np.zeros((3, 3)))
    assert np.isinf(distance).all() and np.isnan(none).all()


def test_bins_beyond_the_reach_of_the_mc_get_no_floor(histograms):
    """With a reach of R bins, exactly the empty bins within R bins of background MC get a floor."""
    sig, bkgs = histograms
    everywhere = region_model("ma1p000", 1.0, sig, bkgs, EmptyBins("floor"))
    near = region_model("ma1p000", 1.0, sig, bkgs, EmptyBins("floor", floor_reach=2))
    values, variances = (
        np.asarray(a)
        for a in (
            bkgs["ee_to_tautau"][{"region": "ma1p000"}].values(),
            bkgs["ee_to_tautau"][{"region": "ma1p000"}].variances(),
        )
    )
    distance, _ = nearest_mc(values, variances, near.bins)
    floored = near.backgrounds[FLOOR].yields > 0
    assert np.array_equal(floored, near.empty & (distance <= 2))
    assert 0 < floored.sum() < everywhere.empty.sum()
    assert np.array_equal(near.backgrounds[FLOOR].yields[floored], everywhere.backgrounds[FLOOR].yields[floored])


def test_the_floor_scale_multiplies_every_floor_and_nothing_else(histograms):
    """floor_scale k multiplies each floored bin's yield by k and its variance by k^2 (the uncertainty stays
    relative); the floored bins and the MC's templates stay as they are; k <= 0 is refused."""
    sig, bkgs = histograms
    plain = region_model("ma1p000", 1.0, sig, bkgs, EmptyBins("floor", floor_reach=2))
    doubled = region_model("ma1p000", 1.0, sig, bkgs, EmptyBins("floor", floor_reach=2, floor_scale=2.0))
    floor, floor2 = plain.backgrounds[FLOOR], doubled.backgrounds[FLOOR]
    assert np.count_nonzero(floor.yields) > 0
    assert np.array_equal(floor2.yields, 2.0 * floor.yields)
    assert np.array_equal(floor2.variances, 4.0 * floor.variances)
    for name in bkgs:
        assert np.array_equal(doubled.backgrounds[name].yields, plain.backgrounds[name].yields)
    with pytest.raises(ModelError, match="floor scale"):
        EmptyBins("floor", floor_scale=0.0)


def test_neighbourhood_event_yield_by_hand():
    """sum(y^2)/sum(y) over the (2r+1)^2 bins around a bin, clipped at the border, each plane of a
    stack apart; NaN without MC around; radius 0 is the bin's own effective event."""
    values, variances = np.zeros((2, 6, 6)), np.zeros((2, 6, 6))
    values[0, 2, 2], variances[0, 2, 2] = 0.1, 0.01  # one light event
    values[0, 3, 4], variances[0, 3, 4] = 10.0, 100.0  # one heavy event two bins away
    values[1, 0, 0], variances[1, 0, 0] = 3.0, 5.0  # the corner of the other plane
    where = np.ravel_multi_index(([0, 0, 0, 1, 1, 0], [2, 2, 5, 1, 5, 0], [2, 0, 0, 1, 5, 5]), (2, 6, 6))
    light = 0.01 / 0.1
    both = (0.01 + 100.0) / 10.1
    assert neighbourhood_event_yield(values, variances, where[:1], 0) == pytest.approx([light])
    assert neighbourhood_event_yield(values, variances, where[:1], 1) == pytest.approx([light])
    got = neighbourhood_event_yield(values, variances, where, 2)
    assert got[:2] == pytest.approx([both, light])
    assert np.isnan(got[2]) and got[3] == pytest.approx(5.0 / 3.0) and np.isnan(got[4]) and np.isnan(got[5])


def test_the_neighbourhood_floor_raises_light_bins_to_one_event_of_their_neighbourhood():
    """With floor_neighbourhood r, a bin whose MC is lighter than one effective event of the (2r+1)^2
    bins around it gets the difference as floor (100% uncertainty), an empty floored bin the larger of
    its floor and that event; well-filled bins, the MC's templates and the bins that get no floor stay
    as they are; r < 0 is refused."""
    values = np.zeros((len(EDGES) - 1,) * 2)
    values[10, 10], values[10, 12] = 0.05, 40.0  # a light event beside a heavy one
    values[20, 20:23] = 30.0  # a well-filled stretch: 30 events of weight 1 in each bin
    centres = np.sqrt(EDGES[1:] * EDGES[:-1])
    i, j = np.nonzero(values)
    n_events = np.where(values[i, j] == 30.0, 30, 1)
    m_ee, m_tau = np.repeat(centres[i], n_events), np.repeat(centres[j], n_events)
    weights = np.repeat(values[i, j] / n_events, n_events)
    bkgs = {"ee_to_tautau": analysis_histogram(m_ee, m_tau, weights, REGIONS[0])}
    s_i, s_j = np.meshgrid(np.arange(5, 25), np.arange(5, 25), indexing="ij")
    sig = analysis_histogram(centres[s_i.ravel()], centres[s_j.ravel()], np.ones(s_i.size), REGIONS[0])
    plain = region_model(REGIONS[0], 1.0, sig, bkgs, EmptyBins("floor", floor_reach=1))
    raised = region_model(REGIONS[0], 1.0, sig, bkgs, EmptyBins("floor", floor_reach=1, floor_neighbourhood=2))
    flat = lambda a, b: list(raised.bins).index(np.ravel_multi_index((a, b), values.shape))
    floor, plain_floor = raised.backgrounds[FLOOR].yields, plain.backgrounds[FLOOR].yields
    heavy_event = (0.05**2 + 40.0**2) / 40.05
    assert floor[flat(10, 10)] == pytest.approx(heavy_event - 0.05)
    assert raised.total_background[flat(10, 10)] == pytest.approx(heavy_event)
    assert plain_floor[flat(10, 10)] == 0.0
    assert floor[flat(11, 10)] == pytest.approx(heavy_event) and plain_floor[flat(11, 10)] == pytest.approx(0.05)
    assert floor[flat(20, 21)] == 0.0 and floor[flat(20, 20)] == 0.0  # 90 events of weight 1 around
    assert floor[flat(5, 5)] == 0.0 and plain_floor[flat(5, 5)] == 0.0  # beyond the reach: no floor
    assert np.array_equal(raised.backgrounds["ee_to_tautau"].yields, plain.backgrounds["ee_to_tautau"].yields)
    assert np.array_equal(raised.backgrounds[FLOOR].variances, floor**2)
    assert np.all(raised.total_background >= plain.total_background)
    with pytest.raises(ModelError, match="floor neighbourhood"):
        EmptyBins("floor", floor_neighbourhood=-1)


def test_lowest_offset_of_a_bin_of_the_plane():
    """On equal logarithmic axes of width w, bin (i, j) reaches down to the offset (j - i - 1) w."""
    h = analysis_histogram([1.0], [1.0], [1.0], REGIONS[0])
    w = np.log(EDGES[1] / EDGES[0])
    i, j = np.indices((len(EDGES) - 1,) * 2)
    assert lowest_offset(h) == pytest.approx((j - i - 1) * w)


@pytest.fixture(scope="module")
def below_the_diagonal():
    """Signal spread over the plane; a background that ends at the diagonal (|m_ee^tau| <= m_ee, as the
    tau pairs with the tau_like c_phi) and a second one of three heavy events far above it."""
    rng = np.random.default_rng(2)
    x = np.exp(rng.normal(0, 0.3, 3000))
    sig = analysis_histogram(x, x * np.exp(rng.normal(0.1, 0.4, 3000)), np.full(3000, 2e-3), REGIONS[0])
    x = np.exp(rng.normal(0, 0.3, 2000))
    tau = analysis_histogram(x, x * np.exp(-np.abs(rng.normal(0, 0.1, 2000))), np.full(2000, 0.05), REGIONS[0])
    qed = analysis_histogram([0.5, 0.6, 2.0], [2.0, 1.5, 4.0], [30.0, 30.0, 30.0], REGIONS[0])
    return sig, tau, qed


def test_a_background_gives_no_floor_beyond_its_edge(below_the_diagonal):
    """A background with an edge at the diagonal floors no empty bin wholly above it: the bins two rows
    above the diagonal, which the Chebyshev reach of one bin puts next to the diagonal's MC, lose their
    floor, the row touching the diagonal keeps it (its corner lies on the edge), and every other floor
    stays as it was. A second background floors the bins near its own MC above the edge, with its own
    event weight, not with the first one's."""
    sig, tau, _ = below_the_diagonal
    plain = region_model(REGIONS[0], 1.0, sig, {"ee_to_tautau": tau}, EmptyBins("floor", floor_reach=1))
    edged = region_model(
        REGIONS[0], 1.0, sig, {"ee_to_tautau": tau}, EmptyBins("floor", floor_reach=1, edges={"ee_to_tautau": 0.0})
    )
    lowest = lowest_offset(tau).ravel()[plain.bins]
    before, after = plain.backgrounds[FLOOR].yields, edged.backgrounds[FLOOR].yields
    assert np.any((before > 0) & (lowest > 0))  # the reach alone floors bins wholly above the diagonal
    assert not np.any((after > 0) & (lowest > 0))
    assert np.any((after > 0) & np.isclose(lowest, 0.0, atol=1e-12))
    assert np.array_equal(after[lowest <= 0], before[lowest <= 0])
    _, _, qed = below_the_diagonal
    both = {"ee_to_tautau": tau, "ee_to_eegg": qed}
    mixed = region_model(REGIONS[0], 1.0, sig, both, EmptyBins("floor", floor_reach=1, edges={"ee_to_tautau": 0.0}))
    above = mixed.backgrounds[FLOOR].yields[lowest > 0]
    assert np.all((above == 0) | np.isclose(above, 30.0))  # only the heavy events' own weight
    assert np.any(np.isclose(above, 30.0))


def test_mc_beyond_a_declared_edge_is_an_error(histograms):
    """The fixture's tau pairs lie on the diagonal: an edge below it is contradicted by their MC."""
    sig, bkgs = histograms
    with pytest.raises(ModelError, match=r"'ee_to_tautau'.*statistics\.edges\.ee_to_tautau"):
        region_model("ma1p000", 1.0, sig, bkgs, EmptyBins("floor", edges={"ee_to_tautau": -0.2}))
    unchecked = EmptyBins("floor", edges={"ee_to_tautau": None})  # null: no edge
    assert np.array_equal(
        region_model("ma1p000", 1.0, sig, bkgs, unchecked).backgrounds[FLOOR].yields,
        region_model("ma1p000", 1.0, sig, bkgs, EmptyBins("floor")).backgrounds[FLOOR].yields,
    )


def test_a_smeared_tail_beyond_an_edge_is_kept_a_misplaced_edge_is_an_error(below_the_diagonal):
    """One light event of the tau pairs far above their edge (the smearing's far tail; another seed of
    the default run has one, 3 x 10^-7 of the region's events) is kept as the MC of its bin, every
    other bin above the edge stays without a tau floor, and the floors below it barely change; the
    same event carrying 10^-3 of the sample is not a tail but an edge in the wrong place, an error."""
    sig, tau, _ = below_the_diagonal
    treatment = EmptyBins("floor", floor_reach=1, edges={"ee_to_tautau": 0.0})
    edged = region_model(REGIONS[0], 1.0, sig, {"ee_to_tautau": tau}, treatment)
    total = tau.sum().value
    for share, fails in ((0.5 * EDGE_TAIL_SHARE, False), (1e-3, True)):
        tail = analysis_histogram([1.0], [1.5], [share * total], REGIONS[0])
        with_tail = {"ee_to_tautau": tau + tail}
        if fails:
            with pytest.raises(ModelError, match=r"'ee_to_tautau'.*statistics\.edges\.ee_to_tautau"):
                region_model(REGIONS[0], 1.0, sig, with_tail, treatment)
            continue
        model = region_model(REGIONS[0], 1.0, sig, with_tail, treatment)
        lowest = lowest_offset(tau).ravel()[model.bins]
        kept = model.backgrounds["ee_to_tautau"].yields
        assert kept[lowest > 0].sum() == pytest.approx(share * total)
        assert not np.any((model.backgrounds[FLOOR].yields > 0) & (lowest > 0))
        below = lowest <= 0  # floors there change only where the light event joins a bin's neighbourhood
        assert np.allclose(model.backgrounds[FLOOR].yields[below], edged.backgrounds[FLOOR].yields[below], rtol=1e-3)


def test_grouping_keeps_yields_and_sensitivity(histograms):
    sig, bkgs = histograms
    full = region_model("ma1p000", 1.0, sig, bkgs, EmptyBins("floor"))
    grouped, groups = group_by_signal_to_background(full, 10)
    assert len(grouped.bins) <= 11 and len(groups) == len(full.bins)
    for name, t in full.samples.items():
        assert grouped.samples[name].yields.sum() == pytest.approx(t.yields.sum())
        assert grouped.samples[name].variances.sum() == pytest.approx(t.variances.sum())
    loss = (
        mu_at_lambda(grouped.signal.yields, grouped.total_background)
        / mu_at_lambda(full.signal.yields, full.total_background)
        - 1
    )
    assert 0 <= loss < 0.05  # merging can only lose sensitivity, and little of it


def test_no_signal_is_an_error(histograms):
    _, bkgs = histograms
    empty_signal = analysis_histogram([], [], [], "ma1p000")
    with pytest.raises(ModelError, match="ma1p000.*no selected events"):
        region_model("ma1p000", 1.0, empty_signal, bkgs)


@pytest.fixture(scope="module")
def built(histograms, tmp_path_factory):
    """Both mass points through templates, cabinetry configs and workspaces (floor treatment)."""
    sig, bkgs = histograms
    out = tmp_path_factory.mktemp("models")
    models = {
        m_a: group_by_signal_to_background(region_model(r, m_a, sig, bkgs), 8)[0] for r, m_a in zip(REGIONS, (1.0, 3.0))
    }
    templates = write_templates(out / "templates.root", list(models.values()))
    workspaces, configs = {}, {}
    for m_a, model in models.items():
        cfg = cabinetry_config(model, templates, out / "histograms", mu_max=1000.0)
        configs[m_a] = write_yaml(out / f"{model.region}.yml", cfg)
        cabinetry.templates.collect(cfg)
        workspaces[m_a] = cabinetry.workspace.build(cfg)
    return out, models, workspaces, configs


def test_workspace_limits_are_finite(built):
    _, models, workspaces, _ = built
    for spec in workspaces.values():
        sample_names = [s["name"] for s in spec["channels"][0]["samples"]]
        assert sample_names == ["signal", "ee_to_tautau", FLOOR]
        assert all(any(m["type"] == "staterror" for m in s["modifiers"]) for s in spec["channels"][0]["samples"])
        limit = expected_limit(pyhf.Workspace(spec).model())
        assert np.all(np.isfinite(limit.band)) and 0 < limit.band[0] < limit.median < limit.band[4]


def test_patchset_round_trip_and_command_lines(built):
    out, models, workspaces, configs = built
    names = {m_a: m.region for m_a, m in models.items()}
    bkg_path, patch_path = publish_workspaces(workspaces, names, out / "published", description="test")
    bkg_only = json.loads(bkg_path.read_text())
    assert len(json.loads(patch_path.read_text())["patches"]) == len(workspaces)
    assert all(s["name"] != "signal" for c in bkg_only["channels"] for s in c["samples"])
    bin_dir = Path(sys.executable).parent  # the console scripts of the environment running the tests
    run = lambda tool, *args: subprocess.run([str(bin_dir / tool), *args], capture_output=True, text=True, cwd=out)
    assert run("pyhf", "patchset", "verify", str(bkg_path), str(patch_path)).returncode == 0
    for m_a, spec in workspaces.items():
        applied = run("pyhf", "patchset", "apply", str(bkg_path), str(patch_path), "--name", names[m_a])
        assert applied.returncode == 0, applied.stderr
        assert json.loads(applied.stdout) == spec  # bit for bit
    # pyhf cls at the expected limit gives CLs = 0.05 on the (Asimov) data of the rebuilt workspace
    ws_path = out / "rebuilt.json"
    ws_path.write_text(run("pyhf", "patchset", "apply", str(bkg_path), str(patch_path), "--name", names[1.0]).stdout)
    median = expected_limit(pyhf.Workspace(workspaces[1.0]).model()).median
    cls = run("pyhf", "cls", str(ws_path), "--test-poi", str(median))
    assert cls.returncode == 0, cls.stderr
    assert json.loads(cls.stdout)["CLs_obs"] == pytest.approx(0.05, abs=2e-3)
    # the cabinetry command line works on the written configuration and workspace
    written = out / "cab_ws.json"
    assert run("cabinetry", "workspace", str(configs[1.0]), str(written)).returncode == 0
    fit = run("cabinetry", "fit", str(written))
    assert fit.returncode == 0, fit.stderr


def test_large_background_workspace_gives_the_limit_in_plain_pyhf(tmp_path):
    """A model like the default run's (10^10 background events, the signal a few 10^3 times smaller than
    the MC-statistical error): the command-line pyhf with MINUIT, started from the workspace's own
    initial values (mu = 0, the best fit of the background-only Asimov data), gives CLs = 0.05 at our
    expected limit. (pyhf's default SLSQP does not converge on such yields: docs/statistics.md.)"""
    rng = np.random.default_rng(1)
    x = np.exp(rng.normal(0, 0.3, 3000))
    sig = analysis_histogram(x, x * np.exp(rng.normal(0, 0.4, 3000)), np.full(3000, 2.0), REGIONS[0])
    x = np.exp(rng.normal(0, 0.3, 200_000))
    bkg = analysis_histogram(x, x * np.exp(rng.normal(0, 0.4, 200_000)), np.full(200_000, 5e4), REGIONS[0])
    model = group_by_signal_to_background(region_model(REGIONS[0], 1.0, sig, {"qed": bkg}), 8)[0]
    assert model.total_background.sum() > 1e9
    templates = write_templates(tmp_path / "templates.root", [model])
    mu_max = 1e3 * mu_at_lambda(model.signal.yields, model.total_background)
    cfg = cabinetry_config(model, templates, tmp_path / "histograms", mu_max=mu_max)
    cabinetry.templates.collect(cfg)
    spec = cabinetry.workspace.build(cfg)
    (tmp_path / "ws.json").write_text(json.dumps(spec))
    median = expected_limit(pyhf.Workspace(spec).model()).median
    bin_dir = Path(sys.executable).parent
    args = ["cls", str(tmp_path / "ws.json"), "--optimizer", "minuit", "--test-poi", str(median)]
    cls = subprocess.run([str(bin_dir / "pyhf"), *args], capture_output=True, text=True)
    assert cls.returncode == 0, cls.stderr
    assert json.loads(cls.stdout)["CLs_obs"] == pytest.approx(0.05, abs=2e-3)


def test_block_average_is_the_mean_over_each_block():
    values = np.arange(12.0).reshape(3, 4)
    averaged = block_average(values, 2)
    assert averaged[0, 0] == averaged[1, 1] == np.mean([0, 1, 4, 5])
    assert averaged[2, 3] == np.mean([10, 11])  # an edge block holds fewer bins
    assert np.array_equal(block_average(values, 1), values)
    with pytest.raises(ModelError, match="block size"):
        block_average(values, 0)


def test_stacked_planes_are_averaged_and_searched_apart():
    """Planes stacked along a leading axis (the |eta*_miss| slices): each block average and each
    nearest MC is that of its own plane, never of a neighbour in another plane."""
    rng = np.random.default_rng(4)
    values = rng.random((3, 7, 9)) * (rng.random((3, 7, 9)) < 0.2)
    values[2] = 0.0
    averaged = block_average(values, 3)
    for k in range(3):
        assert np.array_equal(averaged[k], block_average(values[k], 3))
    variances = values**2
    distance, event_yield = nearest_mc(values, variances)
    for k in range(2):
        in_plane = nearest_mc(values[k], variances[k])
        assert np.array_equal(distance[k * 63 : (k + 1) * 63], in_plane[0])
        assert np.array_equal(event_yield[k * 63 : (k + 1) * 63], in_plane[1])
    assert np.isinf(distance[126:]).all() and np.isnan(event_yield[126:]).all()  # a plane without MC


def sliced_histogram(eta, m_ee, m_tau, weight):
    h = hist.Hist(
        hist.axis.StrCategory(list(REGIONS), name="region"),
        hist.axis.Variable([0.0, 1.0, np.inf], name="abs_eta_miss", underflow=False, overflow=False),
        hist.axis.Variable(EDGES, name="m_ee"),
        hist.axis.Variable(EDGES, name="m_ee_tau"),
        storage=hist.storage.Weight(),
    )
    h.fill(region=REGIONS[0], abs_eta_miss=eta, m_ee=m_ee, m_ee_tau=m_tau, weight=weight)
    return h


def test_a_background_of_one_slice_floors_no_bin_of_another():
    """A background whose MC lies only at |eta*_miss| > 1, where the signal also has a part: the floor
    goes to the empty signal bins next to it in that slice only, the signal's central slice stays
    background-free, and the limit is that of the two slices' planes taken separately."""
    rng = np.random.default_rng(6)
    n = 4000
    x = np.exp(rng.normal(0, 0.3, n))
    eta = np.where(rng.random(n) < 0.7, 0.5, 1.5)
    sig = sliced_histogram(eta, x, x * np.exp(rng.normal(0, 0.3, n)), np.full(n, 2e-3))
    x = np.exp(rng.normal(0, 0.3, 300))
    qed = sliced_histogram(np.full(300, 1.5), x, x * np.exp(rng.normal(0, 0.3, 300)), np.full(300, 40.0))
    bkg = {"ee_to_eegg": qed}
    model = region_model(REGIONS[0], 1.0, sig, bkg, EmptyBins("floor", floor_reach=1))
    central = model.bins < (len(EDGES) - 1) ** 2
    assert central.sum() > 100 and (~central).sum() > 100
    floor = model.backgrounds[FLOOR].yields
    assert not np.any(floor[central]) and np.all(model.total_background[central] == 0)
    assert np.any(floor[~central] > 0) and np.allclose(floor[floor > 0], 40.0)
    reach = EmptyBins("floor", floor_reach=1)
    forward = region_model(REGIONS[0], 1.0, sig[{"abs_eta_miss": 1}], {"ee_to_eegg": qed[{"abs_eta_miss": 1}]}, reach)
    s_central = sig[{"region": REGIONS[0], "abs_eta_miss": 0}].values()
    separate = mu_at_lambda(
        np.concatenate([s_central[s_central > 0], forward.signal.yields]),
        np.concatenate([np.zeros(np.sum(s_central > 0)), forward.total_background]),
    )
    assert mu_at_lambda(model.signal.yields, model.total_background) == pytest.approx(separate, rel=1e-12)


def test_a_support_floors_every_empty_bin_within_it_and_none_beyond():
    """A background of lost photons whose support leaves out the central slice below m_ee = 1: every
    empty signal bin within the support gets a floor, however far from its three MC events (a reach of
    one bin alone floors only their neighbours), the bins beyond it none; its MC beyond its support is
    an error that names the sample."""
    rng = np.random.default_rng(8)
    n = 4000
    x = np.exp(rng.normal(0, 0.5, n))
    sig = sliced_histogram(
        np.where(rng.random(n) < 0.5, 0.5, 1.5), x, x * np.exp(rng.normal(0, 0.3, n)), np.full(n, 1e-3)
    )
    qed = sliced_histogram([0.5, 1.5, 1.5], [2.0, 0.5, 3.0], [2.0, 0.6, 3.0], [30.0, 30.0, 30.0])
    centres = np.sqrt(EDGES[1:] * EDGES[:-1])
    support = np.ones((2, len(centres), len(centres)), dtype=bool)
    support[0, centres < 1.0, :] = False
    reach = EmptyBins("floor", floor_reach=1)
    near = region_model(REGIONS[0], 1.0, sig, {"ee_to_eegg": qed}, reach)
    model = region_model(REGIONS[0], 1.0, sig, {"ee_to_eegg": qed}, reach, {"ee_to_eegg": support})
    within = support.ravel()[model.bins]
    floor = model.backgrounds[FLOOR].yields
    assert np.all(floor[model.empty & within] > 0) and not np.any(floor[~within])
    assert np.count_nonzero(floor) > 3 * np.count_nonzero(near.backgrounds[FLOOR].yields)
    assert (~within & model.empty).sum() > 50  # the bins beyond the support are many, and background-free
    beyond = support.copy()
    beyond[0, np.searchsorted(EDGES, 2.0) - 1, :] = False  # where the central MC event lies
    with pytest.raises(ModelError, match=r"'ee_to_eegg'.*beyond the missing-mass bound"):
        region_model(REGIONS[0], 1.0, sig, {"ee_to_eegg": qed}, reach, {"ee_to_eegg": beyond})


def test_a_support_floor_beyond_the_reach_of_the_mc_is_one_effective_event_of_its_plane():
    """A support floors an empty bin however far from the MC; beyond the floor's reach no MC measures
    its neighbourhood, so its floor is one effective event of its plane, sum(y^2)/sum(y), not the
    weight of the nearest event, which in a biased sample may be 10^8 times lighter than the events that
    make up the plane: here a bin 7 bins from a lone event of 10^-4 and 20 from three of 10^4 gets
    10^4, while the bin next to the light event keeps its local floor, 10^-4."""
    qed = sliced_histogram([0.5] * 4, [5.0, 5.0, 5.0, 0.2], [5.0, 5.0, 5.0, 0.2], [1e4, 1e4, 1e4, 1e-4])
    sig = sliced_histogram([0.5, 0.5], [0.5, 0.24], [0.5, 0.24], [1.0, 1.0])
    support = np.ones((2, len(EDGES) - 1, len(EDGES) - 1), dtype=bool)
    model = region_model(
        REGIONS[0], 1.0, sig, {"ee_to_eegg": qed}, EmptyBins("floor", floor_reach=1), {"ee_to_eegg": support}
    )
    floor = model.backgrounds[FLOOR].yields
    far, near = (np.ravel_multi_index((0, i, i), support.shape) for i in np.searchsorted(EDGES, [0.5, 0.24]) - 1)
    assert floor[model.bins == far][0] == pytest.approx((3e8 + 1e-8) / (3e4 + 1e-4), rel=1e-12)
    assert floor[model.bins == near][0] == pytest.approx(1e-4, rel=1e-12)


def test_coarse_order_recovers_a_smooth_background_from_sparse_heavy_mc():
    """A background uniform in expectation (100 events per bin) sampled by few heavy MC events (weight
    1000, most bins empty): the per-bin limit, which counts the empty bins as background-free, is far
    too strong; the coarse model (order from 10 x 10 blocks, each group's B its MC summed) agrees with
    the same groups' limit on the true background within four times its MC error, (1/4) / sqrt(N_MC)
    in g (g ~ B^(1/4) where S << B)."""
    rng = np.random.default_rng(11)
    region = REGIONS[0]
    n_signal = 20000
    m_ee = np.exp(rng.normal(0.0, 0.6, n_signal))
    sig = analysis_histogram(m_ee, m_ee * np.exp(rng.normal(0.5, 0.6, n_signal)), np.full(n_signal, 1e-2), region)
    centres = np.sqrt(EDGES[1:] * EDGES[:-1])
    n_bins = len(centres) ** 2
    n_mc = rng.poisson(n_bins * 100.0 / 1000.0)
    cells = rng.integers(0, len(centres), (n_mc, 2))
    bkg = analysis_histogram(centres[cells[:, 0]], centres[cells[:, 1]], np.full(n_mc, 1000.0), region)
    truth = analysis_histogram(
        centres.repeat(len(centres)), np.tile(centres, len(centres)), np.full(n_bins, 100.0), region
    )
    backgrounds = {"qed": bkg}
    per_bin = region_model(region, 1.0, sig, backgrounds, EmptyBins("none"))
    coarse, groups = coarse_model(region, 1.0, sig, backgrounds, blocks=10, n_groups=10)
    true_b = np.bincount(groups, region_model(region, 1.0, sig, {"truth": truth}).total_background)
    g = lambda s, b: np.sqrt(mu_at_lambda(s, b))
    g_true = g(coarse.signal.yields, true_b)
    assert abs(g(coarse.signal.yields, coarse.total_background) / g_true - 1) < 4 * 0.25 / np.sqrt(n_mc)
    assert g(per_bin.signal.yields, per_bin.total_background) < 0.5 * g_true
    free = coarse_model(region, 1.0, sig, {}, blocks=10, n_groups=10)[0]
    assert g(free.signal.yields, free.total_background) == pytest.approx(
        g(per_bin.signal.yields, 0 * per_bin.signal.yields)
    )


def test_effective_events_of_a_template():
    """(sum w)^2 / sum w^2 per bin from the weights of its MC events; a bin without MC has none."""
    weights = [np.array([1.0, 1.0, 2.0]), np.array([0.5] * 8), np.array([])]
    t = Template(np.array([w.sum() for w in weights]), np.array([np.sum(w**2) for w in weights]))
    np.testing.assert_allclose(t.effective_events, [16.0 / 6.0, 8.0, 0.0])
