"""Every registered metric: outcomes on hostile input, identity scores, the generated table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evalkit import registry
from evalkit.errors import NotApplicable
from evalkit.metrics import applicability_table
from evalkit.metrics.base import Metric
from tests.metrics_fixtures import SPEECH, clip

NAMES = registry.names(registry.METRICS)
BUILT_IN = [
    "pesq",
    "pesq_nb",
    "stoi",
    "estoi",
    "visqol_speech",
    "visqol_audio",
    "mel_distance",
    "stft_distance",
    "si_sdr",
    "dnsmos",
    "distillmos",
]
#: a length each metric cannot score, in samples at the metric's rate (its documented minimum)
TOO_SHORT = {
    "pesq": 3999,
    "pesq_nb": 1999,
    "stoi": 1600,
    "estoi": 1600,
    "visqol_speech": 9000,
    "visqol_audio": 40000,
    "mel_distance": 1024,
    "stft_distance": 1024,
    "si_sdr": 1,
    "dnsmos": 15999,
    "distillmos": 15999,
}


#: metrics whose package is an optional install (see README's test set-up)
OPTIONAL_PACKAGE = {"dnsmos": "speechmos", "distillmos": "distillmos"}


def metric(name: str) -> Metric:
    if name in OPTIONAL_PACKAGE:
        pytest.importorskip(OPTIONAL_PACKAGE[name])
    return registry.load(registry.METRICS, name)()


def speech_at(m: Metric, seconds: float = 3.0) -> tuple[np.ndarray, int]:
    rate = m.evaluation_rate(16000)
    return clip(SPEECH, seconds, rate, mono=m.mono)


def test_every_built_in_metric_is_registered():
    assert set(BUILT_IN) <= set(NAMES)


def test_applicability_table_comes_from_the_classes():
    table = applicability_table()
    for name in BUILT_IN:
        m = metric(name)
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2:5] == [
            "yes" if m.applies_to(d) else "—" for d in ("speech", "music", "environmental")
        ]
    assert "| `pesq` | `pesq_wb` | yes | — | — | 16 kHz |" in table
    assert "| `visqol_audio` | `visqol_audio` | — | yes | yes | 48 kHz |" in table


@pytest.mark.parametrize("name", BUILT_IN)
def test_silent_reference_is_not_applicable(name):
    m = metric(name)
    x, sr = speech_at(m, 1.5)
    with pytest.raises(NotApplicable, match="silent"):
        m.prepare(np.zeros_like(x), sr)


@pytest.mark.parametrize("name", BUILT_IN)
@pytest.mark.parametrize("tiny", [False, True])
def test_too_short_is_not_applicable(name, tiny):
    """Just too short, and a few samples (under one analysis frame: no library crash leaks out)."""
    m = metric(name)
    x, sr = speech_at(m, 3.0)
    n = min(10, TOO_SHORT[name]) if tiny else TOO_SHORT[name]
    x = x[:, 4000 : 4000 + n]  # speech, not the leading silence
    with pytest.raises(NotApplicable) as info:
        m.score(m.prepare(x, sr), x, sr)
    assert "0.000 s" not in str(info.value)  # a few samples are counted, not rounded to 0 s


@pytest.mark.parametrize("name", BUILT_IN)
@pytest.mark.parametrize("where", ["reference", "degraded"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_an_error(name, where, bad):
    m = metric(name)
    x, sr = speech_at(m, 1.5)
    broken = x.copy()
    broken[0, 100] = bad
    with pytest.raises(ValueError, match=f"{where} contains NaN or Inf") as info:
        if where == "reference":
            m.prepare(broken, sr)
        else:
            m.score(m.prepare(x, sr), broken, sr)
    assert not isinstance(info.value, NotApplicable)


@pytest.mark.parametrize("name", ["pesq", "stoi", "mel_distance", "si_sdr"])
def test_empty_degraded_is_an_error(name):
    m = metric(name)
    x, sr = speech_at(m, 1.5)
    with pytest.raises(ValueError, match="samples > 0"):
        m.score(m.prepare(x, sr), x[:, :0], sr)


def test_identity_scores():
    """``score(x, x)`` on speech: the top of each scale (issue 2's acceptance figures)."""
    expected = {
        "pesq_wb": (4.64, 0.01),
        "pesq_nb": (4.55, 0.01),
        "stoi": (1.0, 1e-9),
        "estoi": (1.0, 1e-9),
        "mel_distance": (0.0, 0.0),
        "stft_distance": (0.0, 0.0),
    }
    got = {}
    for name in ["pesq", "pesq_nb", "stoi", "estoi", "mel_distance", "stft_distance"]:
        m = metric(name)
        x, sr = speech_at(m, 4.0)
        got.update(m.score(m.prepare(x, sr), x, sr))
    for key, (value, tol) in expected.items():
        assert got[key] == pytest.approx(value, abs=tol), key


def test_si_sdr_of_identical_signals_is_not_applicable():
    m = metric("si_sdr")
    x, sr = speech_at(m, 1.0)
    with pytest.raises(NotApplicable, match="unbounded"):
        m.score(m.prepare(x, sr), x, sr)


def test_pesq_accepts_a_quarter_second():
    """0.25 s is the pesq package's minimum (BufferTooShortError below it)."""
    m = metric("pesq")
    x, sr = speech_at(m, 3.0)
    x = x[:, 16000 : 16000 + 4000]
    assert 1.0 <= m.score(m.prepare(x, sr), x, sr)["pesq_wb"] <= 4.65


def test_pesq_refuses_other_rates():
    m = metric("pesq")
    x, _ = speech_at(m, 1.0)
    with pytest.raises(ValueError, match="16000 Hz"):
        m.score(m.prepare(x, 8000), x, 8000)


def test_visqol_speech_uses_the_lattice_model():
    m = metric("visqol_speech")
    from visqol.quality_mapper import TFLiteSpeechQualityMapper

    assert isinstance(m.manager.quality_mapper, TFLiteSpeechQualityMapper)
    assert m.fingerprint()["quality_model"].startswith("lattice:")
    assert metric("visqol_audio").fingerprint()["quality_model"].startswith("libsvm:")


def test_visqol_without_lattice_runtime_fails_loudly(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_litert(name, *args, **kwargs):
        if name.startswith("ai_edge_litert"):
            raise ImportError("no ai_edge_litert")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_litert)
    with pytest.raises(RuntimeError, match="never falls back"):
        _ = metric("visqol_speech").manager


def test_visqol_silent_degraded_is_an_error():
    m = metric("visqol_speech")
    x, sr = speech_at(m, 2.0)
    with pytest.raises(ValueError, match="degraded signal is silent"):
        m.score(m.prepare(x, sr), np.zeros_like(x), sr)


def test_spectral_metrics_need_equal_shapes():
    m = metric("mel_distance")
    x, sr = speech_at(m, 1.0)
    with pytest.raises(ValueError, match="differ in shape"):
        m.score(m.prepare(x, sr), x[:, :-1], sr)


def test_readme_applicability_table_is_the_generated_one():
    """docs/metrics.md quotes the table the metric classes generate; a new metric must not leave it
    stale."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "metrics.md").read_text()
    assert applicability_table().strip() in doc


def test_each_metric_is_evaluated_at_its_own_rate_or_the_clips():
    """PESQ is defined at 16 kHz; STOI at the clip's rate; ViSQOL speech at the clip's rate as the
    C++ tool runs it, but never below the 16 kHz its wide-band model expects nor above 48 kHz."""
    names = ("pesq", "stoi", "visqol_speech")
    pesq, stoi, visqol = (registry.load(registry.METRICS, n) for n in names)
    assert [pesq.evaluation_rate(r) for r in (8000, 44100)] == [16000, 16000]
    assert [stoi.evaluation_rate(r) for r in (8000, 44100)] == [8000, 44100]
    assert [visqol.evaluation_rate(r) for r in (8000, 16000, 22050, 48000, 192000)] == [
        16000, 16000, 22050, 48000, 48000,
    ]  # fmt: skip
    assert visqol.rate_label() == "clip's rate within 16-48 kHz"
    assert visqol().fingerprint()["min_rate_hz"] == 16000
    assert visqol().fingerprint()["max_rate_hz"] == 48000
    assert "min_rate_hz" not in stoi().fingerprint()  # other metrics' cache keys are unchanged
