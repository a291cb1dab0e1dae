"""EnCodec (Défossez et al. 2022) through Meta's ``encodec`` package, unchanged.

The adapter only moves arrays in and out of ``EncodecModel.encode`` / ``decode``. EnCodec's
quantizer is residual, so the codes of a lower bandwidth are the first codebooks of a higher one:
the clip is encoded once at the highest requested bandwidth and each bitrate decodes its prefix,
which is exactly what ``set_target_bandwidth(b); encode`` gives.

Payload: every code costs log2(1024) = 10 bits. The 48 kHz model codes 1-s segments that overlap by
1 % (so it sends 1 % more frames than its nominal rate) and one float32 scale per segment, which
the decoder needs; both are counted, as in the package's own ``.ecdc`` format.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from evalkit.codecs import _loading
from evalkit.codecs.base import Encoded, EncodeOnceCodec

SCALE_BITS = 32  # one float32 per segment, as ``encodec.compress`` writes it


class _EnCodec(EncodeOnceCodec):
    """One pretrained EnCodec model; subclasses name the variant."""

    version: ClassVar[str] = "1"
    factory: ClassVar[str]  # the package's constructor of this variant, on EncodecModel
    checkpoint_name: ClassVar[str]
    bandwidths_kbps: ClassVar[tuple[float, ...]]

    def __init__(self, checkpoint: str | None = None, device: str = "cpu") -> None:
        self.device = device
        with _loading.quiet_deprecations():
            self.checkpoint = self._load(checkpoint)
        self.checkpoint_sha256 = _loading.sha256(self.checkpoint)
        self.model.to(device)

    def _load(self, checkpoint: str | None) -> Path:
        import torch

        encodec = _loading.require(self.name, "encodec")
        factory = getattr(encodec.EncodecModel, self.factory)
        if checkpoint is None:
            cached = Path(torch.hub.get_dir()) / "checkpoints" / self.checkpoint_name
            try:
                self.model = factory(pretrained=True)  # torch.hub: cache, else download
            except (OSError, RuntimeError) as e:
                url = encodec.model.ROOT_URL + self.checkpoint_name
                raise _loading.missing_weights(self.name, cached, url, e) from e
            return cached
        file = _loading.local_checkpoint(self.name, checkpoint)
        self.model = factory(pretrained=False)  # the same architecture, weights from the file
        try:
            self.model.load_state_dict(torch.load(file, map_location="cpu", weights_only=True))
        except Exception as e:  # torch raises many types for a foreign or corrupt file
            raise _loading.unusable_checkpoint(self.name, file, e) from e
        self.model.eval()
        return file

    def identity(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {
            **super().identity(),
            "package": f"encodec {version('encodec')}",
            "checkpoint": self.checkpoint.name,
            "checkpoint_sha256": self.checkpoint_sha256,
        }

    def offered_bitrates(self) -> list[float]:
        return list(self.bandwidths_kbps)

    # -- coding -------------------------------------------------------------------------------
    def encode_many(
        self, audio: np.ndarray, sample_rate_hz: int, nominal_kbps: list[float]
    ) -> list[Encoded]:
        import torch

        self.check_input(audio, sample_rate_hz, nominal_kbps)
        x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None].to(self.device)
        with torch.inference_mode():
            self.model.set_target_bandwidth(max(nominal_kbps))
            frames = [
                (codes.cpu(), None if scale is None else scale.cpu())
                for codes, scale in self.model.encode(x)
            ]
        return [self._encoded(frames, b, audio.shape[1]) for b in nominal_kbps]

    def _encoded(self, frames: list, nominal_kbps: float, samples: int) -> Encoded:
        quantizer = self.model.quantizer
        k = quantizer.get_num_quantizers_for_bandwidth(self.model.frame_rate, nominal_kbps)
        kept = [(codes[:, :k].clone(), scale) for codes, scale in frames]
        codes = np.concatenate([c[0].numpy() for c, _ in kept], axis=1).astype(np.int64)
        bits_per_code = math.log2(quantizer.bins)
        side_bits = sum(SCALE_BITS for _, scale in kept if scale is not None)
        duration_s = samples / self.sample_rate_hz
        return Encoded(
            nominal_kbps=nominal_kbps,
            payload_bits=int(codes.size * bits_per_code) + side_bits,
            duration_s=duration_s,
            sample_rate_hz=self.sample_rate_hz,
            data={"frames": kept, "samples": samples},
            codes=codes,
            codebook_size=quantizer.bins,
            frame_rate_hz=codes.shape[1] / duration_s,
            setting={"bandwidth_kbps": nominal_kbps, "n_codebooks": k, "segments": len(kept)},
        )

    def decode(self, encoded: Encoded) -> tuple[np.ndarray, int]:
        import torch

        frames = [
            (codes.to(self.device), None if scale is None else scale.to(self.device))
            for codes, scale in encoded.data["frames"]
        ]
        with torch.inference_mode():
            out = self.model.decode(frames)[0, :, : encoded.data["samples"]]
        return out.float().cpu().numpy(), self.sample_rate_hz


class EnCodec24kHz(_EnCodec):
    """EnCodec 24 kHz mono, causal: 1.5-24 kbps with 2-32 codebooks at 75 frames/s."""

    name = "encodec_24khz"
    description = "EnCodec 24 kHz mono (Meta, encodec package)"
    sample_rate_hz = 24_000
    channels = 1
    factory = "encodec_model_24khz"
    checkpoint_name = "encodec_24khz-d7cc33bc.th"
    bandwidths_kbps = (1.5, 3.0, 6.0, 12.0, 24.0)
    frame_ms = 1000 / 75  # one 320-sample code frame; causal convolutions: no look-ahead
    lookahead_ms = 0.0


class EnCodec48kHz(_EnCodec):
    """EnCodec 48 kHz stereo, non-causal, 1-s segments: 3-24 kbps with 2-16 codebooks."""

    name = "encodec_48khz"
    description = "EnCodec 48 kHz stereo (Meta, encodec package)"
    sample_rate_hz = 48_000
    channels = 2
    factory = "encodec_model_48khz"
    checkpoint_name = "encodec_48khz-7e698e3e.th"
    bandwidths_kbps = (3.0, 6.0, 12.0, 24.0)
