"""Residual vector quantization (RVQ), written to be read.

A vector quantizer replaces each latent vector by the nearest of K learned "codewords" and
transmits only its index: log2(K) bits per vector. One quantizer with K = 1024 gives 10 bits per
frame, far too coarse on its own. RVQ stacks quantizers: stage 1 quantizes the latent, stage 2
quantizes what stage 1 got wrong (the residual), stage 3 what is still left, and so on. The decoder
sums the chosen codewords of the stages it received, so sending the first k stages gives a coarser
but valid reconstruction: one model serves every bitrate (k stages x 10 bits x 75 frames/s).

The parts, one class or function each (after EnCodec's ``quantization/core_vq.py``):

* :func:`kmeans` - codewords start as k-means centroids of the first batch of latents, so none
  starts far from the data.
* :class:`Codebook` - nearest-codeword search and the codebook update. Codewords are not trained by
  gradient descent but by an exponential moving average (EMA) of the latents assigned to them
  (online k-means), which is stable and fast. A codeword that (almost) nobody picks any more is
  *dead*: it is restarted at a random latent of the current batch (:meth:`Codebook.expire_codes_`).
* :class:`ResidualVectorQuantizer` - the residual loop, the straight-through estimator (the
  decoder's gradient is copied past the non-differentiable rounding straight into the encoder), the
  commitment loss (pulls the encoder's output towards its codewords) and quantizer dropout (each
  training batch uses a random number of stages, so the first stages learn to carry the most).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def kmeans(samples: torch.Tensor, num_clusters: int, num_iters: int = 10) -> torch.Tensor:
    """Lloyd's k-means on (N, D) samples; returns (num_clusters, D) centroids.

    Centroids start at random samples (with repetition when N < num_clusters); a cluster that
    loses all its members keeps its previous centroid.
    """
    n = samples.shape[0]
    pick = torch.randint(n, (num_clusters,), device=samples.device)
    centroids = samples[pick].clone()
    for _ in range(num_iters):
        assign = torch.cdist(samples, centroids).argmin(dim=1)
        counts = torch.bincount(assign, minlength=num_clusters).to(samples.dtype)
        sums = torch.zeros_like(centroids).index_add_(0, assign, samples)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


def ema_inplace(moving: torch.Tensor, new: torch.Tensor, decay: float) -> None:
    """moving <- decay * moving + (1 - decay) * new, in place."""
    moving.mul_(decay).add_(new, alpha=1 - decay)


class Codebook(nn.Module):
    """One codebook of ``size`` codewords of dimension ``dim``, learned by EMA.

    Buffers (saved in the checkpoint, not trained by the optimizer):
        embed: (size, dim) the codewords; ``embed_sum / cluster_size`` after each update.
        cluster_size: EMA of how many latents chose each codeword per batch.
        embed_sum: EMA of the sum of the latents that chose each codeword.
        initted: 1 once k-means has run.

    Args:
        dim: latent dimension.
        size: number of codewords (1024 = 10 bits).
        decay: EMA decay; 0.99 averages over about the last hundred batches.
        dead_fraction: a codeword is dead when its EMA count falls below this fraction of an even
            share (batch vectors / size); 0 turns restarts off.
        epsilon: Laplace smoothing so no codeword divides by zero.
    """

    def __init__(
        self,
        dim: int,
        size: int = 1024,
        decay: float = 0.99,
        dead_fraction: float = 0.05,
        epsilon: float = 1e-5,
    ) -> None:
        super().__init__()
        self.size = size
        self.decay = decay
        self.dead_fraction = dead_fraction
        self.epsilon = epsilon
        self.register_buffer("initted", torch.zeros(1))
        self.register_buffer("embed", torch.randn(size, dim))
        self.register_buffer("cluster_size", torch.zeros(size))
        self.register_buffer("embed_sum", self.embed.clone())
        self._initted = False  # mirrors `initted` on the host, so steps need no GPU sync

    def needs_init(self) -> bool:
        """True until k-means has run (reads the buffer once, e.g. after loading a checkpoint)."""
        if not self._initted:
            self._initted = bool(self.initted)
        return not self._initted

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Index of the nearest codeword (squared Euclidean distance) for each (N, D) row."""
        dist = (
            x.pow(2).sum(1, keepdim=True)
            - 2 * x @ self.embed.t()
            + self.embed.pow(2).sum(1)[None, :]
        )
        return dist.argmin(dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """The codewords of ``codes`` (any shape) -> shape + (D,)."""
        return F.embedding(codes, self.embed)

    @torch.no_grad()
    def init_from_(self, x: torch.Tensor) -> None:
        """Set the codewords to k-means centroids of ``x`` (N, D); runs once."""
        centroids = kmeans(x, self.size)
        self.embed.copy_(centroids)
        self.embed_sum.copy_(centroids)
        self.cluster_size.fill_(1.0)
        self.initted.fill_(1.0)
        self._initted = True

    @torch.no_grad()
    def expire_codes_(self, x: torch.Tensor) -> torch.Tensor:
        """Restart dead codewords at random rows of ``x`` (N, D); returns the dead mask.

        Written without data-dependent branches so a training step never waits for the GPU.
        """
        threshold = self.dead_fraction * x.shape[0] / self.size
        dead = self.cluster_size < threshold
        replacement = x[torch.randint(x.shape[0], (self.size,), device=x.device)]
        self.embed.copy_(torch.where(dead[:, None], replacement, self.embed))
        self.embed_sum.copy_(torch.where(dead[:, None], replacement, self.embed_sum))
        self.cluster_size.masked_fill_(dead, 1.0)
        return dead

    @torch.no_grad()
    def update_(self, x: torch.Tensor, codes: torch.Tensor) -> None:
        """One EMA step of online k-means with the assignments ``codes`` of ``x`` (N, D)."""
        onehot = F.one_hot(codes, self.size).type(x.dtype)
        ema_inplace(self.cluster_size, onehot.sum(0), self.decay)
        ema_inplace(self.embed_sum, onehot.t() @ x, self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.epsilon) / (n + self.size * self.epsilon) * n
        self.embed.copy_(self.embed_sum / smoothed[:, None])
        self.expire_codes_(x)


@dataclass
class QuantizedResult:
    """What :meth:`ResidualVectorQuantizer.forward` returns.

    Attributes:
        quantized: (B, D, T) sum of the used stages' codewords, with straight-through gradients.
        codes: (n_q, B, T) int64 codeword indices of the used stages.
        commitment_loss: mean squared distance between each stage's input and its codeword.
    """

    quantized: torch.Tensor
    codes: torch.Tensor
    commitment_loss: torch.Tensor


class ResidualVectorQuantizer(nn.Module):
    """``num_quantizers`` codebooks applied one after another to what the previous left.

    Args:
        dim: latent dimension (channels of the encoder output).
        num_quantizers: maximum number of stages (16 x 10 bits x 75 frames/s = 12 kbps).
        codebook_size: codewords per stage.
        decay, dead_fraction: see :class:`Codebook`.
    """

    def __init__(
        self,
        dim: int = 128,
        num_quantizers: int = 16,
        codebook_size: int = 1024,
        decay: float = 0.99,
        dead_fraction: float = 0.05,
    ) -> None:
        super().__init__()
        self.num_quantizers = num_quantizers
        self.codebook_size = codebook_size
        self.codebooks = nn.ModuleList(
            Codebook(dim, codebook_size, decay, dead_fraction) for _ in range(num_quantizers)
        )

    def forward(self, z: torch.Tensor, n_q: int | None = None) -> QuantizedResult:
        """Quantize latents ``z`` (B, D, T) with the first ``n_q`` stages (default: all).

        In training mode each stage first initialises itself by k-means (once), then updates its
        codewords by EMA and restarts dead ones; in eval mode the codebooks are read only.
        """
        n_q = self.num_quantizers if n_q is None else n_q
        if not 1 <= n_q <= self.num_quantizers:
            raise ValueError(f"n_q must be in 1..{self.num_quantizers}, got {n_q}")
        b, d, t = z.shape
        residual = z.permute(0, 2, 1).reshape(b * t, d)
        quantized = torch.zeros_like(residual)
        codes, commitment = [], []
        for codebook in self.codebooks[:n_q]:
            target = residual.detach()
            if self.training and codebook.needs_init():
                codebook.init_from_(target)
            idx = codebook.encode(target)
            q = codebook.decode(idx)
            if self.training:
                codebook.update_(target, idx)
            # Commitment: pull the encoder (through `residual`) towards the chosen codeword.
            commitment.append(F.mse_loss(residual, q.detach()))
            quantized = quantized + q
            residual = residual - q.detach()
            codes.append(idx.view(b, t))
        latent = z.permute(0, 2, 1).reshape(b * t, d)
        # Straight-through: the forward value is the quantized sum, the gradient flows to `z`.
        quantized = latent + (quantized - latent).detach()
        return QuantizedResult(
            quantized=quantized.view(b, t, d).permute(0, 2, 1),
            codes=torch.stack(codes),
            commitment_loss=torch.stack(commitment).mean(),
        )

    def encode(self, z: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Codes (n_q, B, T) of latents ``z`` (B, D, T); read-only."""
        n_q = self.num_quantizers if n_q is None else n_q
        b, d, t = z.shape
        residual = z.permute(0, 2, 1).reshape(b * t, d)
        codes = []
        for codebook in self.codebooks[:n_q]:
            idx = codebook.encode(residual)
            residual = residual - codebook.decode(idx)
            codes.append(idx.view(b, t))
        return torch.stack(codes)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Latents (B, D, T) from codes (k, B, T): the sum of the first k stages' codewords."""
        out = sum(self.codebooks[i].decode(c) for i, c in enumerate(codes))
        return out.permute(0, 2, 1)
