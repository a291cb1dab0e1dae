"""Build the embedded default set (``datasets/default/``) from installed Debian packages.

Each entry of ``default_sources.json`` names a package, a file it installs, a window and a licence
found in that package's copyright notes. The window is cut at the source's own rate and channels and
stored as FLAC:

- integer PCM sources (16 or 24 bit) are copied sample for sample, at their bit depth;
- lossy sources (Vorbis) are decoded to float and quantised to 24 bits. Vorbis decoders overshoot
  full scale on loud masters; those samples are clipped to full scale, as a 16-bit player would,
  and the count is written to the manifest (``clipped_samples``). No gain is ever applied.

Run it again and the bytes come out the same (same libsndfile/libFLAC), so the manifest's sha256s
double as a check of the build. Install the sources first::

    apt-get install -y --no-install-recommends sonic-pi-samples csoundqt-examples codec2-examples \\
        pocketsphinx-testdata linphone-common fillets-ng-data-cs fretsonfire-songs-muldjord \\
        minetest-data extremetuxracer-data wesnoth-1.16-data
    python datasets/build_default.py
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "default_sources.json"
LOSSY_SUBTYPES = {"VORBIS", "OPUS", "MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III"}
FULL_SCALE_24 = 2**23 - 1
FLAC_COMPRESSION = 1.0  # libFLAC level 8: the files are committed, so smallest wins
MANIFEST_FIELDS = [
    "id", "domain", "path", "sha256", "sample_rate_hz", "channels", "frames", "duration_s",
    "bits", "lossless_source", "clipped_samples", "source_format", "source_package",
    "source_version", "source_path", "source_start_s", "licence", "copyright", "language",
    "transcript",
]  # fmt: skip


def package_version(package: str) -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def cut(path: str, start_s: float, duration_s: float) -> tuple[np.ndarray, int, str, int]:
    """The window as (frames, channels) integers ready for FLAC, its rate, subtype and clip count.

    The whole file is decoded from its start (not seeked) so lossy decodes are reproducible.
    """
    info = sf.info(path)
    start = round(start_s * info.samplerate)
    stop = min(start + round(duration_s * info.samplerate), info.frames)
    if info.subtype == "PCM_16":
        data, _ = sf.read(path, frames=stop, dtype="int16", always_2d=True)
        return data[start:], info.samplerate, "PCM_16", 0
    if info.subtype == "PCM_24":
        data, _ = sf.read(path, frames=stop, dtype="int32", always_2d=True)
        return data[start:], info.samplerate, "PCM_24", 0
    data, _ = sf.read(path, frames=stop, dtype="float64", always_2d=True)
    window = data[start:]
    clipped = int(np.count_nonzero(np.abs(window) > 1.0))
    ints = np.round(np.clip(window, -1.0, 1.0) * FULL_SCALE_24).astype(np.int32)
    return ints << 8, info.samplerate, "PCM_24", clipped  # libsndfile keeps the top 24 bits


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_clip(entry: dict, out_dir: Path) -> dict:
    """Write one clip's FLAC and return its manifest row."""
    source = sf.info(entry["path"])
    audio, rate, subtype, clipped = cut(entry["path"], entry["start_s"], entry["duration_s"])
    target = out_dir / f"{entry['id']}.flac"
    sf.write(
        target, audio, rate, subtype=subtype, format="FLAC", compression_level=FLAC_COMPRESSION
    )
    lossless = source.subtype not in LOSSY_SUBTYPES and "upstream_lossy" not in entry
    return {
        "id": entry["id"],
        "domain": entry["domain"],
        "path": target.name,
        "sha256": sha256_file(target),
        "sample_rate_hz": rate,
        "channels": audio.shape[1],
        "frames": audio.shape[0],
        "duration_s": f"{audio.shape[0] / rate:.6f}",
        "bits": 16 if subtype == "PCM_16" else 24,
        "lossless_source": lossless,
        "clipped_samples": clipped,
        "source_format": f"{source.format}/{source.subtype}",
        "source_package": entry["package"],
        "source_version": package_version(entry["package"]),
        "source_path": entry["path"],
        "source_start_s": entry["start_s"],
        "licence": entry["licence"],
        "copyright": entry["copyright"],
        "language": entry.get("language", ""),
        "transcript": entry.get("transcript", ""),  # from the entry's transcript_source
    }


def credits(entries: list[dict], rows: list[dict]) -> str:
    lines = [
        "# Credits: the embedded default set",
        "",
        "Every clip is a window cut from a file installed by a Debian package; the licence is",
        "the one the package's copyright notes (or, where named, the upstream mod README) give",
        "for that file. Clips marked *lossy source* were already lossy-coded (Vorbis, or MP3",
        "upstream).",
        "Rebuild with `python datasets/build_default.py`.",
        "",
        "| clip | licence | copyright | source (package: path, window) | notes |",
        "|---|---|---|---|---|",
    ]
    for entry, row in zip(entries, rows, strict=True):
        window = f"{entry['start_s']:g}–{entry['start_s'] + float(row['duration_s']):.2f} s"
        notes = [entry["licence_evidence"]]
        if "origin" in entry:
            notes.append(entry["origin"])
        if not row["lossless_source"]:
            notes.append(f"lossy source: {entry.get('upstream_lossy', row['source_format'])}")
        lines.append(
            f"| `{row['id']}` | {entry['licence']} | {entry['copyright']} | "
            f"{entry['package']} {row['source_version']}: `{entry['path']}`, {window} | "
            f"{'; '.join(notes)} |"
        )
    return "\n".join(lines) + "\n"


def build(out_dir: Path) -> list[dict]:
    entries = json.loads(SOURCES.read_text())
    ids = [e["id"] for e in entries]
    if len(set(ids)) != len(ids):
        raise SystemExit(f"duplicate clip ids in {SOURCES}")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [build_clip(e, out_dir) for e in entries]
    with open(out_dir / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    (out_dir / "CREDITS.md").write_text(credits(entries, rows), encoding="utf-8")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "default", help="output folder")
    args = parser.parse_args()
    rows = build(args.out)
    size = sum((args.out / r["path"]).stat().st_size for r in rows)
    print(f"{len(rows)} clips, {size / 1e6:.1f} MB in {args.out}")


if __name__ == "__main__":
    main()
