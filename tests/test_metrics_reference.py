"""evalkit's metrics equal their reference implementations on the same real signals."""

from __future__ import annotations

import warnings

import pytest

from evalkit.metrics.spectral import SISDR, MelDistance, STFTDistance
from evalkit.metrics.stoi import ESTOI, STOI
from evalkit.metrics.visqol import ViSQOLAudio, ViSQOLSpeech
from tests.metrics_fixtures import MUSIC, SPEECH, clip, degrade


@pytest.mark.parametrize("cls", [STOI, ESTOI])
@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_stoi_equals_pystoi_at_every_input_rate(cls, rate):
    """The pipeline hands STOI the clip at its own rate; pystoi resamples to 10 kHz itself."""
    from pystoi import stoi

    assert cls.sample_rate_hz is None
    ref, sr = clip(SPEECH, 3.0, rate)
    deg = degrade(ref, sr, 3000)
    metric = cls()
    ours = metric.score(metric.prepare(ref, sr), deg, sr)[cls.name]
    # equal up to float rounding noise that pystoi shows between its own repeated calls
    assert ours == pytest.approx(stoi(ref[0], deg[0], sr, extended=cls.extended), abs=1e-12)
    assert 0.3 < ours < 1.0


# DAC's conf/base.yml: MelSpectrogramLoss and MultiScaleSTFTLoss settings; SISDRLoss defaults.
DAC_MEL = {
    "n_mels": [5, 10, 20, 40, 80, 160, 320],
    "window_lengths": [32, 64, 128, 256, 512, 1024, 2048],
    "mel_fmin": [0.0] * 7,
    "mel_fmax": [None] * 7,
    "pow": 1.0,
    "clamp_eps": 1e-5,
    "mag_weight": 0.0,
    "log_weight": 1.0,
}
DAC_STFT = {"window_lengths": [2048, 512]}


@pytest.mark.parametrize("path,rate,mono", [(MUSIC, 44100, False), (SPEECH, 16000, True)])
def test_spectral_distances_equal_descript_audiotools(path, rate, mono):
    audiotools = pytest.importorskip("audiotools")
    from audiotools.metrics.distance import SISDRLoss
    from audiotools.metrics.spectral import MelSpectrogramLoss, MultiScaleSTFTLoss

    ref, sr = clip(path, 4.0, rate, mono=mono)
    deg = degrade(ref, sr, 4000)
    x = audiotools.AudioSignal(ref[None].copy(), sr)
    y = audiotools.AudioSignal(deg[None].copy(), sr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa: empty mel filters at the 32-sample scale
        expected = {
            "mel_distance": float(MelSpectrogramLoss(**DAC_MEL)(y.clone(), x.clone())),
            "stft_distance": float(MultiScaleSTFTLoss(**DAC_STFT)(y.clone(), x.clone())),
            "si_sdr": -float(SISDRLoss()(x.clone(), y.clone())),
        }
    for cls in (MelDistance, STFTDistance, SISDR):
        metric = cls()
        ours = metric.score(metric.prepare(ref, sr), deg, sr)[cls.name]
        assert ours == pytest.approx(expected[cls.name], rel=1e-5), cls.name
    assert expected["mel_distance"] > 0.1


def test_mel_distance_is_the_sum_over_scales():
    """DAC's loss sums its 7 scales; a per-scale mean would be 7 times smaller."""
    metric = MelDistance()
    ref, sr = clip(SPEECH, 2.0, 44100)
    deg = degrade(ref, sr, 4000)
    ref_mels, deg_mels = metric._features(ref, sr), metric._features(deg, sr)
    per_scale = [float((r - d).abs().mean()) for r, d in zip(ref_mels, deg_mels, strict=True)]
    assert len(per_scale) == 7
    assert metric.score(metric.prepare(ref, sr), deg, sr)["mel_distance"] == pytest.approx(
        sum(per_scale), rel=1e-6
    )


@pytest.mark.parametrize("cls,path", [(ViSQOLSpeech, SPEECH), (ViSQOLAudio, MUSIC)])
def test_visqol_with_prepared_reference_equals_the_package(cls, path):
    """One ``prepare`` reused for two degradations gives the package's own values."""
    from visqol.api import VisqolApi

    ref, sr = clip(path, 4.0, cls.sample_rate_hz)
    metric = cls()
    prepared = metric.prepare(ref, sr)
    api = VisqolApi()
    api.create(mode=cls.mode, use_lattice_model=True if cls.mode == "speech" else None)
    for band, seed in ((3000, 1), (7000, 2)):
        deg = degrade(ref, sr, band, seed)
        ours = metric.score(prepared, deg, sr)[cls.outputs[0]]
        theirs = api.measure_from_arrays(ref[0], deg[0], sr).moslqo
        # equal up to the package's own run-to-run float noise (~1e-15, memory alignment)
        assert ours == pytest.approx(theirs, abs=1e-12)
    assert len(prepared.slices) > 0  # the reference slices were reused


def test_visqol_accepts_unequal_lengths_like_the_package():
    from visqol.api import VisqolApi

    ref, sr = clip(SPEECH, 3.0, 16000)
    deg = degrade(ref, sr, 3000)[:, :-800]
    metric = ViSQOLSpeech()
    api = VisqolApi()
    api.create(mode="speech", use_lattice_model=True)
    assert metric.score(metric.prepare(ref, sr), deg, sr)["visqol_speech"] == pytest.approx(
        api.measure_from_arrays(ref[0], deg[0], sr).moslqo, abs=1e-12
    )


@pytest.mark.slow
def test_dnsmos_runs_offline_and_equals_the_package(monkeypatch):
    """Models come from the speechmos wheel: with sockets refused, values equal a direct call."""
    import socket

    pytest.importorskip("speechmos")
    from speechmos import dnsmos

    from evalkit.metrics.dnsmos import DNSMOS

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    ref, sr = clip(SPEECH, 4.0, 16000)
    deg = degrade(ref, sr, 3000)
    metric = DNSMOS()
    ours = metric.score(metric.prepare(ref, sr), deg, sr)
    direct = dnsmos.run(deg[0], sr)  # the reference goes through the same function in prepare
    for key, name in (
        ("sig_mos", "sig"),
        ("bak_mos", "bak"),
        ("ovrl_mos", "ovrl"),
        ("p808_mos", "p808"),
    ):
        assert ours[f"dnsmos_{name}"] == pytest.approx(float(direct[key]), abs=1e-9)
    assert ours["dnsmos_ovrl"] < ours["dnsmos_ovrl_ref"]


def test_distillmos_runs_offline_and_equals_the_package(monkeypatch):
    import socket

    distillmos = pytest.importorskip("distillmos")
    import torch

    from evalkit.metrics.distillmos import DistillMOS

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    ref, sr = clip(SPEECH, 3.0, 16000)
    deg = degrade(ref, sr, 2000)
    metric = DistillMOS()
    ours = metric.score(metric.prepare(ref, sr), deg, sr)
    model = distillmos.ConvTransformerSQAModel().eval()
    with torch.no_grad():
        direct = {
            name: float(model(torch.from_numpy(x)))
            for name, x in (("distillmos", deg), ("distillmos_ref", ref))
        }
    assert ours == pytest.approx(direct, abs=1e-6)
    assert ours["distillmos"] < ours["distillmos_ref"]
