"""STOI and ESTOI through pystoi, at the clip's own rate.

pystoi resamples to 10 kHz internally; handing it the clip at its own rate (``sample_rate_hz =
None``) keeps evalkit's value equal to pystoi's on the same signals, at every input rate. After
pystoi drops silent frames it needs 30 frames (about 0.4 s of sound at 10 kHz); with fewer it warns
and returns 1e-5, which evalkit records as not applicable instead of a score. A clip shorter than
0.4 s cannot have them (and under one frame pystoi crashes), so it is not applicable up front.
"""

from __future__ import annotations

import warnings
from importlib.metadata import version
from typing import Any, ClassVar

import numpy as np

from evalkit.errors import NotApplicable
from evalkit.metrics import _validate as V
from evalkit.metrics.base import Metric

MIN_SECONDS = 0.4  # 30 frames of 256 samples at pystoi's 10 kHz, hop 128


class STOI(Metric):
    """Short-time objective intelligibility (Taal et al. 2011), pystoi's implementation."""

    name: ClassVar[str] = "stoi"
    description: ClassVar[str] = "STOI intelligibility (pystoi)"
    unit: ClassVar[str] = "0-1"
    domains: ClassVar[tuple[str, ...]] = ("speech",)
    extended: ClassVar[bool] = False

    def fingerprint(self) -> dict[str, Any]:
        return {
            **super().fingerprint(),
            "extended": self.extended,
            "package": f"pystoi=={version('pystoi')}",
        }

    def prepare(self, reference: np.ndarray, sample_rate_hz: int) -> np.ndarray:
        ref = V.mono(reference, "reference")
        V.audible(ref, self.name)
        V.long_enough(ref.size, sample_rate_hz, MIN_SECONDS, self.name)
        return ref

    def score(
        self, prepared: np.ndarray, degraded: np.ndarray, sample_rate_hz: int
    ) -> dict[str, float]:
        from pystoi import stoi

        deg = V.mono(degraded, "degraded")
        if deg.size != prepared.size:
            raise ValueError(
                f"{self.name}: reference and degraded differ in length "
                f"({prepared.size} vs {deg.size} samples)"
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = stoi(prepared, deg, sample_rate_hz, extended=self.extended)
        if any("Not enough STFT frames" in str(w.message) for w in caught):
            raise NotApplicable(
                f"{self.name}: fewer than 30 non-silent frames (about 0.4 s of "
                "sound) in the reference"
            )
        return V.checked({self.name: value}, self.name)


class ESTOI(STOI):
    """Extended STOI (Jensen & Taal 2016), pystoi's implementation."""

    name: ClassVar[str] = "estoi"
    description: ClassVar[str] = "ESTOI intelligibility (pystoi, extended=True)"
    extended: ClassVar[bool] = True
