"""File I/O that never half-writes and never blocks on what is not a plain file.

Writes: a file appears complete or not at all, and survives a power cut (``fsync`` of the file
before the rename and of its folder after; without them ext4 and XFS can leave a zero-length file
under the final name). Reads: named pipes, sockets and devices are refused by their kind before
anything opens them (opening a pipe waits for a writer; ``/dev/zero`` never ends).
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

#: what a file that is not a regular file is, in the words error messages use
KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def kind(mode: int) -> str | None:
    """``None`` for a regular file, else what it is (``a named pipe (FIFO)`` ...)."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in KINDS if test(mode)), "not a regular file")


class NotRegularFile(OSError):
    """A path that is a pipe, socket, device or folder: evalkit does not open it."""

    def __init__(self, path: str | Path, what: str) -> None:
        super().__init__(f"{what}, not a regular file; evalkit does not open it")
        self.strerror, self.path = str(self), str(path)


@contextlib.contextmanager
def open_regular(path: str | Path) -> Iterator[tuple[int, os.stat_result]]:
    """An open read-only descriptor of ``path`` (links followed) and its ``fstat``.

    The kind is checked with ``stat`` before opening and again on the descriptor (non-blocking,
    no controlling terminal), so a file swapped for a pipe in between is refused too.

    Raises:
        NotRegularFile: ``path`` is a pipe, socket, device or folder.
        OSError: it does not exist or cannot be opened.
    """
    what = kind(os.stat(path).st_mode)
    if what:
        raise NotRegularFile(path, what)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        what = kind(info.st_mode)
        if what:
            raise NotRegularFile(path, what)
        yield fd, info
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


TEMPORARY_SUFFIX = ".tmp"
#: a temporary file this old was left by a writer that was killed (a live write lasts milliseconds)
STALE_TEMPORARY_S = 3600.0


def remove_if_stale_temporary(entry: os.DirEntry[str]) -> bool:
    """Whether ``entry`` is one of :func:`atomic_path`'s temporary files; if it is and is older
    than ``STALE_TEMPORARY_S`` (its writer was killed with SIGKILL or lost power), remove it."""
    if not (entry.name.startswith(".") and entry.name.endswith(TEMPORARY_SUFFIX)):
        return False
    with contextlib.suppress(OSError):  # gone already, or another run's to remove
        if time.time() - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMPORARY_S:
            os.unlink(entry.path)
    return True


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    The temporary name is unique (concurrent writers never share it) and starts with a dot; it
    is removed if the write fails or is interrupted, so a crash leaves no partial file behind
    (one that SIGKILL leaves is removed later by :func:`remove_if_stale_temporary`).
    Its bytes are on disk before the rename, and the rename is on disk before this returns.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
