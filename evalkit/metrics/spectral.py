"""Mel distance, multi-scale STFT distance and SI-SDR with the definitions of DAC's evaluation.

descript-audio-codec scores with descript-audiotools' ``MelSpectrogramLoss``,
``MultiScaleSTFTLoss`` and ``SISDRLoss`` configured by its ``conf/base.yml``; these are the same
computations in plain torch (mel filters from torchaudio, identical to librosa's Slaney filters),
checked against audiotools in the tests. For each scale with window length ``w``: periodic Hann
window, hop ``w // 4``, ``torch.stft(center=True)`` with reflect padding, magnitude ``|X|``.

- ``mel_distance`` = Σ over 7 scales (w = 32 … 2048, n_mels = 5 … 320, 0 Hz to Nyquist) of
  mean |log10(max(M_ref, 1e-5)) − log10(max(M_deg, 1e-5))|: DAC's mel loss value (the sum, not the
  per-scale mean, which is 7× smaller).
- ``stft_distance`` = Σ over w ∈ {2048, 512} of mean |log10(max(|X_ref|, 1e-5)²) −
  log10(max(|X_deg|, 1e-5)²)| + mean ||X_ref| − |X_deg||.
- ``si_sdr`` = 10·log10(‖αr‖² / ‖αr − d‖² + 1e-8) in dB with zero-mean r, d and
  α = (⟨d, r⟩ + 1e-8) / (‖r‖² + 1e-8), channels concatenated (the negated ``SISDRLoss``).

Means run over channels, bins and frames; channels are kept (``mono = False``), as audiotools does.
The two spectral distances are evaluated at 44.1 kHz, the rate of DAC's ``mel-44k`` figures.
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any, ClassVar

import numpy as np

from evalkit.errors import NotApplicable
from evalkit.metrics import _validate as V
from evalkit.metrics.base import Metric

MEL_WINDOWS = (32, 64, 128, 256, 512, 1024, 2048)
MEL_BANDS = (5, 10, 20, 40, 80, 160, 320)
STFT_WINDOWS = (2048, 512)
CLAMP = 1e-5
EPS = 1e-8


@cache
def _window(length: int) -> Any:
    import torch

    return torch.hann_window(length, periodic=True, dtype=torch.float32)


@cache
def _mel_filters(sample_rate_hz: int, window: int, n_mels: int) -> Any:
    import torchaudio.functional as AF

    with warnings.catch_warnings():  # a 32-sample window leaves some of 5 mel bands empty
        warnings.simplefilter("ignore")
        return AF.melscale_fbanks(
            window // 2 + 1,
            0.0,
            sample_rate_hz / 2.0,
            n_mels,
            sample_rate_hz,
            norm="slaney",
            mel_scale="slaney",
        )


def _magnitudes(audio: np.ndarray, window: int) -> Any:
    """|STFT| shaped (channels, frames, bins), as audiotools' ``AudioSignal.stft`` computes it."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    spec = torch.stft(
        x,
        n_fft=window,
        hop_length=window // 4,
        window=_window(window),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    return spec.abs().transpose(1, 2)


class _Spectral(Metric):
    """Shared input handling: (channels, samples) float audio, equal shapes, long enough."""

    mono: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = False
    longest_window: ClassVar[int] = 0

    def _checked(self, audio: np.ndarray, what: str, sample_rate_hz: int) -> np.ndarray:
        audio = V.finite(audio, what)
        if audio.shape[1] <= self.longest_window // 2:
            raise NotApplicable(
                f"{self.name}: clip has {audio.shape[1]} samples; its "
                f"{self.longest_window}-sample window needs more than "
                f"{self.longest_window // 2}"
            )
        return audio

    def prepare(self, reference: np.ndarray, sample_rate_hz: int) -> tuple[np.ndarray, Any]:
        ref = self._checked(reference, "reference", sample_rate_hz)
        V.audible(ref, self.name)
        return ref, self._features(ref, sample_rate_hz)

    def score(
        self, prepared: tuple[np.ndarray, Any], degraded: np.ndarray, sample_rate_hz: int
    ) -> dict[str, float]:
        ref, ref_features = prepared
        deg = self._checked(degraded, "degraded", sample_rate_hz)
        V.same_shape(ref, deg, self.name)
        value = self._distance(ref_features, self._features(deg, sample_rate_hz))
        return V.checked({self.name: value}, self.name)

    def _features(self, audio: np.ndarray, sample_rate_hz: int) -> Any:
        raise NotImplementedError

    def _distance(self, ref: Any, deg: Any) -> float:
        raise NotImplementedError


