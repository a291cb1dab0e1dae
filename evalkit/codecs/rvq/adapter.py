"""The ``rvq`` codec adapter: evalkit's own RVQ codec, served at 1.5 / 3 / 6 / 12 kbps.

One model serves every bitrate: the clip is encoded once with all 16 stages and each bitrate
decodes the first k codebooks (k = 2, 4, 8, 16). Every code costs 10 bits and there is no side
information, so payload_bits = k x 10 x frames exactly. The clip is zero-padded to a whole number of
320-sample frames and the final, partial frame is sent (and counted) whole: measured bitrate equals
nominal x ceil(samples / 320) / (samples / 320), at most one frame's bits above nominal.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from evalkit.assets import rvq_checkpoint
from evalkit.codecs import _loading
from evalkit.codecs.base import Encoded, EncodeOnceCodec
from evalkit.hashing import sha256_file

BITS_PER_CODE = 10
CODEBOOKS_FOR_KBPS = {1.5: 2, 3.0: 4, 6.0: 8, 12.0: 16}


class RVQCodec(EncodeOnceCodec):
    """evalkit's residual-vector-quantized neural codec (24 kHz mono, 75 frames/s, 1024 x 16)."""

    name = "rvq"
    version = "1"
    description = "evalkit's own RVQ neural codec (16 x 1024 RVQ, STFT-frame convnets, 24 kHz mono)"
    sample_rate_hz: ClassVar[int] = 24_000
    channels: ClassVar[int] = 1

    def __init__(self, checkpoint: str | None = None, device: str = "cpu") -> None:
        from evalkit.codecs.rvq.train import load_model

        self.device = device
        if checkpoint is None:
            self.checkpoint = rvq_checkpoint()
        else:
            self.checkpoint = _loading.local_checkpoint(self.name, checkpoint)
        try:
            self.model, self.meta = load_model(self.checkpoint, device)
        except Exception as e:  # torch raises many types for a foreign or corrupt file
            raise _loading.unusable_checkpoint(self.name, self.checkpoint, e) from e
        cfg = self.model.cfg
        shape = (cfg.sample_rate_hz, cfg.frame_rate_hz, cfg.codebook_size, cfg.num_quantizers)
        if shape != (self.sample_rate_hz, 75.0, 2**BITS_PER_CODE, max(CODEBOOKS_FOR_KBPS.values())):
            raise _loading.unusable_checkpoint(
                self.name, self.checkpoint, ValueError("not a 24 kHz, 75 Hz, 16 x 1024 model")
            )
        self.checkpoint_sha256 = sha256_file(self.checkpoint)

    def identity(self) -> dict[str, Any]:
        return {
            **super().identity(),
            "checkpoint": self.checkpoint.name,
            "checkpoint_sha256": self.checkpoint_sha256,
        }

    def offered_bitrates(self) -> list[float]:
        return list(CODEBOOKS_FOR_KBPS)

    def encode_many(
        self, audio: np.ndarray, sample_rate_hz: int, nominal_kbps: list[float]
    ) -> list[Encoded]:
        import torch

        self.check_input(audio, sample_rate_hz, nominal_kbps)
        samples = audio.shape[1]
        hop = self.model.cfg.hop
        frames = -(-samples // hop)
        x = np.zeros((1, 1, frames * hop), np.float32)
        x[0, :, :samples] = audio
        k_max = max(CODEBOOKS_FOR_KBPS[b] for b in nominal_kbps)
        with torch.inference_mode():
            codes = self.model.encode(torch.from_numpy(x).to(self.device), k_max)[:, 0]
        codes = codes.cpu().numpy().astype(np.int64)
        return [self._encoded(codes, b, samples) for b in nominal_kbps]

    def _encoded(self, codes: np.ndarray, nominal_kbps: float, samples: int) -> Encoded:
        k = CODEBOOKS_FOR_KBPS[nominal_kbps]
        kept = np.ascontiguousarray(codes[:k])
        return Encoded(
            nominal_kbps=nominal_kbps,
            payload_bits=kept.size * BITS_PER_CODE,
            duration_s=samples / self.sample_rate_hz,
            sample_rate_hz=self.sample_rate_hz,
            data={"samples": samples},
            codes=kept,
            codebook_size=self.model.cfg.codebook_size,
            frame_rate_hz=self.model.cfg.frame_rate_hz,
            setting={"n_codebooks": k, "frames": kept.shape[1]},
        )

    def decode(self, encoded: Encoded) -> tuple[np.ndarray, int]:
        import torch

        codes = torch.from_numpy(encoded.codes)[:, None, :].to(self.device)
        with torch.inference_mode():
            out = self.model.decode(codes)[0, :, : encoded.data["samples"]]
        return out.float().cpu().numpy(), self.sample_rate_hz
