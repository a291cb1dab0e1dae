"""The sets codec papers report on, read from a local copy in their official layout.

Each :class:`Source` knows where its files sit below ``ROOT`` (either the folder that holds the
set's top folder, e.g. ``ROOT/LibriSpeech``, or that top folder itself), its domain, licence and
home page, and, where a checksum is published, the archives ``evalkit datasets prepare`` can fetch.
Archive sha256s are the ones torchaudio 2.11 pins for the same URLs.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from evalkit.datasets.base import Clip
from evalkit.datasets.files import audio_files
from evalkit.errors import UsageError

Found = list[tuple[str, Path]]  # (clip id, file)


@dataclass(frozen=True)
class Archive:
    """One downloadable archive: extracted into ``ROOT/into``; ``part`` it provides (None: all)."""

    url: str
    sha256: str
    into: str = ""
    part: str | None = None

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Source:
    name: str
    domain: str
    title: str
    homepage: str
    licence: str
    tops: tuple[str, ...]  # names the set's top folder goes by below ROOT
    find: Callable[[Path, tuple[str, ...]], Found]
    parts: tuple[str, ...] = ()  # what may follow ROOT: subsets, stems, microphones …
    default_parts: tuple[str, ...] = ()
    expected_files: dict[str, int] = field(default_factory=dict)  # per part, for `verify`
    archives: tuple[Archive, ...] = ()
    lossy_source: bool = False
    note: str = ""
    language: str | None = None  # ISO 639-1 code of what is spoken
    transcript: Callable[[Path], str | None] | None = None  # a file's words, where published

    def annotate(self, clips: list[Clip]) -> list[Clip]:
        """The clips with this set's language and each file's published transcript."""
        return [
            dataclasses.replace(
                c,
                language=self.language,
                transcript=self.transcript(Path(c.path)) if self.transcript else None,
            )
            for c in clips
        ]

    def base(self, root: Path) -> Path:
        """The set's top folder: ``ROOT/<top>`` if present, else ROOT itself."""
        if not root.is_dir():
            raise UsageError(f"{self.name}: {root} is not a folder")
        for top in self.tops:
            if (root / top).is_dir():
                return root / top
        return root

    def check_parts(self, parts: tuple[str, ...]) -> tuple[str, ...]:
        if not parts:
            return self.default_parts
        if not self.parts:
            raise UsageError(f"{self.name} takes no options after ROOT, got {':'.join(parts)}")
        unknown = [p for p in parts if p not in self.parts]
        if unknown:
            raise UsageError(
                f"{self.name}: unknown {', '.join(unknown)}; choose from {', '.join(self.parts)}"
            )
        return parts


def needed(folder: Path, name: str, root_hint: str) -> Path:
    if not folder.is_dir():
        raise UsageError(f"{name}: {folder} not found; is ROOT the folder holding {root_hint}?")
    return folder


def librispeech(base: Path, parts: tuple[str, ...]) -> Found:
    found = []
    for part in parts:
        folder = needed(base / part, "librispeech", f"LibriSpeech/{part}")
        found += [(f"{part}/{p.stem}", p) for p in audio_files(folder, frozenset({".flac"}))]
    return found


@cache
def _chapter_transcripts(listing: Path) -> dict[str, str]:
    lines = listing.read_text(encoding="utf-8").splitlines() if listing.is_file() else []
    return dict(line.split(" ", 1) for line in lines if " " in line)


def librispeech_transcript(file: Path) -> str | None:
    """The words of ``1089-134686-0000.flac`` from its chapter's ``1089-134686.trans.txt``."""
    chapter = file.stem.rsplit("-", 1)[0]
    return _chapter_transcripts(file.parent / f"{chapter}.trans.txt").get(file.stem)


def vctk(base: Path, parts: tuple[str, ...]) -> Found:
    """VCTK 0.92 (``wav48_silence_trimmed/p225/p225_001_mic1.flac``) or 0.80 (``wav48/*.wav``)."""
    if (base / "wav48_silence_trimmed").is_dir():
        files = audio_files(base / "wav48_silence_trimmed", frozenset({".flac"}))
        return [(p.stem, p) for p in files if p.stem.rsplit("_", 1)[-1] in parts]
    folder = needed(base / "wav48", "vctk", "VCTK-Corpus-0.92/wav48_silence_trimmed")
    if parts != ("mic1",):
        raise UsageError("vctk: the 0.80 layout (wav48/) has one microphone; drop the :mic option")
    return [(p.stem, p) for p in audio_files(folder, frozenset({".wav"}))]


def daps(base: Path, parts: tuple[str, ...]) -> Found:
    found = []
    for part in parts:
        folder = needed(base / part, "daps", f"daps/{part}")
        found += [(f"{part}/{p.stem}", p) for p in audio_files(folder, frozenset({".wav"}))]
    return found


def musdb18hq(base: Path, parts: tuple[str, ...]) -> Found:
    tracks = needed(base / "test", "musdb18hq", "musdb18hq/test")
    return [
        (f"{track.name}/{stem}", listed_file(track / f"{stem}.wav", "musdb18hq"))
        for track in sorted(
            t for t in tracks.iterdir() if t.is_dir() and not t.name.startswith(".")
        )
        for stem in parts
    ]


def musdb18(base: Path, parts: tuple[str, ...]) -> Found:
    tracks = needed(base / "test", "musdb18", "musdb18/test")
    return [
        (p.name.removesuffix(".stem.mp4"), p)
        for p in audio_files(tracks, frozenset({".mp4"}))
        if p.name.endswith(".stem.mp4")
    ]


