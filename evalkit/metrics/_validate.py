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


#: "Silent" means no stretch of the signal is active at this level or above: the RMS of every
#: block of ``ACTIVE_BLOCK`` samples (21 ms at 48 kHz, 128 ms at 8 kHz), less its mean, stays
#: below it. -70 dBFS is 20 dB under the quietest speech a recording keeps (P.56 active levels
#: of real speech lie around -26 ± 20 dBFS) and 20 dB over 16-bit dither (±1 LSB is -90 dBFS):
#: a constant 1e-40, a DC offset, or stereo channels that cancel in the mono mix are all silent.
SILENCE_DBFS = -70.0
ACTIVE_BLOCK = 1024


def active_level_dbfs(signal: np.ndarray) -> float:
    """The RMS level, in dB re full scale, of the loudest block of ``signal`` (any channel)."""
    x = np.asarray(signal, dtype=np.float32)  # no float64 copy of a 10-minute clip
    x = x.reshape(-1, x.shape[-1]) if x.ndim else x.reshape(1, 1)
    n = x.shape[1]
    if n == 0:
        return -np.inf
    whole = (n // ACTIVE_BLOCK) * ACTIVE_BLOCK
    blocks = [x[:, :whole].reshape(x.shape[0], -1, ACTIVE_BLOCK)] if whole else []
    if n > whole:
        blocks.append(x[:, whole:][:, None, :])
    power = max(float(b.var(axis=-1).max()) for b in blocks)
    return 10 * np.log10(power) if power > 0 else -np.inf


def silent(signal: np.ndarray) -> bool:
    """True when no block of ``signal`` reaches ``SILENCE_DBFS`` (see there)."""
    return active_level_dbfs(signal) < SILENCE_DBFS


def audible(reference: np.ndarray, metric: str) -> None:
    """A silent reference has no quality to measure: not applicable."""
    if silent(reference):
        raise NotApplicable(
            f"{metric}: the reference is silent (no stretch reaches {SILENCE_DBFS:g} dBFS)"
        )


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
