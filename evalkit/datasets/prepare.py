"""Fetching and checking local copies of the official sets.

Downloads resume where a cut connection left them (HTTP ``Range``), every archive is checked
against its pinned sha256 before anything is extracted, and extraction happens in a temporary
folder next to the target that is moved into place only when complete, so a failure never
leaves a half-extracted set behind. Archive members that would land outside the target
(absolute paths, ``..``, links) are refused.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from evalkit.datasets.dataset import audio_duration_s
from evalkit.datasets.official import SOURCES, Archive, Source
from evalkit.errors import EvalkitError, UsageError

log = logging.getLogger("evalkit")
CHUNK = 1 << 20
MARKER = ".evalkit-prepared.json"  # archive file name -> sha256, for archives already extracted


def source(name: str) -> Source:
    if name not in SOURCES:
        raise UsageError(f"unknown dataset {name!r}; known: {', '.join(SOURCES)}")
    return SOURCES[name]


def fetch(url: str, dest: Path, sha256: str, attempts: int = 5, timeout_s: float = 60) -> Path:
    """Download ``url`` to ``dest``, resuming a partial ``dest.part``, and check its sha256.

    Raises:
        EvalkitError: the server keeps failing, or the bytes do not match ``sha256`` (the
            partial file is then removed so the next try starts clean).
    """
    if dest.is_file() and sha256_of(dest) == sha256:
        return dest
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    error: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            download(url, part, timeout_s)
            break
        except urllib.error.HTTPError as exc:
            if exc.code == 416:  # the part already holds every byte; the checksum decides
                break
            if exc.code < 500:
                raise EvalkitError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
            error = exc
        except (OSError, http.client.HTTPException) as exc:
            error = exc
        if attempt < attempts:
            log.warning("download of %s interrupted (%s); resuming", url, error)
            time.sleep(0.1 * 2**attempt)
    else:
        raise EvalkitError(f"cannot download {url} after {attempts} tries: {error}")
    actual = sha256_of(part)
    if actual != sha256:
        part.unlink()
        raise EvalkitError(
            f"{dest.name}: sha256 {actual} does not match the published {sha256}; "
            "the download was removed, nothing was extracted"
        )
    part.replace(dest)
    return dest


def download(url: str, part: Path, timeout_s: float) -> None:
    """Append what ``part`` lacks of ``url`` (or rewrite it all if the server ignores Range).

    Raises:
        ConnectionError: the body ended before its announced length (a cut connection, which
            urllib does not report by itself); what arrived is kept for the next resume.
    """
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        resumed = response.status == 206
        content_range = response.headers.get("Content-Range", "")
        if resumed and not content_range.startswith(f"bytes {have}-"):
            raise http.client.HTTPException(f"server answered range {have}- with {content_range!r}")
        length = response.headers.get("Content-Length")
        total = (have if resumed else 0) + int(length) if length is not None else None
        with open(part, "ab" if resumed else "wb") as f:
            while block := response.read(CHUNK):
                f.write(block)
    size = part.stat().st_size
    if total is not None and size < total:
        raise ConnectionError(f"connection closed after {size} of {total} bytes")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def extract(archive: Path, target: Path) -> None:
    """Unpack a .zip or .tar(.gz/.bz2/.xz) into ``target``, all or nothing.

    Raises:
        EvalkitError: a member would land outside ``target`` or overwrite an existing file.
    """
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".evalkit-extract-", dir=target))
    try:
        if zipfile.is_zipfile(archive):
            extract_zip(archive, staging)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    refuse_unsafe(archive, member.name, link=False)
                try:
                    tar.extractall(staging, filter="data")  # also refuses links leaving staging
                except tarfile.FilterError as exc:
                    raise EvalkitError(f"{archive.name}: unsafe member refused: {exc}") from None
        else:
            raise EvalkitError(f"{archive.name}: neither a zip nor a tar archive")
        check_no_clash(staging, target)
        move_into(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def extract_zip(archive: Path, staging: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            refuse_unsafe(
                archive, member.filename, (member.external_attr >> 16) & 0o170000 == 0o120000
            )
        zf.extractall(staging)


def refuse_unsafe(archive: Path, name: str, link: bool) -> None:
    """Refuse members that could land outside the target: absolute, ``..``, drive, link."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or ":" in name or link:
        raise EvalkitError(f"{archive.name}: unsafe member refused: {name!r}")


