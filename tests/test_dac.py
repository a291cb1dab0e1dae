"""DAC adapters against the ``descript-audio-codec`` package itself.

No weights can be downloaded here, so each variant's release architecture is built by the package
with seeded random weights, saved with its own ``save`` (the release file format) and loaded back
through the adapter's ``--checkpoint`` path. The reference is the package's model object, called the
documented way: ``compress(signal, win_duration, n_quantizers=k)`` then ``decompress``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import requests
import torch
from audiotools import AudioSignal
from dac import DAC

from evalkit.codecs.dac import DAC16kHz, DAC24kHz, DAC44kHz
from evalkit.errors import EvalkitError, UsageError

VARIANTS = [DAC44kHz, DAC24kHz, DAC16kHz]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, tuple[DAC, Path]]:
    """Per variant: the package's random-weight model and the checkpoint file it saved."""
    folder = tmp_path_factory.mktemp("dac")
    built = {}
    for cls in VARIANTS:
        torch.manual_seed(0)
        model = DAC(**cls.architecture).eval()
        built[cls.name] = model, Path(model.save(str(folder / f"{cls.name}.pth"), package=False))
    return built


@pytest.fixture(scope="module")
def codecs(models) -> dict:
    """Per variant: the adapter, loaded once from the saved checkpoint (loading costs seconds)."""
    return {cls.name: cls(checkpoint=str(models[cls.name][1])) for cls in VARIANTS}


def _audio(samples: int, rate: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * np.linspace(0.2, 1, samples)
    return (tone + 0.05 * rng.standard_normal(samples)).astype(np.float32)[None]


def _library(model: DAC, audio: np.ndarray, rate: int, win_duration: float, k: int | None):
    signal = AudioSignal(torch.from_numpy(audio)[None], rate)
    with torch.no_grad():
        file = model.compress(signal, win_duration=win_duration, n_quantizers=k)
        return file, model.decompress(file).audio_data[0].numpy()


def _check_against_library(codec, model: DAC, audio: np.ndarray, bitrates: list[float]) -> list:
    rate = codec.sample_rate_hz
    encoded = codec.encode_many(audio, rate, bitrates)
    for enc in encoded:
        k = enc.setting["n_codebooks"]
        file, expected = _library(model, audio, rate, codec.win_duration_s, k)
        np.testing.assert_array_equal(enc.codes, file.codes[0].numpy())
        decoded, out_rate = codec.decode(enc)
        assert out_rate == rate and decoded.dtype == np.float32
        np.testing.assert_allclose(decoded, expected, rtol=0, atol=1e-6)
        assert enc.payload_bits == file.codes.numel() * 10 + 32  # codes + float32 input loudness
        assert enc.codebook_size == 1024 and enc.codes.shape[0] == k
    return encoded


@pytest.mark.parametrize("cls", VARIANTS, ids=lambda c: c.name)
def test_short_clip_equals_library_at_lowest_and_highest_bitrate(cls, models, codecs):
    model, _ = models[cls.name]
    codec = codecs[cls.name]
    rate = cls.sample_rate_hz
    audio = _audio(int(0.25 * rate) + 7, rate)  # not a multiple of the hop: see the next test
    offered = codec.offered_bitrates()
    enc = _check_against_library(codec, model, audio, [offered[0], offered[-1]])[-1]
    # coded whole: exactly the nominal number of frames
    assert not enc.setting["chunked"] and len(np.unique(enc.codes)) > 50  # codes really vary
    assert enc.codes.shape[1] == math.ceil(
        audio.shape[1] / math.prod(cls.architecture["encoder_rates"])
    )


def test_hop_multiple_decodes_8_short_where_the_library_fails(models, codecs):
    """16/24 kHz decoders return 8 samples short of a hop multiple; ``decompress`` then fails to
    reshape. The adapter returns those samples, identical to what the library decoded."""
    model, _ = models["dac_16khz"]
    codec = codecs["dac_16khz"]
    audio = _audio(3200, 16_000)
    enc = codec.encode(audio, 16_000, 6.0)
    decoded, _ = codec.decode(enc)
    assert decoded.shape == (1, 3192)
    file = model.compress(
        AudioSignal(torch.from_numpy(audio)[None], 16_000), win_duration=codec.win_duration_s
    )
    with pytest.raises(RuntimeError, match="invalid for input of size 3192"):
        model.decompress(file)
    expected = model.decompress(dataclasses.replace(file, original_length=3192)).audio_data[0]
    np.testing.assert_allclose(decoded, expected.numpy(), rtol=0, atol=1e-6)


def test_chunked_clip_equals_library(models, codecs, monkeypatch):
    """The windowed path, cheaply: a 1-s window (``compress``'s default) chunks a 1.1-s clip."""
    model, _ = models["dac_16khz"]
    codec = codecs["dac_16khz"]
    monkeypatch.setattr(codec, "win_duration_s", 1.0)
    audio = _audio(17_600, 16_000)  # 1.1 s in 1-s windows that advance 5 472 samples
    enc = _check_against_library(codec, model, audio, [2.0])[0]
    assert enc.setting["chunked"] and enc.codes.shape == (4, 4 * 34)  # window context is sent


def test_offered_bitrates_and_budget_rule(codecs):
    offered = {name: codec.offered_bitrates() for name, codec in codecs.items()}
    assert offered["dac_44khz"] == [0.861, 1.723, 2.584, 3.445, 4.307, 5.168, 6.029, 6.891, 7.752]
    assert offered["dac_24khz"] == [0.75 * k for k in range(1, 33)]
    assert offered["dac_16khz"] == [0.5 * k for k in range(1, 13)]
    assert codecs["dac_44khz"].resolve_bitrate(8.0) == 7.752  # the advertised 8 kbps fits
    assert codecs["dac_44khz"].resolve_bitrate(6.0) == 5.168
    with pytest.raises(UsageError, match=r"lowest setting is 0.5 kbps \(offered: 0.5, 1, 1.5,"):
        codecs["dac_16khz"].resolve_bitrate(0.4)
    with pytest.raises(ValueError, match="mono audio at 44100 Hz"):
        codecs["dac_44khz"].encode(np.zeros((2, 4410), np.float32), 44_100, 7.752)


def test_cached_weights_load_through_the_package_loader(models, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    cache = tmp_path / ".cache" / "descript" / "dac"
    cache.mkdir(parents=True)
    _, checkpoint = models["dac_16khz"]
    (cache / "weights_16khz_8kbps_0.0.5.pth").write_bytes(checkpoint.read_bytes())
    codec = DAC16kHz()
    assert codec.identity()["checkpoint"] == "weights_16khz_8kbps_0.0.5.pth"
    assert (
        codec.identity()["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    )


def test_missing_weights_name_the_file_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))

    def offline(url, *args, **kwargs):
        raise requests.exceptions.ConnectionError("Failed to resolve 'github.com'")

    monkeypatch.setattr(requests, "get", offline)
    with pytest.raises(EvalkitError) as info:
        DAC44kHz()
    message = str(info.value)
    assert (
        str(tmp_path / ".cache" / "descript" / "dac" / "weights_44khz_8kbps_0.0.1.pth") in message
    )
    assert "releases/download/0.0.1/weights.pth" in message
    assert "--checkpoint dac_44khz=PATH" in message and "\n" not in message


def test_checkpoint_of_another_variant_is_refused(models):
    with pytest.raises(EvalkitError, match="sample_rate=16000, this variant's has 44100"):
        DAC44kHz(checkpoint=str(models["dac_16khz"][1]))
