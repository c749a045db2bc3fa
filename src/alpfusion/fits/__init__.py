"""Statistics: the Poisson Lambda criterion, pyhf CLs limits, cut optimisation and mass scans."""

from ..errors import AlpfusionError

BAND_SIGMAS = (-2, -1, 0, 1, 2)
"""The expected limit's band, in standard deviations."""


class LimitError(AlpfusionError, ValueError):
    """No limit can be set on a model (no signal, no sensitivity in the allowed range)."""
