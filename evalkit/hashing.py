"""Checksums of files: clips, checkpoints and decoded files are all identified by their bytes.

In the base layer, so codecs, metrics and datasets share one definition without importing each
other.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from evalkit.atomic import open_regular


def sha256_file(path: str | Path) -> str:
    """Checksum of a regular file's bytes; a pipe, socket or device is refused unopened
    (:class:`evalkit.atomic.NotRegularFile`), so hashing can neither block nor run forever."""
    with open_regular(path) as (fd, info):
        return sha256_fd(fd, info.st_size)


def sha256_fd(fd: int, size: int) -> str:
    """Checksum of the first ``size`` bytes of an open file: a file that grows while it is read
    (a recording in progress, ``/proc``) is hashed as it was when opened, never followed."""
    h = hashlib.sha256()
    offset = 0
    while offset < size:
        block = os.pread(fd, min(1 << 20, size - offset), offset)
        if not block:  # shrank meanwhile: the checksum covers what is there
            break
        h.update(block)
        offset += len(block)
    return h.hexdigest()
