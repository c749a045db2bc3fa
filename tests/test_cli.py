"""The command line, end to end on small inputs."""

import json
import textwrap

import pytest
import yaml
from click.testing import CliRunner

from alpfusion.cli import main
from alpfusion.config import config_schema
from alpfusion.samples.production import sample_seed
from alpfusion.samples.rootio import read_sample

from .test_workflow import QED_SMALL
from .test_workflow import SMALL as WORKFLOW_SMALL

SMALL_QED = textwrap.indent(yaml.safe_dump({"qed2": QED_SMALL}, default_flow_style=None), "  ")
SMALL = yaml.safe_dump({"generation": WORKFLOW_SMALL["generation"]}, default_flow_style=None)


def test_generate_writes_and_resumes(tmp_path):
    cfg = tmp_path / "small.yaml"
    cfg.write_text(SMALL)
    out = tmp_path / "samples"
    runner = CliRunner()
    args = ["-c", str(cfg), "generate", "-p", "ee_to_gamma_a", "-m", "1,2", "-o", str(out)]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    arrays, meta = read_sample(out / "ee_to_gamma_a_ma2.root")
    assert meta["m_a"] == 2.0 and meta["seed"] == sample_seed(20261121, "ee_to_gamma_a", 2.0)
    assert meta["n_draws"] == 4000 and meta["base_seed"] == 20261121
    assert abs(arrays["weight"].sum() - meta["sigma_pb"]) < 1e-12 * meta["sigma_pb"]
    again = runner.invoke(main, args)
    assert again.exit_code == 0 and again.output.count("up to date, kept") == 2


def test_generate_in_parallel_writes_the_same_files(tmp_path):
    """Each sample depends on its own seed only: two workers write the bytes one worker writes."""
    cfg = tmp_path / "small.yaml"
    cfg.write_text(SMALL)
    runner = CliRunner()
    for workers in ("1", "2"):
        res = runner.invoke(
            main, ["-c", str(cfg), "generate", "-m", "1,3,6", "-o", str(tmp_path / workers), "-j", workers]
        )
        assert res.exit_code == 0, res.output
        assert res.output.count("events, sigma = ") == 3
    for m_a in (1, 3, 6):
        name = f"ee_to_eea_ma{m_a}.root"
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes()


