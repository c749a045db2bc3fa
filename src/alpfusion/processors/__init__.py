"""Coffea processing: detector model, observables, per-mass selection, histograms (docs/processing.md)."""

from ..errors import AlpfusionError

__all__ = ["ProcessingError"]


class ProcessingError(AlpfusionError):
    """A problem with an input or a setting during processing; the message names the file or key."""
