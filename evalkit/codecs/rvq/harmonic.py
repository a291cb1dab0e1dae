"""The decoder's harmonic path: per-frame F0 and voicing, a harmonic comb, the pitch teacher.

The STFT decoder draws a smooth spectral envelope and almost no harmonic fine structure, although
the latents carry the pitch (model card, experiment 4). With this path it cannot help drawing
harmonics: per frame the decoder predicts a fundamental frequency and a voicing probability, and
the frame's magnitude becomes the STFT head's envelope times the comb of that F0's harmonics (the
source-filter split: the envelope is the filter, the comb the source), its energy kept. Noise,
breath, transients and polyphonic music are what unvoiced frames and the envelope still draw.

(Phase-continuous oscillators at k x F0 reading their amplitudes from the envelope were measured
first and dropped: with the teacher's F0 they scored below the plain decoder, the comb above it;
model card, experiment 7.)

F0 is learned from a teacher, not through the spectrum (a spectral loss has no useful gradient
for the comb's spacing): :func:`yin` tracks the training input's pitch (de Cheveigne and Kawahara
2002) and the decoder's F0 is trained towards it on voiced frames.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from evalkit.codecs.rvq.model import ModelConfig

F0_MIN_HZ = 50.0
F0_MAX_HZ = 1000.0
YIN_THRESHOLD = 0.15
#: Frames quieter than this RMS (about -50 dBFS) are unvoiced whatever their periodicity.
YIN_MIN_RMS = 3e-3
#: Initial voicing logit (a probability of 0.05).
VOICING_BIAS = -3.0
#: The comb's gain between harmonics (-60 dB).
COMB_FLOOR = 1e-3


class Controls(NamedTuple):
    """The harmonic path's per-frame predictions, (B, F) each: F0 in Hz and voicing logits."""

    f0_hz: torch.Tensor
    voicing_logit: torch.Tensor


