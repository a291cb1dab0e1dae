"""The residual vector quantizer: each stage helps, codes are valid, gradients flow, dead codes
come back, and the checkpoint survives a weights_only round trip."""

from __future__ import annotations

import pytest
import torch

from evalkit.codecs.rvq.model import Decoder, ModelConfig, RVQModel, SameSTFT
from evalkit.codecs.rvq.quantizer import Codebook, ResidualVectorQuantizer, kmeans
from evalkit.codecs.rvq.train import export_model, load_model


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: one thread is fastest, and far faster on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY = ModelConfig(
    encoder_width=8,
    encoder_blocks=1,
    latent_dim=16,
    decoder_width=8,
    decoder_blocks=1,
    num_quantizers=4,
    codebook_size=64,
    quantizer_dropout=(2, 4),
)


def clustered_latents(n: int, dim: int = 8, seed: int = 0) -> torch.Tensor:
    """(1, dim, n) latents drawn around 20 centres at several scales (a realistic residual)."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(20, dim, generator=gen) * 3
    pick = torch.randint(20, (n,), generator=gen)
    x = centres[pick] + torch.randn(n, dim, generator=gen)
    return x.t()[None]


def test_kmeans_recovers_separated_clusters():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = centres.repeat_interleave(50, 0) + 0.1 * torch.randn(150, 2)
    torch.manual_seed(1)
    found = kmeans(x, 3, num_iters=20)
    dist = torch.cdist(centres, found).min(dim=1).values
    assert dist.max() < 0.5


def test_latent_error_falls_with_every_stage():
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(dim=8, num_quantizers=6, codebook_size=32)
    train = clustered_latents(1000)
    rvq.train()
    for _ in range(10):
        rvq(train)
    rvq.eval()
    test = clustered_latents(500, seed=1)
    errors = [float((rvq.decode(rvq.encode(test, k)) - test).pow(2).mean()) for k in range(1, 7)]
    assert all(b < a for a, b in zip(errors, errors[1:], strict=False)), errors
    assert errors[-1] < 0.2 * errors[0]


def test_forward_matches_encode_decode_and_codes_in_range():
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(dim=8, num_quantizers=4, codebook_size=16)
    z = clustered_latents(300)
    rvq(z)  # k-means initialisation
    rvq.eval()
    result = rvq(z, n_q=3)
    codes = rvq.encode(z, 3)
    assert codes.shape == (3, 1, 300)
    assert torch.equal(result.codes, codes)
    assert int(codes.min()) >= 0 and int(codes.max()) < 16
    assert torch.allclose(result.quantized, rvq.decode(codes), atol=1e-5)


def test_model_codes_in_range_and_decode_deterministic():
    torch.manual_seed(0)
    model = RVQModel(TINY)
    model.train()
    model(torch.randn(2, 1, 3200) * 0.1, n_q=4)  # initialise every codebook
    model.eval()
    wav = torch.randn(1, 1, 6400) * 0.1
    with torch.inference_mode():
        codes = model.encode(wav)
        again = model.encode(wav)
        out1, out2 = model.decode(codes[:2]), model.decode(codes[:2])
    assert codes.shape == (4, 1, 20)  # 6400 samples / hop 320
    assert codes.dtype == torch.int64
    assert int(codes.min()) >= 0 and int(codes.max()) < 64
    assert torch.equal(codes, again)
    assert torch.equal(out1, out2)
    assert out1.shape == wav.shape


def test_gradients_reach_the_encoder():
    torch.manual_seed(0)
    model = RVQModel(TINY).train()
    wav = torch.randn(2, 1, 3200) * 0.1
    out, q, _ = model(wav, n_q=4)
    ((out - wav).abs().mean() + q.commitment_loss).backward()
    first_conv = model.encoder.net.inp.weight
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0


def test_bypass_decodes_the_latents_themselves():
    torch.manual_seed(0)
    model = RVQModel(TINY).eval()
    wav = torch.randn(1, 1, 3200) * 0.1
    out, q, _ = model(wav, n_q=0)
    assert q is None
    assert torch.equal(out, model.decoder(model.encoder(wav)))


@pytest.mark.parametrize("sub", range(4))
def test_encoder_short_view_says_where_in_its_frame_a_click_is(sub):
    encoder = RVQModel(TINY).encoder
    wav = torch.zeros(1, 1, 320 * 10)
    wav[0, 0, 320 * 6 + 80 * sub + 40] = 1.0  # the centre of frame 6's sub-frame ``sub``
    view = encoder.short_view(wav)
    assert view.shape == (1, 161 * 4, 10)
    energy = view[0].view(161, 4, 10).exp().sum(0)  # (sub-frame, frame)
    assert divmod(int(energy.argmax()), 10) == (sub, 6)


def test_encoder_short_view_starts_switched_off():
    """Zero-initialised, so ``--init`` from a model trained without it starts unchanged."""
    encoder = RVQModel(TINY).encoder
    wav = torch.randn(1, 1, 3200) * 0.1
    assert torch.equal(encoder(wav), encoder.net(encoder.stft.log_magnitude(wav)))


def test_stft_frames_invert_exactly_with_the_input_length():
    stft = SameSTFT(window=1280, hop=320)
    wav = torch.randn(2, 1, 320 * 30)
    spec = stft(wav)
    assert spec.shape[-1] == 30
    assert torch.allclose(stft.inverse(spec), wav, atol=1e-5)


@pytest.mark.parametrize("k", [37, 38, 40])  # a quarter, half and whole turn per frame
def test_decoder_holds_a_steady_tone_in_any_bin(k):
    """The same frame repeated (one bin at magnitude 1, one phase) comes out as that bin's steady
    tone at full amplitude: overlap-add would cancel it unless k is a multiple of 4 (the tone a
    multiple of the 75 Hz frame rate) were the phase advance missing."""
    decoder = Decoder(TINY)
    with torch.no_grad():
        decoder.net.out.weight.zero_()
        decoder.net.out.bias.fill_(0.0)
        decoder.net.out.bias[: TINY.bins] = -30.0
        decoder.net.out.bias[k] = 0.0
    out = decoder(torch.zeros(1, TINY.latent_dim, 40))[0, 0, 2 * TINY.window : -2 * TINY.window]
    # One bin of magnitude 1 is a cosine of amplitude 2 / window per frame; Hann overlap-add at
    # 4x overlap, normalised by the squared window, scales it by sum(w) / sum(w^2) = 4 / 3.
    amplitude = 2 / TINY.window * 4 / 3
    assert float(out.square().mean().sqrt()) == pytest.approx(amplitude / 2**0.5, rel=0.01)
    spectrum = torch.fft.rfft(out).abs()
    assert int(spectrum.argmax()) == round(k * len(out) / TINY.window)


def test_dead_code_is_restarted_at_a_batch_vector():
    torch.manual_seed(0)
    book = Codebook(dim=4, size=8, dead_fraction=0.5)
    x = torch.randn(64, 4)
    book.init_from_(x)
    book.embed[3] = 1e3  # far from all data: nobody picks it
    book.cluster_size[3] = 0.0
    book.update_(x, book.encode(x))
    assert book.embed[3].abs().max() < 100
    assert (book.embed[3] == x).all(dim=1).any()  # restarted at one of the batch's latents
    assert float(book.cluster_size[3]) == 1.0


def test_checkpoint_round_trip_with_weights_only(tmp_path):
    torch.manual_seed(0)
    model = RVQModel(TINY)
    model.train()
    model(torch.randn(2, 1, 3200) * 0.1, n_q=4)
    model.eval()
    path = tmp_path / "model.pt"
    export_model(model, path, {"steps": 1})
    loaded, meta = load_model(path)  # torch.load(weights_only=True) inside
    assert meta == {"steps": 1}
    assert loaded.cfg == model.cfg
    for name, value in model.state_dict().items():
        expected = value.half().float() if value.is_floating_point() else value
        assert torch.equal(loaded.state_dict()[name].float(), expected.float()), name
