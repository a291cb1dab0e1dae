"""The decoder's harmonic path: the pitch teacher, the comb, teacher forcing, and that
checkpoints without the path still load and initialise a harmonic model."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from evalkit.codecs.rvq.harmonic import F0_MAX_HZ, F0_MIN_HZ, VOICING_BIAS, comb, pitch_view, yin
from evalkit.codecs.rvq.model import RVQModel
from evalkit.codecs.rvq.train import TrainConfig, export_model, initialise_from, load_model, train
from tests.test_rvq_quantizer import TINY
from tests.test_rvq_train import keep_torch_threads, tiny_data  # noqa: F401 (fixtures)

HARMONIC = dataclasses.replace(TINY, harmonic=True)
RATE = 24000


@pytest.mark.parametrize("f0", [80.0, 220.0, 517.0])
def test_yin_finds_a_tone_and_calls_noise_unvoiced(f0):
    t = torch.arange(RATE) / RATE
    found, voiced = yin((0.3 * torch.sin(2 * math.pi * f0 * t))[None, None], 1280, 320, RATE)
    assert found.shape == (1, 75)
    assert voiced[0, 4:-4].all()
    assert torch.allclose(found[0, 4:-4], torch.tensor(f0), rtol=1e-3)
    _, voiced = yin(0.1 * torch.randn(1, 1, RATE, generator=torch.Generator().manual_seed(0)),
                    1280, 320, RATE)  # fmt: skip
    assert not voiced.any()


def test_the_encoder_sees_the_pitch_scaled_and_zero_where_unvoiced():
    t = torch.arange(RATE) / RATE
    view = pitch_view((0.3 * torch.sin(2 * math.pi * 220.0 * t))[None, None], HARMONIC)
    assert view.shape == (1, 2, 75)
    expected = 2 * math.log(220.0 / F0_MIN_HZ) / math.log(F0_MAX_HZ / F0_MIN_HZ) - 1
    assert torch.allclose(view[0, 0, 4:-4], torch.tensor(expected), atol=1e-3)
    assert (view[0, 1, 4:-4] == 1).all()
    noise = 0.1 * torch.randn(1, 1, RATE, generator=torch.Generator().manual_seed(0))
    assert (pitch_view(noise, HARMONIC) == 0).all()


def test_comb_puts_the_energy_on_the_harmonics():
    gain = comb(torch.tensor([[200.0]]), 641, 18.75)[0, :, 0]  # 10.67 bins per harmonic
    hz = torch.arange(641) * 18.75
    on = (hz / 200.0 - (hz / 200.0).round()).abs() * 200.0 / 18.75 < 0.5
    assert (gain[hz < 100] == 1).all()  # below F0 / 2: the envelope as it is
    assert (gain[on & (hz > 100)] > 2).all()
    assert gain[~on & (hz > 100)].max() < gain[on & (hz > 100)].min()
    assert float(gain[hz > 100].square().mean()) == pytest.approx(1.0, rel=0.1)  # energy kept


def test_teacher_forced_f0_places_the_partials():
    torch.manual_seed(0)
    model = RVQModel(HARMONIC).eval()
    with torch.no_grad():
        model.decoder.harmonic.proj.bias[1] = 10.0  # voiced
        model.decoder.net.out.weight.zero_()
        model.decoder.net.out.bias[: HARMONIC.bins] = 0.0  # a flat envelope
    z = torch.zeros(1, HARMONIC.latent_dim, 40)
    out, controls = model.decoder.synthesise(z, torch.full((1, 40), 250.0))
    spectrum = torch.fft.rfft(out[0, 0, 4 * 320 : -4 * 320]).abs()
    hz = torch.arange(len(spectrum)) * RATE / (2 * (len(spectrum) - 1))
    # Within the comb's lobe (+-2 bins of 18.75 Hz), whose bins each advance at their own centre.
    on = (hz - 250.0 * (hz / 250.0).round()).abs() < 40
    assert spectrum[on & (hz > 200)].square().sum() > 0.9 * spectrum[hz > 200].square().sum()
    assert controls.f0_hz.shape == controls.voicing_logit.shape == (1, 40)


def test_a_checkpoint_without_the_path_loads_and_initialises_a_harmonic_model(tmp_path):
    torch.manual_seed(0)
    plain = RVQModel(TINY).eval()
    export_model(plain, tmp_path / "plain.pt", {})
    older = torch.load(tmp_path / "plain.pt", weights_only=True)
    del older["config"]["harmonic"]  # as written before the field existed
    torch.save(older, tmp_path / "older.pt")
    loaded, _ = load_model(tmp_path / "older.pt")
    assert loaded.cfg == TINY and loaded.decoder.harmonic is None

    target = RVQModel(HARMONIC)
    initialise_from(target, tmp_path / "older.pt")
    for name, value in plain.state_dict().items():
        assert torch.equal(target.state_dict()[name].float(), value.half().float()), name
    assert target.decoder.harmonic.proj.weight.abs().sum() == 0  # kept its initialisation
    wav = 0.1 * torch.randn(1, 1, 16 * TINY.hop, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():  # the pitch view starts at zero: the encoder is the one it was given
        assert torch.allclose(target.encoder(wav), loaded.encoder(wav), atol=1e-6)
    with pytest.raises(ValueError, match="lacks"):
        initialise_from(RVQModel(TINY), _exported(target, tmp_path / "harmonic.pt"))


def _exported(model: RVQModel, path):
    export_model(model, path, {})
    return path


def test_a_harmonic_run_trains_f0_and_voicing(tiny_data, tmp_path):  # noqa: F811
    cfg = TrainConfig(
        data=(str(tiny_data),), out=str(tmp_path / "run"), steps=2, batch_size=2, crop_s=0.2,
        discriminator="none", threads=1, log_every=1, model=HARMONIC,
    )  # fmt: skip
    model, _ = load_model(train(cfg, show_progress=False))
    assert model.cfg.harmonic
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    header, last = log[0].split(","), log[-1].split(",")
    assert float(last[header.index("f0")]) >= 0 and float(last[header.index("voicing")]) > 0


def test_training_only_the_head_leaves_the_rest_and_the_codebooks_alone(tiny_data, tmp_path):  # noqa: F811
    torch.manual_seed(0)
    source = RVQModel(TINY).train()
    source(torch.randn(2, 1, 3200) * 0.1, n_q=4)  # initialise every codebook
    path = _exported(source.eval(), tmp_path / "plain.pt")
    cfg = TrainConfig(
        data=(str(tiny_data),), out=str(tmp_path / "run"), steps=2, batch_size=2, crop_s=0.2,
        discriminator="none", threads=1, model=HARMONIC, init=str(path), lr=0.1, warmup_steps=1,
        trainable="decoder.harmonic",
    )  # fmt: skip
    tuned = torch.load(train(cfg, show_progress=False), weights_only=True)["state"]
    before = torch.load(path, weights_only=True)["state"]
    assert all(torch.equal(tuned[k], v) for k, v in before.items())
    start = torch.tensor([0.0, VOICING_BIAS], dtype=torch.float16)
    assert not torch.equal(tuned["decoder.harmonic.proj.bias"], start)  # the head did train


def test_the_adapter_serves_a_harmonic_checkpoint(tmp_path):
    from evalkit.codecs.rvq.adapter import RVQCodec

    torch.manual_seed(0)
    cfg = dataclasses.replace(TINY, harmonic=True, num_quantizers=16, codebook_size=1024,
                              quantizer_dropout=(2, 4, 8, 16))  # fmt: skip
    model = RVQModel(cfg).train()
    model(torch.randn(4, 1, 6400) * 0.1, n_q=16)  # initialise every codebook
    codec = RVQCodec(checkpoint=str(_exported(model.eval(), tmp_path / "harmonic.pt")))
    audio = (0.1 * torch.randn(1, 12345)).numpy()
    decoded, rate = codec.decode(codec.encode(audio, 24000, 6.0))
    assert codec.model.decoder.harmonic is not None
    assert rate == 24000 and decoded.shape == (1, 12345)
