"""Codebook usage of codebook codecs: per-clip histograms and exact per-slice statistics.

Histograms (not per-clip entropies) travel with the results, so the entropy of a slice
(codec × bitrate × domain, or all domains) is the entropy of its summed histogram, not an average
of per-clip values. For a codebook with counts ``c`` and ``p = c / Σc``:

- ``entropy_bits`` H = −Σ p·log2 p over used entries;
- ``perplexity`` = 2^H (the number of equally likely entries with the same entropy);
- ``utilisation`` = share of the codebook's entries used at least once;
- ``entropy_bound_kbps`` = Σ over codebooks of H × frame rate / 1000: the bitrate an ideal
  entropy coder of each codebook's marginal distribution would need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def code_histograms(codes: np.ndarray, codebook_size: int) -> list[np.ndarray]:
    """Counts of each entry per codebook, for codes shaped (codebooks, frames).

    Raises:
        ValueError: codes that are not integers in [0, codebook_size) or not 2-D.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be (codebooks, frames), got shape {codes.shape}")
    if codes.size and not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"codes must be integers, got {codes.dtype}")
    if codes.size and (codes.min() < 0 or codes.max() >= codebook_size):
        raise ValueError(
            f"codes outside [0, {codebook_size}): min {codes.min()}, max {codes.max()}"
        )
    return [np.bincount(row, minlength=codebook_size).astype(np.int64) for row in codes]


def slice_stats(counts: Sequence[np.ndarray], frame_rate_hz: float) -> dict[str, Any]:
    """Entropy, perplexity and utilisation per codebook, and the entropy-bound bitrate.

    Args:
        counts: one histogram per codebook, already summed over the clips of the slice.
        frame_rate_hz: code frames per second.

    Returns:
        ``{"codebooks": [{"entropy_bits", "perplexity", "utilisation"}, ...],
        "entropy_bound_kbps": float}``.
    """
    books = []
    for c in counts:
        c = np.asarray(c, dtype=np.float64)
        total = c.sum()
        if total <= 0:
            raise ValueError("a codebook histogram is empty (no frames in this slice)")
        p = c[c > 0] / total
        entropy = float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0
        books.append(
            {
                "entropy_bits": entropy,
                "perplexity": 2.0**entropy,
                "utilisation": float((c > 0).sum() / c.size),
            }
        )
    bound = sum(b["entropy_bits"] for b in books) * frame_rate_hz / 1000.0
    return {"codebooks": books, "entropy_bound_kbps": bound}
