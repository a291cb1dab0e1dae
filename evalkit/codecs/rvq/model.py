"""The RVQ codec model: a convolutional encoder and decoder on STFT frames around the RVQ.

Both sides run at the codec's frame rate (hop 320 at 24 kHz = 75 frames per second), so every
layer sees 75 vectors per second of audio rather than 24 000 samples: about 8x cheaper to train
than a SEANet (SoundStream/EnCodec) of similar width, which is what made training on a CPU
possible (the model card has the comparison).

* Encoder: a "same"-padded STFT (window 1280 = 4 hops, Hann), its log-magnitude (641 bins) into a
  7-tap convolution, plus the log-magnitudes of four short STFTs (window 320) per frame for
  timing within it (see :class:`Encoder`), ConvNeXt blocks (depthwise 7-tap convolution,
  LayerNorm, 3x MLP) and a projection to 128-dimensional latents. (A compressed complex spectrum
  as the only input learned several times slower.)
* Decoder (after Vocos, Siuzdenko 2023): a 7-tap convolution from the latents, ConvNeXt blocks, and
  a linear head that predicts each frame's log-magnitude and phase (relative to a phase vocoder's
  advance, see :class:`Decoder`); an inverse STFT with the same window turns them into the waveform.

Frames are centred on hop boundaries ((window - hop) / 2 samples of padding each side), so an input
whose length is a multiple of the hop comes back with exactly its own length and no delay.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from evalkit.codecs.rvq.harmonic import Controls, HarmonicHead, pitch_view
from evalkit.codecs.rvq.quantizer import QuantizedResult, ResidualVectorQuantizer


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the model; stored in every checkpoint so it rebuilds itself.

    ``hop`` samples per frame, STFT ``window``; ``*_width`` channels and ``*_blocks`` ConvNeXt
    blocks of each side; ``quantizer_dropout``: the stage counts training draws from;
    ``harmonic``: the decoder's harmonic path (:mod:`.harmonic`); off in every checkpoint
    written before it, whose config lacks the field.
    """

    sample_rate_hz: int = 24000
    hop: int = 320
    window: int = 1280
    encoder_width: int = 384
    encoder_blocks: int = 4
    latent_dim: int = 128
    num_quantizers: int = 16
    codebook_size: int = 1024
    dead_fraction: float = 0.05
    quantizer_dropout: tuple[int, ...] = field(default=(2, 4, 8, 16))
    decoder_width: int = 384
    decoder_blocks: int = 8
    harmonic: bool = False

    @property
    def bins(self) -> int:
        """Frequency bins of one STFT frame."""
        return self.window // 2 + 1

    @property
    def frame_rate_hz(self) -> float:
        return self.sample_rate_hz / self.hop

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def compatible(self, other: ModelConfig) -> bool:
        """Whether weights of ``other`` fit this shape, except for a harmonic path either lacks."""
        return replace(self, harmonic=False) == replace(other, harmonic=False)


