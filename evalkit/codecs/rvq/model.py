"""The RVQ codec model: SEANet-style convolutional encoder and decoder around the RVQ.

Encoder: a 7-tap input convolution, then four blocks of (residual unit, strided convolution) that
halve/quarter/... the time axis by 2, 4, 5 and 8 (320 samples per frame: 24 000 / 320 = 75 frames
per second) while doubling the channels, a two-layer LSTM for longer context, and a projection to
128-dimensional latents. The decoder mirrors it with transposed convolutions. Convolutions are
non-causal with "same" padding, so an input whose length is a multiple of the hop comes back with
exactly its own length and no delay.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from evalkit.codecs.rvq.quantizer import QuantizedResult, ResidualVectorQuantizer


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the model; stored in every checkpoint so it rebuilds itself.

    ``ratios`` are the encoder's down-sampling factors, first to last; their product is the hop.
    """

    sample_rate_hz: int = 24000
    channels: int = 32
    ratios: tuple[int, ...] = (2, 4, 5, 8)
    latent_dim: int = 128
    lstm_layers: int = 1
    num_quantizers: int = 16
    codebook_size: int = 1024
    dead_fraction: float = 0.05
    quantizer_dropout: tuple[int, ...] = field(default=(2, 4, 8, 16))

    @property
    def hop(self) -> int:
        hop = 1
        for r in self.ratios:
            hop *= r
        return hop

    @property
    def frame_rate_hz(self) -> float:
        return self.sample_rate_hz / self.hop

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def conv(c_in: int, c_out: int, kernel: int, dilation: int = 1) -> nn.Module:
    """A weight-normalised 'same' convolution (odd kernel)."""
    pad = (kernel - 1) * dilation // 2
    return weight_norm(nn.Conv1d(c_in, c_out, kernel, dilation=dilation, padding=pad))


class ResidualUnit(nn.Module):
    """x + conv1x1(ELU(conv3_dilated(ELU(x)))), SEANet's residual block."""

    def __init__(self, channels: int, dilation: int = 1) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ELU(),
            conv(channels, channels // 2, 3, dilation),
            nn.ELU(),
            conv(channels // 2, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class Downsample(nn.Module):
    """Strided convolution (kernel 2r, stride r) with padding so T -> T / r exactly."""

    def __init__(self, c_in: int, c_out: int, ratio: int) -> None:
        super().__init__()
        self.pad = (ratio // 2, ratio - ratio // 2)
        self.conv = weight_norm(nn.Conv1d(c_in, c_out, 2 * ratio, stride=ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nn.functional.pad(x, self.pad))


class Upsample(nn.Module):
    """Transposed convolution (kernel 2r, stride r) trimmed so T -> T * r exactly."""

    def __init__(self, c_in: int, c_out: int, ratio: int) -> None:
        super().__init__()
        self.trim = (ratio // 2, ratio - ratio // 2)
        self.conv = weight_norm(nn.ConvTranspose1d(c_in, c_out, 2 * ratio, stride=ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y[..., self.trim[0] : y.shape[-1] - self.trim[1]]


class LSTMBlock(nn.Module):
    """A residual LSTM over time on (B, C, T)."""

    def __init__(self, channels: int, layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(channels, channels, layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.lstm(x.permute(2, 0, 1))
        return x + y.permute(1, 2, 0)


class Encoder(nn.Module):
    """Waveform (B, 1, T) -> latents (B, latent_dim, T / hop)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c = cfg.channels
        layers: list[nn.Module] = [conv(1, c, 7)]
        for ratio in cfg.ratios:
            layers += [ResidualUnit(c), nn.ELU(), Downsample(c, 2 * c, ratio)]
            c *= 2
        if cfg.lstm_layers:
            layers.append(LSTMBlock(c, cfg.lstm_layers))
        layers += [nn.ELU(), conv(c, cfg.latent_dim, 7)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """Latents (B, latent_dim, F) -> waveform (B, 1, F * hop)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c = cfg.channels * 2 ** len(cfg.ratios)
        layers: list[nn.Module] = [conv(cfg.latent_dim, c, 7)]
        if cfg.lstm_layers:
            layers.append(LSTMBlock(c, cfg.lstm_layers))
        for ratio in reversed(cfg.ratios):
            layers += [nn.ELU(), Upsample(c, c // 2, ratio), ResidualUnit(c // 2)]
            c //= 2
        layers += [nn.ELU(), conv(c, 1, 7)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class RVQModel(nn.Module):
    """Encoder -> residual vector quantizer -> decoder."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quantizer = ResidualVectorQuantizer(
            cfg.latent_dim, cfg.num_quantizers, cfg.codebook_size, dead_fraction=cfg.dead_fraction
        )
        self.decoder = Decoder(cfg)

    def forward(self, wav: torch.Tensor, n_q: int) -> tuple[torch.Tensor, QuantizedResult]:
        """Training pass on (B, 1, T) with T a multiple of the hop; returns (output, quantizer)."""
        q = self.quantizer(self.encoder(wav), n_q)
        return self.decoder(q.quantized), q

    def encode(self, wav: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Codes (n_q, B, frames) of (B, 1, T); T must be a multiple of the hop."""
        return self.quantizer.encode(self.encoder(wav), n_q)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Waveform (B, 1, frames * hop) from codes (k, B, frames), any k >= 1."""
        return self.decoder(self.quantizer.decode(codes))
