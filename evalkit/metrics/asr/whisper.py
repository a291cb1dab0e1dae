"""OpenAI Whisper from a local checkpoint file (``openai-whisper``).

Whisper downloads its weights on first use; evalkit never does. Put a checkpoint (``small.pt``,
``large-v3.pt``, ... as ``whisper.load_model`` caches them under ``~/.cache/whisper``) anywhere
and name it in ``EVALKIT_WHISPER_MODEL``; its sha256 goes into the fingerprint. Decoding is
greedy at temperature 0 with the clip's language forced, so it is deterministic.
"""

from __future__ import annotations

from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.metrics._optional import local_model_path

MODEL_ENV = "EVALKIT_WHISPER_MODEL"


def _package():
    try:
        import whisper
    except ImportError as exc:
        raise EvalkitError(
            f"the whisper recogniser needs openai-whisper ({exc}): pip install openai-whisper"
        ) from None
    return whisper


def model_file() -> Path:
    """The checkpoint named by ``EVALKIT_WHISPER_MODEL``, which must exist."""
    return local_model_path(
        MODEL_ENV, "the whisper recogniser", "a local openai-whisper checkpoint (small.pt, ...)"
    )


class Whisper:
    name = "whisper"

    def __init__(self) -> None:
        self._whisper = _package()
        self._path = model_file()
        try:
            self._model = self._whisper.load_model(str(self._path), device="cpu")
        except Exception as exc:
            raise EvalkitError(f"{self._path} is not a usable Whisper checkpoint: {exc}") from None

    def languages(self) -> frozenset[str]:
        return frozenset(self._whisper.tokenizer.LANGUAGES)

    @cached_property
    def _sha256(self) -> str:
        from evalkit.hashing import sha256_file

        return sha256_file(self._path)

    def fingerprint(self) -> dict[str, Any]:
        return {
            "asr": self.name,
            "package": f"openai-whisper=={version('openai-whisper')}",
            "model_sha256": self._sha256,
        }

    def transcribe(self, audio: np.ndarray, language: str) -> str:
        result = self._model.transcribe(
            np.ascontiguousarray(audio, dtype=np.float32),
            language=language,
            temperature=0.0,
            condition_on_previous_text=False,
            fp16=False,
        )
        return str(result["text"])