def test_xsec_formats(tmp_path):
    cfg = tmp_path / "small.yaml"
    cfg.write_text(SMALL)
    runner = CliRunner()
    res = runner.invoke(main, ["-c", str(cfg), "xsec", "-p", "ee_to_gamma_a", "-m", "1", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["rows"]
    assert rows[0]["process"] == "ee_to_gamma_a" and rows[0]["sigma_fb"] > 0
    res = runner.invoke(
        main, ["-c", str(cfg), "xsec", "-p", "ee_to_gamma_a", "-m", "1", "--theta-min", "17", "--format", "csv"]
    )
    assert res.output.splitlines()[0] == "process,m_a,component,theta_min_deg,sigma_fb,error_fb"
    assert res.output.splitlines()[1].startswith("ee_to_gamma_a,1.0,-,17.0,")


def test_xsec_of_the_qed_background_in_every_format(tmp_path):
    """`xsec -p ee_to_eegg`: one row without a mass, the same cross section in every format (one seed),
    smaller with a photon kept 1 degree from the beams than with the electron mass regulating."""
    cfg = tmp_path / "small.yaml"
    cfg.write_text(SMALL + "backgrounds:\n" + SMALL_QED)
    runner = CliRunner()
    args = ["-c", str(cfg), "xsec", "-p", "ee_to_eegg", "--seed", "3", "--format"]
    (row,) = json.loads(runner.invoke(main, [*args, "json"]).output)["rows"]
    assert row["process"] == "ee_to_eegg" and row["m_a"] is None and row["theta_min_deg"] == 22.0
    csv_lines = runner.invoke(main, [*args, "csv"]).output.splitlines()
    assert csv_lines[1].startswith("ee_to_eegg,,-,22.0,") and float(csv_lines[1].split(",")[4]) == row["sigma_fb"]
    table = runner.invoke(main, [*args, "table"]).output.splitlines()[-1].split()
    assert table[:4] == ["ee_to_eegg", "-", "-", "22"] and float(table[4]) == pytest.approx(row["sigma_fb"], rel=1e-5)
    far = tmp_path / "far.yaml"
    far.write_text(cfg.read_text() + "    photon_angle_min_deg: 1.0\n")
    (far_row,) = json.loads(runner.invoke(main, ["-c", str(far), *args[2:], "json"]).output)["rows"]
    assert far_row["sigma_fb"] + 3 * far_row["error_fb"] < row["sigma_fb"] - 3 * row["error_fb"]


def test_one_and_two_lost_photons_from_one_command(tmp_path):
    """`xsec -p ee_to_eeg -p ee_to_eegg`: both QED processes with the cuts of backgrounds.qed2, one row each."""
    cfg = tmp_path / "small.yaml"
    cfg.write_text(SMALL + "backgrounds:\n" + SMALL_QED)
    args = ["-c", str(cfg), "xsec", "-p", "ee_to_eeg", "-p", "ee_to_eegg", "--format", "json"]
    rows = json.loads(CliRunner().invoke(main, args).stdout)["rows"]  # the progress bar goes to stderr
    assert [row["process"] for row in rows] == ["ee_to_eeg", "ee_to_eegg"]
    assert all(row["sigma_fb"] > 10 * row["error_fb"] > 0 for row in rows)


def test_errors_are_messages_not_tracebacks(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("acceptance:\n  theta_min_deg: 91\n")
    res = CliRunner().invoke(main, ["-c", str(bad), "xsec"])
    assert res.exit_code != 0 and "acceptance.theta_min_deg" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(main, ["xsec", "-m", "1", "--theta-min", "95"])
    assert res.exit_code != 0 and "theta_min" in res.output
    massless = tmp_path / "massless.yaml"
    massless.write_text("signal:\n  electron_mass: false\n")
    res = CliRunner().invoke(main, ["-c", str(massless), "xsec", "-p", "ee_to_eea", "-m", "1"])
    assert res.exit_code != 0 and "delta_r_ee_min" in res.output


def test_config_command():
    res = CliRunner().invoke(main, ["config"])
    assert res.exit_code == 0 and "# hash: " in res.output and "theta_min_deg: 22.0" in res.output
    res = CliRunner().invoke(main, ["config", "--default"])
    assert "electron_mass: true" in res.output
    res = CliRunner().invoke(main, ["config", "--schema"])
    assert res.exit_code == 0 and json.loads(res.output) == config_schema()


def test_import_lhe(tmp_path):
    from pathlib import Path

    lhe = Path(__file__).parent / "data" / "ee_to_eea_ma1.lhe"
    res = CliRunner().invoke(main, ["import-lhe", str(lhe), "-o", str(tmp_path / "mg.root")])
    assert res.exit_code == 0, res.output
    assert read_sample(tmp_path / "mg.root")[1]["n_events"] == 20


def test_run_makes_every_output_and_resumes(tmp_path):
    """The whole chain on a small configuration (two masses), with two workers; a rerun keeps the
    samples."""
    cfg = tmp_path / "small.yaml"
    cfg.write_text(SMALL + "signal:\n  masses: [1.0, 3.0]\nbackgrounds:\n  tautau:\n    events: 30000\n" + SMALL_QED)
    out = tmp_path / "output"
    runner = CliRunner()
    res = runner.invoke(main, ["-c", str(cfg), "run", "-o", str(out)])
    assert res.exit_code == 0, res.output
    for name in (
        "samples/ee_to_eea_ma1.root",
        "samples/ee_to_eea_ma3.root",
        "samples/ee_to_tautau.root",
        "samples/ee_to_eegg.root",
        "cuts/cuts.yaml",
        "histograms/histograms.root",
        "limits/limits.csv",
        "limits/reach.png",
        "limits/published/BkgOnly.json",
        "limits/published/patchset.json",
    ):
        assert (out / name).is_file(), name
    assert len((out / "limits/limits.csv").read_text().splitlines()) == 3
    # the last table printed: the limit to quote, a line per mass, then what was written
    lines = res.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# the expected 95% CL upper limit to quote"))
    assert lines[start + 1].split()[:2] == ["m_a", "g(expected)"] and len(lines) == start + 5
    again = runner.invoke(main, ["-c", str(cfg), "run", "-o", str(out)])
    assert again.exit_code == 0 and again.output.count("up to date, kept") == 4
    # the floor's reach from the command line: no reach floors no empty bin, a wider reach some; the QED's
    # support (statistics.missing_mass_bound, on by default) floors the empty bins within it whatever the reach
    # (the neighbourhood floor, which raises bins with MC, off to see the empty bins alone)
    unbounded = tmp_path / "unbounded.yaml"
    unbounded.write_text(cfg.read_text() + "statistics:\n  missing_mass_bound: []\n  floor_neighbourhood: null\n")
    empty = {}
    for reach, config in (("0", unbounded), ("3", unbounded), ("0", cfg)):
        label = f"r{reach}_{config.stem}"
        res = runner.invoke(
            main,
            [
                "-c",
                str(config),
                "limits",
                "-i",
                str(out / "histograms"),
                "-o",
                str(out / label),
                "--floor-reach",
                reach,
            ],
        )
        assert res.exit_code == 0, res.output
        spec = json.loads((out / label / "workspaces" / "ma1p000.json").read_text())
        empty[label] = [s["name"] for s in spec["channels"][0]["samples"]]
    assert "mc_floor" not in empty["r0_unbounded"] and "mc_floor" in empty["r3_unbounded"]
    assert "mc_floor" in empty["r0_small"]
