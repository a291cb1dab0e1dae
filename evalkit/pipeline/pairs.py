"""Pairs mode: decoded audio that already exists, evaluated as a run (``evalkit run --pairs``).

``--pairs`` takes a folder laid out like the dataset (``DIR/<clip_id>.<ext>``: one codec label,
the folder's name or ``--codec``, and one bitrate label, ``--bitrates`` or 0) or a manifest
(``FILE[:DOMAIN][:allow-outside]``, CSV or JSONL) with columns ``reference`` and ``degraded``
(paths relative to the manifest, kept inside its folder unless allowed) and optionally ``id``,
``domain``, ``codec``, ``bitrate_kbps``, ``payload_bits`` or ``bitstream`` (a file: 8 bits per
byte), ``codes`` (.npy, codebooks x frames) with ``codebook_size``. Each codec label becomes a
:class:`~evalkit.codecs.replay.Replay` whose table is written, content-addressed, beside the
shard cache; the rest is the ordinary run: Dask, shards, resume, tables. See docs/pairs.md.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from evalkit.atomic import atomic_path
from evalkit.codecs.replay import Replay, check_codebook_size, label_key
from evalkit.datasets import load_dataset
from evalkit.datasets.base import Clip
from evalkit.datasets.dataset import Dataset, check_domain, clip_id, file_sha256, select
from evalkit.datasets.files import AUDIO_EXTENSIONS, relative_id
from evalkit.datasets.manifest import read_rows
from evalkit.errors import UsageError, printable
from evalkit.hashing import sha256_file
from evalkit.metrics.base import DOMAINS
from evalkit.pipeline.align import ALIGN_CHOICES
from evalkit.pipeline.config import RunConfig
from evalkit.pipeline.store import default_root
from evalkit.pipeline.task import CodecSpec

ALLOW_OUTSIDE = "allow-outside"


@dataclass(frozen=True)
class Row:
    """One pair as listed: where it came from, its clip and its degraded side."""

    where: str
    clip: Clip
    codec: str
    bitrate_kbps: float
    entry: dict  # path, sha256 (or missing), payload_bits, codes, codes_sha256, codebook_size


def parse_spec(spec: str) -> tuple[Path, str | None, bool]:
    """``PATH[:DOMAIN][:allow-outside]`` -> (path, default domain, outside allowed)."""
    parts = spec.split(":")
    options: list[str] = []
    while len(parts) > 1 and parts[-1] in (*DOMAINS, ALLOW_OUTSIDE):
        options.append(parts.pop())
    domains = [o for o in options if o in DOMAINS]
    if len(domains) > 1:
        raise UsageError(f"--pairs {spec}: give at most one domain")
    return Path(":".join(parts)).expanduser(), (domains or [None])[0], ALLOW_OUTSIDE in options


def labelled(config: RunConfig) -> RunConfig:
    """The config with its codecs and bitrates set to the labels the pairs carry."""
    if config.segment_s is not None:
        raise UsageError("--pairs scores whole decoded files: --segment does not apply")
    if config.align not in ALIGN_CHOICES:
        raise UsageError(f"--align must be one of {', '.join(ALIGN_CHOICES)}, not {config.align!r}")
    path, _, _ = parse_spec(config.pairs or "")
    if path.is_dir():
        if len(config.codecs) > 1 or len(config.bitrates_kbps) > 1:
            raise UsageError("--pairs DIR holds one codec at one bitrate: name at most one of each")
        return replace(
            config,
            codecs=tuple(config.codecs) or (path.resolve().name,),
            bitrates_kbps=tuple(config.bitrates_kbps) or (0.0,),
        )
    rows = [_labels(row, path, n) for n, row in read_rows(path)]
    if not rows:
        raise UsageError(f"pairs manifest {path} lists no pairs")
    codecs = tuple(dict.fromkeys(c for c, _ in rows))
    bitrates = tuple(sorted({b for _, b in rows}))
    given = (tuple(config.codecs), tuple(float(b) for b in config.bitrates_kbps))
    if any(given) and given != (codecs, bitrates):  # a resumed run names the labels it had
        raise UsageError(
            f"--pairs MANIFEST: codecs and bitrates come from its columns ({', '.join(codecs)} "
            f"at {', '.join(f'{b:g}' for b in bitrates)} kbps); drop --codec and --bitrates"
        )
    return replace(config, codecs=codecs, bitrates_kbps=bitrates)


def _labels(row: dict, path: Path, number: int) -> tuple[str, float]:
    where = f"pairs manifest {path} line {number}"
    codec = _text(row, "codec") or path.stem
    text = _text(row, "bitrate_kbps") or "0"
    try:
        bitrate = float(text)
    except ValueError:
        raise UsageError(f"{where}: bitrate_kbps must be a number, got {text!r}") from None
    if not 0 <= bitrate < float("inf"):
        raise UsageError(f"{where}: bitrate_kbps must be finite and not negative, got {text!r}")
    return printable(codec), bitrate


def _text(row: dict, key: str) -> str | None:
    value = row.get(key)
    return None if value is None or str(value).strip() == "" else str(value).strip()


def plan_pairs(config: RunConfig, metrics: dict[str, str]):
    """The run's plan: one replay codec per label, the reference clips, every pair hashed."""
    from evalkit.pipeline.runner import Plan

    path, domain, outside = parse_spec(config.pairs or "")
    if path.is_dir():
        dataset = load_dataset(config.dataset, limit=config.limit)
        codec, bitrate = config.codecs[0], config.bitrates_kbps[0]
        rows = [Row(str(path), c, codec, bitrate, _in_folder(path, c)) for c in dataset.clips]
        name = f"pairs:{path}|{dataset.name}"
    else:
        rows = _manifest_rows(path, domain, outside)
        name = f"pairs:{path}"
    clips = _unique_clips(rows)
    chosen = {c.clip_id for c in select(clips, config.limit)}
    rows = [r for r in rows if r.clip.clip_id in chosen]
    codecs, nominal = {}, {}
    for label in config.codecs:
        table = _table(label, config.align, [r for r in rows if r.codec == label])
        spec = CodecSpec(label, str(table), config.device, adapter=Replay.name)
        codecs[label] = (spec, json.dumps(Replay(str(table)).identity(), sort_keys=True))
        for row in rows:
            if row.codec == label:
                nominal[(label, row.bitrate_kbps)] = row.bitrate_kbps
    clips = sorted((c for c in clips if c.clip_id in chosen), key=lambda c: c.clip_id)
    fingerprint = Dataset(name, tuple(clips)).fingerprint()
    return Plan(codecs, nominal, [], metrics, clips, fingerprint)


