"""vadagent: find anomalies in video and explain them."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vadagent")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
