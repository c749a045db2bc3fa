"""Make the small MadGraph-style LHE test file ``ee_to_eea_ma1.lhe``.

e+ e- -> e+ e- a at sqrt(s) = 10.58 GeV with an ALP (pdg 9000005) of mass
1 GeV and massless electrons, generated with flat three-body phase space:
the Dalitz variables (m_{e-e+}^2, m_{e+a}^2) uniform inside the Dalitz region,
isotropic orientation.  The weights XWGTUP are sigma * u with u uniform in
[0.5, 1.5), so the importer's normalisation is exercised.  The beam e- (beam A)
moves along +z.  Deterministic (seeded numpy); run from anywhere:

    python tests/data/make_test_lhe.py

The functions are also used by the tests to make variants (asymmetric beams).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SQRT_S = 10.58
M_A = 1.0
SIGMA_PB = 0.0123456789
SIGMA_ERR_PB = 0.000234
SEED = 20240521
N_EVENTS = 20
OUTPUT = Path(__file__).with_name("ee_to_eea_ma1.lhe")

_HEADER = """<LesHouchesEvents version="3.0">
<header>
<!--
#*********************************************************************
#  Test file in the MadGraph5_aMC@NLO format, made by make_test_lhe.py
#  (flat phase space, not a physical matrix element)
#*********************************************************************
-->
<MGVersion>
3.5.3
</MGVersion>
<MG5ProcCard>
<![CDATA[
import model ALP_linear_UFO
define inv = ax
generate e+ e- > e+ e- ax  # photon fusion, invisible ALP
output ee_to_eea_ma1
]]>
</MG5ProcCard>
<slha>
BLOCK MASS #
      11 0.000000e+00 # me
      9000005 {m_a:.6e} # Ma
</slha>
</header>
<init>
11 -11 {e_a:.8e} {e_b:.8e} 0 0 0 0 3 1
{sigma:.10e} {sigma_err:.10e} {unit:.10e} 1
<generator name='MadGraph5_aMC@NLO' version='3.5.3'>please cite 1405.0301 </generator>
</init>
"""

_PARTICLE = "{:>9d} {:>2d} {:>4d} {:>4d} {:>4d} {:>4d} {:+.10e} {:+.10e} {:+.10e} {:.10e} {:.10e} 0.0000e+00 {:.4e}\n"


def _isotropic(rng: np.random.Generator, n: int) -> np.ndarray:
    """n unit vectors uniformly distributed on the sphere, shape (n, 3)."""
    cos_t = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    sin_t = np.sqrt(1.0 - cos_t**2)
    return np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=1)


def generate_events(n_events: int, seed: int, sqrt_s: float = SQRT_S, m_a: float = M_A) -> dict[str, np.ndarray]:
    """Flat three-body phase space for e-(1) e+(2) a(3) in the centre-of-mass frame.

    Accept-reject on (s12, s23) uniform in their ranges, inside the Dalitz region.
    Energies: E1 = (s - s23) / (2 sqrt_s), E3 = (s + m_a^2 - s12) / (2 sqrt_s),
    E2 = sqrt_s - E1 - E3.  The ALP flies along an isotropic direction n, the
    e- at the angle cos(theta13) = (|p2|^2 - |p1|^2 - |p3|^2) / (2 |p1| |p3|) to
    it with a uniform azimuth, and p2 = -(p1 + p3).  Returns arrays of shape
    (n, 4) = (E, px, py, pz) under the keys "e_minus", "e_plus", "alp", and the
    event weights XWGTUP (shape (n,)) under "xwgtup".
    """
    rng = np.random.default_rng(seed)
    s = sqrt_s**2
    rows = []
    while len(rows) < n_events:
        s12 = rng.uniform(0.0, (sqrt_s - m_a) ** 2)
        s23 = rng.uniform(m_a**2, s)
        e1 = (s - s23) / (2 * sqrt_s)
        e3 = (s + m_a**2 - s12) / (2 * sqrt_s)
        e2 = sqrt_s - e1 - e3
        if min(e1, e2) <= 0 or e3 <= m_a:
            continue
        p1, p3 = e1, np.sqrt(e3**2 - m_a**2)
        cos13 = (e2**2 - p1**2 - p3**2) / (2 * p1 * p3)
        if abs(cos13) <= 1:
            rows.append((e1, e2, e3, p3, cos13))
    e1, e2, e3, p3, cos13 = np.array(rows).T
    n = _isotropic(rng, n_events)
    helper = np.where(np.abs(n[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    u = np.cross(n, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(n, u)
    phi = rng.uniform(0.0, 2.0 * np.pi, n_events)
    sin13 = np.sqrt(1.0 - cos13**2)
    dir1 = cos13[:, None] * n + sin13[:, None] * (np.cos(phi)[:, None] * u + np.sin(phi)[:, None] * v)
    mom3 = p3[:, None] * n
    mom1 = e1[:, None] * dir1
    mom2 = -(mom1 + mom3)
    return {
        "e_minus": np.column_stack([e1, mom1]),
        "e_plus": np.column_stack([e2, mom2]),
        "alp": np.column_stack([e3, mom3]),
        "xwgtup": SIGMA_PB * rng.uniform(0.5, 1.5, n_events),
    }


def write_lhe(
    path: Path,
    *,
    n_events: int = N_EVENTS,
    seed: int = SEED,
    beam_energies: tuple[float, float] = (SQRT_S / 2, SQRT_S / 2),
) -> dict[str, np.ndarray]:
    """Write the LHE file and return the centre-of-mass momenta of :func:`generate_events`.

    With beam energies (E_A, E_B) the events are generated at
    sqrt_s = 2 sqrt(E_A E_B) and boosted to the lab along +z with
    beta = (E_A - E_B) / (E_A + E_B): E' = gamma (E + beta pz),
    pz' = gamma (pz + beta E).
    """
    e_a, e_b = beam_energies
    sqrt_s = 2.0 * np.sqrt(e_a * e_b)
    events = generate_events(n_events, seed, sqrt_s)
    beta = (e_a - e_b) / (e_a + e_b)
    gamma = 1.0 / np.sqrt(1.0 - beta**2)
    text = [
        _HEADER.format(m_a=M_A, e_a=e_a, e_b=e_b, sigma=SIGMA_PB, sigma_err=SIGMA_ERR_PB, unit=events["xwgtup"].max())
    ]
    for i in range(n_events):
        text.append("<event>\n")
        text.append(f" 5      1 {events['xwgtup'][i]:+.10e} {sqrt_s:.8e} 7.54677100e-03 1.18000000e-01\n")
        text.append(_PARTICLE.format(11, -1, 0, 0, 0, 0, 0.0, 0.0, e_a, e_a, 0.0, 1.0))
        text.append(_PARTICLE.format(-11, -1, 0, 0, 0, 0, 0.0, 0.0, -e_b, e_b, 0.0, -1.0))
        for pdg, key, mass, spin in ((11, "e_minus", 0.0, 1.0), (-11, "e_plus", 0.0, -1.0), (9000005, "alp", M_A, 0.0)):
            e, px, py, pz = events[key][i]
            e, pz = gamma * (e + beta * pz), gamma * (pz + beta * e)
            text.append(_PARTICLE.format(pdg, 1, 1, 2, 0, 0, px, py, pz, e, mass, spin))
        text.append("</event>\n")
    text.append("</LesHouchesEvents>\n")
    Path(path).write_text("".join(text))
    return events


if __name__ == "__main__":
    write_lhe(OUTPUT)
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)")
