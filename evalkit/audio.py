"""Audio I/O and the one resampler every stage uses.

Reading and writing go through soundfile (torchaudio's own I/O needs torchcodec). Resampling is
torchaudio's windowed-sinc with librosa's ``kaiser_best`` parameters; its description is recorded in
every result's fingerprint because the resampler measurably moves PESQ.
"""

from __future__ import annotations

import functools
import itertools
import os
from math import gcd
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from evalkit.atomic import NotRegularFile, atomic_path, open_regular
from evalkit.hashing import sha256_fd

#: torchaudio's kernel has (terms of the reduced rate ratio)^2 taps: 44101 -> 44100 Hz would need
#: 8 GB, so ratios with a larger term go through soxr's arbitrary-ratio resampler instead
REGULAR_RATIO_TERMS = 2048
RESAMPLER = {
    "library": "torchaudio.functional.resample",
    "method": "sinc_interp_kaiser",
    "lowpass_filter_width": 64,
    "rolloff": 0.9475937167399596,
    "beta": 14.769656459379492,
    "irregular_ratios": f"soxr VHQ where a reduced rate ratio term exceeds {REGULAR_RATIO_TERMS}",
}


#: Rates evalkit evaluates: from the telephone band (PESQ's narrow-band rate) to 384 kHz; a file
#: outside holds no audio a codec benchmark can score (a 1 Hz "clip" would still resample into
#: confident-looking numbers), so it is refused with its rate named.
MIN_RATE_HZ, MAX_RATE_HZ = 8000, 384000
#: Longest stretch read at once. A worker holds a clip several times over (reference, codec input,
#: decoded audio, metric copies), so this bounds its memory; longer files are evaluated in windows
#: (``evalkit run --segment``), which read only their window.
MAX_READ_SECONDS = 600.0
#: Largest sample magnitude accepted (+24 dBFS). Float files may exceed full scale (a mix without
#: a limiter), never by this much; ±1e30 is garbage that metrics would score as confident numbers.
MAX_PEAK = 16.0


def _check_rate(rate: int) -> None:
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise ValueError(
            f"sample rate {rate} Hz is outside the {MIN_RATE_HZ}-{MAX_RATE_HZ} Hz evalkit evaluates"
        )


def _too_long(seconds: float) -> ValueError:
    return ValueError(
        f"{seconds:.0f} s is longer than the {MAX_READ_SECONDS:g} s evalkit reads at once; "
        "evaluate it in windows with `evalkit run --segment SECONDS`"
    )


def read(
    path: str | Path,
    start_s: float = 0.0,
    duration_s: float | None = None,
    sha256: str | None = None,
) -> tuple[np.ndarray, int]:
    """Read a file (or a window of it) as float32 (channels, samples) and its sample rate.

    soundfile first (exact, seekable); what libsndfile cannot open (AAC/M4A/MP4, WebM, WMA ...)
    is decoded with FFmpeg through PyAV. Only the window is kept in memory, and at most
    ``MAX_READ_SECONDS`` are read at once. Both decode from one descriptor of a regular file (a
    pipe or device is refused unopened); with ``sha256`` its bytes are checked against it first,
    and a file that changes while it is decoded is refused, so what is scored is what was listed.

    Raises:
        ValueError: the file is not a regular file, not audio either library reads, holds no
            samples or samples that are not finite or absurdly large, is sampled outside
            MIN_RATE_HZ..MAX_RATE_HZ, is too long to read at once, its window starts past its
            end, or its bytes are not (or no longer) the ones listed; the cause is in the message.
    """
    try:
        with open_regular(path) as (fd, before):
            if before.st_size == 0:
                raise ValueError("file is empty (0 bytes)")
            if sha256 is not None:
                _verify(fd, before, sha256)
            audio, rate = _decode(fd, start_s, duration_s)
            if _identity(os.fstat(fd)) != _identity(before):
                raise ValueError("the file changed while evalkit read it; run again to score it")
    except NotRegularFile as exc:
        raise ValueError(str(exc)) from None
    if not np.isfinite(audio).all():
        raise ValueError("audio contains NaN or Inf samples")
    check_level(audio, "audio holds")
    return audio, int(rate)


