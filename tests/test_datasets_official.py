"""Loaders for the official sets, on tiny fake copies of each official layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from evalkit.datasets import load_dataset
from evalkit.datasets.prepare import verify
from evalkit.errors import UsageError


def tone(path: Path, seconds: float = 0.25, rate: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, 0.1 * np.sin(2 * np.pi * 220 * t), rate)
    return path


def stem_mp4(path: Path) -> Path:
    """A two-stream AAC .stem.mp4 like MUSDB18's (mixture first)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as out:
        streams = [out.add_stream("aac", rate=44100, layout="stereo") for _ in range(2)]
        for stream in streams:
            samples = np.zeros((2, 1024), dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
            frame.sample_rate = 44100
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                out.mux(packet)
    return path


def ids(spec: str) -> list[str]:
    return [c.clip_id for c in load_dataset(spec).clips]


def test_librispeech(tmp_path):
    top = tmp_path / "LibriSpeech"
    tone(top / "test-clean" / "1089" / "134686" / "1089-134686-0000.flac")
    tone(top / "test-clean" / "1089" / "134686" / "1089-134686-0001.flac")
    (top / "test-clean" / "1089" / "134686" / "1089-134686.trans.txt").write_text("HELLO\n")
    tone(top / "test-other" / "1688" / "142285" / "1688-142285-0000.flac")
    assert ids(f"librispeech:{tmp_path}") == [
        "test-clean/1089-134686-0000", "test-clean/1089-134686-0001",
        "test-other/1688-142285-0000",
    ]  # fmt: skip
    assert ids(f"librispeech:{top}:test-other") == ["test-other/1688-142285-0000"]
    clips = load_dataset(f"librispeech:{tmp_path}").clips
    assert {c.domain for c in clips} == {"speech"} and all(c.lossy_source for c in clips)
    with pytest.raises(UsageError, match="unknown test-dirty"):
        load_dataset(f"librispeech:{tmp_path}:test-dirty")


def test_librispeech_missing_subset_is_named(tmp_path):
    tone(tmp_path / "LibriSpeech" / "test-clean" / "1" / "2" / "1-2-0000.flac")
    with pytest.raises(UsageError, match="test-other not found"):
        load_dataset(f"librispeech:{tmp_path}")


def test_vctk_092_and_080(tmp_path):
    new = tmp_path / "new" / "VCTK-Corpus-0.92" / "wav48_silence_trimmed"
    for mic in ("mic1", "mic2"):
        tone(new / "p225" / f"p225_001_{mic}.flac")
        tone(new / "p226" / f"p226_002_{mic}.flac")
    (new.parent / "txt" / "p225").mkdir(parents=True)
    assert ids(f"vctk:{tmp_path / 'new'}") == ["p225_001_mic1", "p226_002_mic1"]
    assert ids(f"vctk:{tmp_path / 'new'}:mic2") == ["p225_001_mic2", "p226_002_mic2"]
    tone(tmp_path / "old" / "VCTK-Corpus" / "wav48" / "p225" / "p225_001.wav")
    assert ids(f"vctk:{tmp_path / 'old'}") == ["p225_001"]


def test_daps(tmp_path):
    tone(tmp_path / "daps" / "clean" / "f1_script1_clean.wav")
    tone(tmp_path / "daps" / "clean" / "._f1_script1_clean.wav")  # AppleDouble in the archive
    tone(tmp_path / "daps" / "produced" / "f1_script1_produced.wav")
    assert ids(f"daps:{tmp_path}") == ["clean/f1_script1_clean"]
    assert ids(f"daps:{tmp_path}:clean,produced") == [
        "clean/f1_script1_clean", "produced/f1_script1_produced",
    ]  # fmt: skip


def test_musdb18hq_mixtures_and_stems(tmp_path):
    for track in ("Al James - Schoolboy Facination", "AM Contra - Heart Peripheral"):
        for stem in ("mixture", "vocals", "drums", "bass", "other"):
            tone(tmp_path / "musdb18hq" / "test" / track / f"{stem}.wav", rate=44100)
    tone(tmp_path / "musdb18hq" / "train" / "A - B" / "mixture.wav")
    assert ids(f"musdb18hq:{tmp_path}") == [
        "AM Contra - Heart Peripheral/mixture", "Al James - Schoolboy Facination/mixture",
    ]  # fmt: skip
    vocals = load_dataset(f"musdb18hq:{tmp_path}:vocals,drums").clips
    assert len(vocals) == 4 and {c.domain for c in vocals} == {"music"}


def test_musdb18_stem_mp4(tmp_path):
    stem_mp4(tmp_path / "musdb18" / "test" / "Al James - Schoolboy Facination.stem.mp4")
    clips = load_dataset(f"musdb18:{tmp_path}").clips
    assert [c.clip_id for c in clips] == ["Al James - Schoolboy Facination"]
    assert clips[0].lossy_source
    with pytest.raises(UsageError, match="takes no options"):
        load_dataset(f"musdb18:{tmp_path}:vocals")


def esc50_copy(root: Path) -> Path:
    top = root / "ESC-50-master"
    (top / "meta").mkdir(parents=True)
    rows = ["filename,fold,target,category,esc10,src_file,take"]
    for fold, name in ((1, "1-100032-A-0.wav"), (2, "2-100648-A-43.wav")):
        tone(top / "audio" / name, seconds=0.5, rate=44100)
        rows.append(f"{name},{fold},0,dog,True,100032,A")
    (top / "meta" / "esc50.csv").write_text("\n".join(rows) + "\n")
    return top


def test_esc50_reads_its_meta_csv(tmp_path):
    top = esc50_copy(tmp_path)
    tone(top / "audio" / "stray.wav")  # not listed: not part of the set
    assert ids(f"esc50:{tmp_path}") == ["1-100032-A-0", "2-100648-A-43"]
    assert ids(f"esc50:{top}:2") == ["2-100648-A-43"]
    (top / "audio" / "1-100032-A-0.wav").unlink()
    with pytest.raises(UsageError, match="1-100032-A-0.wav is listed by the set but missing"):
        load_dataset(f"esc50:{tmp_path}")


def test_fsd50k_eval(tmp_path):
    top = tmp_path / "FSD50K"
    (top / "FSD50K.ground_truth").mkdir(parents=True)
    (top / "FSD50K.ground_truth" / "eval.csv").write_text(
        'fname,labels,mids\n37199,"Electric_guitar,Guitar",/m/02sgy\n175151,Bark,/m/05tny_\n'
    )
    tone(top / "FSD50K.eval_audio" / "37199.wav", rate=44100)
    tone(top / "FSD50K.eval_audio" / "175151.wav", rate=44100)
    clips = load_dataset(f"fsd50k:{tmp_path}").clips
    assert [(c.clip_id, c.domain) for c in clips] == [
        ("175151", "environmental"), ("37199", "environmental"),
    ]  # fmt: skip


def test_wrong_root_says_what_it_looked_for(tmp_path):
    with pytest.raises(UsageError, match="is ROOT the folder holding LibriSpeech/test-clean"):
        load_dataset(f"librispeech:{tmp_path}")
    with pytest.raises(UsageError, match="not a folder"):
        load_dataset(f"esc50:{tmp_path / 'nope'}")


def test_verify_counts_files_and_opens_headers(tmp_path):
    top = esc50_copy(tmp_path)
    (top / "audio" / "2-100648-A-43.wav").write_bytes(b"not audio at all")
    result = verify("esc50", tmp_path)
    assert (result.files, result.expected) == (2, 2000)
    assert "expected 2000 files, found 2" in result.problems
    assert any("2-100648-A-43: cannot open" in p for p in result.problems)
    assert result.hours == pytest.approx(0.5 / 3600, rel=1e-3)
    musdb = tmp_path / "m" / "musdb18" / "test" / "A - B.stem.mp4"
    stem_mp4(musdb)
    assert verify("musdb18", tmp_path / "m").problems == ["expected 50 files, found 1"]
