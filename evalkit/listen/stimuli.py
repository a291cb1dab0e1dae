"""Signal processing of MUSHRA stimuli: alignment, excerpt, anchors, loudness matching.

Everything works on float32 (channels, samples) arrays at the clip's own rate, so the reference
the listeners hear is the file the run scored, untouched except for level.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfiltfilt

from evalkit.errors import EvalkitError

#: the BS.1534-3 anchors: low-pass filtered reference at 3.5 kHz (low) and 7 kHz (mid)
ANCHORS_HZ = {"anchor_3.5k": 3500.0, "anchor_7k": 7000.0}
#: loudness every stimulus is brought to (EBU R 128), unless that would clip a trial's stimuli
TARGET_LUFS = -23.0
PEAK_LIMIT = 0.98
FADE_S = 0.02


def on_reference_axis(decoded: np.ndarray, lag: int, n: int) -> np.ndarray:
    """Decoded audio shifted by the run's measured codec delay onto the reference's time axis.

    Same convention as ``pipeline.align.apply_lag``: decoded[t + lag] lines up with ref[t].
    """
    if lag >= 0:
        out = decoded[:, lag : lag + n]
    else:
        out = np.concatenate([np.zeros((decoded.shape[0], -lag), decoded.dtype), decoded], axis=1)
        out = out[:, :n]
    if out.shape[1] < n:  # a codec that returns a little less audio: pad with silence
        out = np.pad(out, ((0, 0), (0, n - out.shape[1])))
    return out.astype(np.float32, copy=False)


def loudest_window(reference: np.ndarray, rate: int, seconds: float) -> slice:
    """The ``seconds``-long window (0.25-s grid) with the most energy: clips often start quiet."""
    n = min(reference.shape[1], int(round(seconds * rate)))
    step = max(1, rate // 4)
    energy = np.cumsum(np.concatenate([[0.0], np.square(reference, dtype=np.float64).sum(0)]))
    starts = np.arange(0, reference.shape[1] - n + 1, step)
    best = int(starts[np.argmax(energy[starts + n] - energy[starts])])
    return slice(best, best + n)


def faded(audio: np.ndarray, rate: int) -> np.ndarray:
    """Short raised-cosine fades, so the loop point does not click."""
    k = min(int(FADE_S * rate), audio.shape[1] // 2)
    if k == 0:
        return audio
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, k))).astype(np.float32)
    out = audio.copy()
    out[:, :k] *= ramp
    out[:, -k:] *= ramp[::-1]
    return out


def lowpass(audio: np.ndarray, rate: int, cutoff_hz: float) -> np.ndarray:
    """Zero-phase Butterworth low-pass (order 8, applied forwards and backwards: no delay)."""
    if cutoff_hz >= rate / 2:  # nothing above the cutoff to remove
        return audio.copy()
    sos = butter(8, cutoff_hz, btype="low", fs=rate, output="sos")
    return sosfiltfilt(sos, audio, axis=1).astype(np.float32)


def loudness_lufs(audio: np.ndarray, rate: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4 via pyloudnorm); -inf for silence or < 0.4 s."""
    try:
        import pyloudnorm
    except ImportError as exc:
        raise EvalkitError("listening tests need pyloudnorm: pip install pyloudnorm") from exc
    if audio.shape[1] < int(0.4 * rate):
        return float("-inf")
    return float(pyloudnorm.Meter(rate).integrated_loudness(audio.T.astype(np.float64)))


def match_loudness(stimuli: dict[str, np.ndarray], rate: int) -> dict[str, dict[str, float]]:
    """Scale every stimulus of one trial in place to the same loudness; returns what was done.

    Each goes to TARGET_LUFS; if that would push any peak past PEAK_LIMIT, the whole trial is
    lowered together, so loudness stays matched. A stimulus whose loudness cannot be measured
    (silence) keeps the gain of the reference.
    """
    measured = {k: loudness_lufs(v, rate) for k, v in stimuli.items()}
    ref_gain = TARGET_LUFS - measured["reference"] if np.isfinite(measured["reference"]) else 0.0
    gains = {k: TARGET_LUFS - m if np.isfinite(m) else ref_gain for k, m in measured.items()}
    peaks = [float(np.abs(v).max()) * 10 ** (gains[k] / 20) for k, v in stimuli.items()]
    common = min(0.0, 20 * float(np.log10(PEAK_LIMIT / max(max(peaks), 1e-12))))
    for key, audio in stimuli.items():
        audio *= np.float32(10 ** ((gains[key] + common) / 20))
    return {
        k: {"loudness_lufs": round(measured[k], 2), "gain_db": round(gains[k] + common, 2)}
        for k in stimuli
    }


def flac_bytes(audio: np.ndarray, rate: int) -> bytes:
    """16-bit FLAC: lossless for what a listener hears, and Chromium's decodeAudioData reads it."""
    buffer = io.BytesIO()
    clipped = np.clip(audio, -1, 1).T
    sf.write(buffer, clipped, rate, "PCM_16", format="FLAC", compression_level=1.0)
    return buffer.getvalue()
