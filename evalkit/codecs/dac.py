"""DAC (Kumar et al. 2023) through Descript's ``descript-audio-codec`` package, unchanged.

Coding is the package's own file path, ``DAC.compress`` / ``DAC.decompress``: the clip is
loudness-normalised to -16 dB LUFS (as in training), coded, and the decoder restores the input
loudness. The residual quantizer makes the codes of k codebooks the first k of the full code stack,
so a clip is compressed once and every bitrate decompresses its prefix: exactly
``compress(n_quantizers=k)``.

Window: ``compress`` codes clips up to ``win_duration`` whole and longer ones in windows that each
carry the convolutions' context (about 0.36 s at 44.1 kHz, 0.66 s at 16/24 kHz) and pad the last
window to full length; every frame of that is sent. With the command-line tool's 5-s window a 10-s
clip at 16 kHz sends 750 frames instead of 500 (+50 % bitrate), which would measure the window,
not the codec. evalkit uses 30 s: clips up to 30 s are coded whole, at exactly the nominal rate,
for about 80 MB of working memory per second of 44.1 kHz audio on CPU; longer clips are windowed
by the package (or cut with ``--segment``).

Payload: 10 bits per code plus the 32-bit input loudness per channel the decoder needs (the
``.dac`` file's ``input_db``).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from evalkit.codecs import _loading
from evalkit.codecs.base import Encoded, EncodeOnceCodec

LOUDNESS_BITS = 32  # float32 ``input_db`` per channel, as ``DACFile.save`` stores it
MODEL_BITRATE = "8kbps"  # the package's name for the release models adapted here


def _load_weights(model_class: type, file: Path) -> Any:
    """DAC's weights-file branch of ``BaseModel.load``, without its unpickling first attempt.

    ``dac.utils.load_model`` first tries ``torch.package`` (which runs pickled code from the file)
    and falls back to a plain ``torch.load``; evalkit only ever reads tensors and plain metadata
    (``weights_only=True``), then builds the model from the file's own keyword arguments.
    """
    import inspect

    import torch

    state = torch.load(file, map_location="cpu", weights_only=True)
    accepted = inspect.signature(model_class).parameters
    kwargs = {k: v for k, v in state["metadata"]["kwargs"].items() if k in accepted}
    model = model_class(**kwargs)
    missing, _ = model.load_state_dict(state["state_dict"], strict=False)
    if missing:
        raise ValueError(f"the file lacks {len(missing)} of the model's weights ({missing[0]} ...)")
    model.metadata = state["metadata"]
    return model


class _DAC(EncodeOnceCodec):
    """One released DAC model; subclasses name the variant and its release architecture."""

    version: ClassVar[str] = "1"
    channels: ClassVar[int | None] = 1
    model_type: ClassVar[str]
    # The release configuration (descript-audio-codec conf/final/<model_type>.yml): what the
    # published weights expect; used to build random-weight models for tests and benchmarks.
    architecture: ClassVar[dict[str, Any]]
    win_duration_s: ClassVar[float] = 30.0

    def __init__(self, checkpoint: str | None = None, device: str = "cpu") -> None:
        self.device = device
        with _loading.quiet_deprecations():
            self.checkpoint = self._load(checkpoint)
        self.checkpoint_sha256 = _loading.sha256(self.checkpoint)
        for key in ("sample_rate", "encoder_rates", "n_codebooks", "codebook_size"):
            held, release = getattr(self.model, key), self.architecture[key]
            if held != release:
                raise _loading.unusable_checkpoint(
                    self.name,
                    self.checkpoint,
                    ValueError(f"its model has {key}={held}, this variant's has {release}"),
                )
        self.model.to(device)
        self.model.eval()

    def _load(self, checkpoint: str | None) -> Path:
        dac = _loading.require(self.name, "dac")

        if checkpoint is None:
            tag = dac.utils.__MODEL_LATEST_TAGS__[(self.model_type, MODEL_BITRATE)]
            name = f"weights_{self.model_type}_{MODEL_BITRATE}_{tag}.pth"
            try:
                file = Path(dac.utils.download(model_type=self.model_type, tag=tag))
            except (OSError, ValueError) as e:  # no network, or the release host refused
                url = dac.utils.__MODEL_URLS__[(self.model_type, tag, MODEL_BITRATE)]
                cached = Path.home() / ".cache" / "descript" / "dac" / name
                raise _loading.missing_weights(self.name, cached, url, e) from e
        else:
            file = _loading.local_checkpoint(self.name, checkpoint)
        try:
            self.model = _load_weights(dac.DAC, file)
        except Exception as e:  # torch raises many types for a foreign or corrupt file
            raise _loading.unusable_checkpoint(self.name, file, e) from e
        return file

    def identity(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {
            **super().identity(),
            "package": f"descript-audio-codec {version('descript-audio-codec')}",
            "checkpoint": self.checkpoint.name,
            "checkpoint_sha256": self.checkpoint_sha256,
            "win_duration_s": self.win_duration_s,
        }

    # -- bitrates -----------------------------------------------------------------------------
    def offered_bitrates(self) -> list[float]:
        """k codebooks at k x 10 bits x frame rate, for k = 1 .. all (rounded to 1 bit/s)."""
        arch = self.architecture
        frame_rate = arch["sample_rate"] / math.prod(arch["encoder_rates"])
        per = math.log2(arch["codebook_size"]) * frame_rate / 1000.0
        return [round(k * per, 3) for k in range(1, arch["n_codebooks"] + 1)]

    # -- coding -------------------------------------------------------------------------------

    def encode_many(
        self, audio: np.ndarray, sample_rate_hz: int, nominal_kbps: list[float]
    ) -> list[Encoded]:
        import torch
        from audiotools import AudioSignal

        self.check_input(audio, sample_rate_hz, nominal_kbps)
        offered = self.offered_bitrates()
        codebooks = [offered.index(b) + 1 for b in nominal_kbps]
        signal = AudioSignal(
            torch.from_numpy(np.ascontiguousarray(audio, np.float32))[None], sample_rate_hz
        )
        with torch.inference_mode():
            full = self.model.compress(signal, win_duration=self.win_duration_s)
        duration_s = audio.shape[1] / sample_rate_hz
        encoded = []
        for nominal, k in zip(nominal_kbps, codebooks, strict=True):
            file = dataclasses.replace(full, codes=full.codes[:, :k].clone())
            codes = file.codes[0].numpy().astype(np.int64)
            bits = codes.size * math.log2(self.model.codebook_size) + LOUDNESS_BITS * file.channels
            encoded.append(
                Encoded(
                    nominal_kbps=nominal,
                    payload_bits=int(bits),
                    duration_s=duration_s,
                    sample_rate_hz=sample_rate_hz,
                    data=file,
                    codes=codes,
                    codebook_size=self.model.codebook_size,
                    frame_rate_hz=codes.shape[1] / duration_s,
                    setting={"n_codebooks": k, "chunked": not file.padding},
                )
            )
        return encoded

    def decode(self, encoded: Encoded) -> tuple[np.ndarray, int]:
        import torch

        file = encoded.data
        # decompress() ends by reshaping to the input length, which fails where the decoder
        # returns fewer samples: unwindowed 16/24 kHz codes decode to 8 samples short of a
        # multiple of the hop. Asking for what the decoder gives keeps its samples unchanged.
        if file.padding:
            file = dataclasses.replace(
                file,
                original_length=min(
                    file.original_length, self._decoded_length(file.codes.shape[-1])
                ),
            )
        with torch.inference_mode():
            out = self.model.decompress(file)
        return out.audio_data[0].float().cpu().numpy(), self.sample_rate_hz

    def _decoded_length(self, frames: int) -> int:
        """Samples the (padded) decoder makes of ``frames`` code frames: its convolutions' sizes."""
        from torch import nn

        n = frames
        for layer in self.model.decoder.modules():
            if isinstance(layer, nn.ConvTranspose1d):
                (s,), (p,), (d,), (k,) = (
                    layer.stride,
                    layer.padding,
                    layer.dilation,
                    layer.kernel_size,
                )
                n = (n - 1) * s - 2 * p + d * (k - 1) + layer.output_padding[0] + 1
            elif isinstance(layer, nn.Conv1d):
                (s,), (p,), (d,), (k,) = (
                    layer.stride,
                    layer.padding,
                    layer.dilation,
                    layer.kernel_size,
                )
                n = (n + 2 * p - d * (k - 1) - 1) // s + 1
        return n


