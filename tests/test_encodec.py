"""EnCodec adapters against the ``encodec`` package itself.

No weights can be downloaded here, so each variant's real architecture is built by the package with
seeded random weights, saved to a checkpoint file, and loaded back through the adapter's
``--checkpoint`` path. The reference is the package's own model object, called the documented
way: ``set_target_bandwidth(b)``, ``encode``, ``decode``.
"""

from __future__ import annotations

import hashlib
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from encodec import EncodecModel

from evalkit.codecs.encodec import EnCodec24kHz, EnCodec48kHz
from evalkit.errors import EvalkitError, UsageError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@dataclass
class Variant:
    library: EncodecModel
    checkpoint: Path


def _random_variant(factory, path: Path) -> Variant:
    torch.manual_seed(0)
    model = factory(pretrained=False)
    # Untrained EnCodec codebooks are zeros (k-means fills them on the first training batch);
    # random ones at the scale of the encoder's output make the codes vary, so equality means
    # something.
    with torch.no_grad():
        scale = model.encoder(0.1 * torch.randn(1, model.channels, model.sample_rate)).std()
    state = model.state_dict()
    for key in state:
        if key.endswith("_codebook.embed"):
            state[key] = torch.randn_like(state[key]) * scale
    model.load_state_dict(state)
    torch.save(state, path)
    return Variant(model.eval(), path)


@pytest.fixture(scope="module")
def v24(tmp_path_factory) -> Variant:
    path = tmp_path_factory.mktemp("encodec") / "random_24khz.th"
    return _random_variant(EncodecModel.encodec_model_24khz, path)


@pytest.fixture(scope="module")
def v48(tmp_path_factory) -> Variant:
    path = tmp_path_factory.mktemp("encodec") / "random_48khz.th"
    return _random_variant(EncodecModel.encodec_model_48khz, path)


def _audio(channels: int, samples: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 24000
    tone = 0.3 * np.sin(2 * np.pi * 330 * t) * np.linspace(0.2, 1, samples)
    return (tone + 0.05 * rng.standard_normal((channels, samples))).astype(np.float32)


def _library(model: EncodecModel, audio: np.ndarray, bandwidth: float):
    model.set_target_bandwidth(bandwidth)
    with torch.no_grad():
        frames = model.encode(torch.from_numpy(audio)[None])
        decoded = model.decode(frames)[0, :, : audio.shape[1]].numpy()
    return frames, decoded


def _check_against_library(codec, model, audio, bitrates: list[float]) -> None:
    encoded = codec.encode_many(audio, codec.sample_rate_hz, bitrates)
    for enc, bandwidth in zip(encoded, bitrates, strict=True):
        frames, expected = _library(model, audio, bandwidth)
        codes = np.concatenate([c[0].numpy() for c, _ in frames], axis=1)
        np.testing.assert_array_equal(enc.codes, codes)
        decoded, rate = codec.decode(enc)
        assert rate == codec.sample_rate_hz and decoded.dtype == np.float32
        assert decoded.shape == audio.shape
        np.testing.assert_allclose(decoded, expected, rtol=0, atol=1e-6)
        scales = sum(32 for _, scale in frames if scale is not None)
        assert enc.payload_bits == codes.size * 10 + scales
        assert enc.codebook_size == 1024 and enc.setting["n_codebooks"] == codes.shape[0]


def test_24khz_equals_library_at_every_bandwidth(v24):
    codec = EnCodec24kHz(checkpoint=str(v24.checkpoint))
    audio = _audio(1, 12_000)
    _check_against_library(codec, v24.library, audio, [1.5, 3.0, 6.0, 12.0, 24.0])
    assert len(np.unique(codec.encode(audio, 24_000, 24.0).codes)) > 50  # codes really vary


def test_48khz_stereo_segments_equal_library_and_count_side_info(v48):
    codec = EnCodec48kHz(checkpoint=str(v48.checkpoint))
    audio = _audio(2, 50_400)  # 1.05 s: two overlapping 1-s segments, overlap-added on decode
    _check_against_library(codec, v48.library, audio, [3.0, 24.0])
    enc = codec.encode(audio, 48_000, 3.0)
    assert enc.setting["segments"] == 2
    assert enc.codes.shape == (2, 150 + 9)  # segment 2: samples 47 520..50 400, 9 frames


def test_48khz_payload_counts_segment_overlap_and_scales(v48):
    """Segments advance by 0.99 s but each sends 1 s of frames; each has a float32 scale."""
    codec = EnCodec48kHz(checkpoint=str(v48.checkpoint))
    enc = codec.encode(_audio(2, 4 * 47_520), 48_000, 6.0)  # 3.96 s: 4 segments
    assert enc.setting["segments"] == 4
    frames = 3 * 150 + 149  # the last segment holds 47 520 samples
    assert enc.codes.shape == (4, frames)
    assert enc.payload_bits == frames * 4 * 10 + 4 * 32
    assert enc.measured_kbps > 6.0 * 1.01


def test_bitrate_budget_rule(v24):
    codec = EnCodec24kHz(checkpoint=str(v24.checkpoint))
    assert codec.resolve_bitrate(5.0) == 3.0
    assert codec.resolve_bitrate(100.0) == 24.0
    with pytest.raises(
        UsageError, match=r"lowest setting is 1.5 kbps \(offered: 1.5, 3, 6, 12, 24\)"
    ):
        codec.resolve_bitrate(1.0)
    with pytest.raises(ValueError, match="mono audio at 24000 Hz|1-channel audio at 24000 Hz"):
        codec.encode(_audio(1, 1000), 16_000, 3.0)


def test_cached_weights_load_through_torch_hub(v24, tmp_path, monkeypatch):
    """With no --checkpoint, the package's own loader finds the file in torch.hub's cache."""
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / "encodec_24khz-d7cc33bc.th").write_bytes(v24.checkpoint.read_bytes())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    codec = EnCodec24kHz()
    audio = _audio(1, 2_400)
    _, expected = _library(v24.library, audio, 6.0)
    np.testing.assert_allclose(
        codec.decode(codec.encode(audio, 24_000, 6.0))[0], expected, atol=1e-6
    )
    identity = codec.identity()
    assert identity["checkpoint"] == "encodec_24khz-d7cc33bc.th"
    assert identity["checkpoint_sha256"] == hashlib.sha256(v24.checkpoint.read_bytes()).hexdigest()


def test_missing_weights_name_the_file_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(EvalkitError) as info:
        EnCodec48kHz()
    message = str(info.value)
    assert str(tmp_path / "hub" / "checkpoints" / "encodec_48khz-7e698e3e.th") in message
    assert "https://dl.fbaipublicfiles.com/encodec/v0/encodec_48khz-7e698e3e.th" in message
    assert "--checkpoint encodec_48khz=PATH" in message and "\n" not in message


def test_wrong_or_absent_checkpoint_is_a_clear_error(v48, tmp_path):
    with pytest.raises(EvalkitError, match="is not a usable checkpoint"):
        EnCodec24kHz(checkpoint=str(v48.checkpoint))
    with pytest.raises(EvalkitError, match="does not exist"):
        EnCodec24kHz(checkpoint=str(tmp_path / "nothing.th"))


def test_missing_package_says_how_to_install():
    from evalkit.codecs._loading import require

    with pytest.raises(EvalkitError, match="needs the 'no_such_codec_pkg' package.*Neural codecs"):
        require("encodec_24khz", "no_such_codec_pkg")
