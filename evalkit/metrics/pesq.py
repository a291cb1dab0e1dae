"""PESQ (ITU-T P.862) through the ``pesq`` package: wide-band at 16 kHz, narrow-band at 8 kHz.

Values are MOS-LQO as the package returns them: P.862.2 for wide-band, P.862.1 for narrow-band
(raw P.862 = (4.6607 - ln(4 / (MOS - 0.999) - 1)) / 1.4945, see :func:`p862_raw`). The package
scales both signals by their common peak, so float input in [-1, 1] and int16 input give the same
score. PESQ needs at least 0.25 s of each signal (the package's ``BufferTooShortError``) and a
reference with detectable speech (``NoUtterancesError``): otherwise the value is not applicable.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, ClassVar

import numpy as np

from evalkit.errors import NotApplicable
from evalkit.metrics import _validate as V
from evalkit.metrics.base import Metric

#: shortest signal the pesq package accepts (its BufferTooShortError), found at 8 and 16 kHz
MIN_SECONDS = 0.25


def p862_raw(mos_lqo: float) -> float:
    """Invert the P.862.1 mapping (narrow-band) back to the raw P.862 score."""
    return (4.6607 - np.log(4.0 / (mos_lqo - 0.999) - 1.0)) / 1.4945


class PESQ(Metric):
    """Wide-band PESQ (P.862.2 MOS-LQO) at 16 kHz."""

    name: ClassVar[str] = "pesq"
    description: ClassVar[str] = "PESQ wide-band, P.862.2 MOS-LQO (pesq package)"
    unit: ClassVar[str] = "MOS-LQO"
    sample_rate_hz: ClassVar[int | None] = 16000
    domains: ClassVar[tuple[str, ...]] = ("speech",)
    outputs: ClassVar[tuple[str, ...]] = ("pesq_wb",)
    mode: ClassVar[str] = "wb"
    needs_alignment: ClassVar[bool] = False  # P.862 aligns utterance by utterance

    def fingerprint(self) -> dict[str, Any]:
        return {**super().fingerprint(), "mode": self.mode, "package": f"pesq=={version('pesq')}"}

    def prepare(self, reference: np.ndarray, sample_rate_hz: int) -> np.ndarray:
        ref = V.mono(reference, "reference")
        V.audible(ref, self.name)
        V.long_enough(ref.size, sample_rate_hz, MIN_SECONDS, self.name)
        return ref

    def score(
        self, prepared: np.ndarray, degraded: np.ndarray, sample_rate_hz: int
    ) -> dict[str, float]:
        from pesq import BufferTooShortError, NoUtterancesError, pesq

        if sample_rate_hz != self.sample_rate_hz:
            raise ValueError(
                f"{self.name} is defined at {self.sample_rate_hz} Hz, got {sample_rate_hz} Hz"
            )
        deg = V.mono(degraded, "degraded")
        V.long_enough(deg.size, sample_rate_hz, MIN_SECONDS, self.name)
        try:
            value = pesq(sample_rate_hz, prepared, deg, self.mode)
        except BufferTooShortError as exc:
            raise NotApplicable(f"{self.name}: clip too short for PESQ ({exc})") from exc
        except NoUtterancesError as exc:
            raise NotApplicable(f"{self.name}: PESQ found no speech in the reference") from exc
        return V.checked({self.outputs[0]: value}, self.name)


class PESQNarrowBand(PESQ):
    """Narrow-band PESQ (P.862.1 MOS-LQO) at 8 kHz: the mode of the ITU-T conformance vectors."""

    name: ClassVar[str] = "pesq_nb"
    description: ClassVar[str] = "PESQ narrow-band, P.862.1 MOS-LQO (pesq package)"
    sample_rate_hz: ClassVar[int | None] = 8000
    outputs: ClassVar[tuple[str, ...]] = ("pesq_nb",)
    mode: ClassVar[str] = "nb"
