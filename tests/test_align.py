"""Delay compensation: a codec's delay must not show up as quality loss, on any material."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit import audio as A
from evalkit import registry
from evalkit.codecs.base import Encoded
from evalkit.codecs.pcm import PCM
from evalkit.codecs.pyav import MP3, Opus
from evalkit.pipeline import scoring
from evalkit.pipeline.align import apply_lag, estimate_lag, pair_lag, probe_signal, to_reference
from evalkit.pipeline.scoring import score_metric
from evalkit.pipeline.task import CodecSpec, codec_lag
from tests.conftest import DEFAULT_SET, default_clips


class DelayedPCM(PCM):
    """PCM that prepends a known delay and appends padding, as real codecs do."""

    name = "pcm"
    delay = 1234

    def decode(self, encoded: Encoded) -> tuple[np.ndarray, int]:
        audio, rate = super().decode(encoded)
        pad = np.zeros((1, self.delay), np.float32)
        return np.concatenate([pad, audio, pad[:, :100]], axis=1), rate


@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_probe_lag_recovers_a_known_codec_delay_at_any_clip_rate(rate):
    lag = codec_lag(DelayedPCM(), CodecSpec("delayed"), 256.0, rate, 1)
    assert lag == round(DelayedPCM.delay * rate / 16000)


def test_aligned_delayed_codec_scores_like_undelayed():
    row = next(c for c in default_clips() if c["domain"] == "speech")
    ref, rate = A.read(DEFAULT_SET / row["path"])
    codec = DelayedPCM()
    decoded, out_rate = codec.decode(codec.encode(A.resample(ref, rate, 16000), 16000, 256.0))
    decoded = A.resample(decoded, out_rate, rate)
    lag = codec_lag(codec, CodecSpec("delayed2"), 256.0, rate, 1)
    r, d = apply_lag(ref, decoded, lag)
    snr = 10 * np.log10((r**2).sum() / ((r - d) ** 2).sum())
    assert snr > 60  # 16-bit PCM: aligned, the only difference is quantization


@pytest.mark.parametrize("codec_cls,kbps", [(Opus, 6.0), (Opus, 24.0), (MP3, 16.0), (MP3, 64.0)])
def test_probe_lag_matches_the_lag_on_real_speech(codec_cls, kbps):
    """On speech, per-clip GCC-PHAT is reliable; the probe must agree with it to a sample."""
    row = next(c for c in default_clips() if c["domain"] == "speech")
    ref, rate = A.read(DEFAULT_SET / row["path"])
    codec = codec_cls()
    decoded, out_rate = codec.decode(codec.encode(ref, rate, kbps))
    on_clip = estimate_lag(ref, A.resample(decoded, out_rate, rate), rate // 4, rate)
    assert abs(codec_lag(codec, CodecSpec(codec.name), kbps, rate, 1) - on_clip) <= 1


def test_probe_lag_is_stable_where_per_clip_estimates_fail():
    """Opus at 6 kbps on music: per-clip estimates scatter (measured: 10646, -21, -22, 6 samples
    on four clips); the probe gives the codec's one true delay, the same at every call."""
    codec = Opus()
    lags = {codec_lag(codec, CodecSpec(f"opus-{i}"), 6.0, 44100, 1) for i in range(2)}
    assert len(lags) == 1 and abs(lags.pop()) < 0.001 * 44100


def test_gcc_phat_finds_shift_on_tonal_material():
    probe = probe_signal(16000, 1)
    for shift in (0, 7, 480, -33):
        deg = np.roll(probe, shift, axis=1)
        assert estimate_lag(probe, deg, 2000, 16000) == shift


def test_apply_lag_trims_to_common_length():
    ref = np.arange(10, dtype=np.float32)[None]
    deg = np.concatenate([[[0, 0]], ref, [[0]]], axis=1)
    r, d = apply_lag(ref, deg, 2)
    assert np.array_equal(r, d)


