"""Hostile inputs, generated per test session, and a helper that runs the real CLI.

Every file here is built by code (nothing hostile is committed), so the suite documents exactly
what each case is. ``hostile_folder`` is one folder dataset holding three real speech clips from
the default set and every kind of broken file, so a single ``evalkit run`` covers them all.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from tests.conftest import DEFAULT_SET, ROOT

#: three short real speech clips (16 kHz and 22.05 kHz) from the embedded default set
CLEAN = (
    "speech-librivox-sense-and-sensibility-0930",
    "speech-librivox-sense-and-sensibility-0890",
    "speech-fillets-ch-r-anavic0",
)
#: a file name that would run commands if it ever reached a shell unquoted
SHELL_NAME = "$(touch PWNED) `touch PWNED2`; echo 'x' \"y\" & |{a,b}*?"
UNICODE_NAME = "ünïcödé 声音 🎵"
#: a name written in Latin-1, as old disks and archives hold them: not valid UTF-8
LATIN1_NAME = "latin1-café"
LATIN1_ID = "latin1-caf\\xe9"  # the clip id shows the byte that is not UTF-8
ONE_HOUR_S = 3600


def clean_clip(name: str) -> tuple[np.ndarray, int]:
    """A default-set clip as float32 (channels, samples)."""
    data, rate = sf.read(DEFAULT_SET / f"{name}.flac", dtype="float32", always_2d=True)
    return data.T, rate


def write(path: Path, audio: np.ndarray, rate: int, subtype: str | None = None) -> Path:
    sf.write(path, audio.T, rate, subtype=subtype)
    return path


def wav_header(frames: int, rate: int, channels: int = 1, data_bytes: int | None = None) -> bytes:
    """A 44-byte PCM_16 RIFF header; ``data_bytes`` lets the header lie about the data size."""
    size = frames * channels * 2 if data_bytes is None else data_bytes
    return (
        b"RIFF" + struct.pack("<I", min(36 + size, 0xFFFFFFFF)) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2,
                                channels * 2, 16)
        + b"data" + struct.pack("<I", size)
    )  # fmt: skip


def one_hour_wav(path: Path, rate: int = 16000) -> Path:
    """A valid one-hour 16 kHz WAV of digital silence, written sparse (no disk or time cost)."""
    frames = ONE_HOUR_S * rate
    with open(path, "wb") as f:
        f.write(wav_header(frames, rate))
        f.truncate(44 + frames * 2)
    return path


def build_hostile(folder: Path) -> dict[str, str]:
    """Write every hostile file into ``folder``; returns clip id -> what the file is."""
    folder.mkdir(parents=True, exist_ok=True)
    speech, rate = clean_clip(CLEAN[0])
    snippet = speech[:, : int(1.5 * rate)]
    for name in CLEAN:
        shutil.copy(DEFAULT_SET / f"{name}.flac", folder / f"{name}.flac")
    cases: dict[str, str] = {name: "real speech clip" for name in CLEAN}

    def case(clip_id: str, what: str) -> None:
        cases[clip_id] = what

    (folder / "empty.wav").write_bytes(b"")
    case("empty", "empty file (0 bytes)")
    full = write(folder / "full.wav", speech, rate, "PCM_16").read_bytes()
    (folder / "full.wav").unlink()
    (folder / "truncated.wav").write_bytes(full[: len(full) // 2 + 1])  # cut mid-sample
    case("truncated", "WAV cut in the middle of its data")
    flac = (DEFAULT_SET / f"{CLEAN[0]}.flac").read_bytes()
    (folder / "truncated.flac").write_bytes(flac[: len(flac) // 2])
    case("truncated.flac", "FLAC cut in the middle of a frame")
    pcm = (np.clip(snippet[0], -1, 1) * 32767).astype("<i2").tobytes()
    (folder / "lying-header.wav").write_bytes(wav_header(0, rate, data_bytes=0xFFFFFFF0) + pcm)
    case("lying-header", "WAV whose header claims 4 GB of data (holds 1.5 s)")
    (folder / "text.wav").write_text("this is a text file, not audio\n")
    case("text", "text file named .wav")
    write(folder / "zero-samples.wav", np.zeros((1, 0), np.float32), rate, "PCM_16")
    case("zero-samples", "valid WAV holding zero samples")
    write(folder / "short.wav", speech[:, : int(0.1 * rate)], rate, "PCM_16")
    case("short", "0.1 s of speech (PESQ needs 0.25 s)")
    write(folder / "few-samples.wav", speech[:, 4000:4010], rate, "PCM_16")
    case("few-samples", "10 samples of speech, under one analysis frame of every metric")
    write(folder / "silence.wav", np.zeros((1, 2 * rate), np.float32), rate, "PCM_16")
    case("silence", "2 s of digital silence")
    for bad in ("nan", "inf"):
        x = snippet.copy()
        x[0, 1000:1010] = np.nan if bad == "nan" else np.inf
        write(folder / f"{bad}.wav", x, rate, "FLOAT")
        case(bad, f"float WAV with {bad.upper()} samples")
    t = np.arange(2 * rate) / rate
    write(
        folder / "square.wav",
        np.sign(np.sin(2 * np.pi * 220 * t))[None].astype(np.float32),
        rate,
        "PCM_16",
    )
    case("square", "full-scale clipped 220 Hz square wave")
    write(
        folder / "eight-channels.wav",
        np.repeat(snippet, 8, axis=0) * np.linspace(0.2, 1, 8, dtype=np.float32)[:, None],
        rate,
        "PCM_16",
    )
    case("eight-channels", "8-channel WAV")
    write(folder / "rate-1hz.wav", snippet[:, :10] * 0 + 0.5, 1, "PCM_16")
    case("rate-1hz", "WAV at 1 Hz")
    hi = np.random.default_rng(0).standard_normal((1, 384000)).astype(np.float32) * 0.1
    write(folder / "rate-384khz.wav", hi, 384000, "PCM_16")
    case("rate-384khz", "1 s of noise at 384 kHz")
    one_hour_wav(folder / "one-hour.wav")
    case("one-hour", "one-hour WAV")
    for name in ("with space", UNICODE_NAME, SHELL_NAME):
        write(folder / f"{name}.flac", snippet, rate, "PCM_16")
        case(name, "speech under a hostile file name")
    sub = folder / "sub"
    sub.mkdir()
    write(sub / "inner.flac", snippet, rate, "PCM_16")
    case("sub/inner", "speech in a subfolder")
    (sub / "loop").symlink_to("..", target_is_directory=True)  # sub/loop -> folder: a cycle
    write(folder / "dup.wav", snippet, rate, "PCM_16")
    write(folder / "dup.flac", snippet, rate, "PCM_16")
    case("dup.wav", "same stem as dup.flac")
    case("dup.flac", "same stem as dup.wav")
    cases.update(build_special(folder, snippet, rate))
    return cases


def build_special(folder: Path, snippet: np.ndarray, rate: int) -> dict[str, str]:
    """Special files, odd names and nonsense levels (issue 18); returns clip id -> what it is."""
    cases = {}
    os.mkfifo(folder / "fifo.wav")  # opening it would wait for a writer forever
    cases["fifo"] = "named pipe named .wav"
    (folder / "zero.wav").symlink_to("/dev/zero")  # hashing it would never end
    cases["zero"] = "link to /dev/zero"
    (folder / "urandom.flac").symlink_to("/dev/urandom")
    cases["urandom"] = "link to /dev/urandom"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "socket.wav"))
    cases["socket"] = "Unix socket named .wav"
    (folder / "dir.wav").mkdir()  # a folder with an audio name is a folder: walked
    write(folder / "dir.wav" / "inside.flac", snippet, rate, "PCM_16")
    cases["dir.wav/inside"] = "speech inside a folder named dir.wav"
    latin1 = os.fsdecode(LATIN1_NAME.encode("latin-1") + b".flac")  # soundfile cannot write it
    write(folder / "latin1.flac", snippet, rate, "PCM_16").rename(folder / latin1)
    cases[LATIN1_ID] = "speech under a name that is not UTF-8 (Latin-1 bytes)"
    write(folder / "new\nline.flac", snippet, rate, "PCM_16")
    cases["new\\nline"] = "speech under a name holding a newline"
    huge = snippet.copy()
    huge[0, ::2] = 1e30
    huge[0, 1::2] = -1e30
    write(folder / "huge-values.wav", huge, rate, "FLOAT")
    cases["huge-values"] = "float WAV with samples of ±1e30"
    write(folder / "tiny-constant.wav", np.full((1, 2 * rate), 1e-40, np.float32), rate, "FLOAT")
    cases["tiny-constant"] = "float WAV holding a constant 1e-40"
    pcm = np.round(snippet[0] * 16000).astype(np.int16)
    dither = np.random.default_rng(2).integers(-1, 2, pcm.size).astype(np.int16)
    sf.write(folder / "cancelling-stereo.wav", np.stack([pcm, -pcm + dither], axis=1), rate)
    cases["cancelling-stereo"] = "stereo speech whose channels cancel (mono mix within ±1 LSB)"
    return cases


#: manifest id -> what its row is (the ids hold a newline: clip ids come from users)
MANIFEST_ROWS = {
    "a-good": {"path": "good.flac"},
    "two\nlines": {"path": "good.flac"},
    "bad\nid": {"path": "text.wav"},
    "late-window": {"path": "short.wav", "start": "5", "duration": "1"},
    "z-changing": {"path": "changing.wav"},
}


def build_manifest(folder: Path) -> Path:
    """A manifest set of ids with newlines, a window past its file's end, and a file that the
    ``pcm_mutating`` adapter changes once the run has listed it; returns that file."""
    folder.mkdir(parents=True, exist_ok=True)
    speech, rate = clean_clip(CLEAN[0])
    shutil.copy(DEFAULT_SET / f"{CLEAN[0]}.flac", folder / "good.flac")
    write(folder / "short.wav", speech[:, : int(1.5 * rate)], rate, "PCM_16")
    write(folder / "changing.wav", speech[:, : int(1.5 * rate)], rate, "PCM_16")
    (folder / "text.wav").write_text("not audio\n")
    with open(folder / "manifest.csv", "w", newline="") as f:
        out = csv.DictWriter(f, ["id", "path", "domain", "start", "duration"])
        out.writeheader()
        for clip_id, row in MANIFEST_ROWS.items():
            out.writerow({"id": clip_id, "domain": "speech", **row})
    return folder / "changing.wav"


BROKEN_CODECS = '''
"""Adapters that break in every way a codec can: each misbehaves in exactly one respect."""
import dataclasses
import os
import time

import numpy as np

from evalkit.codecs.pcm import PCM


class Raises(PCM):
    name = "broken_raises"

    def encode(self, audio, sample_rate_hz, nominal_kbps):
        raise OSError("GPU fell off the bus")


class NaNs(PCM):
    name = "broken_nan"

    def decode(self, encoded):
        out, rate = super().decode(encoded)
        out[0, ::7] = np.nan
        return out, rate


class Short(PCM):
    name = "broken_short"

    def decode(self, encoded):
        out, rate = super().decode(encoded)
        return out[:, : out.shape[1] // 2], rate


class WrongRate(PCM):
    name = "broken_rate"

    def decode(self, encoded):
        out, _ = super().decode(encoded)
        return out, 8000  # the samples are at 16 kHz


class WrongChannels(PCM):
    name = "broken_channels"

    def decode(self, encoded):
        out, rate = super().decode(encoded)
        return np.repeat(out, 2, axis=0), rate  # stereo for a mono input


class Int16(PCM):
    name = "broken_int16"

    def decode(self, encoded):
        out, rate = super().decode(encoded)
        return (out * 32767).astype(np.int16), rate  # PCM integers, not float audio


class NoBits(PCM):
    name = "broken_bits"

    def encode(self, audio, sample_rate_hz, nominal_kbps):
        encoded = super().encode(audio, sample_rate_hz, nominal_kbps)
        return dataclasses.replace(encoded, payload_bits=0)


class Hangs(PCM):
    name = "broken_hang"

    def encode(self, audio, sample_rate_hz, nominal_kbps):
        time.sleep(3600)


class Mutates(PCM):
    """Built on a worker (after the client listed the clips), it rewrites the end of the file
    named by $EVALKIT_TEST_MUTATE: a clip whose bytes change between listing and decoding."""

    name = "pcm_mutating"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        import multiprocessing

        if multiprocessing.parent_process() is None:
            return  # the client (a worker process is started by its nanny): the file stays
        with open(os.environ["EVALKIT_TEST_MUTATE"], "r+b") as f:
            f.seek(-4, 2)
            f.write(b"\x01\x02\x03\x04")
'''
#: entry-point name -> the message its error rows must carry
BROKEN = {
    "broken_raises": "failed to encode: OSError: GPU fell off the bus",
    "broken_nan": "failed to decode: codec returned NaN or Inf samples",
    "broken_short": "failed to decode: codec returned 26320 samples for 52640 (at 16000 Hz): "
    "wrong length or rate",
    "broken_rate": "failed to decode: codec returned 105280 samples for 52640 (at 16000 Hz): "
    "wrong length or rate",
    "broken_channels": "failed to decode: codec returned 2 channels for a 1-channel input",
    "broken_int16": "failed to decode: codec returned int16 samples; decode must return float "
    "audio in [-1, 1]",
    "broken_bits": "failed to encode: codec reported payload_bits=0, duration_s=",
    "broken_hang": "timed out after 3 s",
}


def broken_plugin(root: Path) -> dict[str, str]:
    """Install the broken adapters the way pip would (module + dist-info entry points); returns
    the environment that puts them on the path."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "broken_codecs.py").write_text(BROKEN_CODECS)
    info = root / "broken_codecs-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-codecs\nVersion: 0.1\n")
    classes = {
        "broken_raises": "Raises",
        "broken_nan": "NaNs",
        "broken_short": "Short",
        "broken_rate": "WrongRate",
        "broken_channels": "WrongChannels",
        "broken_int16": "Int16",
        "broken_bits": "NoBits",
        "broken_hang": "Hangs",
        "pcm_mutating": "Mutates",
    }
    lines = [f"{name} = broken_codecs:{cls}" for name, cls in classes.items()]
    (info / "entry_points.txt").write_text("[evalkit.codecs]\n" + "\n".join(lines) + "\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(ROOT), env.get("PYTHONPATH", "")])
    return env


def start_cli(*args: str, cache: Path, cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    """``python -m evalkit ARGS`` in a subprocess with its own shard cache (independent runs)."""
    env = {**env, "EVALKIT_CACHE": str(cache)}
    return subprocess.Popen(
        [sys.executable, "-m", "evalkit", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass
class Run:
    """A CLI run started in the background; ``wait`` gives its exit code, output and run folder."""

    proc: subprocess.Popen
    out: Path
    cwd: Path
    done: tuple[int, str, str] | None = None

    def wait(self) -> tuple[int, str, str]:
        if self.done is None:
            stdout, stderr = self.proc.communicate(timeout=600)
            self.done = (self.proc.returncode, stdout, stderr)
        return self.done

    def results(self) -> pd.DataFrame:
        code, stdout, stderr = self.wait()
        assert (self.out / "results.parquet").exists(), f"exit {code}\n{stdout}\n{stderr}"
        return pd.read_parquet(self.out / "results.parquet")


METRICS = "pesq,stoi,mel_distance"


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Run]:
    """Every CLI run of the suite, started at once so their start-up costs overlap.

    ``hostile``: the hostile folder (3 real clips + every broken file, special file, odd name
    and nonsense level), ``--strict``. ``manifest``: ids with newlines, a window past its file's
    end and a file changed after listing (see build_manifest), with pcm_mutating and a codec
    that raises.
    ``clean``: the same 3 real clips alone, with pcm and five broken adapters (the pcm rows are
    the clean reference). ``hang``: the hanging adapter alone with ``--timeout 3``, on one clip.
    Each run has its own shard cache, so none reuses another's results.
    """
    base = tmp_path_factory.mktemp("robustness")
    hostile = base / "data set with spaces"
    build_hostile(hostile)
    clean = base / "clean"
    clean.mkdir()
    for name in CLEAN:
        shutil.copy(DEFAULT_SET / f"{name}.flac", clean / f"{name}.flac")
    one = base / "one"
    one.mkdir()
    shutil.copy(DEFAULT_SET / f"{CLEAN[0]}.flac", one / f"{CLEAN[0]}.flac")
    extra = base / "manifest set"
    env = {**broken_plugin(base / "plugin"), "EVALKIT_TEST_MUTATE": str(build_manifest(extra))}
    common = ("--bitrates", "256", "--metrics", METRICS, "--workers", "1")
    broken = ",".join(n for n in BROKEN if n != "broken_hang")
    specs = {
        "hostile": ("--codec", "pcm", "--dataset", f"folder:{hostile}:speech", "--strict"),
        "clean": ("--codec", f"pcm,{broken}", "--dataset", f"folder:{clean}:speech"),
        "hang": ("--codec", "broken_hang", "--dataset", f"folder:{one}:speech", "--timeout", "3"),
        "manifest": ("--codec", "pcm_mutating,broken_raises", "--dataset",
                     f"manifest:{extra / 'manifest.csv'}"),
    }  # fmt: skip
    started = {}
    for name, args in specs.items():
        out = base / f"run-{name}"
        proc = start_cli(
            "run",
            *args,
            *common,
            "--out",
            str(out),
            cache=base / f"cache-{name}",
            cwd=base,
            env=env,
        )
        started[name] = Run(proc, out, base)
    yield started
    for run in started.values():
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()
