"""A dataset is a named list of clips plus how they were chosen; its fingerprint says which audio.

Selection (``limit`` clips per domain) and segmenting (``segment_s`` windows) happen here, on
clips that loaders have already listed, so every loader gets both for free and both are recorded
in :meth:`Dataset.fingerprint`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from evalkit.atomic import open_regular
from evalkit.datasets.base import Clip
from evalkit.errors import UsageError, printable
from evalkit.hashing import sha256_file
from evalkit.metrics.base import DOMAINS


@dataclass(frozen=True)
class Dataset:
    """Clips to evaluate, in a fixed order.

    Attributes:
        name: the spec it was loaded from (``default``, ``folder:PATH:music`` …).
        clips: the clips, sorted by id.
        selection: the parameters that chose them (limit, seed, segment), part of the fingerprint.
    """

    name: str
    clips: tuple[Clip, ...]
    selection: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        """sha256 over the audio evaluated (each clip's key and domain) and the selection.

        Two runs are comparable clip for clip only when their fingerprints are equal.
        """
        keys = sorted(f"{c.key}|{c.domain}" for c in self.clips)
        blob = json.dumps({"clips": keys, "selection": self.selection}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def domains(self) -> dict[str, int]:
        """Number of clips per domain."""
        counts: dict[str, int] = {}
        for clip in self.clips:
            counts[clip.domain] = counts.get(clip.domain, 0) + 1
        return counts


def check_domain(domain: str, where: str) -> str:
    if domain not in DOMAINS:
        raise UsageError(f"{where}: unknown domain {domain!r}; use one of {', '.join(DOMAINS)}")
    return domain


def file_sha256(path: Path) -> str:
    """Checksum of a file's bytes.

    A file whose bytes cannot be read (permissions, a dangling link) or that is not a regular
    file (a pipe, a socket, a device: never opened) still becomes a clip, so the worker reports
    it as an error row naming the file and the rest of the run goes on; its "checksum" is then
    taken over its path and the cause, which keeps clip keys distinct.
    """
    try:
        return sha256_file(path)
    except OSError as exc:
        text = f"unreadable\0{path}\0{exc.strerror}"
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def clip_id(text: str) -> str:
    """A clip id that any table, log or report can hold: see :func:`evalkit.errors.printable`."""
    return printable(text, escape_backslash=True)


def make_clips(entries: Iterable[tuple[str, str, Path]], lossy_source: bool = False) -> list[Clip]:
    """Clips from (clip_id, domain, path) triples, checksummed, sorted by id; ids must be unique."""
    clips = [
        Clip(clip_id(name), domain, str(path), file_sha256(path), lossy_source=lossy_source)
        for name, domain, path in entries
    ]
    return sort_unique(clips)


def sort_unique(clips: Iterable[Clip]) -> list[Clip]:
    ordered = sorted(clips, key=lambda c: c.clip_id)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a.clip_id == b.clip_id:
            raise UsageError(
                f"clip id {a.clip_id!r} is used twice ({printable(a.path)} and {printable(b.path)})"
            )
    return ordered


def select(clips: Sequence[Clip], limit_per_domain: int | None, seed: int = 0) -> list[Clip]:
    """At most ``limit_per_domain`` clips of each domain, chosen by a seeded hash of the clip id.

    Ranking by ``sha256(seed, clip_id)`` rather than a shuffle makes the choice independent of
    Python's random module and of the other clips: adding files to a folder does not change which
    of the old ones are picked, only whether a new one displaces them.
    """
    if limit_per_domain is None:
        return list(clips)
    if limit_per_domain < 1:
        raise UsageError(f"--limit must be at least 1, got {limit_per_domain}")

    def rank(clip: Clip) -> str:
        return hashlib.sha256(f"{seed}\0{clip.clip_id}".encode()).hexdigest()

    chosen: list[Clip] = []
    for domain in sorted({c.domain for c in clips}):
        group = sorted((c for c in clips if c.domain == domain), key=rank)
        chosen.extend(group[:limit_per_domain])
    return sorted(chosen, key=lambda c: c.clip_id)


def segment(clips: Sequence[Clip], segment_s: float) -> list[Clip]:
    """Cut each clip into consecutive windows of ``segment_s`` seconds.

    A clip shorter than one window is kept whole; otherwise the tail shorter than a window is
    dropped, so every window has the same length. A clip whose length cannot be read from its
    header is kept whole: the worker then reports why it cannot be read.
    """
    if segment_s <= 0:
        raise UsageError(f"--segment must be positive, got {segment_s:g}")
    out: list[Clip] = []
    for clip in clips:
        length = clip.duration_s
        if length is None:
            total = audio_duration_s(Path(clip.path))
            length = None if total is None else total - clip.start_s
        if length is None or length < segment_s:
            out.append(clip)
            continue
        for k in range(int(length // segment_s)):
            start = clip.start_s + k * segment_s
            out.append(
                Clip(
                    f"{clip.clip_id}@{k * segment_s:g}s",
                    clip.domain,
                    clip.path,
                    clip.sha256,
                    start_s=start,
                    duration_s=float(segment_s),
                    lossy_source=clip.lossy_source,
                    language=clip.language,  # the transcript is of the whole file: not kept
                )
            )
    return out


def audio_duration_s(path: Path) -> float | None:
    """Length in seconds from the file's header (soundfile, else PyAV); ``None`` if unreadable
    or not a regular file (a pipe or device is never opened)."""
    import soundfile as sf

    try:
        with open_regular(path) as (fd, _):
            try:
                with sf.SoundFile(fd, closefd=False) as f:
                    return f.frames / f.samplerate
            except Exception:  # not a format libsndfile knows, or not audio at all: try FFmpeg
                pass
            os.lseek(fd, 0, os.SEEK_SET)
            with os.fdopen(os.dup(fd), "rb") as f:
                return _pyav_duration_s(f)
    except Exception:  # any failure here means "unknown": the worker will name the cause
        return None


def _pyav_duration_s(source: BinaryIO) -> float | None:
    import av

    with av.open(source) as container:
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / 1_000_000
    return None