def _in_folder(root: Path, clip: Clip) -> dict:
    """The decoded file of a clip in a folder laid out like the dataset."""
    folder, stem = root / Path(clip.clip_id).parent, Path(clip.clip_id).name
    try:
        found = sorted(
            p
            for p in folder.iterdir()
            if p.suffix.lower() in AUDIO_EXTENSIONS and p.name[: -len(p.suffix)] == stem
        )
    except OSError:
        found = []
    if len(found) > 1:
        names = ", ".join(printable(p.name) for p in found)
        raise UsageError(f"--pairs {root}: clip {clip.clip_id!r} has several files ({names})")
    if not found:
        return {"path": None, "missing": f"no file named {printable(stem)}.* in {folder}"}
    return {"path": str(found[0].resolve()), "sha256": file_sha256(found[0])}


def _manifest_rows(path: Path, default_domain: str | None, outside: bool) -> list[Row]:
    root = path.parent.resolve()
    out = []
    for number, row in read_rows(path):
        where = f"pairs manifest {path} line {number}"
        codec, bitrate = _labels(row, path, number)
        ref = _listed(row, "reference", root, outside, where)
        deg = _listed(row, "degraded", root, outside, where)
        domain = _text(row, "domain") or default_domain
        if domain is None:
            raise UsageError(f"{where}: no domain (a domain column, or --pairs FILE:DOMAIN)")
        ident = _text(row, "id") or (
            relative_id(ref, root) if ref.is_relative_to(root) else ref.stem
        )
        clip = Clip(clip_id(ident), check_domain(domain, where), str(ref), file_sha256(ref))
        entry = {"path": str(deg), "sha256": _sha256(deg, where)}
        entry.update(_payload(row, root, outside, where))
        out.append(Row(where, clip, codec, bitrate, entry))
    return out


