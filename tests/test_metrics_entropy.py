"""Codebook histograms and slice statistics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.metrics.entropy import code_histograms, slice_stats


def test_histograms_count_each_codebook_separately():
    codes = np.array([[0, 1, 1, 3], [2, 2, 2, 2]])
    counts = code_histograms(codes, 4)
    assert [c.tolist() for c in counts] == [[1, 2, 0, 1], [0, 0, 4, 0]]


@pytest.mark.parametrize(
    "codes,message",
    [
        (np.array([[0, 4]]), "outside"),
        (np.array([[-1, 0]]), "outside"),
        (np.array([0, 1]), "codebooks, frames"),
        (np.array([[0.5, 1.0]]), "integers"),
    ],
)
def test_histograms_refuse_bad_codes(codes, message):
    with pytest.raises(ValueError, match=message):
        code_histograms(codes, 4)


def test_slice_stats_by_hand():
    uniform = np.full(1024, 5)  # every entry equally often: 10 bits, perplexity 1024
    skewed = np.array([2, 1, 1, 0])  # p = 1/2, 1/4, 1/4: 1.5 bits, 3 of 4 entries used
    stats = slice_stats([uniform, skewed], frame_rate_hz=75.0)
    first, second = stats["codebooks"]
    assert first == pytest.approx({"entropy_bits": 10.0, "perplexity": 1024.0, "utilisation": 1.0})
    assert second == pytest.approx({"entropy_bits": 1.5, "perplexity": 2**1.5, "utilisation": 0.75})
    assert stats["entropy_bound_kbps"] == pytest.approx((10.0 + 1.5) * 75.0 / 1000.0)


def test_slice_entropy_comes_from_summed_histograms_not_clip_averages():
    """Two clips that each use one entry: 0 bits per clip, 1 bit over the slice."""
    clip_a, clip_b = code_histograms(np.array([[0, 0]]), 2), code_histograms(np.array([[1, 1]]), 2)
    assert slice_stats(clip_a, 50.0)["codebooks"][0]["entropy_bits"] == 0.0
    summed = [clip_a[0] + clip_b[0]]
    assert slice_stats(summed, 50.0)["codebooks"][0]["entropy_bits"] == pytest.approx(1.0)


def test_empty_histogram_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        slice_stats([np.zeros(4, dtype=int)], 50.0)
