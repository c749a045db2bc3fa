"""Statistics: the Poisson Lambda criterion, pyhf CLs limits, cut optimisation and mass scans."""

from ..errors import AlpfusionError

BAND_SIGMAS = (-2, -1, 0, 1, 2)
"""The expected limit's band, in standard deviations."""


def band_column(limit: str, sigma: int) -> str:
    """The limits table's column of ``limit``'s band at ``sigma`` standard deviations: ``limit``_minus2,
    ``limit``_minus1, ``limit`` (the median), ``limit``_plus1, ``limit``_plus2."""
    return limit if sigma == 0 else f"{limit}_{'minus' if sigma < 0 else 'plus'}{abs(sigma)}"


class LimitError(AlpfusionError, ValueError):
    """No limit can be set on a model (no signal, no sensitivity in the allowed range)."""