def check_level(audio: np.ndarray, subject: str) -> None:
    """Refuse finite samples no recording or codec output has (float garbage, unscaled integers)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > MAX_PEAK:
        raise ValueError(
            f"{subject} samples of magnitude {peak:.3g}, beyond the ±{MAX_PEAK:g} "
            f"({20 * np.log10(MAX_PEAK):.0f} dB above full scale) evalkit accepts: not audio "
            "at any real level"
        )


def _identity(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


#: checksums of files this process has verified, by identity: windows of one file hash it once
_verified: dict[tuple[int, ...], str] = {}


def _verify(fd: int, info: os.stat_result, expected: str) -> None:
    key = _identity(info)
    if key not in _verified:
        _verified[key] = sha256_fd(fd, info.st_size)
    if _verified[key] != expected:
        raise ValueError(
            f"the file changed after evalkit listed it (sha256 {expected[:12]}… then, "
            f"{_verified[key][:12]}… now); run again to score its new content"
        )


def _decode(fd: int, start_s: float, duration_s: float | None) -> tuple[np.ndarray, int]:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        f = sf.SoundFile(fd, closefd=False)
    except sf.LibsndfileError as sf_error:
        import av

        os.lseek(fd, 0, os.SEEK_SET)
        try:
            with os.fdopen(os.dup(fd), "rb") as source:
                audio, rate = decode_pyav(source, start_s, duration_s, MAX_READ_SECONDS)
        except av.error.FFmpegError as exc:  # neither library reads it: say what each said
            raise ValueError(
                f"not an audio file soundfile or FFmpeg can read "
                f"(soundfile: {sf_error.error_string}; FFmpeg: {exc.strerror})"
            ) from None
        _check_rate(rate)
        return audio, rate
    with f:
        rate = f.samplerate
        _check_rate(rate)
        start = int(round(start_s * rate))
        if start_s > 0 and start >= f.frames:
            raise _window_past_end(start_s, f.frames / rate)
        available = max(f.frames - start, 0)
        frames = available if duration_s is None else min(int(round(duration_s * rate)), available)
        if frames > MAX_READ_SECONDS * rate:
            raise _too_long(frames / rate)
        try:
            if start:
                f.seek(start)
            data = f.read(frames, dtype="float32", always_2d=True)
        except sf.LibsndfileError as exc:  # a sound header over broken data (a cut FLAC ...)
            cause = exc.error_string.removeprefix("Error : ").rstrip(".")
            raise ValueError(f"the audio data is damaged ({cause})") from None
    if data.shape[0] == 0:
        raise ValueError("file holds no audio samples")
    return np.ascontiguousarray(data.T), rate


def _window_past_end(start_s: float, length_s: float) -> ValueError:
    return ValueError(
        f"the window starts at {start_s:g} s, past the end of the file ({length_s:.3f} s long); "
        "the file holds audio, the window's start is wrong"
    )


def decode_pyav(
    source: str | BinaryIO,
    start_s: float = 0.0,
    duration_s: float | None = None,
    max_seconds: float | None = None,
) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of a file or file-like object with FFmpeg, from the start
    (no seeking, so samples do not depend on the container's index).

    Only samples of the window [start_s, start_s + duration_s) are kept, so a window of a long
    file costs the window's memory; a read of more than ``max_seconds`` is refused.
    """
    import av

    with av.open(source, mode="r") as container:
        if not container.streams.audio:
            raise ValueError("file holds no audio stream")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        start = int(round(start_s * rate))
        stop = None if duration_s is None else start + int(round(duration_s * rate))
        resampler = av.AudioResampler(format="fltp", layout=stream.codec_context.layout, rate=rate)
        chunks, position = [], 0
        frames = itertools.chain(container.decode(stream), [None])  # None flushes the resampler
        for block in (o.to_ndarray() for f in frames for o in resampler.resample(f)):
            low, high = max(start - position, 0), block.shape[1]
            if stop is not None:
                high = min(high, stop - position)
            position += block.shape[1]
            if high > low:
                chunks.append(block[:, low:high])
            if stop is not None and position >= stop:
                break
            if max_seconds is not None and position - start > max_seconds * rate:
                raise _too_long(position / rate)
    if not chunks:
        if start > 0 and position > 0:
            raise _window_past_end(start_s, position / rate)
        raise ValueError("file holds no audio samples")
    return np.concatenate(chunks, axis=1).astype(np.float32), int(rate)


def write(path: str | Path, audio: np.ndarray, sample_rate_hz: int) -> None:
    """Write float32 (channels, samples) audio as 24-bit FLAC (or by extension), atomically."""
    path = Path(path)
    subtype = "PCM_24" if path.suffix.lower() in (".flac", ".wav") else None
    fmt = path.suffix.lstrip(".").upper() or "FLAC"
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.clip(audio, -1, 1).T, sample_rate_hz, subtype=subtype, format=fmt)


def resample(audio: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample float32 (channels, samples) audio with evalkit's one resampler."""
    if from_hz == to_hz:
        return audio
    g = gcd(int(from_hz), int(to_hz))
    up, down = int(from_hz) // g, int(to_hz) // g
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if max(up, down) > REGULAR_RATIO_TERMS:
        import soxr

        out = soxr.resample(audio.T, int(from_hz), int(to_hz), quality="VHQ").T
        return np.ascontiguousarray(out, dtype=np.float32)
    import torch

    with torch.inference_mode():
        return _resampler(up, down)(torch.from_numpy(audio)).numpy()


@functools.lru_cache(maxsize=16)
def _resampler(from_hz: int, to_hz: int):  # -> torchaudio.transforms.Resample
    """torchaudio's resampler with its kernel built once per rate ratio: building it (a Kaiser
    window per tap) cost more than applying it to a 1-s clip. The same functions and the same
    samples as ``torchaudio.functional.resample`` (``RESAMPLER["library"]``)."""
    import torch
    import torchaudio.transforms as AT

    return AT.Resample(
        from_hz,
        to_hz,
        resampling_method=RESAMPLER["method"],
        lowpass_filter_width=RESAMPLER["lowpass_filter_width"],
        rolloff=RESAMPLER["rolloff"],
        beta=RESAMPLER["beta"],
        dtype=torch.float32,
    )


def to_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Mix down to mono (mean) or duplicate mono; other conversions are refused."""
    have = audio.shape[0]
    if have == channels:
        return audio
    if channels == 1:
        return audio.mean(axis=0, keepdims=True)
    if have == 1:
        return np.repeat(audio, channels, axis=0)
    raise ValueError(f"cannot convert {have} channels to {channels}")


def convert(audio: np.ndarray, from_hz: int, to_hz: int | None, channels: int | None) -> np.ndarray:
    """To a codec's or metric's format; ``None`` keeps that property as it is."""
    if channels is not None:
        audio = to_channels(audio, channels)
    if to_hz is not None:
        audio = resample(audio, from_hz, to_hz)
    return audio