class ConvNeXtBlock(nn.Module):
    """x + scale * MLP(LayerNorm(depthwise_conv7(x))) on (B, C, T)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv1d(channels, channels, 7, padding=3, groups=channels)
        self.norm = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(
            nn.Linear(channels, 3 * channels), nn.GELU(), nn.Linear(3 * channels, channels)
        )
        self.scale = nn.Parameter(torch.full((channels,), 0.125))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm(self.depthwise(x).transpose(1, 2)))
        return x + (self.scale * y).transpose(1, 2)


class Backbone(nn.Module):
    """conv7 (c_in -> width), LayerNorm, ConvNeXt blocks, LayerNorm, linear (width -> c_out)."""

    def __init__(self, c_in: int, width: int, blocks: int, c_out: int) -> None:
        super().__init__()
        self.inp = nn.Conv1d(c_in, width, 7, padding=3)
        self.norm_in = nn.LayerNorm(width)
        self.blocks = nn.Sequential(*(ConvNeXtBlock(width) for _ in range(blocks)))
        self.norm_out = nn.LayerNorm(width)
        self.out = nn.Linear(width, c_out)

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """``extra`` (B, width, T), if given, is added to the input convolution's output."""
        return self.out(self.features(x, extra).transpose(1, 2)).transpose(1, 2)

    def features(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """The normalised last hidden layer (B, width, T), before the output projection."""
        x = self.inp(x) if extra is None else self.inp(x) + extra
        x = self.norm_in(x.transpose(1, 2)).transpose(1, 2)
        x = self.blocks(x)
        return self.norm_out(x.transpose(1, 2)).transpose(1, 2)


class SameSTFT(nn.Module):
    """STFT and inverse with frames centred on hop boundaries: T samples <-> T / hop frames."""

    def __init__(self, window: int, hop: int) -> None:
        super().__init__()
        self.n_fft, self.hop, self.pad = window, hop, (window - hop) // 2
        self.register_buffer("window", torch.hann_window(window), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, 1, T) -> complex (B, window // 2 + 1, T / hop)."""
        x = F.pad(wav[:, 0], (self.pad, self.pad))
        return torch.stft(
            x, self.n_fft, self.hop, window=self.window, center=False, return_complex=True
        )

    def log_magnitude(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, 1, T) -> natural-log magnitude (B, window // 2 + 1, T / hop), floored at 1e-5."""
        return self(wav).abs().clamp(min=1e-5).log()

    def inverse(self, spec: torch.Tensor) -> torch.Tensor:
        """complex (B, window // 2 + 1, F) -> (B, 1, F * hop), by weighted overlap-add."""
        frames = spec.shape[-1]
        size = (frames - 1) * self.hop + self.n_fft
        chunks = torch.fft.irfft(spec, self.n_fft, dim=1) * self.window[None, :, None]
        fold = dict(output_size=(1, size), kernel_size=(1, self.n_fft), stride=(1, self.hop))
        wav = F.fold(chunks, **fold)[:, 0, 0, self.pad : size - self.pad]
        square = self.window.square()[None, :, None].expand(1, -1, frames)
        norm = F.fold(square, **fold)[0, 0, 0, self.pad : size - self.pad]
        return (wav / norm.clamp(min=1e-8))[:, None]


class Encoder(nn.Module):
    """Waveform (B, 1, T) -> latents (B, latent_dim, T / hop).

    Two views of each frame: the log-magnitude of the codec's own STFT (fine frequency, 53 ms),
    and the log-magnitudes of the ``SUBFRAMES`` short STFTs (window = hop) that tile the frame's
    hop, which say *when* within the frame energy arrives. The long window alone smears a click
    over 53 ms; a magnitude-only codec with it cannot place transients, whatever its bitrate. The
    short view enters through a 1-tap projection added to the input convolution, initialised to
    zero so that a model trained without it starts unchanged (``evalkit train --init``).

    With ``cfg.harmonic`` a third view, the input's own pitch (:func:`.harmonic.pitch_view`), enters
    the same way, so that the codes can carry the F0 the decoder's harmonic comb needs.
    """

    SUBFRAMES = 4

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.stft = SameSTFT(cfg.window, cfg.hop)
        self.short_stft = SameSTFT(cfg.hop, cfg.hop // self.SUBFRAMES)
        self.net = Backbone(cfg.bins, cfg.encoder_width, cfg.encoder_blocks, cfg.latent_dim)
        self.timing = nn.Conv1d(self.SUBFRAMES * (cfg.hop // 2 + 1), cfg.encoder_width, 1)
        nn.init.zeros_(self.timing.weight)
        nn.init.zeros_(self.timing.bias)
        self.cfg = cfg
        self.pitch = nn.Conv1d(2, cfg.encoder_width, 1) if cfg.harmonic else None
        if self.pitch is not None:
            nn.init.zeros_(self.pitch.weight)
            nn.init.zeros_(self.pitch.bias)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        extra = self.timing(self.short_view(wav))
        if self.pitch is not None:
            extra = extra + self.pitch(pitch_view(wav, self.cfg))
        return self.net(self.stft.log_magnitude(wav), extra=extra)

    def short_view(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, 1, T) -> (B, (hop // 2 + 1) * SUBFRAMES, T / hop): frame t's short log-magnitudes,
        bin by bin, each bin's SUBFRAMES values in time order."""
        short = self.short_stft.log_magnitude(wav)  # (B, bins, SUBFRAMES * F)
        b, bins, n = short.shape
        frames = short.view(b, bins, n // self.SUBFRAMES, self.SUBFRAMES).transpose(2, 3)
        return frames.reshape(b, bins * self.SUBFRAMES, n // self.SUBFRAMES)


class Decoder(nn.Module):
    """Latents (B, latent_dim, F) -> waveform (B, 1, F * hop).

    The network predicts each frame's phase *relative to a phase vocoder's advance*: bin ``k``
    turns by 2 pi k hop / window per frame (pi k / 2 here), the advance of a steady tone at the
    bin's centre frequency. A convolutional network sees the same latents at every frame of a
    steady tone, so on its own it repeats one phase per bin, and overlap-add then weakens every
    partial that is not a multiple of the 75 Hz frame rate (a bin turning half a turn per frame
    cancels outright). The advance repeats every ``window / gcd(hop, window)`` frames (4); a
    learned embedding of the frame's place in that cycle, added to the latents, lets the network
    undo it where a transient needs aligned phases.

    With ``cfg.harmonic`` a :class:`~evalkit.codecs.rvq.harmonic.HarmonicHead` multiplies each
    frame's magnitude by the harmonic comb of a predicted F0 where the frame is voiced.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.bins, self.hop, self.window = cfg.bins, cfg.hop, cfg.window
        self.cycle = cfg.window // math.gcd(cfg.hop, cfg.window)
        self.frame_in_cycle = nn.Embedding(self.cycle, cfg.latent_dim)
        nn.init.zeros_(self.frame_in_cycle.weight)
        self.net = Backbone(cfg.latent_dim, cfg.decoder_width, cfg.decoder_blocks, 2 * cfg.bins)
        self.stft = SameSTFT(cfg.window, cfg.hop)
        bin_hz = cfg.sample_rate_hz / cfg.window
        self.harmonic = HarmonicHead(cfg.decoder_width, cfg.bins, bin_hz) if cfg.harmonic else None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.synthesise(z)[0]

    def synthesise(
        self, z: torch.Tensor, teacher_f0: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, Controls | None]:
        """Waveform and the harmonic path's controls (None without one); ``teacher_f0`` (B, F),
        NaN where unvoiced, replaces the predicted F0 in the comb (training)."""
        t = torch.arange(z.shape[-1], device=z.device)
        z = z + self.frame_in_cycle(t % self.cycle).T
        features = self.net.features(z)
        head = self.net.out(features.transpose(1, 2)).transpose(1, 2)
        log_magnitude, phase = head.split(self.bins, dim=1)
        controls = None
        if self.harmonic is not None:
            log_comb, controls = self.harmonic(features, teacher_f0)
            log_magnitude = log_magnitude + log_comb
        magnitude = log_magnitude.clamp(max=10.0).exp()
        # Integer turns (k * hop * t mod window) keep the advance exact on hour-long clips.
        k = torch.arange(self.bins, device=z.device)
        turns = (k[:, None] * self.hop * (t[None, :] % self.cycle)) % self.window
        advance = (2 * math.pi / self.window) * turns.to(phase.dtype)
        return self.stft.inverse(torch.polar(magnitude, phase + advance)), controls


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

    def forward(
        self, wav: torch.Tensor, n_q: int, teacher_f0: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, QuantizedResult | None, Controls | None]:
        """Training pass on (B, 1, T) with T a multiple of the hop; returns (output, quantizer,
        harmonic controls).

        ``n_q = 0`` bypasses the quantizer (no result): the decoder gets the latents themselves.
        ``teacher_f0``: see :meth:`Decoder.synthesise`.
        """
        z = self.encoder(wav)
        q = self.quantizer(z, n_q) if n_q else None
        y, controls = self.decoder.synthesise(z if q is None else q.quantized, teacher_f0)
        return y, q, controls

    def encode(self, wav: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Codes (n_q, B, frames) of (B, 1, T); T must be a multiple of the hop."""
        return self.quantizer.encode(self.encoder(wav), n_q)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Waveform (B, 1, frames * hop) from codes (k, B, frames), any k >= 1."""
        return self.decoder(self.quantizer.decode(codes))
