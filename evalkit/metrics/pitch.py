"""Pitch: F0 error, F0 correlation and voicing decision error of the decoded audio.

One pinned tracker for every clip: Praat's autocorrelation pitch (``To Pitch (ac)``) through
praat-parselmouth 0.4.7, 10-ms frames, 50-1000 Hz (speech, and the fundamentals of most melodic
instruments up to B5; a higher note reads as unvoiced), Praat's other settings at their
defaults. Both signals are tracked at 16 kHz, frame for frame (the pipeline has aligned them).

- ``f0_rmse``: RMS of ``1200 * log2(f0_decoded / f0_reference)`` in cents, over frames voiced in
  both (100 cents = one semitone);
- ``f0_corr``: Pearson correlation of the two F0 tracks in Hz over the same frames;
- ``vde``: voicing decision error, the fraction of all frames voiced in one signal and not the
  other.

A reference with fewer than ``MIN_VOICED`` voiced frames (noise, percussion) has no pitch to
keep: not applicable. Tracks are memoised by content, so the three metrics track each signal once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ClassVar

import numpy as np

from evalkit.errors import EvalkitError, NotApplicable
from evalkit.metrics import _validate as V
from evalkit.metrics.base import Metric

TRACKER = {"tracker": "praat to_pitch_ac", "time_step_s": 0.01, "floor_hz": 50, "ceiling_hz": 1000}
MIN_VOICED = 10  # frames (0.1 s)
INSTALL = (
    "pip install praat-parselmouth==0.4.7 (or evalkit's speech extra: pip install -e '.[speech]')"
)
_tracks: OrderedDict[bytes, np.ndarray] = OrderedDict()
_TRACKS_MAX = 64


def track(audio: np.ndarray, rate: int) -> np.ndarray:
    """F0 in Hz per 10-ms frame of mono ``audio``, 0 where unvoiced (memoised)."""
    key = hashlib.blake2b(audio.tobytes() + str(rate).encode(), digest_size=16).digest()
    if key not in _tracks:
        try:
            import parselmouth
        except ImportError as exc:
            raise EvalkitError(f"pitch metrics need praat-parselmouth ({exc}): {INSTALL}") from None
        sound = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=rate)
        pitch = sound.to_pitch_ac(
            time_step=TRACKER["time_step_s"],
            pitch_floor=TRACKER["floor_hz"],
            pitch_ceiling=TRACKER["ceiling_hz"],
        )
        _tracks[key] = np.asarray(pitch.selected_array["frequency"], dtype=np.float64)
        if len(_tracks) > _TRACKS_MAX:
            _tracks.popitem(last=False)
    _tracks.move_to_end(key)
    return _tracks[key]


def compare(ref_f0: np.ndarray, deg_f0: np.ndarray) -> dict[str, float]:
    """All three values from two tracks (frames beyond the shorter track are not compared)."""
    n = min(ref_f0.size, deg_f0.size)
    ref_f0, deg_f0 = ref_f0[:n], deg_f0[:n]
    both = (ref_f0 > 0) & (deg_f0 > 0)
    if both.sum() < MIN_VOICED:
        raise ValueError(f"fewer than {MIN_VOICED} frames are voiced in both signals")
    cents = 1200 * np.log2(deg_f0[both] / ref_f0[both])
    r, d = ref_f0[both], deg_f0[both]
    corr = float(np.corrcoef(r, d)[0, 1]) if r.std() > 0 and d.std() > 0 else np.nan
    return {
        "f0_rmse": float(np.sqrt(np.mean(cents**2))),
        "f0_corr": corr,
        "vde": float(np.mean((ref_f0 > 0) != (deg_f0 > 0))),
    }


class _Pitch(Metric):
    sample_rate_hz: ClassVar[int | None] = 16000
    domains: ClassVar[tuple[str, ...]] = ("speech", "music")
    in_default_run: ClassVar[bool] = False  # an optional package

    def fingerprint(self) -> dict[str, Any]:
        return {**super().fingerprint(), **TRACKER, "package": _package()}

    def prepare(self, reference: np.ndarray, sample_rate_hz: int) -> np.ndarray:
        ref = V.mono(reference, "reference")
        V.audible(ref, self.name)
        f0 = track(ref, sample_rate_hz)
        if np.count_nonzero(f0) < MIN_VOICED:
            raise NotApplicable(f"{self.name}: the reference has no pitch (under 0.1 s voiced)")
        return f0

    def score(
        self, prepared: np.ndarray, degraded: np.ndarray, sample_rate_hz: int
    ) -> dict[str, float]:
        deg = track(V.mono(degraded, "degraded"), sample_rate_hz)
        try:
            value = compare(prepared, deg)[self.name]
        except ValueError as exc:
            raise ValueError(f"{self.name}: {exc}") from None
        if not np.isfinite(value):
            raise ValueError(f"{self.name}: a track is constant over the frames voiced in both")
        return {self.name: value}


def _package() -> str:
    try:
        return f"praat-parselmouth=={version('praat-parselmouth')}"
    except PackageNotFoundError as exc:
        raise EvalkitError(f"pitch metrics need praat-parselmouth ({exc}): {INSTALL}") from None


class F0RMSE(_Pitch):
    name: ClassVar[str] = "f0_rmse"
    description: ClassVar[str] = "F0 RMS error in cents over frames voiced in both (Praat)"
    unit: ClassVar[str] = "cents"
    higher_is_better: ClassVar[bool] = False


class F0Correlation(_Pitch):
    name: ClassVar[str] = "f0_corr"
    description: ClassVar[str] = "Pearson correlation of F0 over frames voiced in both (Praat)"


class VDE(_Pitch):
    name: ClassVar[str] = "vde"
    description: ClassVar[str] = "voicing decision error: fraction of frames voiced in one only"
    unit: ClassVar[str] = "fraction"
    higher_is_better: ClassVar[bool] = False
