"""The reach plot's cosmology (physics.md section 7): the Standard Model degrees of freedom, the relic
cross section in the instantaneous freeze-out approximation against the precise numerical result of
Steigman, Dasgupta and Beacom (2012), and the resonant freeze-out target with its saturation."""

import numpy as np
import pytest
from scipy import special

from alpfusion import cosmology


def test_degrees_of_freedom_at_the_known_limits():
    # after e+e- annihilation: photons and neutrinos at T_nu = (4/11)^(1/3) T (Kolb and Turner, sec. 3.4)
    g_rho, g_s = cosmology.degrees_of_freedom(1e-6)
    assert g_rho == pytest.approx(2 + 21 / 4 * (4 / 11) ** (4 / 3), rel=1e-3)
    assert g_s == pytest.approx(2 + 21 / 4 * 4 / 11, rel=1e-3)
    # at the nodes of the lattice table: the table itself
    assert cosmology.degrees_of_freedom(0.1)[0] == pytest.approx(17.61, rel=1e-9)
    assert cosmology.degrees_of_freedom(1.0)[0] == pytest.approx(73.48, rel=1e-9)
    t = np.geomspace(1e-6, 200.0, 400)
    assert np.all(np.diff(cosmology.degrees_of_freedom(t)[1]) >= 0)  # entropy dof never fall as T rises


def test_freeze_out_x_of_a_weak_scale_relic():
    """x_f of the canonical 100 GeV WIMP with <sigma v> = 2.2e-26 cm^3/s lies near 22 (e.g. Steigman et
    al. 2012, Fig. 4: 20 to 25 between 10 GeV and 1 TeV)."""
    assert 21.0 < cosmology.freeze_out_x(100.0, 2.2e-26) < 24.0
    # x_f grows like ln(M <sigma v>)
    assert cosmology.freeze_out_x(1000.0, 2.2e-26) - cosmology.freeze_out_x(100.0, 2.2e-26) == pytest.approx(
        np.log(10.0), abs=0.3
    )


def test_relic_cross_section_reproduces_the_shipped_table():
    """The instantaneous approximation with the lattice g_*(T) against the numerical solution of the
    Boltzmann equation (Steigman, Dasgupta, Beacom 2012, Fig. 5) at every tabulated mass: within a
    few per cent. The largest deviations (up to 7%) lie where T_f crosses the QCD transition
    (M of 3 to 4 GeV, T_f ~ 170 MeV), where tabulations of g_*(T) differ by as much."""
    table = cosmology.relic_table()
    ours = np.array([cosmology.relic_cross_section(m) for m in table.mass])
    deviation = ours / table.sigmav - 1.0
    assert np.sqrt(np.mean(deviation**2)) < 0.04
    assert np.max(np.abs(deviation)) < 0.075
    away = (table.mass < 2.5) | (table.mass > 4.5)
    assert np.max(np.abs(deviation[away])) < 0.05
    # the shape: the plateau above 10 GeV is 2.2-2.4e-26, the low-mass value twice as large
    assert np.all((ours[table.mass > 10] > 2.1e-26) & (ours[table.mass > 10] < 2.45e-26))
    assert ours[0] / ours[-1] == pytest.approx(table.sigmav[0] / table.sigmav[-1], rel=0.05)


def test_resonant_cross_section_formula():
    """Eq. (4) at the resonance r = 1/2 and large x: K_1(2x) / K_2(x)^2 -> sqrt(pi / 4x) e^-2x /
    (pi / 2x e^-2x) = sqrt(x / pi), so <sigma v> -> pi/64 g^2 32 x sqrt(x / pi)."""
    x, g = 400.0, 1e-5
    asymptotic = np.pi / 64 * g**2 * x * 32 * np.sqrt(x / np.pi) * cosmology.GEV2_TO_CM3_PER_S
    assert cosmology.resonant_sigmav(g, x, 0.5) == pytest.approx(asymptotic, rel=0.01)
    # against the unscaled Bessel functions where they do not underflow
    x, r = 20.0, 0.45
    direct = np.pi / 64 * g**2 * x / r**5 * special.k1(x / r) / special.kn(2, x) ** 2
    assert cosmology.resonant_sigmav(g, x, r) == pytest.approx(direct * cosmology.GEV2_TO_CM3_PER_S, rel=1e-10)


def test_freeze_out_target_saturates_as_the_fine_tuning_vanishes():
    """Away from the resonance the coupling grows like exp(x_f (1/r - 2) / 2); below F.T. ~ 1e-3 the
    Boltzmann factor is 1 and the coupling stops falling (the paper's section II)."""
    m_a = np.array([0.1, 1.0, 5.0])
    g = {ft: cosmology.freeze_out_coupling(m_a, ft) for ft in (0.1, 0.01, 0.001, 1e-5)}
    assert np.all(g[0.1] / g[0.01] > 10.0)
    assert np.all(g[0.01] / g[0.001] < 1.5)
    assert np.allclose(g[0.001], g[1e-5], rtol=0.06)
    # the target sets eq. (4) at x_f equal to the relic cross section
    m, ft = 1.0, 0.01
    mass = (0.5 - ft) * m
    target = cosmology.relic_cross_section(mass)
    x_f = cosmology.freeze_out_x(mass, target)
    assert cosmology.resonant_sigmav(float(cosmology.freeze_out_coupling(m, ft)), x_f, 0.5 - ft) == pytest.approx(
        target, rel=1e-9
    )


@pytest.mark.parametrize("fine_tuning", [0.0, 0.5, -0.1])
def test_impossible_fine_tuning_is_refused(fine_tuning):
    with pytest.raises(ValueError, match="fine tuning"):
        cosmology.freeze_out_coupling(1.0, fine_tuning)
