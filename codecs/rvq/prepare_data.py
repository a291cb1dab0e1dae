"""Build the RVQ codec's training set from installed Debian packages, never from evaluation audio.

    python codecs/rvq/prepare_data.py --out .traindata

Writes 24 kHz mono pieces of at most 10 s under OUT/<domain>/ (16-bit FLAC from lossless
sources, Ogg Vorbis at quality 0.8 from sources that already were Vorbis, about 30 MB in all) and
the list of sources to codecs/rvq/training_data.csv. Deterministic: same packages, same files.

Exclusions: every source file of the default evaluation set's candidate list
(../shared/datasets/default-candidates.json), files that are near-duplicates of one (ClassGuit.wav
of ClassicalGuitar.wav), and, for the Frets on Fire guitar stems whose mixed song is an evaluation
source, the evaluated time window (plus 2 s either side). The training loader additionally refuses
any file whose sha256 matches an evaluation clip.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from evalkit import audio

RATE = 24000
CHUNK_S = 10.0
SILENCE_DBFS = -55.0
REPO = Path(__file__).resolve().parents[2]
CANDIDATES = REPO.parent / "shared" / "datasets" / "default-candidates.json"
NEAR_DUPLICATES = {"/usr/share/csoundqt/Examples/SourceMaterials/ClassGuit.wav"}
#: Seconds of audio to take per domain at most (keeps the set small enough to travel).
BUDGET_S = {"speech": 900.0, "music": 900.0, "environmental": 900.0}

#: Channel splits and mono copies of other csoundqt files.
CSOUND_SPLITS = {"StairwellL", "StairwellR", "dishL", "dishR", "808loopMono"}
CSOUND_DOMAIN = {
    "fox.wav": "speech",
    "Mug.wav": "environmental",
    "Wood.wav": "environmental",
    "Stairwell.wav": "environmental",
    "dish.wav": "environmental",
    "Bounce.wav": "environmental",
}


def package_files(package: str) -> list[str]:
    listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=True)
    return sorted(
        f for f in listing.stdout.splitlines() if f.lower().endswith((".ogg", ".wav", ".flac"))
    )


def sources() -> list[tuple[str, str, str]]:
    """(path, package, domain) of every usable source file, in a fixed order."""
    out: list[tuple[str, str, str]] = []
    for f in package_files("fillets-ng-data-cs"):
        out.append((f, "fillets-ng-data-cs", "speech"))
    for f in package_files("pocketsphinx-testdata"):
        out.append((f, "pocketsphinx-testdata", "speech"))
    out.append(("/usr/share/sounds/linphone/hello16000.wav", "linphone-common", "speech"))
    for f in package_files("fretsonfire-songs-muldjord"):
        if f.endswith("guitar.ogg"):
            out.append((f, "fretsonfire-songs-muldjord", "music"))
    for f in package_files("extremetuxracer-data"):
        out.append((f, "extremetuxracer-data", "music" if "/music/" in f else "environmental"))
    for f in package_files("sonic-pi-samples"):
        name = Path(f).name
        env = name.startswith(("ambi_", "misc_"))
        out.append((f, "sonic-pi-samples", "environmental" if env else "music"))
    for f in package_files("csoundqt-examples"):
        if "/SourceMaterials/" in f and Path(f).stem not in CSOUND_SPLITS:
            out.append((f, "csoundqt-examples", CSOUND_DOMAIN.get(Path(f).name, "music")))
    for package in ("minetest-data", "wesnoth-1.16-data"):
        for f in package_files(package):
            out.append((f, package, "environmental"))
    return out


def excluded_windows() -> tuple[set[str], dict[str, tuple[float, float]]]:
    """Evaluation source paths, and the windows to skip in stems of evaluated songs."""
    candidates = json.loads(CANDIDATES.read_text())
    paths = {c["path"] for c in candidates} | NEAR_DUPLICATES
    windows = {
        c["path"].replace("/song.ogg", "/guitar.ogg"): (
            c["start"] - 2.0,
            c["start"] + c["dur"] + 2.0,
        )
        for c in candidates
        if c["path"].endswith("/song.ogg")
    }
    return paths, windows


def chunks(wav: np.ndarray, skip: tuple[float, float] | None) -> list[tuple[float, np.ndarray]]:
    """(start_s, samples) pieces of at most CHUNK_S, without silence or the skipped window."""
    keep = np.ones(len(wav), bool)
    if skip is not None:
        keep[max(int(skip[0] * RATE), 0) : int(skip[1] * RATE)] = False
    pieces = []
    step = int(CHUNK_S * RATE)
    for start in range(0, len(wav), step):
        seg = wav[start : start + step]
        if not keep[start : start + step].all() or len(seg) < RATE // 4:
            continue
        rms = float(np.sqrt(np.mean(seg.astype(np.float64) ** 2)))
        if 20 * np.log10(max(rms, 1e-10)) > SILENCE_DBFS:
            pieces.append((start / RATE, seg))
    return pieces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / ".traindata")
    parser.add_argument("--list", type=Path, default=REPO / "codecs" / "rvq" / "training_data.csv")
    args = parser.parse_args()
    eval_paths, windows = excluded_windows()
    usable = [s for s in sources() if s[0] not in eval_paths]
    random.Random(0).shuffle(usable)  # a fair, fixed subset where a domain exceeds its budget
    used = dict.fromkeys(BUDGET_S, 0.0)
    rows = []
    for path, package, domain in usable:
        if used[domain] >= BUDGET_S[domain]:
            continue
        wav, rate = audio.read(path)
        wav = audio.convert(wav, rate, RATE, 1)[0]
        for start_s, seg in chunks(wav, windows.get(path)):
            if used[domain] >= BUDGET_S[domain]:
                break
            lossy = path.endswith(".ogg")
            name = f"{package}__{Path(path).parent.name}__{Path(path).stem}__{int(start_s)}"
            name += ".ogg" if lossy else ".flac"
            target = args.out / domain / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if lossy:  # already Vorbis: a high-quality second generation keeps the set small
                sf.write(target, np.clip(seg, -1, 1), RATE, subtype="VORBIS", compression_level=0.2)
            else:
                sf.write(target, np.clip(seg, -1, 1), RATE, subtype="PCM_16")
            used[domain] += len(seg) / RATE
            rows.append(
                {
                    "file": f"{domain}/{name}",
                    "source_path": path,
                    "package": package,
                    "domain": domain,
                    "source_sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
                    "start_s": round(start_s, 3),
                    "duration_s": round(len(seg) / RATE, 3),
                }
            )
    rows.sort(key=lambda r: r["file"])
    with args.list.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print({d: round(s, 1) for d, s in used.items()}, f"{len(rows)} files -> {args.out}")


if __name__ == "__main__":
    main()
