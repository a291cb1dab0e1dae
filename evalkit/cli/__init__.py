"""Command-line interface: a thin shell over evalkit's Python API.

Each command lives in its own module and attaches itself to :data:`app`.
"""

from evalkit.cli import datasets, listen, listing, report, run, score, train  # noqa: F401
from evalkit.cli._app import app

__all__ = ["app"]