class MelDistance(_Spectral):
    """DAC's multi-scale mel distance: the sum of 7 log-mel L1 distances (see module docstring)."""

    name: ClassVar[str] = "mel_distance"
    description: ClassVar[str] = "DAC mel loss: sum over 7 scales of mean |log10 mel| difference"
    sample_rate_hz: ClassVar[int | None] = 44100
    longest_window: ClassVar[int] = max(MEL_WINDOWS)

    def fingerprint(self) -> dict[str, Any]:
        return {
            **super().fingerprint(),
            "windows": MEL_WINDOWS,
            "n_mels": MEL_BANDS,
            "clamp": CLAMP,
            "reduction": "sum over scales of mean L1 of log10 mel",
        }

    def _features(self, audio: np.ndarray, sample_rate_hz: int) -> list[Any]:
        return [
            (_magnitudes(audio, w) @ _mel_filters(sample_rate_hz, w, m)).clamp(CLAMP).log10()
            for w, m in zip(MEL_WINDOWS, MEL_BANDS, strict=True)
        ]

    def _distance(self, ref: list[Any], deg: list[Any]) -> float:
        return float(sum((r - d).abs().mean() for r, d in zip(ref, deg, strict=True)))


class STFTDistance(_Spectral):
    """DAC's multi-scale STFT distance (windows 2048 and 512; log-power plus magnitude L1)."""

    name: ClassVar[str] = "stft_distance"
    description: ClassVar[str] = "DAC multi-scale STFT loss: windows 2048, 512; log + magnitude L1"
    sample_rate_hz: ClassVar[int | None] = 44100
    longest_window: ClassVar[int] = max(STFT_WINDOWS)

    def fingerprint(self) -> dict[str, Any]:
        return {
            **super().fingerprint(),
            "windows": STFT_WINDOWS,
            "clamp": CLAMP,
            "pow": 2.0,
            "mag_weight": 1.0,
            "log_weight": 1.0,
        }

    def _features(self, audio: np.ndarray, sample_rate_hz: int) -> list[tuple[Any, Any]]:
        mags = [_magnitudes(audio, w) for w in STFT_WINDOWS]
        return [(m, m.clamp(CLAMP).pow(2.0).log10()) for m in mags]

    def _distance(self, ref: list[Any], deg: list[Any]) -> float:
        return float(
            sum(
                (rl - dl).abs().mean() + (rm - dm).abs().mean()
                for (rm, rl), (dm, dl) in zip(ref, deg, strict=True)
            )
        )


class SISDR(_Spectral):
    """Scale-invariant SDR in dB as DAC reports it (the negated audiotools ``SISDRLoss``)."""

    name: ClassVar[str] = "si_sdr"
    description: ClassVar[str] = "SI-SDR in dB, zero-mean, channels concatenated (audiotools)"
    unit: ClassVar[str] = "dB"
    higher_is_better: ClassVar[bool] = True
    longest_window: ClassVar[int] = 0

    def prepare(self, reference: np.ndarray, sample_rate_hz: int) -> tuple[np.ndarray, Any]:
        ref, centred = super().prepare(reference, sample_rate_hz)
        if not np.any(centred):
            raise NotApplicable(
                f"{self.name}: the reference is constant (nothing after removing its mean)"
            )
        return ref, centred

    def _features(self, audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
        flat = audio.astype(np.float64).ravel()
        return flat - flat.mean()

    def _distance(self, ref: np.ndarray, deg: np.ndarray) -> float:
        scale = (np.dot(deg, ref) + EPS) / (np.dot(ref, ref) + EPS)
        target = scale * ref
        noise = np.sum((deg - target) ** 2)
        if noise == 0.0:
            raise NotApplicable(f"{self.name}: degraded equals the reference, SI-SDR is unbounded")
        return 10.0 * np.log10(np.sum(target**2) / noise + EPS)
