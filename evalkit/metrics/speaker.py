"""Speaker identity: cosine similarity of speaker embeddings of the reference and decoded speech.

A codec can keep the words and PESQ and still change who seems to speak (timbre, formants), which
is what voice cloning and TTS built on codec tokens care about. ``speaker_similarity`` uses
Resemblyzer's GE2E encoder, whose weights ship in its wheel (offline; same speaker 0.83-0.93,
different speakers 0.54-0.68 on the default set's clips); it first applies Resemblyzer's own
``preprocess_wav`` (level normalisation and webrtcvad silence trimming), as its authors score.
``speaker_similarity_ecapa`` uses SpeechBrain's ECAPA-TDNN from a local copy of the
``speechbrain/spkrec-ecapa-voxceleb`` folder named by ``EVALKIT_ECAPA_MODEL``.
"""

from __future__ import annotations

from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from evalkit.errors import EvalkitError, NotApplicable
from evalkit.metrics import _validate as V
from evalkit.metrics._optional import local_model_path, quiet_pkg_resources
from evalkit.metrics.base import Metric

RESEMBLYZER_INSTALL = (
    "pip install Resemblyzer==0.1.4 'setuptools<81' (or evalkit's speech extra: "
    "pip install -e '.[speech]')"
)
ECAPA_ENV = "EVALKIT_ECAPA_MODEL"
ECAPA_FILES = ("hyperparams.yaml", "embedding_model.ckpt")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


class _Similarity(Metric):
    unit: ClassVar[str] = "cosine"
    sample_rate_hz: ClassVar[int | None] = 16000
    domains: ClassVar[tuple[str, ...]] = ("speech",)
    in_default_run: ClassVar[bool] = False
    needs_alignment: ClassVar[bool] = False  # whole-utterance: a delay changes nothing

    def embed(self, audio: np.ndarray) -> np.ndarray | None:
        """The speaker embedding of mono 16-kHz speech, or None when it holds no speech."""
        raise NotImplementedError

    def prepare(self, reference: np.ndarray, sample_rate_hz: int) -> np.ndarray:
        ref = V.mono(reference, "reference")
        V.audible(ref, self.name)
        embedding = self.embed(ref)
        if embedding is None:
            raise NotApplicable(f"{self.name}: no speech left in the reference after trimming")
        return embedding

    def score(
        self, prepared: np.ndarray, degraded: np.ndarray, sample_rate_hz: int
    ) -> dict[str, float]:
        embedding = self.embed(V.mono(degraded, "degraded"))
        if embedding is None:
            raise ValueError(f"{self.name}: the decoded audio holds no speech to embed")
        return V.checked({self.name: cosine(prepared, embedding)}, self.name)


class SpeakerSimilarity(_Similarity):
    """Resemblyzer (GE2E, weights in the wheel)."""

    name: ClassVar[str] = "speaker_similarity"
    description: ClassVar[str] = "speaker-embedding cosine, Resemblyzer GE2E (offline)"

    @cached_property
    def _encoder(self) -> Any:
        try:
            with quiet_pkg_resources():
                from resemblyzer import VoiceEncoder
        except ImportError as exc:
            raise EvalkitError(
                f"speaker_similarity needs Resemblyzer ({exc}): {RESEMBLYZER_INSTALL}"
            ) from None
        return VoiceEncoder(device="cpu", verbose=False)

    def fingerprint(self) -> dict[str, Any]:
        self._encoder  # noqa: B018 - a missing package is reported by name, here
        return {
            **super().fingerprint(),
            "package": f"Resemblyzer=={version('Resemblyzer')}",
            "model": "pretrained.pt (wheel)",
        }

    def embed(self, audio: np.ndarray) -> np.ndarray | None:
        encoder = self._encoder
        from resemblyzer import preprocess_wav

        wav = preprocess_wav(audio.astype(np.float32), source_sr=self.sample_rate_hz)
        return encoder.embed_utterance(wav) if wav.size else None


def ecapa_folder() -> Path:
    """The local model folder named by ``EVALKIT_ECAPA_MODEL``, holding ``ECAPA_FILES``."""
    where = "a local copy of speechbrain/spkrec-ecapa-voxceleb"
    folder = local_model_path(ECAPA_ENV, "speaker_similarity_ecapa", where, folder=True)
    missing = [f for f in ECAPA_FILES if not (folder / f).is_file()]
    if missing:
        raise EvalkitError(f"{ECAPA_ENV}={folder} lacks {', '.join(missing)}: it must be {where}")
    return folder


class SpeakerSimilarityECAPA(_Similarity):
    """SpeechBrain ECAPA-TDNN (VoxCeleb) from a local folder."""

    name: ClassVar[str] = "speaker_similarity_ecapa"
    description: ClassVar[str] = "speaker-embedding cosine, SpeechBrain ECAPA (local model)"

    @cached_property
    def _folder(self) -> Path:
        return ecapa_folder()

    @cached_property
    def _encoder(self) -> Any:
        folder = self._folder
        try:
            from speechbrain.inference.speaker import EncoderClassifier
        except ImportError as exc:
            raise EvalkitError(
                f"speaker_similarity_ecapa needs SpeechBrain ({exc}): pip install speechbrain"
            ) from None
        return EncoderClassifier.from_hparams(
            source=str(folder), savedir=str(folder), run_opts={"device": "cpu"}
        )

    def fingerprint(self) -> dict[str, Any]:
        from evalkit.hashing import sha256_file

        self._encoder  # noqa: B018 - a missing package or folder is reported by name, here
        return {
            **super().fingerprint(),
            "package": f"speechbrain=={version('speechbrain')}",
            "model_sha256": sha256_file(self._folder / "embedding_model.ckpt"),
        }

    def embed(self, audio: np.ndarray) -> np.ndarray | None:
        import torch

        with torch.no_grad():
            out = self._encoder.encode_batch(torch.from_numpy(audio.astype(np.float32))[None])
        return out.reshape(-1).cpu().numpy()
