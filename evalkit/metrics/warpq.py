"""WARP-Q, a full-reference quality score designed for generative and low-bitrate speech codecs.

It compares MFCC patches of the decoded speech with their best subsequence-DTW match in the
reference, so it tolerates the small timing and phase changes of neural codecs that penalise
waveform metrics. Pure DSP (``warpq`` 1.5.2, no weights), at 16 kHz with the package's defaults
(webrtcvad voice activity detection on both signals, median patch cost) on one core. The value
is the package's raw score: lower is better, 0 for identical signals; the package's
``normalized_warpq_score`` is just ``1 - raw / 3.5`` clamped to [0, 1].
"""

from __future__ import annotations

import warnings
from importlib.metadata import version
from typing import Any, ClassVar

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.metrics import _validate as V
from evalkit.metrics._optional import quiet_pkg_resources
from evalkit.metrics.base import Metric

INSTALL = "pip install warpq==1.5.2 'setuptools<81' (or evalkit's speech extra)"
PATCH_S = 0.4  # WARP-Q's patch: shorter speech (after its VAD) has no score


def numpy_1_names() -> None:
    """warpq 1.5.2 and its pyvad 0.1.3 call ``np.lib.pad``, an alias numpy 2 dropped: restore it
    (it is ``np.pad``) rather than pin numpy below 2 for everyone."""
    if not hasattr(np.lib, "pad"):
        np.lib.pad = np.pad


class WARPQ(Metric):
    name: ClassVar[str] = "warpq"
    description: ClassVar[str] = "WARP-Q raw score (MFCC + subsequence DTW), for speech codecs"
    unit: ClassVar[str] = "cost"
    sample_rate_hz: ClassVar[int | None] = 16000
    domains: ClassVar[tuple[str, ...]] = ("speech",)
    higher_is_better: ClassVar[bool] = False
    in_default_run: ClassVar[bool] = False
    needs_alignment: ClassVar[bool] = False  # whole-utterance: a delay changes nothing
    _model: Any = None

    def _warpq(self) -> Any:
        if self._model is None:
            numpy_1_names()
            try:
                with quiet_pkg_resources():
                    from warpq.core import warpqMetric
            except ImportError as exc:
                raise EvalkitError(f"warpq needs the warpq package ({exc}): {INSTALL}") from None
            self._model = warpqMetric(sr=self.sample_rate_hz, n_jobs=1)
        return self._model

    def fingerprint(self) -> dict[str, Any]:
        self._warpq()
        return {**super().fingerprint(), "package": f"warpq=={version('warpq')}"}

    def prepare(self, reference: np.ndarray, sample_rate_hz: int) -> np.ndarray:
        ref = V.mono(reference, "reference")
        V.audible(ref, self.name)
        V.long_enough(ref.size, sample_rate_hz, PATCH_S, self.name)
        return ref

    def score(
        self, prepared: np.ndarray, degraded: np.ndarray, sample_rate_hz: int
    ) -> dict[str, float]:
        deg = V.mono(degraded, "degraded")
        # Its VAD (pyvad) refuses float samples beyond +-1, which decoders overshoot to; clipped,
        # as the 16-bit files WARP-Q is run on would hold them.
        ref, deg = (np.clip(x, -1.0, 1.0).astype(np.float64) for x in (prepared, deg))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # too short after VAD: a warning and NaN, told below
            result = self._warpq().evaluate(ref, deg, arr_sr=sample_rate_hz)
        raw = float(result["raw_warpq_score"])
        if not np.isfinite(raw):
            raise ValueError(f"{self.name}: under {PATCH_S:g} s of voice activity in a signal")
        return {self.name: raw}
