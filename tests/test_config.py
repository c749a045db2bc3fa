"""The configuration: defaults load, bad input is refused with the key named."""

import json
from pathlib import Path
from typing import get_args

import pytest

from alpfusion.config import (
    EXECUTORS,
    ConfigError,
    Executor,
    config_schema,
    load_config,
)
from alpfusion.errors import AlpfusionError


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


@pytest.mark.parametrize(
    "text, key, problem",
    [
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
        ("acceptance:\n  energy_min: .inf\n", "acceptance.energy_min", "finite"),
        ("acceptance:\n  energy_min: true\n", "acceptance.energy_min", "must be a number"),
        ("generation:\n  events: '10'\n", "generation.events", "integer"),
        ("signal:\n  masses: [1, 10.2]\n", "signal.masses", "no missing-mass window"),
        ("signal:\n  masses: [1, 10]\n", "signal.masses", "no missing-mass window"),
        ("signal:\n  masses: [1, 1.0005]\n", "signal.masses", "closer than 1 MeV"),
        ("signal:\n  masses: []\n", "signal.masses", "must not be empty"),
        ("selection:\n  per_mass: [{m_a: 1.0, kappa: -1}]\n", "selection.per_mass[0].kappa", "positive or null"),
        ("selection:\n  per_mass: [{m_a: 1.0, cut: 2}]\n", "selection.per_mass[0].cut", "unknown key"),
        ("selection:\n  per_mass: [{m_a: 1.0}, {m_a: 1.0}]\n", "selection.per_mass", "lists a mass twice"),
        (
            "statistics:\n  coarse_per_mass: [{m_a: 7.0, blocks: 5, groups: 10}, {m_a: 7.0, blocks: 10, groups: 10}]\n",
            "statistics.coarse_per_mass",
            "lists a mass twice",
        ),
        (
            "statistics:\n  coarse_per_mass: [{m_a: 7.0, blocks: 0, groups: 10}]\n",
            "statistics.coarse_per_mass[0].blocks",
            "[1, 100]",
        ),
        (
            "backgrounds:\n  tautau:\n    sigma_override_pb: '919'\n",
            "backgrounds.tautau.sigma_override_pb",
            "must be a number or null",
        ),
        (
            "backgrounds:\n  qed2:\n    photon_angle_min_deg: 22\n",
            "backgrounds.qed2.photon_angle_min_deg",
            "no photon between the beams and the acceptance edge",
        ),
        (
            "backgrounds:\n  qed2:\n    missing_energy_min: 11\n",
            "backgrounds.qed2.missing_energy_min",
            "not below sqrt_s",
        ),
        ("backgrounds:\n  qed2:\n    photon_energy_min: 0\n", "backgrounds.qed2.photon_energy_min", "must be positive"),
        (
            "statistics:\n  edges: {ee_to_taus: 0.0}\n",
            "statistics.edges.ee_to_taus.[key]",
            "must be 'ee_to_tautau' or 'ee_to_eegg'",
        ),
        ("1: 2\n", "1", "unknown key"),
        ("- beam\n- signal\n", "<top>", "must be a mapping"),
    ],
)
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


def test_masses_one_mev_apart_are_accepted(tmp_path):
    cfg = load_config(write(tmp_path, "signal:\n  masses: [1.0, 1.001, 9.5, 9.501]\n"))
    assert cfg.signal.masses == (1.0, 1.001, 9.5, 9.501)


def test_file_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("beam:\n  alpha: thomson  # caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8") as err:
        load_config(path)
    assert str(path) in str(err.value) and err.value.key == "<file>"


def test_error_is_an_alpfusion_error_with_key_problem_source(tmp_path):
    path = write(tmp_path, "signal:\n  masses: [1, -0.5]\n")
    with pytest.raises(AlpfusionError) as err:
        load_config(path)
    assert isinstance(err.value, ConfigError) and isinstance(err.value, ValueError)
    assert (err.value.key, err.value.source) == ("signal.masses[1]", str(path))
    assert err.value.problem == "must be non-negative, got -0.5"


def test_types_values_and_source(tmp_path):
    cfg = load_config(write(tmp_path, "beam:\n  sqrt_s: 11\ngeneration:\n  events: 5\n"))
    assert isinstance(cfg.beam.sqrt_s, float) and isinstance(cfg.generation.events, int)
    assert isinstance(cfg.signal.masses, tuple) and cfg.source == str(tmp_path / "analysis.yaml")
    same = load_config(write(tmp_path, "beam:\n  alpha: thomson\n"))
    assert same == load_config() and same.hash == load_config().hash and same.source != "<default>"
    assert EXECUTORS == get_args(Executor) == ("iterative", "futures", "dask")


def test_replace_keeps_source_and_refuses_unknown_keys():
    cfg = load_config()
    changed = cfg.replace(selection={"per_mass": [{"m_a": 1.0, "kappa": 1.5}]})
    assert changed.selection.for_mass(1.0) == (1.5, 0.0, 3.0) and changed.source == "<default>"
    with pytest.raises(ConfigError, match="'bogus': unknown key"):
        cfg.replace(bogus={"x": 1})


def test_committed_schema_is_current():
    """docs/configuration.schema.json is config_schema(); regenerate: alpfusion config --schema > it."""
    committed = Path(__file__).parents[1] / "docs" / "configuration.schema.json"
    assert json.loads(committed.read_text(encoding="utf-8")) == config_schema()


def test_default_satisfies_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    default = json.loads(json.dumps(load_config().as_dict()))
    jsonschema.validate(default, config_schema())
    default["signal"]["component"] = "neither"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(default, config_schema())
