"""Input checks shared by every metric: one wording for the same failure everywhere."""

from __future__ import annotations

import numpy as np

from evalkit.errors import NotApplicable


def finite(audio: np.ndarray, what: str) -> np.ndarray:
    """``audio`` as (channels, samples); NaN/Inf or an empty signal is an error, not a score."""
    audio = np.asarray(audio)
    if audio.ndim != 2 or audio.shape[1] == 0:
        raise ValueError(f"{what} must be (channels, samples) with samples > 0, got {audio.shape}")
    if not np.isfinite(audio).all():
        raise ValueError(f"{what} contains NaN or Inf samples")
    return audio


def mono(audio: np.ndarray, what: str) -> np.ndarray:
    """The one channel of a mono (1, samples) signal (metrics with ``mono = True``)."""
    audio = finite(audio, what)
    if audio.shape[0] != 1:
        raise ValueError(f"{what} must be mono (1, samples), got {audio.shape[0]} channels")
    return audio[0]


def audible(reference: np.ndarray, metric: str) -> None:
    """A digitally silent reference has no quality to measure: not applicable."""
    if not np.any(reference):
        raise NotApplicable(f"{metric}: the reference is silent")


def long_enough(samples: int, sample_rate_hz: int, minimum_s: float, metric: str) -> None:
    if samples < round(minimum_s * sample_rate_hz):
        seconds = samples / sample_rate_hz
        length = f"{seconds:.3f} s" if seconds >= 0.001 else f"{samples} samples"
        raise NotApplicable(
            f"{metric}: clip is {length}, shorter than the {minimum_s:g} s it needs"
        )


def same_shape(reference: np.ndarray, degraded: np.ndarray, metric: str) -> None:
    if reference.shape != degraded.shape:
        raise ValueError(
            f"{metric}: reference {reference.shape} and degraded {degraded.shape} differ in shape"
        )


def checked(values: dict[str, float], metric: str) -> dict[str, float]:
    """Only finite values leave a metric."""
    bad = [k for k, v in values.items() if not np.isfinite(v)]
    if bad:
        raise ValueError(f"{metric} computed a non-finite value for {', '.join(bad)}")
    return {k: float(v) for k, v in values.items()}
