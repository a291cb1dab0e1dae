"""Finding audio files under a folder: recursive, deterministic, safe against symlink loops.

Listing only reads folder entries: nothing listed is opened here. Entries with an audio name that
are not regular files (named pipes, sockets, devices, dangling links) are listed too, so that the
run reports each as an error row naming its kind instead of dropping it without a word; a folder
with an audio name (``dir.wav``) is a folder like any other: walked, not a clip.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path

from evalkit.errors import printable

log = logging.getLogger("evalkit")

#: what soundfile (libsndfile) or PyAV (FFmpeg) can read; the worker finds out which
AUDIO_EXTENSIONS = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".aifc", ".m4a",
    ".mp4", ".aac", ".webm", ".mka", ".caf", ".au", ".snd", ".w64", ".wv", ".wma",
})  # fmt: skip


def audio_files(root: Path, extensions: frozenset[str] = AUDIO_EXTENSIONS) -> list[Path]:
    """Every audio file under ``root`` (following links), sorted by relative path.

    Hidden files and folders (names starting with ``.``, such as macOS ``._x.wav`` resource
    forks) are skipped. A folder reached twice through symbolic links is walked once, so a link
    loop ends; a folder that cannot be listed is logged and skipped.
    """
    seen: set[tuple[int, int]] = set()
    found: list[Path] = []

    def skipped(exc: OSError) -> None:
        log.warning("skipping %s: %s", printable(str(exc.filename)), exc.strerror)

    for folder, subfolders, names in os.walk(root, followlinks=True, onerror=skipped):
        stat = os.stat(folder)
        if (stat.st_dev, stat.st_ino) in seen:
            subfolders[:] = []
            continue
        seen.add((stat.st_dev, stat.st_ino))
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found.extend(
            Path(folder, name)
            for name in names
            if not name.startswith(".") and Path(name).suffix.lower() in extensions
        )
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def relative_id(path: Path, root: Path) -> str:
    """A readable clip id: the path below ``root`` without its extension (``birds/robin``)."""
    return path.relative_to(root).with_suffix("").as_posix()


def folder_ids(paths: list[Path], root: Path) -> list[str]:
    """Ids for files under ``root``; where two files differ only by extension, both keep theirs."""
    ids = [relative_id(p, root) for p in paths]
    counts = Counter(ids)
    return [
        p.relative_to(root).as_posix() if counts[i] > 1 else i
        for p, i in zip(paths, ids, strict=True)
    ]
