"""Codec cost: real-time factors, parameters, latency and token rate as evalkit defines them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.codecs.base import Codec
from evalkit.codecs.pyav import Opus
from evalkit.pipeline.cost import COLUMNS, codec_facts, cost_table
from evalkit.reports.cost import cost_section


def rows(codec: str, bitrate: float, clip: str, encode_s: float, decode_s: float, audio_s: float):
    """Two metric rows of one coded clip (timings repeat on every row of a clip)."""
    common = {
        "codec": codec,
        "bitrate_kbps": bitrate,
        "nominal_kbps": bitrate,
        "clip_id": clip,
        "encode_s": encode_s,
        "decode_s": decode_s,
        "ref_duration_s": audio_s,
        "status": "ok",
    }
    return [
        {**common, "metric": "stoi", "value": 0.9},
        {**common, "metric": "bitrate_measured_kbps", "value": bitrate * 1.01},
    ]


def test_rtf_is_processing_seconds_per_second_of_audio_with_one_timing_per_clip():
    results = pd.DataFrame(
        rows("opus", 6.0, "a", 1.0, 0.5, 10.0)
        + rows("opus", 6.0, "b", 2.0, 1.0, 5.0)
        + rows("rvq", 6.0, "a", 3.0, 3.0, 10.0)
    )
    codes = pd.DataFrame(
        {
            "codec": "rvq",
            "bitrate_kbps": 6.0,
            "clip_id": "a",
            "codebook": range(8),
            "frame_rate_hz": 75.0,
        }
    )
    facts = {"opus": codec_facts(Opus()), "rvq": {"parameters": 1234}}
    table = cost_table(results, codes, facts, {("opus", 6.0): 0.0}).set_index("codec")
    assert list(table.reset_index().columns) == list(COLUMNS)
    assert table.loc["opus", "encode_rtf"] == pytest.approx(3.0 / 15.0)
    assert table.loc["opus", "decode_rtf"] == pytest.approx(1.5 / 15.0)
    assert table.loc["opus", "clips"] == 2
    assert table.loc["opus", "measured_kbps"] == pytest.approx(6.06)
    assert table.loc["opus", "algorithmic_latency_ms"] == 26.5
    assert table.loc["opus", "frame_rate_hz"] == 50.0  # from its 20-ms frame
    assert np.isnan(table.loc["opus", "tokens_per_s"])  # no codes
    assert table.loc["rvq", "tokens_per_s"] == 75.0 * 8
    assert table.loc["rvq", "parameters"] == 1234
    assert np.isnan(table.loc["rvq", "measured_delay_ms"])  # none measured


class _Tiny(Codec):
    name = "tiny"

    def __init__(self) -> None:
        import torch

        self.encoder = torch.nn.Linear(4, 3)  # 15 parameters
        self.shared = self.encoder  # the same module under two names counts once
        self.decoder = torch.nn.Conv1d(3, 2, kernel_size=5)  # 32

    def offered_bitrates(self):
        return [1.0]

    def encode(self, audio, sample_rate_hz, nominal_kbps):
        raise NotImplementedError

    def decode(self, encoded):
        raise NotImplementedError


def test_parameters_of_neural_codecs_and_none_for_dsp():
    assert _Tiny().parameter_count() == 15 + 32
    assert Opus().parameter_count() is None


def test_report_section_shows_cost_and_says_how_it_was_timed():
    meta = {
        "cost": {
            "device": "cpu",
            "math_threads_per_worker": 1,
            "workers": 2,
            "rows": [
                dict.fromkeys(COLUMNS)
                | {"codec": "rvq", "bitrate_kbps": 6.0, "encode_rtf": 0.02, "parameters": 1.3e7}
            ],
        }
    }
    section = cost_section(meta)
    table = section.tables[0]
    assert [c.text for c in table.rows[0][:6]] == ["rvq", "6.0", "—", "0.020", "—", "13.00 M"]
    assert "1 math thread, device cpu" in table.note
    assert cost_section({}) is None  # runs from before evalkit measured cost
