"""alpfusion: HistFactory statistical models for invisible ALPs in e+e- -> e+e- a at Belle II."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("alpfusion")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
