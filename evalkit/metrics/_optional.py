"""What the optional speech metrics share: their local model paths and quiet imports.

No model hub is assumed reachable, so a model-backed metric reads its weights from a path that an
environment variable names, and says which one when it is unset or wrong.

webrtcvad (used by Resemblyzer and warpq) imports ``pkg_resources``, which setuptools marks
deprecated with a warning on every import; evalkit pins ``setuptools<81`` so it still exists, and
the warning, which users cannot act on, is hidden.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

from evalkit.errors import EvalkitError


def local_model_path(env: str, needer: str, what: str, folder: bool = False) -> Path:
    """The existing file (or ``folder``) that ``env`` names; else a one-line error for ``needer``
    saying what to set, e.g. ``utmos needs <what>: set EVALKIT_UTMOS_MODEL=PATH``."""
    value = os.environ.get(env)
    if not value:
        raise EvalkitError(
            f"{needer} needs {what}: set {env}=PATH (evalkit downloads nothing; see "
            "docs/metrics-speech.md)"
        )
    path = Path(value).expanduser()
    if not (path.is_dir() if folder else path.is_file()):
        raise EvalkitError(f"{env}={value}: no such {'folder' if folder else 'file'}")
    return path


@contextlib.contextmanager
def quiet_pkg_resources() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
        yield
