"""UTMOS (UTMOS22 strong learner), a learned reference-free MOS predictor, from local files.

The model code is tarepan/SpeechMOS (a torch.hub repository) and its weights a release file;
torch.hub would fetch both from the network, evalkit never does. Give it a local checkout of the
repository (``EVALKIT_UTMOS_REPO``, v1.2.0) and the weights file (``EVALKIT_UTMOS_MODEL``,
``utmos22_strong_step7459_v1.pt``): the repository's ``utmos22_strong`` entry builds the network
without weights and the file's state dict is loaded into it; its sha256 is in the fingerprint.
The decoded clip and its reference are both scored (``utmos_ref``), like DNSMOS.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.metrics import _validate as V
from evalkit.metrics._optional import local_model_path
from evalkit.metrics.base import Metric

REPO_ENV, MODEL_ENV = "EVALKIT_UTMOS_REPO", "EVALKIT_UTMOS_MODEL"
ENTRY = "utmos22_strong"


class UTMOS(Metric):
    name: ClassVar[str] = "utmos"
    description: ClassVar[str] = "UTMOS22 strong learner MOS, no reference (local weights)"
    unit: ClassVar[str] = "MOS"
    sample_rate_hz: ClassVar[int | None] = 16000
    domains: ClassVar[tuple[str, ...]] = ("speech",)
    outputs: ClassVar[tuple[str, ...]] = ("utmos", "utmos_ref")
    in_default_run: ClassVar[bool] = False
    needs_alignment: ClassVar[bool] = False  # whole-utterance: a delay changes nothing

    @cached_property
    def _files(self) -> tuple[Path, Path]:
        repo = local_model_path(
            REPO_ENV, self.name, "a local checkout of tarepan/SpeechMOS (v1.2.0)", folder=True
        )
        weights = local_model_path(
            MODEL_ENV, self.name, "the weights file utmos22_strong_step7459_v1.pt"
        )
        return repo, weights

    @cached_property
    def _model(self) -> Any:
        import torch

        repo, weights = self._files
        try:
            model = torch.hub.load(str(repo), ENTRY, source="local", pretrained=False)
            model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        except Exception as exc:
            raise EvalkitError(
                f"utmos: cannot build {ENTRY} from {repo} and {weights}: {exc}"
            ) from None
        return model.eval()

    def fingerprint(self) -> dict[str, Any]:
        from evalkit.hashing import sha256_file

        self._model  # noqa: B018 - missing files are reported by name, here
        return {**super().fingerprint(), "model_sha256": sha256_file(self._files[1])}

    def _mos(self, audio: np.ndarray) -> float:
        import torch

        with torch.no_grad():
            wave = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None]
            return float(self._model(wave, self.sample_rate_hz).reshape(-1)[0])

    def prepare(self, reference: np.ndarray, sample_rate_hz: int) -> float:
        ref = V.mono(reference, "reference")
        V.audible(ref, self.name)
        return self._mos(ref)

    def score(self, prepared: float, degraded: np.ndarray, sample_rate_hz: int) -> dict[str, float]:
        deg = V.mono(degraded, "degraded")
        return V.checked({"utmos": self._mos(deg), "utmos_ref": prepared}, self.name)