def esc50(base: Path, parts: tuple[str, ...]) -> Found:
    rows = read_listing(base / "meta" / "esc50.csv", "esc50", "ESC-50-master/meta/esc50.csv")
    return [
        (Path(r["filename"]).stem, listed_file(base / "audio" / r["filename"], "esc50"))
        for r in rows
        if r.get("fold") in parts
    ]


def fsd50k(base: Path, parts: tuple[str, ...]) -> Found:
    rows = read_listing(
        base / "FSD50K.ground_truth" / "eval.csv", "fsd50k", "FSD50K.ground_truth/eval.csv"
    )
    audio = base / "FSD50K.eval_audio"
    return [(r["fname"], listed_file(audio / f"{r['fname']}.wav", "fsd50k")) for r in rows]


def read_listing(path: Path, name: str, root_hint: str) -> list[dict]:
    if not path.is_file():
        raise UsageError(f"{name}: {path} not found; is ROOT the folder holding {root_hint}?")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def listed_file(path: Path, name: str) -> Path:
    """A file the set's layout promises: missing means an incomplete copy, not a bad clip."""
    if not path.is_file():
        raise UsageError(f"{name}: {path} is listed by the set but missing (incomplete copy?)")
    return path


MUSDB_STEMS = ("mixture", "vocals", "drums", "bass", "other")
DAPS_VERSIONS = (
    "clean", "cleanraw", "produced", "ipad_balcony1", "ipad_bedroom1", "ipad_confroom1",
    "ipad_confroom2", "ipad_livingroom1", "ipad_office1", "ipad_office2", "ipadflat_confroom1",
    "ipadflat_office1", "iphone_balcony1", "iphone_bedroom1", "iphone_livingroom1",
)  # fmt: skip
OPENSLR = "https://www.openslr.org/resources/12"

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "librispeech", "speech", "LibriSpeech read English (test-clean, test-other)",
            "https://www.openslr.org/12", "CC BY 4.0", ("LibriSpeech",), librispeech,
            parts=("test-clean", "test-other"), default_parts=("test-clean", "test-other"),
            expected_files={"test-clean": 2620, "test-other": 2939},
            archives=(
                Archive(f"{OPENSLR}/test-clean.tar.gz",
                        "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
                        part="test-clean"),
                Archive(f"{OPENSLR}/test-other.tar.gz",
                        "d09c181bba5cf717b3dee7d4d592af11a3ee3a09e08ae025c5506f6ebe961c29",
                        part="test-other"),
            ),
            lossy_source=True, note="FLAC decoded from LibriVox MP3s",
            language="en", transcript=librispeech_transcript,
        ),
        Source(
            "vctk", "speech", "VCTK 0.92, 110 English speakers (mic1 by default)",
            "https://datashare.ed.ac.uk/handle/10283/3443", "CC BY 4.0",
            ("VCTK-Corpus-0.92", "VCTK-Corpus"), vctk,
            parts=("mic1", "mic2"), default_parts=("mic1",), language="en",
            archives=(
                Archive("https://datashare.ed.ac.uk/bitstream/handle/10283/3443/"
                        "VCTK-Corpus-0.92.zip",
                        "f96258be9fdc2cbff6559541aae7ea4f59df3fcaf5cf963aae5ca647357e359c",
                        into="VCTK-Corpus-0.92"),
            ),
        ),
        Source(
            "daps", "speech", "DAPS device and produced speech (clean by default)",
            "https://zenodo.org/records/4660670", "CC BY-NC 4.0", ("daps",), daps,
            parts=DAPS_VERSIONS, default_parts=("clean",),
            expected_files=dict.fromkeys(DAPS_VERSIONS, 100),
            note="4-5 minute files: use --segment", language="en",
        ),
        Source(
            "musdb18hq", "music", "MUSDB18-HQ test tracks (mixtures; stems on request)",
            "https://zenodo.org/records/3338373", "research use only (per-track licences)",
            ("musdb18hq",), musdb18hq,
            parts=MUSDB_STEMS, default_parts=("mixture",),
            expected_files=dict.fromkeys(MUSDB_STEMS, 50),
            archives=(
                Archive("https://zenodo.org/record/3338373/files/musdb18hq.zip",
                        "baac80d0483c61d74b2e5f3be75fa557eec52898339e6aa45c1fa48833c5d21d",
                        into="musdb18hq"),
            ),
            note="full songs: use --segment",
        ),
        Source(
            "musdb18", "music", "MUSDB18 test tracks (mixture stream of .stem.mp4)",
            "https://zenodo.org/records/1117372", "research use only (per-track licences)",
            ("musdb18",), musdb18, expected_files={"": 50}, lossy_source=True,
            note="AAC in MP4, read through PyAV; full songs: use --segment",
        ),
        Source(
            "esc50", "environmental", "ESC-50 environmental sound classification (5 folds)",
            "https://github.com/karolpiczak/ESC-50", "CC BY-NC 3.0 (ESC-10 subset: CC BY)",
            ("ESC-50-master", "ESC-50"), esc50,
            parts=("1", "2", "3", "4", "5"), default_parts=("1", "2", "3", "4", "5"),
            expected_files=dict.fromkeys(("1", "2", "3", "4", "5"), 400),
        ),
        Source(
            "fsd50k", "environmental", "FSD50K eval split (sound events of 200 classes)",
            "https://zenodo.org/records/4060432", "CC BY 4.0 (clips: CC0, CC BY, CC BY-NC)",
            ("FSD50K",), fsd50k, expected_files={"": 10231},
        ),
    )
}  # fmt: skip
