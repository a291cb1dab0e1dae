"""The metric interface.

A metric is a pure function of (reference, degraded) at its own evaluation rate, with metadata
that says where it means something. The pipeline hands it mono or multichannel float32 audio
already at that rate (:meth:`Metric.evaluation_rate`) and, where ``needs_alignment``, aligned;
the metric never resamples on its own.

Outcomes: a finite number (``ok``); :class:`~evalkit.errors.NotApplicable` (wrong domain, clip too
short, silent reference) recorded as ``not_applicable``; any other exception recorded as ``error``
with its message. No default value ever stands in for a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

DOMAINS = ("speech", "music", "environmental")


@dataclass(frozen=True)
class ClipText:
    """What the dataset says is spoken in a clip, for metrics with ``uses_text = True`` (ASR)."""

    language: str | None = None  # ISO 639-1
    transcript: str | None = None


class Metric:
    """Base class: subclass, set the class attributes, implement ``score``.

    ``prepare`` does reference-side work once per clip; its result is reused for every codec and
    bitrate of that clip (ViSQOL's reference spectrogram, for instance).
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    unit: ClassVar[str] = ""
    sample_rate_hz: ClassVar[int | None] = None  # None: evaluated at the reference clip's rate
    #: with ``sample_rate_hz`` None: a clip below (above) this rate is resampled up (down) to it
    min_sample_rate_hz: ClassVar[int | None] = None
    max_sample_rate_hz: ClassVar[int | None] = None
    domains: ClassVar[tuple[str, ...]] = DOMAINS
    higher_is_better: ClassVar[bool] = True
    mono: ClassVar[bool] = True  # True: the pipeline mixes both signals down to one channel
    outputs: ClassVar[tuple[str, ...]] = ()  # value names; () means just (name,)
    #: part of a run that names no --metrics; heavy optional models (DNSMOS, DistillMOS) opt out
    in_default_run: ClassVar[bool] = True
    #: True: ``prepare`` takes a third argument, the clip's :class:`ClipText`
    uses_text: ClassVar[bool] = False
    #: True: compares the signals sample by sample, so it gets the degraded signal shifted by the
    #: known lag and cut or padded to the reference's length; False: it aligns internally (PESQ,
    #: ViSQOL) and gets both as they are (evalkit.pipeline.align, docs/alignment.md)
    needs_alignment: ClassVar[bool] = True
    #: with ``needs_alignment`` False: a degraded signal shorter than the reference is padded with
    #: silence at its end (ViSQOL skips reference patches the degraded file does not reach, so a
    #: truncated decode would otherwise score nearly as a perfect copy)
    pads_short_degraded: ClassVar[bool] = False

    def output_names(self) -> tuple[str, ...]:
        return self.outputs or (self.name,)

    def applies_to(self, domain: str) -> bool:
        return domain in self.domains

    @classmethod
    def evaluation_rate(cls, clip_rate_hz: int) -> int:
        """The rate both signals are handed to the metric at, for a clip at ``clip_rate_hz``."""
        if cls.sample_rate_hz:
            return cls.sample_rate_hz
        rate = max(clip_rate_hz, cls.min_sample_rate_hz or 0)
        return min(rate, cls.max_sample_rate_hz or rate)

    @classmethod
    def rate_label(cls) -> str:
        """The evaluation rate in words (``16 kHz``, ``clip's rate``), for tables and listings."""
        if cls.sample_rate_hz:
            return f"{cls.sample_rate_hz / 1000:g} kHz"
        low, high = cls.min_sample_rate_hz, cls.max_sample_rate_hz
        if low and high:
            return f"clip's rate within {low / 1000:g}-{high / 1000:g} kHz"
        if low or high:
            return f"clip's rate, at {'least' if low else 'most'} {(low or high) / 1000:g} kHz"
        return "clip's rate"

    def fingerprint(self) -> dict[str, Any]:
        """How values were measured: recorded with results and part of cache keys."""
        found = {"metric": self.name, "version": self.version, "rate_hz": self.sample_rate_hz}
        bounds = {"min_rate_hz": self.min_sample_rate_hz, "max_rate_hz": self.max_sample_rate_hz}
        return found | {key: value for key, value in bounds.items() if value}

    def prepare(self, reference: np.ndarray, sample_rate_hz: int) -> Any:
        return reference

    def score(self, prepared: Any, degraded: np.ndarray, sample_rate_hz: int) -> dict[str, float]:
        raise NotImplementedError
