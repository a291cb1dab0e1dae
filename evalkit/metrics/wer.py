"""Intelligibility: word and character error rate of a speech recogniser on the decoded audio.

``wer``/``cer`` compare the recogniser's hypothesis with the clip's transcript (datasets that
publish one: LibriSpeech, the default set's LibriVox readings) and also report the recogniser's
own error on the uncoded reference (``wer_ref``): a weak recogniser's absolute WER says little,
the codec's share of it is the difference. ``dwer`` needs no transcript: the WER of the
hypothesis on the decoded audio against the hypothesis on the reference, so it counts only the
words the codec changed. Texts pass through :mod:`evalkit.metrics.text_normalize` and are scored
with jiwer (WER: word-level Levenshtein distance / reference words; CER the same on characters).

Backends: ``pocketsphinx`` (offline, English; the names without a suffix) and ``whisper`` (a
local checkpoint, ``EVALKIT_WHISPER_MODEL``; the ``_whisper`` names). A clip whose language the
backend does not know, or that has none, is not applicable. Opt-in: pocketsphinx takes about
6-7 CPU seconds per 10 s of audio on one core (benchmarks/metrics.py measures it).
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, ClassVar

import numpy as np

from evalkit.errors import EvalkitError, NotApplicable
from evalkit.metrics import _validate as V
from evalkit.metrics import asr
from evalkit.metrics.base import ClipText, Metric
from evalkit.metrics.text_normalize import NORMALISER, normalize

JIWER_INSTALL = "pip install jiwer==4.0.0 (or evalkit's speech extra: pip install -e '.[speech]')"


def _jiwer():
    try:
        import jiwer
    except ImportError as exc:
        raise EvalkitError(f"WER and CER need jiwer ({exc}): {JIWER_INSTALL}") from None
    return jiwer


def error_rate(truth: str, hypothesis: str, unit: str) -> float:
    """jiwer's WER (``unit="word"``) or CER of two normalised texts; ``truth`` must have words."""
    jiwer = _jiwer()
    return float(jiwer.wer(truth, hypothesis) if unit == "word" else jiwer.cer(truth, hypothesis))


class _Recognised(Metric):
    """Shared by the ASR metrics: language check, recognition of both signals, fingerprint."""

    backend: ClassVar[str] = "pocketsphinx"
    unit: ClassVar[str] = "fraction"
    sample_rate_hz: ClassVar[int | None] = asr.RATE_HZ
    domains: ClassVar[tuple[str, ...]] = ("speech",)
    higher_is_better: ClassVar[bool] = False
    in_default_run: ClassVar[bool] = False
    uses_text: ClassVar[bool] = True
    needs_alignment: ClassVar[bool] = False  # whole-utterance: a delay changes nothing

    def fingerprint(self) -> dict[str, Any]:
        return {
            **super().fingerprint(),
            **asr.backend(self.backend).fingerprint(),
            "normaliser": NORMALISER,
            "jiwer": version("jiwer"),
        }

    def _hear(self, audio: np.ndarray, language: str) -> str:
        return normalize(asr.transcribe(self.backend, np.ascontiguousarray(audio), language))

    def _language(self, text: ClipText) -> str:
        if text.language is None:
            raise NotApplicable(f"{self.name}: the clip has no language (a manifest column)")
        known = asr.backend(self.backend).languages()
        if text.language not in known:
            listed = ", ".join(sorted(known)) if len(known) < 10 else f"{len(known)} languages"
            raise NotApplicable(
                f"{self.name}: {self.backend} does not recognise language {text.language!r} "
                f"(knows {listed})"
            )
        return text.language


class _AgainstTranscript(_Recognised):
    """``wer``/``cer``: hypothesis against the dataset's transcript, and the reference's."""

    level: ClassVar[str] = "word"

    def prepare(self, reference: np.ndarray, sample_rate_hz: int, text: ClipText) -> Any:
        language = self._language(text)
        truth = normalize(text.transcript or "")
        if not truth:
            raise NotApplicable(f"{self.name}: the clip has no transcript (dwer needs none)")
        ref = V.mono(reference, "reference")
        V.audible(ref, self.name)
        return language, truth, error_rate(truth, self._hear(ref, language), self.level)

    def score(self, prepared: Any, degraded: np.ndarray, sample_rate_hz: int) -> dict[str, float]:
        language, truth, on_reference = prepared
        hypothesis = self._hear(V.mono(degraded, "degraded"), language)
        values = {self.name: error_rate(truth, hypothesis, self.level)}
        return V.checked({**values, f"{self.name}_ref": on_reference}, self.name)


class _AgainstReference(_Recognised):
    """``dwer``: hypothesis on the decoded audio against the hypothesis on the reference."""

    def prepare(self, reference: np.ndarray, sample_rate_hz: int, text: ClipText) -> Any:
        language = self._language(text)
        ref = V.mono(reference, "reference")
        V.audible(ref, self.name)
        heard = self._hear(ref, language)
        if not heard:
            raise NotApplicable(f"{self.name}: {self.backend} hears no words in the reference")
        return language, heard

    def score(self, prepared: Any, degraded: np.ndarray, sample_rate_hz: int) -> dict[str, float]:
        language, heard = prepared
        hypothesis = self._hear(V.mono(degraded, "degraded"), language)
        return V.checked({self.name: error_rate(heard, hypothesis, "word")}, self.name)


class WER(_AgainstTranscript):
    name: ClassVar[str] = "wer"
    description: ClassVar[str] = "word error rate vs the transcript, pocketsphinx (English)"
    outputs: ClassVar[tuple[str, ...]] = ("wer", "wer_ref")


class CER(_AgainstTranscript):
    name: ClassVar[str] = "cer"
    description: ClassVar[str] = "character error rate vs the transcript, pocketsphinx (English)"
    outputs: ClassVar[tuple[str, ...]] = ("cer", "cer_ref")
    level: ClassVar[str] = "char"


class DWER(_AgainstReference):
    name: ClassVar[str] = "dwer"
    description: ClassVar[str] = "WER vs pocketsphinx's own transcript of the reference"


class WERWhisper(WER):
    backend: ClassVar[str] = "whisper"
    name: ClassVar[str] = "wer_whisper"
    description: ClassVar[str] = "word error rate vs the transcript, Whisper (local model)"
    outputs: ClassVar[tuple[str, ...]] = ("wer_whisper", "wer_whisper_ref")


class CERWhisper(CER):
    backend: ClassVar[str] = "whisper"
    name: ClassVar[str] = "cer_whisper"
    description: ClassVar[str] = "character error rate vs the transcript, Whisper (local model)"
    outputs: ClassVar[tuple[str, ...]] = ("cer_whisper", "cer_whisper_ref")


class DWERWhisper(DWER):
    backend: ClassVar[str] = "whisper"
    name: ClassVar[str] = "dwer_whisper"
    description: ClassVar[str] = "WER vs Whisper's own transcript of the reference (local model)"
