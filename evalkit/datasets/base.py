"""Clips and datasets: what gets evaluated.

A :class:`Clip` is plain data (id, domain, where the audio is, its checksum) so it can travel to a
Dask worker on another machine; the worker reads the audio itself.
"""

from __future__ import annotations

from dataclasses import dataclass


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
