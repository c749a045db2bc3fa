"""The HEPData submission of a mass scan: the expected limits of both criteria with their bands, the
reach figure, and the published pyhf likelihoods as a HistFactory resource (hepdata_lib).

The folder is written with hepdata_lib's tables, variables and uncertainties; the steps of
``Submission.create_files`` are taken one by one because that method writes its archive into the
working directory, which a library call must not touch. The archive ``submission.tar.gz`` is made
in the folder itself and validated with hepdata-validator.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import PIL.Image
import yaml
from hepdata_lib import Submission, Table, Uncertainty, Variable
from hepdata_validator.full_submission_validator import FullSubmissionValidator

from .errors import AlpfusionError
from .fits import band_column

__all__ = ["HEPDataError", "limits_table", "validate_submission", "write_submission"]

ARCHIVE = "submission.tar.gz"
LIKELIHOODS = "likelihoods.tar.gz"


class HEPDataError(AlpfusionError):
    """A HEPData submission that cannot be made or does not validate."""


def _symmetric_uncertainty(errors: np.ndarray, label: str = "MC stat") -> Uncertainty:
    """A symmetric statistical uncertainty of a limit: the background MC's ("MC stat") or the toys'."""
    mc = Uncertainty(label, is_symmetric=True)
    mc.values = [float(v) for v in errors]
    return mc


def limits_table(rows, *, sqrt_s: float, luminosity_fb: float) -> Table:
    """The table of expected 95% CL upper limits on g_agg versus m_a: first the one to quote
    (``g_expected``, ``fits.scan.expected_source``) with its MC-statistical error, the statistical
    error of the pseudo-experiments where it is theirs, and its bands, then
    Lambda < 4 with its MC-statistical error and the tighter of it and the coarse groups' limit with its
    own, the CLs median with its MC-statistical error and its +-1 and +-2 sigma bands (asymmetric
    uncertainties), the CLs median without the MC-statistical constraints (infinite MC) with its
    MC-statistical error, and the CLs
    median and band without them taken as the tighter of the per-bin and coarse-group ones
    (``g_cls_bound``), with its MC-statistical error."""
    table = Table("Expected limits on g_agg")
    table.description = (
        "Expected 95% CL upper limits on the ALP-photon coupling g_agg versus the ALP mass m_a, "
        "for e+e- -> e+e- a with a -> invisible, from the simple Poisson criterion Lambda < 4 and from CLs "
        "(asymptotic, median with its 1 and 2 sigma bands; and its median with the background's MC-statistical "
        "uncertainties removed, where the CLs limit converges as the MC grows; and the tighter of the per-bin and "
        "coarse-group limits, Lambda < 4 and the CLs median and band without the MC's constraints, upper bounds on "
        "the limits with infinite MC, each with its MC-statistical error). The first is the one to quote: the "
        "CLs median from pseudo-experiments where the bins that give half of Lambda expect only a few "
        "background events, the CLs median without the MC's constraints where the background MC sets the "
        "profiled CLs, else the asymptotic CLs median (column expected_from of the limits table); "
        "'toys stat' is the statistical error that the finite number of pseudo-experiments leaves."
    )
    table.location = "Reach plot"
    table.keywords["observables"] = ["G_AGG"]
    table.keywords["reactions"] = ["E+ E- --> E+ E- A"]
    table.keywords["cmenergies"] = [sqrt_s]
    mass = Variable("$m_a$", is_independent=True, is_binned=False, units="GeV")
    mass.values = [r.m_a for r in rows]
    table.add_variable(mass)

    def limit(name: str, values: np.ndarray) -> Variable:
        variable = Variable(name, is_independent=False, is_binned=False, units="GeV$^{-1}$")
        variable.values = [float(v) for v in values]
        variable.add_qualifier("SQRT(S)", sqrt_s, "GeV")
        variable.add_qualifier("LUMINOSITY", luminosity_fb, "fb$^{-1}$")
        variable.add_qualifier("CL", "95%")
        return variable

    col = lambda name: np.array([getattr(r, name) for r in rows], dtype=float)

    def cls_limit(name: str, column: str) -> Variable:
        """The CLs median ``column`` with its MC-statistical error and its 1 and 2 sigma bands."""
        median = col(column)
        variable = limit(name, median)
        variable.add_uncertainty(_symmetric_uncertainty(col(f"{column}_mc_error")))
        for n in (1, 2):
            band = Uncertainty(f"{n} sigma", is_symmetric=False)
            low, high = col(band_column(column, -n)), col(band_column(column, n))
            band.values = [(float(lo - m), float(hi - m)) for lo, m, hi in zip(low, median, high)]
            variable.add_uncertainty(band)
        return variable

    expected = cls_limit("Expected limit to quote, CLs (median)", "g_expected")
    expected.add_uncertainty(_symmetric_uncertainty(col("g_expected_toy_error"), "toys stat"))
    table.add_variable(expected)
    poisson = limit(r"Expected limit, $\Lambda < 4$", col("g_lambda"))
    poisson.add_uncertainty(_symmetric_uncertainty(col("g_lambda_mc_error")))
    table.add_variable(poisson)
    bound = limit(
        r"Expected limit, $\Lambda < 4$, the tighter of the per-bin and coarse-group ones", col("g_lambda_bound")
    )
    bound.add_uncertainty(_symmetric_uncertainty(col("g_lambda_bound_mc_error")))
    table.add_variable(bound)
    table.add_variable(cls_limit("Expected limit, CLs (median)", "g_cls"))
    infinite = limit("Expected limit, CLs (median), infinite MC", col("g_cls_infinite_mc"))
    infinite.add_uncertainty(_symmetric_uncertainty(col("g_cls_infinite_mc_mc_error")))
    table.add_variable(infinite)
    name = "Expected limit, CLs (median) without MC constraints, the tighter of the per-bin and coarse-group ones"
    table.add_variable(cls_limit(name, "g_cls_bound"))
    return table


def write_submission(
    rows,
    folder: str | os.PathLike,
    *,
    figure: str | os.PathLike,
    likelihoods: Sequence[str | os.PathLike],
    sqrt_s: float,
    luminosity_fb: float,
    comment: str,
) -> Path:
    """Write the HEPData submission of a limits table into ``folder`` (which must be new or empty):
    submission.yaml, the table's YAML, the reach figure (``figure``, a PNG) with its thumbnail, the
    likelihoods (BkgOnly.json and patchset.json, as one HistFactory tarball) and ``submission.tar.gz``
    of it all; validated before returning."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise HEPDataError(f"{folder}: the HEPData folder must be empty")
    figure = Path(figure)
    thumbnail = folder / f"thumb_{figure.name}"
    with PIL.Image.open(figure) as image:
        image.thumbnail((image.width // 4, image.height // 4))
        image.save(thumbnail)
    bundle = folder / LIKELIHOODS
    with tarfile.open(bundle, "w:gz") as tar:
        for path in likelihoods:
            tar.add(path, arcname=Path(path).name)

    submission = Submission()
    submission.comment = comment
    submission.add_additional_resource(
        "pyhf likelihoods: background-only workspace and one patch per ALP mass (apply with `pyhf patchset apply`)",
        bundle.name,
        file_type="HistFactory",
    )
    table = limits_table(rows, sqrt_s=sqrt_s, luminosity_fb=luminosity_fb)
    table.add_additional_resource("Image file", os.fspath(figure), copy_file=True)
    table.add_additional_resource("Thumbnail image file", thumbnail.name)
    submission.add_table(table)
    header = {"data_license": submission.get_license(), "comment": submission.comment}
    header["additional_resources"] = submission.additional_resources
    with open(folder / "submission.yaml", "w", encoding="utf-8") as f:
        yaml.dump(header, f, default_flow_style=False, explicit_start=True)
    for table in submission.tables:
        table.write_output(os.fspath(folder))
        table.copy_files(os.fspath(folder))
    with tarfile.open(folder / ARCHIVE, "w:gz") as tar:
        for path in sorted(folder.iterdir()):
            if path.name != ARCHIVE:
                tar.add(path, arcname=path.name)
    problems = validate_submission(folder)
    if problems:
        raise HEPDataError(f"{folder}: the HEPData submission does not validate: " + "; ".join(problems))
    return folder


def validate_submission(folder: str | os.PathLike) -> list[str]:
    """hepdata-validator's messages for the submission archive in ``folder`` (empty: valid)."""
    validator = FullSubmissionValidator()
    if validator.validate(archive=os.fspath(Path(folder) / ARCHIVE)):
        return []
    return [f"{name}: {message.message}" for name, messages in validator.get_messages().items() for message in messages]
