"""Importing the optional speech packages quietly.

webrtcvad (used by Resemblyzer and warpq) imports ``pkg_resources``, which setuptools marks
deprecated with a warning on every import; evalkit pins ``setuptools<81`` so it still exists, and
the warning, which users cannot act on, is hidden.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_pkg_resources() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
        yield
