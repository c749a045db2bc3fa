"""The HEPData submission: written with hepdata_lib, validated by hepdata-validator, the limits and
their bands read back from the table, the likelihoods attached, and a broken submission caught."""

import json
import tarfile

import numpy as np
import pytest
import yaml
from matplotlib.figure import Figure

from alpfusion.hepdata import HEPDataError, validate_submission, write_submission
from tests.test_reach import rows


@pytest.fixture
def inputs(tmp_path):
    figure = tmp_path / "reach.png"
    fig = Figure(figsize=(4, 3))
    fig.subplots().plot([1, 2], [3, 4])
    fig.savefig(figure)
    likelihoods = []
    for name in ("BkgOnly.json", "patchset.json"):
        likelihoods.append(tmp_path / name)
        likelihoods[-1].write_text(json.dumps({"name": name}))
    return figure, likelihoods


def submit(folder, table, inputs):
    figure, likelihoods = inputs
    return write_submission(
        table, folder, figure=figure, likelihoods=likelihoods, sqrt_s=10.58, luminosity_fb=5e4, comment="test"
    )


def assert_cls_limit(variable, table, column, toys=False):
    """A CLs variable of the HEPData table: the median ``column`` of every row, with its MC-statistical
    error, its 1 and 2 sigma bands as asymmetric errors and, with ``toys``, the toys' statistical error."""
    assert [v["value"] for v in variable["values"]] == pytest.approx([getattr(r, column) for r in table])
    for value, row in zip(variable["values"], table):
        mc, *bands = value["errors"]
        if toys:
            *bands, toy = bands
            assert toy == {"label": "toys stat", "symerror": pytest.approx(getattr(row, f"{column}_toy_error"))}
        assert len(bands) == 2
        assert mc == {"label": "MC stat", "symerror": pytest.approx(getattr(row, f"{column}_mc_error"))}
        for n, band in zip((1, 2), bands):
            g = getattr(row, column)
            assert band["label"] == f"{n} sigma"
            assert band["asymerror"] == {
                "minus": pytest.approx(getattr(row, f"{column}_minus{n}") - g),
                "plus": pytest.approx(getattr(row, f"{column}_plus{n}") - g),
            }


def test_submission_validates_and_holds_the_limits(tmp_path, inputs):
    table = rows()
    folder = submit(tmp_path / "hepdata", table, inputs)
    assert validate_submission(folder) == []
    data = yaml.safe_load((folder / "expected_limits_on_g_agg.yaml").read_text())
    assert [v["value"] for v in data["independent_variables"][0]["values"]] == [0.1, 1.0, 5.0]
    quoted, poisson, bound, cls, infinite, cls_bound = data["dependent_variables"]
    assert "to quote" in quoted["header"]["name"]
    assert_cls_limit(quoted, table, "g_expected", toys=True)
    assert "Lambda" in poisson["header"]["name"] and "CLs" in cls["header"]["name"]
    assert [v["value"] for v in bound["values"]] == pytest.approx([r.g_lambda_bound for r in table])
    assert bound["values"][1]["errors"] == [{"label": "MC stat", "symerror": pytest.approx(2e-6)}]
    assert "infinite MC" in infinite["header"]["name"]
    assert [v["value"] for v in infinite["values"]] == pytest.approx([r.g_cls_infinite_mc for r in table])
    for value, row in zip(infinite["values"], table):
        assert value["errors"] == [{"label": "MC stat", "symerror": pytest.approx(row.g_cls_infinite_mc_mc_error)}]
    assert "without MC constraints" in cls_bound["header"]["name"]
    assert_cls_limit(cls_bound, table, "g_cls_bound")
    assert [v["value"] for v in poisson["values"]] == pytest.approx([r.g_lambda for r in table])
    assert poisson["values"][0]["errors"] == [{"label": "MC stat", "symerror": pytest.approx(1e-6)}]
    assert_cls_limit(cls, table, "g_cls")
    qualifiers = {q["name"]: q["value"] for q in cls["qualifiers"]}
    assert qualifiers["SQRT(S)"] == 10.58 and qualifiers["CL"] == "95%"
    # the archive holds everything; the likelihoods are a HistFactory resource
    with tarfile.open(folder / "submission.tar.gz") as tar:
        assert {"submission.yaml", "expected_limits_on_g_agg.yaml", "reach.png", "thumb_reach.png",
                "likelihoods.tar.gz"} <= set(tar.getnames())  # fmt: skip
    with tarfile.open(folder / "likelihoods.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["BkgOnly.json", "patchset.json"]
    header = next(yaml.safe_load_all((folder / "submission.yaml").read_text()))
    assert {"location": "likelihoods.tar.gz", "type": "HistFactory"}.items() <= header["additional_resources"][
        -1
    ].items()


def test_a_mass_point_without_a_cls_limit_still_validates(tmp_path, inputs):
    import dataclasses

    table = rows()
    table[1] = dataclasses.replace(table[1], g_cls=np.nan, g_cls_plus1=np.nan)
    assert validate_submission(submit(tmp_path / "hepdata", table, inputs)) == []


def test_broken_submission_is_caught(tmp_path, inputs):
    folder = submit(tmp_path / "hepdata", rows(), inputs)
    data_file = folder / "expected_limits_on_g_agg.yaml"
    data_file.write_text(data_file.read_text().replace("independent_variables", "independent_variable"))
    import tarfile as tf

    with tf.open(folder / "submission.tar.gz", "w:gz") as tar:
        for path in folder.iterdir():
            if path.name != "submission.tar.gz":
                tar.add(path, arcname=path.name)
    assert validate_submission(folder)


def test_folder_must_be_empty(tmp_path, inputs):
    (tmp_path / "hepdata").mkdir()
    (tmp_path / "hepdata" / "old.yaml").write_text("x")
    with pytest.raises(HEPDataError, match="must be empty"):
        submit(tmp_path / "hepdata", rows(), inputs)
