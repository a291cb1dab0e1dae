"""evalkit's one resampler: torchaudio's Kaiser sinc with its kernel kept per rate ratio, and
soxr for the rare ratios whose torchaudio kernel would need gigabytes."""

from __future__ import annotations

from math import gcd

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.functional as AF

import evalkit
from evalkit import audio as A


@pytest.mark.parametrize(("source", "target"), [(16000, 44100), (44100, 16000), (22050, 48000)])
def test_resampling_equals_torchaudio_sample_for_sample(source, target):
    x = np.random.default_rng(0).standard_normal((2, 9001)).astype(np.float32)
    g = gcd(source, target)
    expected = AF.resample(
        torch.from_numpy(x), source // g, target // g,
        lowpass_filter_width=A.RESAMPLER["lowpass_filter_width"], rolloff=A.RESAMPLER["rolloff"],
        resampling_method=A.RESAMPLER["method"], beta=A.RESAMPLER["beta"],
    ).numpy()  # fmt: skip
    for _ in range(2):  # built, then kept
        assert np.array_equal(A.resample(x, source, target), expected)


def test_an_irregular_rate_is_resampled_without_a_giant_kernel(tmp_path):
    """44101:44100 Hz reduces to itself: torchaudio's kernel would hold 44100 x 44237 taps."""
    rate = 44101
    tone = (0.3 * np.sin(2 * np.pi * 1000 * np.arange(rate) / rate)).astype(np.float32)[None]
    out = A.resample(tone, rate, 16000)
    assert out.shape == (1, 16000) and out.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(out[0, 2000:-2000] * np.hanning(12000)))
    assert np.argmax(spectrum) * 16000 / 12000 == pytest.approx(1000, abs=2)
    sf.write(tmp_path / "odd.wav", tone.T, rate)  # and through the paths a user takes
    sf.write(tmp_path / "ref.wav", A.resample(tone, rate, 16000).T, 16000)
    (row,) = evalkit.score_files(
        tmp_path / "ref.wav", tmp_path / "odd.wav", ["si_sdr"], domain="music"
    )
    assert row["status"] == "ok" and row["value"] > 30
