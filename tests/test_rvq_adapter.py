"""The ``rvq`` adapter: one encode per clip, exact fixed-rate payload, prefix codes, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evalkit import registry
from evalkit.assets import rvq_checkpoint
from evalkit.codecs.rvq.adapter import RVQCodec
from evalkit.codecs.rvq.model import ModelConfig, RVQModel
from evalkit.codecs.rvq.train import export_model
from evalkit.errors import EvalkitError


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A small model with the real code layout (16 x 1024 at 75 frames/s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = ModelConfig(
        encoder_width=8, encoder_blocks=1, latent_dim=16, decoder_width=8, decoder_blocks=1
    )
    model = RVQModel(cfg).train()
    model(torch.randn(4, 1, 6400) * 0.1, n_q=16)  # k-means initialisation of every codebook
    path = tmp_path_factory.mktemp("rvq") / "tiny.pt"
    export_model(model.eval(), path, {"steps": 0})
    yield path
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def codec(tiny_checkpoint):
    return RVQCodec(checkpoint=str(tiny_checkpoint))


def noise(samples: int) -> np.ndarray:
    return (0.1 * np.random.default_rng(0).standard_normal((1, samples))).astype(np.float32)


def test_registered_under_its_name():
    assert registry.load(registry.CODECS, "rvq") is RVQCodec


def test_offered_bitrates_and_budget_rule(codec):
    assert codec.offered_bitrates() == [1.5, 3.0, 6.0, 12.0]
    assert codec.resolve_bitrate(8) == 6.0
    with pytest.raises(EvalkitError, match="lowest setting is 1.5"):
        codec.resolve_bitrate(1)


def test_encode_once_prefix_codes_and_exact_bitrate(codec):
    encoded = codec.encode_many(noise(24000), 24000, [1.5, 3.0, 6.0, 12.0])
    full = encoded[-1].codes
    assert full.shape == (16, 75)
    for enc, k in zip(encoded, (2, 4, 8, 16), strict=True):
        assert np.array_equal(enc.codes, full[:k])  # each bitrate is a prefix of one encoding
        assert enc.payload_bits == k * 10 * 75
        assert enc.measured_kbps == enc.nominal_kbps  # whole frames: exactly nominal
        assert (enc.codebook_size, enc.frame_rate_hz) == (1024, 75.0)
        assert enc.codes.min() >= 0 and enc.codes.max() < 1024


def test_partial_final_frame_is_sent_whole(codec):
    (enc,) = codec.encode_many(noise(24100), 24000, [6.0])
    assert enc.codes.shape == (8, 76)
    assert enc.payload_bits == 8 * 10 * 76
    assert enc.measured_kbps == pytest.approx(6.0 * 76 * 320 / 24100)


def test_decode_length_and_determinism(codec):
    audio = noise(12345)
    (enc,) = codec.encode_many(audio, 24000, [3.0])
    first, rate = codec.decode(enc)
    second, _ = codec.decode(codec.encode(audio, 24000, 3.0))
    assert rate == 24000 and first.dtype == np.float32 and first.shape == (1, 12345)
    assert np.array_equal(first, second)


def test_errors_name_the_cause(codec, tiny_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="mono audio at 24000 Hz"):
        codec.encode_many(noise(16000), 16000, [6.0])
    with pytest.raises(ValueError, match="no 24 kbps setting"):
        codec.encode_many(noise(24000), 24000, [24.0])
    with pytest.raises(EvalkitError, match="does not exist"):
        RVQCodec(checkpoint=str(tmp_path / "missing.pt"))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(EvalkitError, match="not a usable checkpoint"):
        RVQCodec(checkpoint=str(junk))
    old_version = torch.load(tiny_checkpoint, weights_only=True)
    del old_version["state"]["decoder.frame_in_cycle.weight"]
    torch.save(old_version, tmp_path / "old.pt")
    with pytest.raises(EvalkitError, match="older evalkit.*missing decoder.frame_in_cycle.weight"):
        RVQCodec(checkpoint=str(tmp_path / "old.pt"))


def test_identity_records_checkpoint_hash(codec, tiny_checkpoint):
    import hashlib

    identity = codec.identity()
    assert identity["codec"] == "rvq"
    assert identity["checkpoint_sha256"] == hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()


def test_shipped_checkpoint_loads_by_default():
    assert rvq_checkpoint().stat().st_size <= 40 * 2**20
    codec = RVQCodec()
    assert codec.identity()["checkpoint"] == "rvq.pt"
    (enc,) = codec.encode_many(noise(4800), 24000, [1.5])
    out, _ = codec.decode(enc)
    assert out.shape == (1, 4800) and np.isfinite(out).all()
