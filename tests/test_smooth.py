"""The smooth background model: closure on factorisable MC, no empty bins left, finite limits."""

import math

import hist
import numpy as np
import pyhf
import pytest

from alpfusion.fits.cls import expected_limit
from alpfusion.models.smooth import SmoothModelError, _tail, smooth_plane
from alpfusion.models.workspace import SMOOTH, EmptyBins, region_model

EDGES = 0.1 * 1.02 ** np.arange(231)  # 2% bins from 0.1 to ~9.7 GeV on both axes


def plane(x_log, d_log, weight):
    """A region histogram filled at m_ee = e^x, |m_ee^tau| = e^(x + d)."""
    h = hist.Hist(
        hist.axis.StrCategory(["r"], name="region"),
        hist.axis.Variable(EDGES, name="m_ee"),
        hist.axis.Variable(EDGES, name="m_ee_tau"),
        storage=hist.storage.Weight(),
    )
    h.fill(region="r", m_ee=np.exp(x_log), m_ee_tau=np.exp(x_log + d_log), weight=weight)
    return h


def test_closure_on_factorisable_mc():
    """MC drawn from a density that factorises in (ln m_ee, offset): the model reproduces it where the
    MC is populated, within the MC errors (pulls of 10 x 10 blocks: mean ~ 0, rms ~ 1)."""
    rng = np.random.default_rng(5)
    n = 400_000
    x = rng.normal(0.3, 0.5, n)
    d = np.where(rng.random(n) < 0.7, rng.normal(0, 0.02, n), rng.normal(0, 0.15, n))
    h = plane(x, d, np.full(n, 2.5))
    view = h[{"region": "r"}].view(flow=False)
    values, variances = np.asarray(view.value), np.asarray(view.variance)
    model, model_var = smooth_plane(values, variances, "r", slices=4)
    assert model.sum() == pytest.approx(values.sum(), rel=0.02)
    nb = values.shape[0] // 10 * 10
    block = lambda a: a[:nb, :nb].reshape(nb // 10, 10, nb // 10, 10).sum(axis=(1, 3))
    v, var, p = block(values), block(variances), block(model)
    good = var > 0
    good &= v**2 / np.where(good, var, 1) >= 20
    pulls = (v[good] - p[good]) / np.sqrt(var[good] + block(model_var)[good])
    k = good.sum()
    assert k > 30
    assert abs(pulls.mean()) < 4 / math.sqrt(k) + 0.1 and pulls.std() < 1 + 4 / math.sqrt(2 * k) + 0.2
    # and where the MC is empty far off the diagonal, the model is positive and small
    far = (values == 0) & (np.abs(np.subtract.outer(np.arange(230), np.arange(230))) > 60)
    assert np.all(model[far] >= 0) and model[far].sum() < 1e-3 * model.sum()


def test_smooth_treatment_leaves_no_empty_bin_and_sets_a_limit():
    rng = np.random.default_rng(6)
    x = rng.normal(0.0, 0.3, 3000)
    bkg = plane(x, rng.normal(0, 0.02, 3000), np.full(3000, 0.05))
    xs = rng.normal(0.0, 0.3, 2000)
    sig = plane(xs, rng.normal(0, 0.4, 2000), np.full(2000, 5e-3))
    model = region_model("r", 1.0, sig, {"ee_to_tautau": bkg}, EmptyBins("smooth"))
    assert list(model.backgrounds) == [SMOOTH]
    assert model.empty.sum() > 0 and np.all(model.backgrounds[SMOOTH].yields > 0)  # the empty MC bins are filled
    spec = {
        "channels": [
            {
                "name": "r",
                "samples": [
                    {
                        "name": "signal",
                        "data": [float(model.signal.yields.sum())],
                        "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                    },
                    {"name": "bkg", "data": [float(model.total_background.sum())], "modifiers": []},
                ],
            }
        ]
    }
    assert math.isfinite(expected_limit(pyhf.Model(spec, poi_name="mu")).median)


def test_empty_background_is_an_error():
    with pytest.raises(SmoothModelError, match="'r'"):
        smooth_plane(np.zeros((5, 5)), np.zeros((5, 5)), "r")


def test_a_tail_whose_fit_is_singular_decays_from_its_last_level():
    """Two populated tail bins whose MC errors differ by 10^15 (a heavy event next to a light one)
    leave the slope unmeasured: the tail decays by e per bin from the last level (the fit gave a level
    of 1 with negative variances here, and numpy's "Singular matrix" on a small QED sample)."""
    distance = np.arange(6)
    h = np.array([0.0, 0.0, 1e3, 1e-3, 0.0, 0.0])
    h_var = np.array([0.0, 0.0, 1e-24, 1e6, 0.0, 0.0])
    side = distance >= 2
    model, variance = _tail(distance, h, h_var, side)
    assert np.allclose(model, 1e3 * np.exp(-np.arange(4)))
    assert np.all(np.isfinite(variance)) and np.all(variance >= 0)