def test_to_reference_shifts_and_pads_with_silence_never_trimming_the_reference():
    deg = np.arange(1, 9, dtype=np.float32)[None]
    assert to_reference(deg, 2, 10).tolist() == [[3, 4, 5, 6, 7, 8, 0, 0, 0, 0]]
    assert to_reference(deg, -3, 6).tolist() == [[0, 0, 0, 1, 2, 3]]
    assert to_reference(deg, 20, 4).tolist() == [[0, 0, 0, 0]]


def test_pair_lag_is_known_none_or_estimated():
    probe = probe_signal(16000, 1)
    deg = np.roll(probe, 480, axis=1)
    assert [pair_lag(probe, deg, 16000, a) for a in ("none", "estimate", 7)] == [0, 480, 7]
    with pytest.raises(ValueError, match="align must be"):
        pair_lag(probe, deg, 16000, "auto")


#: one of each policy; every metric's own choice is in docs/alignment.md
POLICY_METRICS = ("pesq", "pesq_nb", "visqol_speech", "visqol_audio", "stoi", "estoi",
                  "mel_distance", "stft_distance", "si_sdr", "dnsmos", "distillmos")  # fmt: skip


@pytest.mark.parametrize("name", POLICY_METRICS)
def test_a_metric_receives_the_pair_as_the_policy_says(name, monkeypatch):
    """Self-aligning metrics see both signals as they are; sample-aligned ones the degraded
    signal shifted by the lag and padded to the whole reference."""
    seen = {}
    metric = registry.load(registry.METRICS, name)()
    monkeypatch.setitem(scoring._metrics, name, metric)
    monkeypatch.setattr(metric, "prepare", lambda ref, rate, text=None: seen.setdefault("r", ref))
    monkeypatch.setattr(
        metric,
        "score",
        lambda p, deg, rate: seen.update(d=deg) or dict.fromkeys(metric.outputs or (name,), 1.0),
    )
    rate = metric.evaluation_rate(16000)
    ref = np.ones((1, rate), np.float32)
    deg = np.concatenate([np.zeros((1, 100), np.float32), ref[:, : rate // 2]], axis=1)
    domain = next(d for d in ("speech", "music") if metric.applies_to(d))
    rows = score_metric(name, "key", "clip", domain, ref, deg, rate, lag=100)
    assert {r["status"] for r in rows} == {"ok"}, rows
    assert seen["r"].shape[-1] == rate
    if metric.needs_alignment:
        assert seen["d"].shape[-1] == rate and seen["d"][..., rate // 2 :].max() == 0
    else:  # not shifted; ViSQOL's shorter degraded padded at its end
        padded = rate if metric.pads_short_degraded else deg.shape[1]
        assert seen["d"].shape[-1] == padded and seen["d"][..., :100].max() == 0


class PhaseFreePCM(PCM):
    """Keeps STFT magnitudes and draws new phases, then delays by 400 samples: like a neural codec
    that rebuilds a plausible waveform that does not match the input's."""

    name = "pcm"

    def decode(self, encoded: Encoded) -> tuple[np.ndarray, int]:
        import torch

        audio, rate = super().decode(encoded)
        x = torch.from_numpy(audio[0])
        win = torch.hann_window(512)
        spec = torch.stft(x, 512, 128, window=win, return_complex=True)
        phase = torch.rand(spec.shape, generator=torch.Generator().manual_seed(0)) * 2 * np.pi
        y = torch.istft(torch.polar(spec.abs(), phase), 512, 128, window=win, length=len(x))
        out = np.concatenate([np.zeros(400, np.float32), y.numpy()])[None, :]
        return out, rate


def test_delay_of_a_codec_that_does_not_match_the_waveform_is_found_from_envelopes():
    lag = codec_lag(PhaseFreePCM(), CodecSpec("phase-free"), 256.0, 16000, 1)
    assert abs(lag - 400) <= 16  # within 1 ms: GCC-PHAT alone lands anywhere here