def check_no_clash(staging: Path, target: Path) -> None:
    for path in staging.rglob("*"):
        dest = target / path.relative_to(staging)
        if dest.exists() and not (path.is_dir() and dest.is_dir()):
            raise EvalkitError(f"extracting would overwrite {dest}; move it away first")


def move_into(staging: Path, target: Path) -> None:
    """Move staged entries into ``target``, merging folders that already exist there."""
    for entry in sorted(staging.iterdir()):
        dest = target / entry.name
        if dest.is_dir() and entry.is_dir():
            move_into(entry, dest)
        else:
            os.replace(entry, dest)


@dataclass(frozen=True)
class Prepared:
    archive: str
    status: str  # "extracted" or "already prepared"


def prepare(
    name: str,
    root: Path,
    parts: tuple[str, ...] = (),
    mirror: str | None = None,
    keep_archives: bool = False,
) -> list[Prepared]:
    """Download, check and extract the archives of a set into ``root``.

    Args:
        name: an official set with pinned archives (see ``evalkit datasets``).
        root: where the set goes; pass the same folder as ``--dataset NAME:ROOT``.
        parts: the parts to fetch (default: the set's default parts).
        mirror: fetch each archive by its file name from this base URL instead.
        keep_archives: keep the downloaded archives (in ``root/archives``) after extraction.
    """
    src = source(name)
    if not src.archives:
        raise UsageError(
            f"{name} has no archive with a published checksum to fetch; "
            f"download it from {src.homepage} and unpack it into ROOT"
        )
    wanted = src.check_parts(parts)
    root.mkdir(parents=True, exist_ok=True)
    marker = root / MARKER
    done = json.loads(marker.read_text()) if marker.is_file() else {}
    report = []
    for archive in (a for a in src.archives if a.part is None or a.part in wanted):
        if done.get(archive.file_name) == archive.sha256:
            report.append(Prepared(archive.file_name, "already prepared"))
            continue
        path = fetch(
            archive_url(archive, mirror), root / "archives" / archive.file_name, archive.sha256
        )
        extract(path, root / archive.into)
        done[archive.file_name] = archive.sha256
        marker.write_text(json.dumps(done, indent=1, sort_keys=True))
        if not keep_archives:
            path.unlink()
        report.append(Prepared(archive.file_name, "extracted"))
    return report


def archive_url(archive: Archive, mirror: str | None) -> str:
    return f"{mirror.rstrip('/')}/{archive.file_name}" if mirror else archive.url


@dataclass(frozen=True)
class Verified:
    files: int
    expected: int | None
    hours: float
    problems: list[str]


def verify(name: str, root: Path, parts: tuple[str, ...] = ()) -> Verified:
    """Check a local copy: layout, file count where it is known, and that every header opens."""
    src = source(name)
    wanted = src.check_parts(parts)
    found = src.find(src.base(root), wanted)
    keys = wanted or ("",)
    expected = (
        sum(src.expected_files[k] for k in keys)
        if all(k in src.expected_files for k in keys)
        else None
    )
    problems = []
    if expected is not None and len(found) != expected:
        problems.append(f"expected {expected} files, found {len(found)}")
    seconds = 0.0
    for clip_id, path in found:
        length = audio_duration_s(path)
        if length is None:
            problems.append(f"{clip_id}: cannot open {path}")
        else:
            seconds += length
    return Verified(len(found), expected, seconds / 3600, problems)
