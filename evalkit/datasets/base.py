"""Clips and datasets: what gets evaluated.

A :class:`Clip` is plain data (id, domain, where the audio is, its checksum) so it can travel to a
Dask worker on another machine; the worker reads the audio itself.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from evalkit.atomic import open_regular


@dataclass(frozen=True)
class Clip:
    """One clip to evaluate.

    Attributes:
        clip_id: unique within a dataset; used in file names of saved audio.
        domain: ``speech``, ``music`` or ``environmental``.
        path: the audio file.
        sha256: checksum of the file's bytes (part of every cache key).
        start_s / duration_s: a window of the file (``None``: to its end).
        lossy_source: True when the recording was already lossy-coded before it reached us.
        language: what is spoken, as a lower-case ISO 639-1 code (``en``, ``cs``); ``None`` when
            unknown or nothing is (ASR metrics are not applicable without it).
        transcript: the words spoken in the whole window, as the dataset gives them (``wer``).
    """

    clip_id: str
    domain: str
    path: str
    sha256: str
    start_s: float = 0.0
    duration_s: float | None = None
    lossy_source: bool = False
    language: str | None = None
    transcript: str | None = None

    @property
    def key(self) -> str:
        """Identity of the audio evaluated: the file's checksum plus the window."""
        return f"{self.sha256}:{self.start_s:g}:{self.duration_s if self.duration_s else ''}"


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
