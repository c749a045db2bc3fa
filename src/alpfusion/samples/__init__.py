"""Event samples: exact tree-level matrix elements, phase space, vegas sampling, ROOT and LHE I/O.

Modules: `dirac` (spinors, currents, polarisations), `amplitudes` (the signal processes),
`phasespace` (channels), `processes` (matrix element + channels + acceptance), `generator`
(vegas training, cross sections, event streams), `rootio` (ROOT samples), `lhe` (MadGraph import).
"""

from ..errors import AlpfusionError

__all__ = ["ProcessSettingsError"]


class ProcessSettingsError(AlpfusionError, ValueError):
    """Settings that define no process (an unknown name, a mass out of range, an unregulated pair)."""
