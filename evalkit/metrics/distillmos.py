"""DistillMOS, a reference-free speech quality estimate (``distillmos``, weights in its wheel).

The packaged model (variant 7) is loaded once per worker, without network. Like DNSMOS, the
decoded clip and the reference (once per clip, in ``prepare``) are both scored. The model takes
16 kHz audio, zero-pads it to 7.68 s and normalises its peak; clips under 1 s, mostly padding then,
are not applicable.
"""

from __future__ import annotations

import contextlib
import io
from functools import cached_property
from importlib.metadata import version
from typing import Any, ClassVar

import numpy as np

from evalkit.metrics import _validate as V
from evalkit.metrics.base import Metric

MIN_SECONDS = 1.0


class DistillMOS(Metric):
    """DistillMOS of the degraded clip and of its reference."""

    in_default_run: ClassVar[bool] = False
    needs_alignment: ClassVar[bool] = False  # judges each signal on its own: as it is
    name: ClassVar[str] = "distillmos"
    description: ClassVar[str] = "DistillMOS (distillmos, packaged variant 7), no reference"
    unit: ClassVar[str] = "MOS"
    sample_rate_hz: ClassVar[int | None] = 16000
    domains: ClassVar[tuple[str, ...]] = ("speech",)
    outputs: ClassVar[tuple[str, ...]] = ("distillmos", "distillmos_ref")

    @cached_property
    def model(self) -> Any:
        import distillmos

        with contextlib.redirect_stdout(io.StringIO()):  # it prints where it loaded weights from
            model = distillmos.ConvTransformerSQAModel()
        return model.eval()

    def fingerprint(self) -> dict[str, Any]:
        return {
            **super().fingerprint(),
            "model": "distill_mos_v7.pt",
            "package": f"distillmos=={version('distillmos')}",
        }

    def predict(self, audio: np.ndarray) -> float:
        """The package's model on one mono 16 kHz signal."""
        import torch

        with torch.no_grad():
            return float(self.model(torch.from_numpy(np.ascontiguousarray(audio))[None]).item())

    def prepare(self, reference: np.ndarray, sample_rate_hz: int) -> float:
        ref = self._input(reference, "reference", sample_rate_hz)
        V.audible(ref, self.name)
        return self.predict(ref)

    def score(self, prepared: float, degraded: np.ndarray, sample_rate_hz: int) -> dict[str, float]:
        deg = self._input(degraded, "degraded", sample_rate_hz)
        if V.silent(deg):
            raise ValueError(f"{self.name}: the degraded signal is silent")
        return V.checked({"distillmos": self.predict(deg), "distillmos_ref": prepared}, self.name)

    def _input(self, audio: np.ndarray, what: str, sample_rate_hz: int) -> np.ndarray:
        if sample_rate_hz != self.sample_rate_hz:
            raise ValueError(f"{self.name} is defined at 16000 Hz, got {sample_rate_hz} Hz")
        signal = V.mono(audio, what).astype(np.float32)
        V.long_enough(signal.size, sample_rate_hz, MIN_SECONDS, self.name)
        return signal
