"""``--dataset`` specs: which loader a spec names, and the one-line listing of every loader.

Specs: ``default``; ``folder:PATH[:DOMAIN]``; ``manifest:FILE[:allow-outside]``;
``NAME:ROOT[:PART,PART…]`` for the official sets (parts: subsets, stems, microphones; see
``evalkit datasets``). The last ``:`` part counts as an option only when it holds no ``/``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from evalkit.assets import default_set
from evalkit.datasets.base import Clip
from evalkit.datasets.dataset import Dataset, check_domain, make_clips, segment, select
from evalkit.datasets.files import audio_files, folder_ids
from evalkit.datasets.manifest import MANIFEST_SUFFIXES, load_manifest
from evalkit.datasets.official import SOURCES
from evalkit.errors import UsageError

SIDECAR = "evalkit-manifest"  # + .csv or .jsonl at a folder's top: per-file domains and windows
ALLOW_OUTSIDE = "allow-outside"


@dataclass(frozen=True)
class Spec:
    name: str
    path: Path | None = None
    option: str | None = None


def parse_spec(spec: str) -> Spec:
    name, sep, rest = spec.strip().partition(":")
    if name == "default":
        if sep:
            raise UsageError("the default dataset takes no path: use --dataset default")
        return Spec(name)
    known = ["default", "folder", "manifest", *SOURCES]
    if name not in known:
        hint = difflib.get_close_matches(name, known, n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        raise UsageError(f"unknown dataset {name!r}{suggestion} (see `evalkit datasets`)")
    if not rest:
        raise UsageError(f"dataset {name!r} needs a path: {name}:PATH")
    head, sep, tail = rest.rpartition(":")
    if sep and head and tail and "/" not in tail:
        return Spec(name, Path(head).expanduser(), tail)
    return Spec(name, Path(rest).expanduser())


def load_clips(spec: Spec) -> list[Clip]:
    """Every clip a spec names, sorted by id, checksummed, not decoded."""
    if spec.name == "default":
        return load_default()
    if spec.name == "folder":
        return load_folder(spec.path, spec.option)
    if spec.name == "manifest":
        if spec.option not in (None, ALLOW_OUTSIDE):
            raise UsageError(f"manifest option must be {ALLOW_OUTSIDE!r}, got {spec.option!r}")
        return load_manifest(spec.path, allow_outside=spec.option == ALLOW_OUTSIDE)
    source = SOURCES[spec.name]
    parts = source.check_parts(tuple(spec.option.split(",")) if spec.option else ())
    found = source.find(source.base(spec.path), parts)
    if not found:
        raise UsageError(f"{spec.name}: no audio files found under {spec.path}")
    return source.annotate(
        make_clips(((i, source.domain, p) for i, p in found), source.lossy_source)
    )


def load_default() -> list[Clip]:
    """The embedded set; every FLAC is checked against the sha256 in its manifest."""
    return load_manifest(default_set() / "manifest.csv")


def load_folder(path: Path, domain: str | None) -> list[Clip]:
    """Every audio file under ``path``; domains from the spec or a sidecar manifest."""
    if not path.is_dir():
        raise UsageError(f"folder dataset: {path} is not a folder")
    sidecars = [p for s in MANIFEST_SUFFIXES if (p := path / f"{SIDECAR}{s}").is_file()]
    if domain is None:
        if not sidecars:
            raise UsageError(
                f"folder:{path} needs a domain (folder:{path}:speech) or an "
                f"{SIDECAR}.csv in it listing path,domain"
            )
        return load_manifest(sidecars[0])
    check_domain(domain, f"folder:{path}")
    files = audio_files(path)
    if not files:
        raise UsageError(f"folder:{path} holds no audio files")
    return make_clips(zip(folder_ids(files, path), [domain] * len(files), files, strict=True))


def load_dataset(
    spec: str, limit: int | None = None, seed: int = 0, segment_s: float | None = None
) -> Dataset:
    """Load the clips a ``--dataset`` spec names, then segment and select them.

    Args:
        spec: see the module docstring.
        limit: at most this many clips per domain (stratified, seeded); after segmenting, so it
            counts the windows that are evaluated.
        seed: which clips ``limit`` picks.
        segment_s: cut files into windows of this many seconds.

    Example:
        >>> ds = load_dataset("default", limit=2)
        >>> ds.domains
        {'environmental': 2, 'music': 2, 'speech': 2}
    """
    clips = load_clips(parse_spec(spec))
    if segment_s is not None:
        clips = segment(clips, segment_s)
    clips = select(clips, limit, seed)
    selection = {"limit_per_domain": limit, "seed": seed if limit else None, "segment_s": segment_s}
    return Dataset(spec, tuple(clips), selection)


def list_datasets() -> list[str]:
    """One line per loader: spec, domains, what it is, licence, where to get the data."""
    rows = [
        ("default", "speech,music,environmental", "real recordings embedded in evalkit",
         "per clip, see datasets/default/CREDITS.md", "ships with evalkit"),
        ("folder:PATH[:DOMAIN]", "any", "every audio file under PATH, recursively",
         f"yours (domains from DOMAIN or {SIDECAR}.csv)", "your files"),
        ("manifest:FILE", "any", "CSV/JSONL: path,domain[,id,start,duration,sha256]",
         "yours", "your files"),
    ]  # fmt: skip
    for s in SOURCES.values():
        spec = f"{s.name}:ROOT" + (
            f"[:{','.join(s.parts[:3])}{',…' if len(s.parts) > 3 else ''}]" if s.parts else ""
        )
        where = s.homepage + (" (`evalkit datasets prepare`)" if s.archives else "")
        rows.append((spec, s.domain, s.title, s.licence, where))
    return [f"{a:<40} {b:<27} {c}; licence: {d}; get it: {e}" for a, b, c, d, e in rows]
