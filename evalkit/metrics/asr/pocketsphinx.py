"""CMU PocketSphinx 5: the offline default recogniser.

Its US-English acoustic model, language model and dictionary ship inside the PyPI wheel, so it
runs with no network and no files to place. A weak recogniser (WER 12-38 % on clean LibriVox
readings) but a deterministic one: what a codec comparison needs is its WER on the decoded
audio next to its WER on the reference. Each clip is decoded as one utterance (``full_utt``)
from freshly initialised features: one clip's hypothesis never depends on the clips decoded
before it (pocketsphinx would otherwise carry its feature state over, measured to change words),
so it equals a fresh ``Decoder``'s.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.metrics.asr import RATE_HZ

INSTALL = "pip install pocketsphinx==5.1.1 (or evalkit's speech extra: pip install -e '.[speech]')"


class PocketSphinx:
    name = "pocketsphinx"

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise EvalkitError(
                f"the pocketsphinx recogniser is not installed ({exc}): {INSTALL}"
            ) from None
        self._decoder = Decoder(samprate=RATE_HZ, loglevel="FATAL")

    def languages(self) -> frozenset[str]:
        return frozenset({"en"})  # the wheel's en-us model

    def fingerprint(self) -> dict[str, Any]:
        package = f"pocketsphinx=={version('pocketsphinx')}"
        return {"asr": self.name, "package": package, "model": "en-us (wheel)"}

    def transcribe(self, audio: np.ndarray, language: str) -> str:
        # x 32768: a clip read from 16-bit PCM goes back to exactly its own samples
        pcm = np.clip(np.round(audio * 32768.0), -32768, 32767).astype("<i2")
        d = self._decoder
        d.reinit_feat()  # else the feature state of earlier clips carries over and moves words
        d.start_utt()
        d.process_raw(pcm.tobytes(), full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        return hyp.hypstr if hyp is not None else ""