@torch.no_grad()
def yin(
    wav: torch.Tensor, window: int, hop: int, sample_rate_hz: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pitch teacher: (B, 1, T) -> F0 in Hz (B, T / hop) and voiced (bool, same shape).

    Frames are centred like :class:`~evalkit.codecs.rvq.model.SameSTFT`'s. The cumulative mean
    normalised difference is computed through an FFT; the period is the first local minimum
    below ``YIN_THRESHOLD``, refined by parabolic interpolation.
    """
    pad = (window - hop) // 2
    frames = F.pad(wav[:, 0], (pad, pad)).unfold(-1, window, hop)  # (B, F, window)
    tau_max = math.ceil(sample_rate_hz / F0_MIN_HZ)
    tau_min = math.floor(sample_rate_hz / F0_MAX_HZ)
    w = window - tau_max - 1
    n = 2 ** math.ceil(math.log2(window + 1))
    spec = torch.fft.rfft(frames, n)
    head = torch.fft.rfft(frames[..., :w], n)
    r = torch.fft.irfft(head.conj() * spec, n)[..., : tau_max + 2]
    cs = F.pad(frames.square().cumsum(-1), (1, 0))
    lags = torch.arange(tau_max + 2, device=wav.device)
    e_lag = cs[..., lags + w] - cs[..., lags]
    d = (cs[..., w : w + 1] + e_lag - 2 * r).clamp(min=0)
    cmndf = d * lags / d.cumsum(-1).clamp(min=1e-12)
    cmndf[..., 0] = 1.0
    mid = cmndf[..., 1:-1]
    dip = (mid <= cmndf[..., :-2]) & (mid <= cmndf[..., 2:]) & (mid < YIN_THRESHOLD)
    dip[..., : tau_min - 1] = False
    found = dip.any(-1)
    tau = dip.int().argmax(-1) + 1
    c = torch.stack([cmndf.gather(-1, (tau + i)[..., None])[..., 0] for i in (-1, 0, 1)])
    curve = (c[0] - 2 * c[1] + c[2]).clamp(min=1e-9)
    period = tau + (0.5 * (c[0] - c[2]) / curve).clamp(-1, 1)
    rms = (cs[..., w] / w).sqrt()
    f0 = (sample_rate_hz / period).clamp(F0_MIN_HZ, F0_MAX_HZ)
    return f0, found & (rms > YIN_MIN_RMS)


def pitch_view(wav: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """The encoder's pitch input (B, 2, T / hop): YIN's log F0 scaled to [-1, 1] (0 where
    unvoiced) and the voicing flag. The decoder's last layer does not carry F0 precisely enough
    for the comb when the encoder sees only magnitudes (model card, experiments 7 and 8)."""
    f0, voiced = yin(wav, cfg.window, cfg.hop, cfg.sample_rate_hz)
    v = voiced.to(wav.dtype)
    pitch = 2 * torch.log(f0 / F0_MIN_HZ) / math.log(F0_MAX_HZ / F0_MIN_HZ) - 1
    return torch.stack([pitch * v, v], dim=1)


def comb(f0_hz: torch.Tensor, bins: int, bin_hz: float) -> torch.Tensor:
    """Harmonic comb: F0 (B, F) -> magnitude gain (B, bins, F).

    Each harmonic of F0 is a Hann window's main lobe (cos^2 over +-2 bins around k x F0), scaled
    so that the comb keeps the energy of a flat envelope: sqrt(bins per harmonic / 1.5), the
    integral of cos^4 over the lobe being 1.5 bins. Bins below F0 / 2 keep their gain of 1.
    """
    per_harmonic = (f0_hz / bin_hz)[:, None]  # (B, 1, F)
    k = torch.arange(bins, device=f0_hz.device, dtype=f0_hz.dtype)[None, :, None]
    delta = torch.remainder(k + per_harmonic / 2, per_harmonic) - per_harmonic / 2
    lobe = torch.cos(math.pi * delta.clamp(-2, 2) / 4).square()
    gain = lobe * (per_harmonic / 1.5).sqrt()
    return torch.where(k < per_harmonic / 2, torch.ones((), device=f0_hz.device), gain)


class HarmonicHead(nn.Module):
    """Decoder features (B, width, F) -> a log-magnitude offset (B, bins, F) that imposes the
    harmonic comb of a predicted F0 on the STFT head's envelope, and its :class:`Controls`.

    The offset is voicing x log(comb): unvoiced frames keep the envelope; voiced ones keep its
    energy but move it onto the harmonics. The head starts with zero weights and voicing nearly
    off, so a model trained without it starts almost as it was; the teacher then moves F0 and
    voicing.
    """

    def __init__(self, width: int, bins: int, bin_hz: float) -> None:
        super().__init__()
        self.bins, self.bin_hz = bins, bin_hz
        self.proj = nn.Linear(width, 2)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)
        nn.init.constant_(self.proj.bias[1], VOICING_BIAS)

    def forward(
        self, features: torch.Tensor, f0_hz: torch.Tensor | None
    ) -> tuple[torch.Tensor, Controls]:
        """``f0_hz`` (B, F), if given, replaces the predicted F0 in the comb (teacher forcing);
        NaN entries keep the prediction."""
        out = self.proj(features.transpose(1, 2)).transpose(1, 2)  # (B, 2, F)
        span = math.log(F0_MAX_HZ / F0_MIN_HZ)
        predicted = F0_MIN_HZ * torch.exp(span * torch.sigmoid(out[:, 0]))
        controls = Controls(predicted, out[:, 1])
        # The comb sees F0 as a given: only the teacher trains it.
        f0 = predicted.detach()
        if f0_hz is not None:
            f0 = torch.where(torch.isnan(f0_hz), f0, f0_hz)
        log_comb = comb(f0, self.bins, self.bin_hz).clamp(min=COMB_FLOOR).log()
        return torch.sigmoid(out[:, 1:2]) * log_comb, controls


def teacher_losses(
    controls: Controls, f0_hz: torch.Tensor, voiced: torch.Tensor
) -> dict[str, torch.Tensor]:
    """``f0``: mean |log2 F0 error| (octaves) over voiced frames; ``voicing``: cross-entropy."""
    error = (controls.f0_hz.log2() - f0_hz.log2()).abs()
    f0 = (error * voiced).sum() / voiced.sum().clamp(min=1)
    voicing = F.binary_cross_entropy_with_logits(controls.voicing_logit, voiced.float())
    return {"f0": f0, "voicing": voicing}
