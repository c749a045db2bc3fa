"""The configuration: defaults load, bad input is refused with the key named."""

import pytest

from alpfusion.config import ConfigError, load_config


def write(tmp_path, text):
    path = tmp_path / "analysis.yaml"
    path.write_text(text)
    return path


def test_default_loads_and_hash_is_stable():
    a, b = load_config(), load_config()
    assert a.hash == b.hash and len(a.hash) == 64
    assert a.acceptance.cos_theta_range[1] == pytest.approx(0.92718385)
    assert a.beam.alpha_value == pytest.approx(1 / 137.035999)


def test_partial_file_overlays_default(tmp_path):
    cfg = load_config(write(tmp_path, "signal:\n  masses: [0.5, 2]\nbeam:\n  alpha: mz\n"))
    assert cfg.signal.masses == (0.5, 2.0) and cfg.beam.alpha_value == pytest.approx(1 / 127.951)
    assert cfg.acceptance.theta_min_deg == 22.0 and cfg.hash != load_config().hash


@pytest.mark.parametrize("text, key, problem", [
    ("acceptance:\n  theta_min: 20\n", "acceptance.theta_min", "unknown key"),
    ("bogus: 1\n", "bogus", "unknown key"),
    ("acceptance:\n  theta_min_deg: 95\n", "acceptance.theta_min_deg", "[0, 90)"),
    ("acceptance:\n  theta_min_deg: '22'\n", "acceptance.theta_min_deg", "must be a number"),
    ("signal:\n  masses: [1, -0.5]\n", "signal.masses[1]", "non-negative"),
    ("signal:\n  masses: [3, 1]\n", "signal.masses", "increasing"),
    ("signal:\n  masses: [1, 11]\n", "signal.masses", "not below sqrt_s"),
    ("signal:\n  electron_mass: 1\n", "signal.electron_mass", "true or false"),
    ("generation:\n  events: 1.5\n", "generation.events", "integer"),
    ("generation:\n  vegas:\n    neval: 10\n", "generation.vegas.neval", "at least 1000"),
    ("beam:\n  alpha: 3\n", "beam.alpha", "(0, 1)"),
    ("beam:\n  alpha: weak\n", "beam.alpha", "'thomson', 'mz' or a number"),
    ("signal: 3\n", "signal", "must be a mapping"),
    ("acceptance:\n  energy_min: .nan\n", "acceptance.energy_min", "finite"),
])
def test_bad_values_name_key_and_problem(tmp_path, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message and f"'{key}'" in message and problem in message


def test_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "signal: [\n"))


def test_replace_validates():
    cfg = load_config()
    assert cfg.replace(signal={"g_ref": 1e-3}).signal.g_ref == 1e-3
    with pytest.raises(ConfigError, match="theta_max_deg"):
        cfg.replace(acceptance={"theta_max_deg": 80.0})