def _listed(row: dict, key: str, root: Path, outside: bool, where: str) -> Path:
    text = _text(row, key)
    if text is None:
        raise UsageError(f"{where}: missing {key!r}")
    listed = Path(os.path.normpath(root / text))
    if not listed.resolve().is_relative_to(root) and not outside:
        raise UsageError(
            f"{where}: {printable(str(listed))} lies outside {printable(str(root))} "
            f"(allow it: --pairs FILE:{ALLOW_OUTSIDE})"
        )
    return listed.resolve()


def _sha256(path: Path, where: str) -> str:
    try:
        return sha256_file(path)
    except OSError as exc:
        raise UsageError(f"{where}: cannot read {printable(str(path))}: {exc.strerror}") from None


def _payload(row: dict, root: Path, outside: bool, where: str) -> dict:
    """Payload bits (given, or a bitstream file's size) and the codes file, where listed."""
    out: dict = {}
    bits, stream = _text(row, "payload_bits"), _text(row, "bitstream")
    if bits and stream:
        raise UsageError(f"{where}: give payload_bits or bitstream, not both")
    if bits:
        if not bits.isdigit() or int(bits) == 0:
            raise UsageError(f"{where}: payload_bits must be a positive integer, got {bits!r}")
        out["payload_bits"] = int(bits)
    if stream:
        file = _listed(row, "bitstream", root, outside, where)
        if not file.is_file() or file.stat().st_size == 0:
            raise UsageError(f"{where}: bitstream {printable(str(file))} is missing or empty")
        out["payload_bits"] = 8 * file.stat().st_size
        out["bitstream_sha256"] = _sha256(file, where)
    if _text(row, "codes"):
        codes = _listed(row, "codes", root, outside, where)
        size = check_codebook_size(_text(row, "codebook_size"), where)
        out.update(codes=str(codes), codes_sha256=_sha256(codes, where), codebook_size=size)
    return out


def _unique_clips(rows: list[Row]) -> list[Clip]:
    """One clip per id; an id that names two different references, or a (codec, bitrate, clip)
    listed twice with different files, is refused (an identical repeat counts once)."""
    clips: dict[str, Clip] = {}
    seen: dict[tuple, dict] = {}
    for row in rows:
        known = clips.setdefault(row.clip.clip_id, row.clip)
        if (known.path, known.domain) != (row.clip.path, row.clip.domain):
            raise UsageError(
                f"{row.where}: id {row.clip.clip_id!r} names two references or domains "
                f"({printable(known.path)}, {printable(row.clip.path)})"
            )
        key = (row.codec, row.bitrate_kbps, row.clip.clip_id)
        if seen.setdefault(key, row.entry) != row.entry:
            raise UsageError(
                f"{row.where}: {row.codec} at {row.bitrate_kbps:g} kbps on "
                f"{row.clip.clip_id!r} is listed twice with different files"
            )
    return list(clips.values())


def _table(label: str, align: str, rows: list[Row]) -> Path:
    """The replay table of one codec label, written once under its content's hash."""
    pairs: dict[str, dict] = {}
    for row in rows:
        pairs.setdefault(row.clip.clip_id, {})[label_key(row.bitrate_kbps)] = row.entry
    blob = json.dumps({"label": label, "align": align, "pairs": pairs}, sort_keys=True)
    path = default_root().parent / "pairs" / f"{hashlib.sha256(blob.encode()).hexdigest()}.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(blob)
    return path
