"""The package's exceptions: one base class, so that a caller (the command line, a notebook)
catches every reported problem of alpfusion with one ``except AlpfusionError``.

Each stage has its own subclass, defined next to the code that raises it
(``ConfigError`` in ``alpfusion.config``, ``SampleError`` in ``alpfusion.samples.rootio``,
``ProcessingError`` in ``alpfusion.processors``, ``ModelError`` in ``alpfusion.models``,
``LimitError`` in ``alpfusion.fits``, ``WorkflowError`` in ``alpfusion.workflow``); their messages
name the file, key or mass point and the problem. Anything else that escapes is a bug.
"""

from __future__ import annotations

__all__ = ["AlpfusionError"]


class AlpfusionError(Exception):
    """A problem alpfusion reports to its user: bad input, an impossible configuration, a failed stage."""
