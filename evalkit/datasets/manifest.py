"""Hand-made sets: a CSV or JSONL manifest listing files, their domains and optional windows.

Columns (CSV header or JSON keys): ``path`` and ``domain`` are required; ``id``, ``start`` and
``duration`` (seconds), ``sha256`` (checked against the file), ``lossless_source``, ``language``
(ISO 639-1, ``en``) and ``transcript`` (the words of the whole window, for ``wer``) are optional;
other columns are ignored. Relative paths are relative to the manifest's folder, and
every path must stay inside that folder unless the caller allows otherwise, so a manifest from
elsewhere cannot make evalkit read arbitrary files.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from evalkit.atomic import open_regular
from evalkit.datasets.base import Clip
from evalkit.datasets.dataset import check_domain, clip_id, file_sha256, sort_unique
from evalkit.datasets.files import relative_id
from evalkit.errors import UsageError, printable
from evalkit.hashing import sha256_file

MANIFEST_SUFFIXES = (".csv", ".jsonl")
TRUE, FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def read_rows(path: Path) -> list[tuple[int, dict]]:
    """(line number, row) pairs from a CSV (with header) or JSONL file."""
    suffix = path.suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise UsageError(f"manifest {path}: use a .csv or .jsonl file, not {suffix or 'no suffix'}")
    try:  # a pipe or device named x.csv is refused, never opened
        with open_regular(path) as (fd, info):
            text = os.pread(fd, info.st_size, 0).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read manifest {path}: {exc}") from None
    if suffix == ".csv":  # a quoted field may hold a newline: the reader sees the file whole
        reader = csv.DictReader(io.StringIO(text, newline=""))
        return [(reader.line_num, row) for row in reader]
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"manifest {path} line {number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise UsageError(f"manifest {path} line {number}: expected a JSON object")
        rows.append((number, row))
    return rows


def load_manifest(path: Path, allow_outside: bool = False, root: Path | None = None) -> list[Clip]:
    """Clips listed by a manifest, sorted by id.

    Args:
        path: the manifest file.
        allow_outside: let listed files lie outside ``root``.
        root: where relative paths start and files must lie (default: the manifest's folder).

    Raises:
        UsageError: a malformed row, a path outside the root, duplicate ids, or a file whose
            sha256 does not match the one listed; the message names the manifest line.
    """
    root = (root or path.parent).resolve()
    clips = []
    for number, row in read_rows(path):
        where = f"manifest {path} line {number}"
        clips.append(clip_from_row(row, root, allow_outside, where))
    if not clips:
        raise UsageError(f"manifest {path} lists no files")
    return sort_unique(clips)


def clip_from_row(row: dict, root: Path, allow_outside: bool, where: str) -> Clip:
    def text(key: str) -> str | None:
        value = row.get(key)
        return None if value is None or str(value).strip() == "" else str(value).strip()

    def seconds(key: str) -> float | None:
        value = text(key)
        try:
            number = None if value is None else float(value)
        except ValueError:
            raise UsageError(f"{where}: {key} must be a number of seconds, got {value!r}") from None
        if number is not None and not (number >= 0 and number < float("inf")):
            raise UsageError(f"{where}: {key} must be finite and not negative, got {value!r}")
        return number

    for key in ("path", "domain"):
        if text(key) is None:
            raise UsageError(f"{where}: missing {key!r}")
    listed = Path(os.path.normpath(root / text("path")))  # an absolute path stays as it is
    audio = listed.resolve()
    if not audio.is_relative_to(root) and not allow_outside:
        raise UsageError(
            f"{where}: {printable(str(listed))} lies outside {printable(str(root))} "
            "(allow it: manifest:FILE:allow-outside)"
        )
    expected = text("sha256")
    sha = verified_sha256(audio, expected.lower(), where) if expected else file_sha256(audio)
    duration = seconds("duration")
    if duration == 0:
        raise UsageError(f"{where}: duration must be positive")
    return Clip(
        clip_id=clip_id(
            text("id")
            or (relative_id(listed, root) if listed.is_relative_to(root) else listed.stem)
        ),
        domain=check_domain(text("domain"), where),
        path=str(audio),
        sha256=sha,
        start_s=seconds("start") or 0.0,
        duration_s=duration,
        lossy_source=not parse_bool(text("lossless_source"), where, default=True),
        language=language_code(text("language"), where),
        transcript=text("transcript"),
    )


def language_code(value: str | None, where: str) -> str | None:
    """A lower-case ISO 639-1 code: the form ASR backends list the languages they know in."""
    if value is None:
        return None
    code = value.lower()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise UsageError(f"{where}: language must be a two-letter ISO 639-1 code, got {value!r}")
    return code


def verified_sha256(path: Path, expected: str, where: str) -> str:
    try:
        actual = sha256_file(path)
    except OSError as exc:
        raise UsageError(f"{where}: cannot read {printable(str(path))}: {exc.strerror}") from None
    if actual != expected:
        raise UsageError(
            f"{where}: {printable(path.name)} has sha256 {actual[:12]}…, the manifest says "
            f"{expected[:12]}… (file changed or corrupted)"
        )
    return actual


def parse_bool(value: str | None, where: str, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in TRUE | FALSE:
        return value.lower() in TRUE
    raise UsageError(f"{where}: expected true or false, got {value!r}")
