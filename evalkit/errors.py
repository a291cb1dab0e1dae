"""Exceptions that carry a user-facing, one-line message, and the one way text is made printable."""

from __future__ import annotations

import errno
import os
import unicodedata
from pathlib import Path

#: characters that would break a line or reorder what a terminal shows (bidi overrides)
_INVISIBLE = {"Cc", "Zl", "Zp"}
_BIDI = {*range(0x202A, 0x202F), *range(0x2066, 0x206A)}
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: what to do about a write that failed, by errno
_FIXES = {
    errno.ENOSPC: "free space on that disk",
    errno.EDQUOT: "free space within your disk quota",
    errno.EROFS: "it is on a read-only file system: use a writable folder",
    errno.EACCES: "make the folder writable for this user, or use another",
    errno.EPERM: "make the folder writable for this user, or use another",
    errno.ENOTDIR: "a file stands where a folder must be: move it, or use another folder",
    errno.EEXIST: "a file stands where a folder must be: move it, or use another folder",
}


class EvalkitError(Exception):
    """Base class: a problem the user can fix; the CLI prints it without a traceback."""


class UsageError(EvalkitError):
    """Bad arguments: unknown codec or metric, impossible bitrate budget, bad dataset spec."""


class StorageError(EvalkitError):
    """A file evalkit must write cannot be (disk full, read-only, permission denied)."""


def storage_error(exc: OSError, what: str, path: str | Path | None = None) -> StorageError:
    """One line for a failed write: what could not be written, where, why, and what to do."""
    where = printable(str(path or exc.filename or "?"))
    cause = os.strerror(exc.errno) if exc.errno else (exc.strerror or type(exc).__name__)
    fix = _FIXES.get(exc.errno, "check that the folder exists and is writable")
    return StorageError(f"cannot write {what} {where}: {cause}; {fix}")


class NotApplicable(Exception):  # noqa: N818 - it is an outcome, not a failure
    """A metric does not apply here (wrong domain, clip too short): recorded, not an error."""


def printable(text: str, escape_backslash: bool = False) -> str:
    """``text`` as one line of valid UTF-8 that shows every character it stood for.

    Bytes of a file name that are not UTF-8 (Python keeps them as lone surrogates) become
    ``\\xNN``; line breaks, other control characters and bidi overrides become ``\\n``, ``\\x1b``,
    ``\\u202e``. With ``escape_backslash`` a ``\\`` becomes ``\\\\`` too, which makes the mapping
    one-to-one: clip ids made this way never collide and always name their file.
    """
    if text.isprintable() and (not escape_backslash or "\\" not in text):
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the raw byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:  # a lone surrogate from elsewhere (JSON "\\ud800")
            out.append(f"\\u{code:04x}")
        elif ch in _SHORT:
            out.append(_SHORT[ch])
        elif unicodedata.category(ch) in _INVISIBLE or code in _BIDI:
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}")
        elif ch == "\\" and escape_backslash:
            out.append("\\\\")
        else:
            out.append(ch)
    return "".join(out)
