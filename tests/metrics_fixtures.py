"""Real recordings and a deterministic degradation for the metric tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evalkit import audio as A

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT / "datasets" / "default"
CONFORMANCE = ROOT / "tests" / "data" / "conformance"
SPEECH = DEFAULT_SET / "speech-linphone-hello16000.flac"
MUSIC = DEFAULT_SET / "music-csoundqt-violins.flac"


def clip(
    path: Path, seconds: float, rate: int | None = None, mono: bool = True
) -> tuple[np.ndarray, int]:
    """The first ``seconds`` of a default-set clip, converted like the pipeline converts it."""
    audio, sr = A.read(path, 0.0, seconds)
    audio = A.convert(audio, sr, rate, 1 if mono else None)
    return audio, rate or sr


def degrade(audio: np.ndarray, rate: int, band_hz: int, seed: int = 0) -> np.ndarray:
    """Band-limit to ``band_hz`` and add faint noise: a codec-like, reproducible degradation."""
    low = A.resample(A.resample(audio, rate, 2 * band_hz), 2 * band_hz, rate)[:, : audio.shape[1]]
    noise = 1e-3 * np.random.default_rng(seed).standard_normal(audio.shape)
    return (low + noise).astype(np.float32)
