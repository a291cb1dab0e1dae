"""The embedded default set, folder and manifest datasets, selection and segmenting."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from evalkit import audio
from evalkit.datasets import Dataset, list_datasets, load_dataset, select
from evalkit.datasets.base import Clip
from evalkit.errors import UsageError
from evalkit.hashing import sha256_file

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "datasets" / "default"
SOURCES = ROOT / "datasets" / "default_sources.json"


def manifest_rows() -> list[dict]:
    with open(DEFAULT / "manifest.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_tone(path: Path, seconds: float = 0.5, rate: int = 16000, channels: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.2 * np.sin(2 * np.pi * 330 * t)
    sf.write(path, np.repeat(wave[:, None], channels, axis=1), rate)
    return path


# --- the embedded default set -------------------------------------------------------------------


def test_default_manifest_matches_the_files():
    rows = manifest_rows()
    assert 40 <= len(rows) <= 50
    assert len({r["id"] for r in rows}) == len(rows)
    flacs = sorted(p.name for p in DEFAULT.glob("*.flac"))
    assert flacs == sorted(r["path"] for r in rows)  # nothing unlisted, nothing missing
    for r in rows:
        path = DEFAULT / r["path"]
        assert path.name == f"{r['id']}.flac"
        assert sha256_file(path) == r["sha256"], r["id"]
        info = sf.info(str(path))
        assert (info.format, info.samplerate, info.channels) == (
            "FLAC",
            int(r["sample_rate_hz"]),
            int(r["channels"]),
        )
        assert info.frames == int(r["frames"])
        assert info.subtype == f"PCM_{r['bits']}"
        assert 3.0 <= info.duration <= 10.0, r["id"]
        assert abs(float(r["duration_s"]) - info.duration) < 1e-5
        assert r["licence"] and r["copyright"] and r["source_package"] and r["source_version"]


def test_default_set_is_balanced_small_and_flags_lossy_sources():
    rows = manifest_rows()
    counts = Counter(r["domain"] for r in rows)
    assert set(counts) == {"speech", "music", "environmental"}
    assert all(0.25 <= n / len(rows) <= 0.42 for n in counts.values()), counts
    assert sum((DEFAULT / r["path"]).stat().st_size for r in rows) <= 30e6
    for r in rows:
        vorbis = r["source_format"].endswith("VORBIS")
        assert r["lossless_source"] in ("True", "False")
        if vorbis:
            assert r["lossless_source"] == "False", r["id"]
        if r["lossless_source"] == "True":
            assert r["source_format"].split("/")[1] in ("PCM_16", "PCM_24")
    assert any(r["lossless_source"] == "True" for r in rows)


def test_credits_name_every_clip_with_its_licence():
    credits = (DEFAULT / "CREDITS.md").read_text(encoding="utf-8")
    for r in manifest_rows():
        line = next(li for li in credits.splitlines() if f"`{r['id']}`" in li)
        assert r["licence"] in line and r["source_path"] in line


def test_default_dataset_loads_with_verified_checksums():
    ds = load_dataset("default")
    rows = {r["id"]: r for r in manifest_rows()}
    assert [c.clip_id for c in ds.clips] == sorted(rows)
    for clip in ds.clips:
        assert clip.sha256 == rows[clip.clip_id]["sha256"]
        assert clip.lossy_source == (rows[clip.clip_id]["lossless_source"] == "False")
        assert Path(clip.path).is_file()


def test_a_changed_default_clip_is_refused(tmp_path, monkeypatch):
    import shutil

    from evalkit.datasets import catalog

    copy = tmp_path / "default"
    shutil.copytree(DEFAULT, copy)
    victim = copy / manifest_rows()[0]["path"]
    victim.write_bytes(victim.read_bytes()[:-1] + b"\0")
    monkeypatch.setattr(catalog, "default_set", lambda: copy)
    with pytest.raises(UsageError, match=f"{victim.name} has sha256 .* the manifest says"):
        load_dataset("default")


@pytest.mark.slow
def test_build_reproduces_the_committed_audio(tmp_path):
    """Rebuilding from the Debian packages gives the same samples (skipped without them)."""
    sources = json.loads(SOURCES.read_text())
    if not all(Path(e["path"]).is_file() for e in sources):
        pytest.skip("the Debian source packages of the default set are not installed")
    import runpy

    build = runpy.run_path(str(ROOT / "datasets" / "build_default.py"))
    rebuilt = {r["id"]: r for r in build["build"](tmp_path)}
    for r in manifest_rows():
        new = rebuilt[r["id"]]
        assert {k: str(v) for k, v in new.items() if k != "sha256"} == {
            k: v for k, v in r.items() if k != "sha256"
        }
        a, _ = sf.read(DEFAULT / r["path"], dtype="int32")
        b, _ = sf.read(tmp_path / r["path"], dtype="int32")
        np.testing.assert_array_equal(a, b)


# --- folder datasets --------------------------------------------------------------------------


def test_folder_is_recursive_sorted_and_ids_are_relative_paths(tmp_path):
    write_tone(tmp_path / "b" / "x.wav")
    write_tone(tmp_path / "a.flac")
    write_tone(tmp_path / "b" / "c" / "y.ogg")
    (tmp_path / "notes.txt").write_text("not audio")
    write_tone(tmp_path / ".hidden" / "z.wav")
    write_tone(tmp_path / "._a.wav")  # macOS resource fork
    ds = load_dataset(f"folder:{tmp_path}:music")
    assert [c.clip_id for c in ds.clips] == ["a", "b/c/y", "b/x"]
    assert {c.domain for c in ds.clips} == {"music"}
    assert ds.clips[0].sha256 == sha256_file(tmp_path / "a.flac")


def test_folder_ids_stay_unique_when_only_the_extension_differs(tmp_path):
    write_tone(tmp_path / "x.wav")
    write_tone(tmp_path / "x.flac")
    write_tone(tmp_path / "y.wav")
    ids = [c.clip_id for c in load_dataset(f"folder:{tmp_path}:speech").clips]
    assert ids == ["x.flac", "x.wav", "y"]


def test_folder_lists_an_unreadable_file_for_the_worker_to_report(tmp_path):
    write_tone(tmp_path / "good.wav")
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00garbage, not a wave file")
    (tmp_path / "empty.mp3").write_bytes(b"")
    os.symlink(tmp_path / "gone.wav", tmp_path / "dangling.wav")
    ds = load_dataset(f"folder:{tmp_path}:environmental")
    by_id = {c.clip_id: c for c in ds.clips}
    assert sorted(by_id) == ["broken", "dangling", "empty", "good"]
    assert by_id["broken"].sha256 == sha256_file(tmp_path / "broken.wav")
    assert len({c.key for c in ds.clips}) == 4
    for name in ("broken", "empty", "dangling"):
        with pytest.raises(Exception):  # noqa: B017 - the worker turns any failure into a row
            audio.read(by_id[name].path)
    audio.read(by_id["good"].path)
    # segmenting cannot measure the broken files; they stay whole for the worker to report
    seg = load_dataset(f"folder:{tmp_path}:environmental", segment_s=0.2)
    assert {c.clip_id for c in seg.clips} >= {"broken", "empty", "dangling", "good@0s"}


def test_folder_survives_a_symlink_loop(tmp_path):
    write_tone(tmp_path / "sub" / "a.wav")
    os.symlink(tmp_path, tmp_path / "sub" / "loop")
    ds = load_dataset(f"folder:{tmp_path}:speech")
    assert [c.clip_id for c in ds.clips] == ["sub/a"]


def test_folder_needs_a_domain_or_a_sidecar(tmp_path):
    write_tone(tmp_path / "s" / "a.wav")
    write_tone(tmp_path / "m" / "b.wav")
    with pytest.raises(UsageError, match="needs a domain"):
        load_dataset(f"folder:{tmp_path}")
    with pytest.raises(UsageError, match="unknown domain 'noise'"):
        load_dataset(f"folder:{tmp_path}:noise")
    (tmp_path / "evalkit-manifest.csv").write_text("path,domain\ns/a.wav,speech\nm/b.wav,music\n")
    ds = load_dataset(f"folder:{tmp_path}")
    assert [(c.clip_id, c.domain) for c in ds.clips] == [("m/b", "music"), ("s/a", "speech")]


# --- manifests --------------------------------------------------------------------------------


def test_jsonl_manifest_with_windows_and_checksums(tmp_path):
    a = write_tone(tmp_path / "audio" / "a.wav", seconds=2)
    b = write_tone(tmp_path / "audio" / "b.wav")
    lines = [
        {"path": "audio/a.wav", "domain": "speech", "id": "first", "start": 0.5, "duration": 1},
        {"path": str(b), "domain": "music", "sha256": sha256_file(b)},
    ]
    manifest = tmp_path / "set.jsonl"
    manifest.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    ds = load_dataset(f"manifest:{manifest}")
    second, first = ds.clips  # sorted by id
    assert (first.clip_id, first.start_s, first.duration_s, first.path) == (
        "first",
        0.5,
        1.0,
        str(a),
    )
    assert (second.clip_id, second.domain) == ("audio/b", "music")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("path,domain\n../outside.wav,speech\n", "lies outside"),
        ("path,domain\na.wav,speach\n", "line 2: unknown domain 'speach'"),
        ("path\na.wav\n", "line 2: missing 'domain'"),
        ("path,domain,start\na.wav,speech,soon\n", "start must be a number"),
        ("path,domain,sha256\na.wav,speech,00ff\n", "has sha256 .* the manifest says 00ff"),
        ("path,domain,id\na.wav,speech,x\na.wav,music,x\n", "clip id 'x' is used twice"),
    ],
)
def test_bad_manifests_fail_with_the_line(tmp_path, body, message):
    write_tone(tmp_path / "sets" / "a.wav")
    write_tone(tmp_path / "outside.wav")
    manifest = tmp_path / "sets" / "m.csv"
    manifest.write_text(body)
    with pytest.raises(UsageError, match=message):
        load_dataset(f"manifest:{manifest}")


def test_manifest_paths_outside_its_folder_need_permission(tmp_path):
    write_tone(tmp_path / "outside.wav")
    (tmp_path / "sets").mkdir()
    os.symlink(tmp_path / "outside.wav", tmp_path / "sets" / "link.wav")
    manifest = tmp_path / "sets" / "m.csv"
    manifest.write_text("path,domain\nlink.wav,speech\n")
    with pytest.raises(UsageError, match="lies outside"):
        load_dataset(f"manifest:{manifest}")
    ds = load_dataset(f"manifest:{manifest}:allow-outside")
    assert ds.clips[0].path == str(tmp_path / "outside.wav")


# --- specs, selection, segmenting, fingerprints ------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("defualt", "did you mean 'default'"),
        ("librispeach:/x", "did you mean 'librispeech'"),
        ("folder:", "needs a path"),
        ("default:/x", "takes no path"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(UsageError, match=message):
        load_dataset(spec)


def clips_of(n_per_domain: int) -> list[Clip]:
    return [
        Clip(f"{d}-{i:03d}", d, f"/x/{d}{i}.wav", f"{d}{i:062d}")
        for d in ("speech", "music", "environmental")
        for i in range(n_per_domain)
    ]


def test_select_is_stratified_seeded_and_stable():
    clips = clips_of(20)
    picked = select(clips, 3, seed=0)
    assert Counter(c.domain for c in picked) == {"speech": 3, "music": 3, "environmental": 3}
    assert picked == select(list(reversed(clips)), 3, seed=0)  # order of input does not matter
    assert picked != select(clips, 3, seed=1)
    assert select(clips, 100) == sorted(clips, key=lambda c: c.clip_id)
    # a new clip either displaces a pick or changes nothing: old picks never reshuffle
    grown = select([*clips, Clip("speech-new", "speech", "/x/n.wav", "f" * 64)], 3, seed=0)
    assert len(set(grown) & set(picked)) >= 8
    with pytest.raises(UsageError):
        select(clips, 0)


def test_limit_and_segment_are_part_of_the_fingerprint():
    full = load_dataset("default")
    assert full.fingerprint() == load_dataset("default").fingerprint()
    limited = load_dataset("default", limit=2)
    assert limited.domains == {"speech": 2, "music": 2, "environmental": 2}
    assert limited.fingerprint() != full.fingerprint()
    assert load_dataset("default", limit=2, seed=1).fingerprint() != limited.fingerprint()
    assert Dataset("x", full.clips, {"segment_s": 5}).fingerprint() != full.fingerprint()


def test_segment_cuts_full_windows_and_keeps_short_files_whole():
    rows = {r["id"]: float(r["duration_s"]) for r in manifest_rows()}
    ds = load_dataset("default", segment_s=4)
    windows = Counter(c.clip_id.split("@")[0] for c in ds.clips)
    for clip_id, seconds in rows.items():
        assert windows[clip_id] == max(1, int(seconds // 4)), clip_id
    cut = [c for c in ds.clips if "@" in c.clip_id]
    assert all(c.duration_s == 4.0 and c.start_s % 4 == 0 for c in cut)
    assert len({c.key for c in ds.clips}) == len(ds.clips)


def test_list_datasets_names_every_loader_with_licence_and_source():
    lines = list_datasets()
    names = [line.split(":")[0].split()[0] for line in lines]
    for name in (
        "default",
        "folder",
        "manifest",
        "librispeech",
        "vctk",
        "daps",
        "musdb18hq",
        "musdb18",
        "esc50",
        "fsd50k",
    ):
        assert name in names
    assert all("licence:" in line and "get it:" in line for line in lines)
