"""Every notebook in notebooks/ (jupytext percent-format sources) executes without error, with small
statistics injected after its parameter cell, through nbclient. Each notebook ends with a check of one
number against an independent expectation (an ``assert``), so a notebook that plots nonsense fails."""

from pathlib import Path

import pytest

from alpfusion.notebooks import NotebookError, execute_notebook

from .test_workflow import QED_VEGAS
from .test_workflow import SMALL as SMALL_CHAIN

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
SMALL_VEGAS = {"nitn": 4, "neval": 6000, "ninc": 100, "alpha": 0.5}
SMALL = {
    "acceptance_ratios": {"ANGLES": [5.0, 22.0], "VEGAS": SMALL_VEGAS},
    "cross_sections": {"MASSES": [0.1, 1.0, 6.0], "VEGAS": SMALL_VEGAS},
    "signal_and_backgrounds": {
        "SIGNAL_EVENTS": 20_000,
        "TAU_EVENTS": 100_000,
        "QED_EVENTS": 40_000,
        "VEGAS": QED_VEGAS,
    },
    "antler_mass": {"SIGNAL_EVENTS": 20_000, "TAU_EVENTS": 200_000, "VEGAS": SMALL_VEGAS},
    "limits_study": {
        "MASSES": [1.0, 3.0],
        "SECTIONS": {name: section for name, section in SMALL_CHAIN.items() if name != "signal"},
        "REPLICAS": 2,
        "REPLICA_BACKGROUND": "ee_to_tautau",
    },
    "missing_energy": {"ANGLES": [10.0, 22.0], "EVENTS": 20_000, "VEGAS": SMALL_VEGAS},
}
"""The parameters each notebook runs with in the suite, besides the folders OUTPUT, SAMPLES and RUN, which
are temporary (a notebook that does not use one ignores it)."""


def test_every_notebook_is_tested():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.py")) == sorted(SMALL)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_notebook_executes(name, tmp_path):
    folders = {key: str(tmp_path / key.lower()) for key in ("OUTPUT", "SAMPLES", "RUN")}
    execute_notebook(
        NOTEBOOKS / f"{name}.py",
        parameters={**SMALL[name], **folders},
        workdir=tmp_path,
        output=tmp_path / f"{name}.ipynb",
    )
    assert list((tmp_path / "output").glob("*.png")), f"{name}: no figure written"


def test_a_failing_cell_is_reported_with_the_notebook(tmp_path):
    source = tmp_path / "broken.py"
    source.write_text('# %% tags=["parameters"]\nX = 1\n\n# %%\nassert X == 2, "X is not 2"\n')
    with pytest.raises(NotebookError, match="(?s)broken.py.*X is not 2"):
        execute_notebook(source, parameters={"X": 3})
    assert (tmp_path / "broken.ipynb").is_file()  # the executed part is kept for reading
    (tmp_path / "untagged.py").write_text("# %%\nX = 1\n")
    with pytest.raises(NotebookError, match="exactly one cell tagged 'parameters'"):
        execute_notebook(tmp_path / "untagged.py")


def test_command_line_sets_parameters_and_reports_failures(tmp_path):
    from click.testing import CliRunner

    from alpfusion.cli import main

    source = tmp_path / "tiny.py"
    source.write_text('# %% tags=["parameters"]\nX = 1\nNAME = "a"\n\n# %%\nassert (X, NAME) == ([2, 3], "b")\n')
    ok = CliRunner().invoke(main, ["notebook", str(source), "-p", "X=[2, 3]", "-p", "NAME=b"])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "tiny.ipynb").is_file()
    failed = CliRunner().invoke(main, ["notebook", str(source), "-p", "X=4"])
    assert (
        failed.exit_code == 1
        and "tiny.py" in failed.output
        and "AssertionError" in failed.output  # the failing cell's own error, named
    )
    bad = CliRunner().invoke(main, ["notebook", str(source), "-p", "4=X"])
    assert bad.exit_code == 2 and "expected NAME=VALUE" in bad.output
