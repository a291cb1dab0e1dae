"""The Python API: ``help(evalkit)`` shows it, and its examples run here as tests."""

from __future__ import annotations

import doctest
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import evalkit


def test_the_module_examples_run(tmp_path):
    rate = 16000
    t = np.arange(2 * rate) / rate
    speech_like = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
    sf.write(tmp_path / "a.wav", speech_like.astype(np.float32), rate)
    result = doctest.testmod(
        evalkit,
        extraglobs={"EXAMPLE_DIR": tmp_path},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted >= 8
    assert result.failed == 0


def test_config_and_scoring_examples_run():
    from evalkit.pipeline import config, scoring

    for module in (config, scoring):
        result = doctest.testmod(module)
        assert result.attempted >= 2 and result.failed == 0, module.__name__


def test_help_shows_the_api():
    text = subprocess.run(
        [sys.executable, "-c", "import evalkit; help(evalkit)"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PAGER": "cat", "TERM": "dumb", "PATH": "/usr/bin:/bin"},
    ).stdout
    for name in (
        "evaluate",
        "score_arrays",
        "score_files",
        "load_run",
        "write_report",
        "RunConfig",
    ):
        assert name in text


def test_import_is_light():
    """``import evalkit`` must not pull in torch, pandas or dask: the API imports on use."""
    code = "import sys, evalkit; print(sorted({'torch', 'pandas', 'dask'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert out.strip() == "[]"


def test_score_arrays_reads_integer_pcm_and_refuses_the_samples_by_channels_layout():
    rate = 16000
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    pcm = np.round(tone * 32767).astype(np.int16)
    as_float = evalkit.score_arrays(tone, tone, rate, metrics=["si_sdr"], domain="music")[0]
    as_pcm = evalkit.score_arrays(pcm, tone, rate, metrics=["si_sdr"], domain="music")[0]
    assert as_pcm["value"] > 80 and as_float["status"] == "not_applicable"  # 16-bit rounding
    stereo = np.stack([tone, tone], axis=1)  # (samples, channels): what soundfile.read gives
    with pytest.raises(evalkit.UsageError, match=r"\(16000, 2\).*pass \(channels, samples\)"):
        evalkit.score_arrays(stereo, stereo, rate, metrics=["si_sdr"])
    with pytest.raises(evalkit.UsageError, match="holds bool values"):
        evalkit.score_arrays(tone > 0, tone, rate, metrics=["si_sdr"])
