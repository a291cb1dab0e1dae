"""ViSQOL v3 through ``visqol-python``: speech mode at the clip's rate (within 16-48 kHz), audio
mode at 48 kHz.

Speech mode uses the deep-lattice quality model, as the C++ v3.3 does by default; it needs
``ai-edge-litert``. Without it the package would quietly switch to a polynomial mapping that scores
1-2 MOS higher, so evalkit asks for the lattice model explicitly and fails loudly instead.

Speed without changing a value: ``prepare`` does the reference-only steps of the package's
``VisqolManager.run_from_signals`` once per clip (the reference's Hilbert envelope for global
alignment, its gammatone spectrogram, its patch indices and, in speech mode, the voice-activity
pass), and ``score`` runs the remaining steps with the package's own functions in the package's
order; fine realignment reuses the spectrograms of the reference's patch slices (see
``_SliceCache``). Tests check the result equals ``VisqolApi.measure_from_arrays`` to 1e-12 (the
package itself varies by ~1e-15 between runs); the benchmark finds a difference of 0.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import version
from typing import Any, ClassVar

import numpy as np

from evalkit.errors import NotApplicable
from evalkit.metrics import _validate as V
from evalkit.metrics.base import Metric


@dataclass(frozen=True)
class VisqolReference:
    """Reference-side results of ViSQOL, computed once per clip."""

    signal: Any  # visqol.audio_utils.AudioSignal
    envelope: np.ndarray
    spectrogram: Any  # visqol.gammatone.Spectrogram
    patch_indices: list[int]
    slices: OrderedDict = field(default_factory=OrderedDict)  # see _SliceCache


class _SliceCache:
    """A spectrogram builder that remembers what it built, keyed by the exact input samples.

    Fine realignment rebuilds the spectrogram of every reference patch slice on each call; for
    the same clip those slices repeat across codecs and bitrates, so their spectrograms are
    reused (the package's build is deterministic, so the values are the same). Degraded slices
    pass through the same LRU and age out; reference slices are hit on every call and stay.
    """

    MAX_ENTRIES = 256

    def __init__(self, builder: Any, entries: OrderedDict) -> None:
        self.builder, self.entries = builder, entries

    def build(self, signal: Any, window: Any) -> Any:
        digest = hashlib.blake2b(signal.data.tobytes(), digest_size=16).digest()
        key = (signal.sample_rate, window.size, digest)
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key]
        spectrogram = self.entries[key] = self.builder.build(signal, window)
        if len(self.entries) > self.MAX_ENTRIES:
            self.entries.popitem(last=False)
        return spectrogram


class _ViSQOL(Metric):
    mode: ClassVar[str] = ""
    unit: ClassVar[str] = "MOS-LQO"
    needs_alignment: ClassVar[bool] = False  # global and per-patch alignment of its own
    pads_short_degraded: ClassVar[bool] = True

    @cached_property
    def manager(self) -> Any:
        """The package's configured manager, created on first use in the worker process."""
        from visqol.visqol_manager import VisqolManager

        manager = VisqolManager()
        speech = self.mode == "speech"
        try:
            manager.init(
                use_speech_mode=speech,
                use_lattice_model=True if speech else None,
                model_path="" if speech else _svr_model_path(),
            )
        except ImportError as exc:
            raise RuntimeError(
                f"{self.name} needs ViSQOL's lattice model, which needs ai-edge-litert "
                "(pip install 'visqol-python[lattice]'); evalkit never falls back to the "
                "polynomial mapping"
            ) from exc
        return manager

    def quality_model(self) -> str:
        from visqol.visqol_manager import _DEFAULT_LATTICE_MODEL

        if self.mode == "speech":
            return f"lattice:{os.path.basename(_DEFAULT_LATTICE_MODEL)}"
        return f"libsvm:{os.path.basename(_svr_model_path())}"

    def fingerprint(self) -> dict[str, Any]:
        return {
            **super().fingerprint(),
            "mode": self.mode,
            "quality_model": self.quality_model(),
            "package": f"visqol-python=={version('visqol-python')}",
        }

    def prepare(self, reference: np.ndarray, sample_rate_hz: int) -> VisqolReference:
        from visqol.analysis_window import AnalysisWindow
        from visqol.audio_utils import AudioSignal
        from visqol.signal_utils import upper_envelope
        from visqol.visqol_manager import OVERLAP

        ref = V.mono(reference, "reference")
        V.audible(ref, self.name)
        manager = self.manager
        signal = AudioSignal(ref, sample_rate_hz)
        window = AnalysisWindow(sample_rate_hz, OVERLAP)
        self._require_patch(
            signal.num_samples, sample_rate_hz, window, manager.patch_creator.patch_size
        )
        spectrogram = manager.spect_builder.build(signal, window)
        # Patch indices depend on the reference only: its spectrogram's width (equal to the
        # prepared dB spectrogram's) and, in speech mode, the voice activity of its samples.
        indices = manager.patch_creator.create_ref_patch_indices(spectrogram.data, signal, window)
        if not indices:
            raise NotApplicable(f"{self.name}: no reference patch with voice activity")
        return VisqolReference(signal, upper_envelope(signal.data), spectrogram, indices)

    def _require_patch(self, samples: int, rate: int, window: Any, patch_size: int) -> None:
        """Not applicable when the clip is shorter than one ViSQOL patch (the package raises)."""
        hop = int(window.size * window.overlap)
        frames = 1 + (samples - window.size) // hop if samples > window.size else 0
        need = (
            patch_size + patch_size // 2
            if self.mode == "audio"
            else patch_size + (patch_size // 2 - 1)
        )
        if frames < need:
            minimum = (window.size + (need - 1) * hop) / rate
            raise NotApplicable(
                f"{self.name}: clip has {frames} ViSQOL frames, fewer than the "
                f"{need} of one patch (about {minimum:.2f} s)"
            )

    def score(
        self, prepared: VisqolReference, degraded: np.ndarray, sample_rate_hz: int
    ) -> dict[str, float]:
        from visqol.audio_utils import AudioSignal

        deg = V.mono(degraded, "degraded")
        if sample_rate_hz != prepared.signal.sample_rate:
            raise ValueError(
                f"{self.name}: degraded at {sample_rate_hz} Hz, reference at "
                f"{prepared.signal.sample_rate} Hz"
            )
        if V.silent(deg):
            raise ValueError(
                f"{self.name}: the degraded signal is silent (level matching is undefined)"
            )
        value = similarity(self.manager, prepared, AudioSignal(deg, sample_rate_hz)).moslqo
        return V.checked({self.outputs[0]: value}, self.name)


def _svr_model_path() -> str:
    from visqol.api import _DEFAULT_SVR_MODEL

    return _DEFAULT_SVR_MODEL


def similarity(manager: Any, ref: VisqolReference, deg_signal: Any) -> Any:
    """``VisqolManager.run_from_signals`` with the reference-side steps taken from ``ref``.

    Mirrors visqol-python 3.8's ``run_from_signals`` -> ``globally_align`` ->
    ``VisqolCore.calculate_similarity`` step by step, calling the package's functions.
    """
    from visqol.analysis_window import AnalysisWindow
    from visqol.audio_utils import AudioSignal, scale_to_match_sound_pressure_level
    from visqol.gammatone import prepare_spectrograms_for_comparison
    from visqol.patch_selector import (
        find_most_optimal_deg_patches,
        finely_align_and_recreate_patches,
    )
    from visqol.signal_utils import find_best_lag, upper_envelope
    from visqol.visqol_core import (
        SimilarityResult,
        alter_for_similarity_extremes,
        calc_frame_duration,
        calc_per_patch_freq_band_quantile,
        calc_per_patch_mean_freq_band_deg_energy,
        calc_per_patch_mean_freq_band_means,
        calc_per_patch_mean_freq_band_stddevs,
    )
    from visqol.visqol_manager import OVERLAP

    ref_signal = ref.signal
    if not manager.disable_global_alignment:  # alignment.globally_align, reference side cached
        lag = find_best_lag(ref.envelope, upper_envelope(deg_signal.data))
        if lag != 0 and abs(lag) <= len(ref_signal.data) / 2.0:
            data = (
                deg_signal.data[abs(lag) :]
                if lag < 0
                else np.concatenate([np.zeros(lag), deg_signal.data])
            )
            deg_signal = AudioSignal(data, deg_signal.sample_rate)
    window = AnalysisWindow(ref_signal.sample_rate, OVERLAP)
    deg_signal = scale_to_match_sound_pressure_level(ref_signal, deg_signal)
    deg_spectrogram = manager.spect_builder.build(deg_signal, window)
    ref_db, deg_db = prepare_spectrograms_for_comparison(ref.spectrogram, deg_spectrogram)
    frame_duration = calc_frame_duration(int(window.size * window.overlap), ref_signal.sample_rate)
    ref_patches = manager.patch_creator.create_patches_from_indices(ref_db, ref.patch_indices)
    matches = find_most_optimal_deg_patches(
        ref_patches, ref.patch_indices, deg_db, frame_duration, manager.search_window
    )
    if not manager.disable_realignment:
        matches = finely_align_and_recreate_patches(
            matches, ref_signal, deg_signal, _SliceCache(manager.spect_builder, ref.slices), window
        )
    fvnsim = calc_per_patch_mean_freq_band_means(matches)
    fvnsim10 = calc_per_patch_freq_band_quantile(matches, 0.10)
    fstdnsim = calc_per_patch_mean_freq_band_stddevs(matches, frame_duration)
    fvdegenergy = calc_per_patch_mean_freq_band_deg_energy(matches)
    moslqo = manager.quality_mapper.predict_quality(fvnsim, fvnsim10, fstdnsim, fvdegenergy)
    vnsim = float(np.mean(fvnsim))
    return SimilarityResult(
        moslqo=alter_for_similarity_extremes(vnsim, moslqo),
        vnsim=vnsim,
        fvnsim=fvnsim,
        fvnsim10=fvnsim10,
        fstdnsim=fstdnsim,
        fvdegenergy=fvdegenergy,
        center_freq_bands=ref.spectrogram.center_freq_bands,
        patch_sims=matches,
    )


class ViSQOLSpeech(_ViSQOL):
    """ViSQOL speech mode (lattice model) for speech clips, at the clip's own rate as the C++
    tool runs it; below 16 kHz at 16 kHz, above 48 kHz at 48 kHz (its wide-band model ignores
    what lies above 8 kHz, and its memory grows with the samples: a 30-s clip at 192 kHz peaks
    at 1.5 GB)."""

    name: ClassVar[str] = "visqol_speech"
    description: ClassVar[str] = "ViSQOL v3 speech mode, lattice model (visqol-python)"
    sample_rate_hz: ClassVar[int | None] = None
    min_sample_rate_hz: ClassVar[int | None] = 16000
    max_sample_rate_hz: ClassVar[int | None] = 48000
    domains: ClassVar[tuple[str, ...]] = ("speech",)
    outputs: ClassVar[tuple[str, ...]] = ("visqol_speech",)
    mode: ClassVar[str] = "speech"


class ViSQOLAudio(_ViSQOL):
    """ViSQOL audio mode (48 kHz, libsvm model) for music and environmental sound."""

    name: ClassVar[str] = "visqol_audio"
    description: ClassVar[str] = "ViSQOL v3 audio mode, libsvm nu-SVR model (visqol-python)"
    sample_rate_hz: ClassVar[int | None] = 48000
    domains: ClassVar[tuple[str, ...]] = ("music", "environmental")
    outputs: ClassVar[tuple[str, ...]] = ("visqol_audio",)
    mode: ClassVar[str] = "audio"
