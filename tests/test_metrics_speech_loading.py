"""Optional packages and local weights of the speech metrics: a clear one-line error without
them, the real loading code with files a test writes, nothing downloaded."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from evalkit.errors import EvalkitError
from evalkit.metrics import asr
from evalkit.metrics.base import ClipText


def one_line_error(call, *names: str) -> str:
    with pytest.raises(EvalkitError) as info:
        call()
    text = str(info.value)
    assert "\n" not in text
    for name in names:
        assert name in text, text
    return text


@pytest.mark.parametrize(
    "metric,module,install",
    [
        ("evalkit.metrics.wer:DWER", "pocketsphinx", "pip install pocketsphinx==5.1.1"),
        ("evalkit.metrics.speaker:SpeakerSimilarity", "resemblyzer", "pip install Resemblyzer"),
        ("evalkit.metrics.pitch:F0RMSE", "parselmouth", "pip install praat-parselmouth"),
        ("evalkit.metrics.warpq:WARPQ", "warpq.core", "pip install warpq==1.5.2"),
    ],
)
def test_a_missing_package_is_one_line_naming_what_to_install(metric, module, install, monkeypatch):
    import importlib

    module_name, cls_name = metric.split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    monkeypatch.setattr(asr, "_backends", {})
    monkeypatch.setattr("evalkit.metrics.pitch._tracks", {})
    audio = np.zeros((1, 16000), np.float32)
    audio[0, ::50] = 0.5

    def use():
        m = cls()
        m.fingerprint()
        m.prepare(audio, 16000, ClipText("en")) if m.uses_text else m.prepare(audio, 16000)

    one_line_error(use, install)


@pytest.mark.parametrize(
    "metric,env",
    [
        ("evalkit.metrics.wer:DWERWhisper", "EVALKIT_WHISPER_MODEL"),
        ("evalkit.metrics.speaker:SpeakerSimilarityECAPA", "EVALKIT_ECAPA_MODEL"),
        ("evalkit.metrics.utmos:UTMOS", "EVALKIT_UTMOS_REPO"),
    ],
)
def test_missing_weights_are_one_line_naming_where_to_put_them(metric, env, monkeypatch, tmp_path):
    import importlib

    module_name, cls_name = metric.split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    for name in ("EVALKIT_WHISPER_MODEL", "EVALKIT_ECAPA_MODEL", "EVALKIT_UTMOS_REPO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(asr, "_backends", {})
    monkeypatch.setitem(sys.modules, "whisper", type(sys)("whisper"))  # installed, no weights
    one_line_error(lambda: cls().fingerprint(), env, "downloads nothing")
    monkeypatch.setenv(env, str(tmp_path / "absent"))
    one_line_error(lambda: cls().fingerprint(), env, str(tmp_path / "absent"))


HUBCONF = '''
import torch


class Tiny(torch.nn.Module):
    """Stands in for UTMOS22: a score from the clip's mean square, through one learned layer."""

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(1, 1)

    def forward(self, wave, sr):
        return self.head(wave.pow(2).mean(dim=1, keepdim=True)).reshape(-1)


def utmos22_strong(pretrained=True, **kwargs):
    assert not pretrained, "evalkit must not ask torch.hub for pretrained weights"
    return Tiny()
'''


def test_utmos_builds_the_repositorys_model_and_loads_the_local_weights(monkeypatch, tmp_path):
    import socket

    import torch

    from evalkit.metrics.utmos import UTMOS

    repo = tmp_path / "SpeechMOS"
    repo.mkdir()
    (repo / "hubconf.py").write_text(HUBCONF)
    weights = {"head.weight": torch.tensor([[8.0]]), "head.bias": torch.tensor([1.0])}
    torch.save(weights, tmp_path / "utmos.pt")
    monkeypatch.setenv("EVALKIT_UTMOS_REPO", str(repo))
    monkeypatch.setenv("EVALKIT_UTMOS_MODEL", str(tmp_path / "utmos.pt"))

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    loud, quiet = (np.tile(np.float32([a, -a]), (1, 8000)) for a in (0.5, 0.25))  # not DC
    metric = UTMOS()
    assert len(metric.fingerprint()["model_sha256"]) == 64
    values = metric.score(metric.prepare(loud, 16000), quiet, 16000)
    assert values == pytest.approx({"utmos": 1 + 8 * 0.0625, "utmos_ref": 1 + 8 * 0.25})


def test_whisper_transcribes_with_a_local_checkpoint_when_installed(monkeypatch, tmp_path):
    """A tiny random Whisper written here: the loading and decoding code runs, offline."""
    whisper = pytest.importorskip("whisper")
    import torch

    dims = whisper.model.ModelDimensions(80, 1500, 8, 1, 1, 51865, 448, 8, 1, 1)
    model = whisper.model.Whisper(dims)
    torch.save({"dims": dims.__dict__, "model_state_dict": model.state_dict()}, tmp_path / "t.pt")
    monkeypatch.setenv("EVALKIT_WHISPER_MODEL", str(tmp_path / "t.pt"))
    monkeypatch.setattr(asr, "_backends", {})
    recogniser = asr.backend("whisper")
    assert "cs" in recogniser.languages() and "en" in recogniser.languages()
    assert isinstance(recogniser.transcribe(np.zeros(16000, np.float32), "en"), str)