class DAC44kHz(_DAC):
    """DAC 44.1 kHz: 9 codebooks at 86.1 frames/s, 0.86-7.75 kbps (advertised as 8 kbps)."""

    name = "dac_44khz"
    description = "Descript Audio Codec 44.1 kHz mono (descript-audio-codec package)"
    sample_rate_hz = 44_100
    model_type = "44khz"
    architecture = {
        "sample_rate": 44_100,
        "encoder_dim": 64,
        "encoder_rates": [2, 4, 8, 8],
        "decoder_dim": 1536,
        "decoder_rates": [8, 8, 4, 2],
        "n_codebooks": 9,
        "codebook_size": 1024,
        "codebook_dim": 8,
    }


class DAC24kHz(_DAC):
    """DAC 24 kHz: 32 codebooks at 75 frames/s, 0.75-24 kbps."""

    name = "dac_24khz"
    description = "Descript Audio Codec 24 kHz mono (descript-audio-codec package)"
    sample_rate_hz = 24_000
    model_type = "24khz"
    architecture = {
        "sample_rate": 24_000,
        "encoder_dim": 64,
        "encoder_rates": [2, 4, 5, 8],
        "decoder_dim": 1536,
        "decoder_rates": [8, 5, 4, 2],
        "n_codebooks": 32,
        "codebook_size": 1024,
        "codebook_dim": 8,
    }


class DAC16kHz(_DAC):
    """DAC 16 kHz: 12 codebooks at 50 frames/s, 0.5-6 kbps."""

    name = "dac_16khz"
    description = "Descript Audio Codec 16 kHz mono (descript-audio-codec package)"
    sample_rate_hz = 16_000
    model_type = "16khz"
    architecture = {
        "sample_rate": 16_000,
        "encoder_dim": 64,
        "encoder_rates": [2, 4, 5, 8],
        "decoder_dim": 1536,
        "decoder_rates": [8, 5, 4, 2],
        "n_codebooks": 12,
        "codebook_size": 1024,
        "codebook_dim": 8,
    }
