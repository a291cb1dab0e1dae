"""Multi-scale STFT discriminator (EnCodec's MS-STFTD) with hinge and feature-matching losses.

Each scale looks at the complex STFT (real and imaginary parts as two input channels) of the audio
with 2-D convolutions dilated along time. The generator is trained to fool it (hinge loss) and to
match its intermediate feature maps on real audio (feature matching), which removes the smeared,
metallic artefacts that spectral losses alone leave.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

SCALES = (2048, 1024, 512)


class STFTDiscriminator(nn.Module):
    """One scale: STFT with window ``n_fft`` -> stack of 2-D convolutions -> logits."""

    def __init__(self, n_fft: int, filters: int = 32) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.convs = nn.ModuleList(
            [weight_norm(nn.Conv2d(2, filters, (3, 9), padding=(1, 4)))]
            + [
                weight_norm(
                    nn.Conv2d(filters, filters, (3, 9), (1, 2), padding=(d, 4), dilation=(d, 1))
                )
                for d in (1, 2, 4)
            ]
            + [weight_norm(nn.Conv2d(filters, filters, (3, 3), padding=(1, 1)))]
        )
        self.out = weight_norm(nn.Conv2d(filters, 1, (3, 3), padding=(1, 1)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = torch.stft(
            x.reshape(-1, x.shape[-1]),
            self.n_fft,
            self.n_fft // 4,
            window=self.window,
            return_complex=True,
        )
        h = torch.stack([spec.real, spec.imag], dim=1).transpose(2, 3)  # (B, 2, time, freq)
        features = []
        for layer in self.convs:
            h = F.leaky_relu(layer(h), 0.2)
            features.append(h)
        return self.out(h), features


class MultiScaleSTFTDiscriminator(nn.Module):
    """One :class:`STFTDiscriminator` per window size in :data:`SCALES`."""

    def __init__(self, filters: int = 32) -> None:
        super().__init__()
        self.scales = nn.ModuleList(STFTDiscriminator(n, filters) for n in SCALES)

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return [d(x) for d in self.scales]


def discriminator_loss(real: list, fake: list) -> torch.Tensor:
    """Hinge loss: push real logits above +1 and fake ones below -1."""
    loss = sum(
        F.relu(1 - r).mean() + F.relu(1 + f).mean()
        for (r, _), (f, _) in zip(real, fake, strict=True)
    )
    return loss / len(real)


def generator_losses(real: list, fake: list) -> tuple[torch.Tensor, torch.Tensor]:
    """(adversarial hinge loss, feature-matching loss) for the generator.

    Feature matching is the L1 distance between the discriminator's feature maps on real and
    decoded audio, relative to the real maps' mean magnitude (as in EnCodec).
    """
    adversarial = sum(F.relu(1 - f).mean() for f, _ in fake) / len(fake)
    matching = 0.0
    n = 0
    for (_, real_feats), (_, fake_feats) in zip(real, fake, strict=True):
        for r, f in zip(real_feats, fake_feats, strict=True):
            matching = matching + (r.detach() - f).abs().mean() / r.detach().abs().mean().clamp(
                min=1e-5
            )
            n += 1
    return adversarial, matching / n
