"""MP3 and Opus adapters: real libmp3lame / libopus through PyAV, on real recordings."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit import audio as A
from evalkit.codecs.pyav import MP3, Opus
from evalkit.errors import UsageError
from tests.conftest import DEFAULT_SET, default_clips


def _clip(domain: str) -> tuple[np.ndarray, int]:
    row = next(c for c in default_clips() if c["domain"] == domain)
    return A.read(DEFAULT_SET / row["path"])


@pytest.mark.parametrize("codec_cls", [Opus, MP3])
@pytest.mark.parametrize("domain", ["speech", "music"])
@pytest.mark.parametrize("budget", [16, 24, 32])
def test_measured_bitrate_is_within_ten_percent(codec_cls, domain, budget):
    audio, rate = _clip(domain)
    codec = codec_cls()
    nominal = codec.resolve_bitrate(budget)
    enc = codec.encode(audio, rate, nominal)
    assert enc.nominal_kbps == budget
    assert abs(enc.measured_kbps - budget) / budget < 0.10
    assert enc.container_bits > enc.payload_bits  # container framing is counted apart
    decoded, out_rate = codec.decode(enc)
    assert decoded.dtype == np.float32 and np.isfinite(decoded).all()
    duration = decoded.shape[1] / out_rate
    assert abs(duration - audio.shape[1] / rate) < 0.05  # no padding left in the output


def test_opus_runs_cbr_so_low_rates_hit_their_target():
    audio, rate = _clip("speech")
    enc = Opus().encode(audio, rate, 6.0)
    assert abs(enc.measured_kbps - 6.0) / 6.0 < 0.02
    assert enc.setting["vbr"] == "off"
    _, out_rate = Opus().decode(enc)
    assert out_rate == 48000


def test_mp3_follows_lame_rate_choice_and_records_it():
    audio, rate = _clip("music")
    mp3 = MP3()
    assert mp3.encode(audio, rate, 8).sample_rate_hz == 8000
    assert mp3.encode(audio, rate, 32).sample_rate_hz == 16000
    assert mp3.encode(audio, rate, 128).sample_rate_hz == min(44100, rate)


def test_mp3_on_16k_speech_caps_bitrate_at_mpeg2_maximum():
    audio, rate = _clip("speech")
    assert rate == 16000
    enc = MP3().encode(audio, rate, 320)
    assert enc.nominal_kbps == 160 and enc.sample_rate_hz == 16000


@pytest.mark.parametrize("codec_cls,budget", [(Opus, 5), (MP3, 6)])
def test_budget_below_lowest_setting_is_a_clear_error(codec_cls, budget):
    with pytest.raises(UsageError, match="lowest|offers"):
        codec_cls().resolve_bitrate(budget)


def test_budget_picks_highest_setting_that_fits():
    assert MP3().resolve_bitrate(30) == 24
    assert MP3().resolve_bitrate(1000) == 320
    assert Opus().resolve_bitrate(12.5) == 12.5


def test_stereo_round_trip_keeps_two_channels():
    t = np.arange(48000) / 48000
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)]).astype(np.float32)
    for codec in (Opus(), MP3()):
        enc = codec.encode(0.3 * stereo, 48000, 64)
        decoded, _ = codec.decode(enc)
        assert decoded.shape[0] == 2
