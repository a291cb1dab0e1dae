"""Audio I/O and the one resampler every stage uses.

Reading and writing go through soundfile (torchaudio's own I/O needs torchcodec). Resampling is
torchaudio's windowed-sinc with librosa's ``kaiser_best`` parameters; its description is recorded in
every result's fingerprint because the resampler measurably moves PESQ.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

RESAMPLER = {
    "library": "torchaudio.functional.resample",
    "method": "sinc_interp_kaiser",
    "lowpass_filter_width": 64,
    "rolloff": 0.9475937167399596,
    "beta": 14.769656459379492,
}


def read(
    path: str | Path, start_s: float = 0.0, duration_s: float | None = None
) -> tuple[np.ndarray, int]:
    """Read a file (or a window of it) as float32 (channels, samples) and its sample rate.

    soundfile first (exact, seekable); what libsndfile cannot open (AAC/M4A/MP4, WebM, WMA ...)
    is decoded with FFmpeg through PyAV.

    Raises:
        ValueError: the file holds no samples or non-finite samples, with the cause in the message.
    """
    try:
        info = sf.info(str(path))
    except sf.LibsndfileError:
        audio, rate = decode_pyav(str(path))
        start = int(round(start_s * rate))
        stop = None if duration_s is None else start + int(round(duration_s * rate))
        audio = np.ascontiguousarray(audio[:, start:stop])
    else:
        rate = info.samplerate
        start = int(round(start_s * rate))
        frames = -1 if duration_s is None else int(round(duration_s * rate))
        data, _ = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
        audio = np.ascontiguousarray(data.T)
    if audio.shape[1] == 0:
        raise ValueError("file holds no audio samples")
    if not np.isfinite(audio).all():
        raise ValueError("audio contains NaN or Inf samples")
    return audio, int(rate)


def decode_pyav(source: str | BinaryIO) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of a file or file-like object with FFmpeg, from the start
    (no seeking, so samples do not depend on the container's index)."""
    import av

    with av.open(source, mode="r") as container:
        if not container.streams.audio:
            raise ValueError("file holds no audio stream")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="fltp", layout=stream.codec_context.layout, rate=rate)
        chunks = [o.to_ndarray() for f in container.decode(stream) for o in resampler.resample(f)]
        chunks += [o.to_ndarray() for o in resampler.resample(None)]
    if not chunks:
        raise ValueError("file holds no audio samples")
    return np.concatenate(chunks, axis=1).astype(np.float32), int(rate)


def write(path: str | Path, audio: np.ndarray, sample_rate_hz: int) -> None:
    """Write float32 (channels, samples) audio as 24-bit FLAC (or by extension), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    subtype = "PCM_24" if path.suffix.lower() in (".flac", ".wav") else None
    fmt = path.suffix.lstrip(".").upper() or "FLAC"
    sf.write(str(tmp), np.clip(audio, -1, 1).T, sample_rate_hz, subtype=subtype, format=fmt)
    tmp.replace(path)


def resample(audio: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample float32 (channels, samples) audio with evalkit's one resampler."""
    if from_hz == to_hz:
        return audio
    import torch
    import torchaudio.functional as AF

    g = gcd(int(from_hz), int(to_hz))
    out = AF.resample(
        torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)),
        int(from_hz) // g,
        int(to_hz) // g,
        lowpass_filter_width=RESAMPLER["lowpass_filter_width"],
        rolloff=RESAMPLER["rolloff"],
        resampling_method=RESAMPLER["method"],
        beta=RESAMPLER["beta"],
    )
    return out.numpy()


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
