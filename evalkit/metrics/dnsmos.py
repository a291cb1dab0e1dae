"""DNSMOS (P.835 SIG/BAK/OVRL and P.808), a reference-free speech quality estimate.

The ONNX models ship inside the ``speechmos`` wheel and run with onnxruntime, so nothing is
downloaded. The degraded clip is scored, and the reference clip too (once per clip, in
``prepare``), so a table can show how far the codec moved each score. speechmos evaluates 9.01-s
windows at 16 kHz, repeating shorter clips until they fill one; it refuses samples outside
[-1, 1], so decoded overshoot is clipped to that range first, as playback would. Clips shorter
than 1 s are not applicable: tiled nine times over they would score the repetition, not the clip.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, ClassVar

import numpy as np

from evalkit.metrics import _validate as V
from evalkit.metrics.base import Metric

MIN_SECONDS = 1.0

#: speechmos key -> evalkit value name
SCORES = {
    "sig_mos": "dnsmos_sig",
    "bak_mos": "dnsmos_bak",
    "ovrl_mos": "dnsmos_ovrl",
    "p808_mos": "dnsmos_p808",
}


def dnsmos(audio: np.ndarray) -> dict[str, float]:
    """speechmos' DNSMOS of one mono 16 kHz signal, keyed by evalkit's value names."""
    from speechmos import dnsmos as package

    result = package.run(np.clip(audio, -1.0, 1.0), 16000)
    return {name: float(result[key]) for key, name in SCORES.items()}


class DNSMOS(Metric):
    """DNSMOS P.835 and P.808 of the degraded clip and of its reference."""

    in_default_run: ClassVar[bool] = False
    needs_alignment: ClassVar[bool] = False  # judges each signal on its own: as it is
    name: ClassVar[str] = "dnsmos"
    description: ClassVar[str] = "DNSMOS P.835 SIG/BAK/OVRL and P.808, no reference (speechmos)"
    unit: ClassVar[str] = "MOS"
    sample_rate_hz: ClassVar[int | None] = 16000
    domains: ClassVar[tuple[str, ...]] = ("speech",)
    outputs: ClassVar[tuple[str, ...]] = (*SCORES.values(), *(f"{n}_ref" for n in SCORES.values()))

    def fingerprint(self) -> dict[str, Any]:
        return {
            **super().fingerprint(),
            "model": "dnsmos_models/sig_bak_ovr.onnx + model_v8.onnx",
            "package": f"speechmos=={version('speechmos')}",
        }

    def prepare(self, reference: np.ndarray, sample_rate_hz: int) -> dict[str, float]:
        ref = V.mono(reference, "reference")
        V.audible(ref, self.name)
        self._check_rate(sample_rate_hz)
        V.long_enough(ref.size, sample_rate_hz, MIN_SECONDS, self.name)
        return {f"{k}_ref": v for k, v in dnsmos(ref).items()}

    def score(
        self, prepared: dict[str, float], degraded: np.ndarray, sample_rate_hz: int
    ) -> dict[str, float]:
        self._check_rate(sample_rate_hz)
        deg = V.mono(degraded, "degraded")
        V.long_enough(deg.size, sample_rate_hz, MIN_SECONDS, self.name)
        if V.silent(deg):
            raise ValueError(f"{self.name}: the degraded signal is silent")
        return V.checked({**dnsmos(deg), **prepared}, self.name)

    def _check_rate(self, sample_rate_hz: int) -> None:
        if sample_rate_hz != self.sample_rate_hz:
            raise ValueError(f"{self.name} is defined at 16000 Hz, got {sample_rate_hz} Hz")
