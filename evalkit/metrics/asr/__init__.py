"""Speech recognisers behind the ASR metrics, as pluggable backends.

A backend turns 16-kHz mono float audio into text in a language it knows. Each is built once per
process; hypotheses are memoised by the audio's content, so ``wer``, ``cer`` and ``dwer`` of the
same decoded clip run the recogniser once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any, Protocol

import numpy as np

RATE_HZ = 16000  # what every backend is fed
_MEMO_MAX = 64


class Recogniser(Protocol):
    name: str

    def languages(self) -> frozenset[str]:
        """ISO 639-1 codes this backend's model recognises."""
        ...

    def fingerprint(self) -> dict[str, Any]: ...

    def transcribe(self, audio: np.ndarray, language: str) -> str:
        """The words in ``audio`` (mono float32 at 16 kHz), as the model writes them."""
        ...


def _factories() -> dict[str, type]:
    from evalkit.metrics.asr.pocketsphinx import PocketSphinx
    from evalkit.metrics.asr.whisper import Whisper

    return {"pocketsphinx": PocketSphinx, "whisper": Whisper}


_backends: dict[str, Recogniser] = {}
_memo: OrderedDict[tuple, str] = OrderedDict()


def backend(name: str) -> Recogniser:
    """The named backend, built once per process (models load once)."""
    if name not in _backends:
        _backends[name] = _factories()[name]()
    return _backends[name]


def transcribe(name: str, audio: np.ndarray, language: str) -> str:
    """``backend(name).transcribe``, memoised on the audio's bytes and the language."""
    key = (name, language, hashlib.blake2b(audio.tobytes(), digest_size=16).digest())
    if key not in _memo:
        _memo[key] = backend(name).transcribe(audio, language)
        if len(_memo) > _MEMO_MAX:
            _memo.popitem(last=False)
    _memo.move_to_end(key)
    return _memo[key]
