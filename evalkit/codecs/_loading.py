"""Loading the neural codec adapters: their packages, their weights files, clear errors.

The EnCodec and DAC packages are optional and download their weights on first use; machines
without network need the file placed in the package's cache or passed with ``--checkpoint``. Both
adapters report a missing package or file the same way, and record the file's SHA-256 so results
name the exact weights.
"""

from __future__ import annotations

import contextlib
import importlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from evalkit.errors import EvalkitError
from evalkit.hashing import sha256_file as sha256  # noqa: F401 (checkpoints hash like clips)


@contextlib.contextmanager
def quiet_deprecations() -> Iterator[None]:
    """Hide the packages' FutureWarnings (weight_norm, torch.jit.script): users cannot act."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


def require(codec: str, module: str) -> ModuleType:
    """The codec's package, or an error that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise EvalkitError(
            f"codec {codec!r} needs the {module!r} package, which cannot be imported ({e}); "
            "install the neural codec packages as the README's 'Neural codecs' section shows"
        ) from e


def local_checkpoint(codec: str, path: str) -> Path:
    """The user's ``--checkpoint`` file, which must exist (no download is attempted for it)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise EvalkitError(f"codec {codec!r}: checkpoint file {str(file)!r} does not exist")
    return file


def missing_weights(codec: str, expected: Path, url: str, cause: BaseException) -> EvalkitError:
    """The one-paragraph error for weights that are neither cached nor downloadable."""
    return EvalkitError(
        f"codec {codec!r} needs its weights file {expected.name}, which is not at {expected} and "
        f"could not be downloaded from {url} ({type(cause).__name__}: {cause}). Download it on a "
        f"connected machine and copy it to {expected}, or pass it with "
        f"--checkpoint {codec}=PATH."
    )


def unusable_checkpoint(codec: str, path: Path, cause: BaseException) -> EvalkitError:
    """A file that exists but is not this codec's weights (wrong variant, corrupt, not torch)."""
    first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return EvalkitError(f"codec {codec!r}: {path} is not a usable checkpoint: {first_line}")
