"""Hostile pairs: a decoded file shorter, longer or shifted against its reference, through the
paths a user types (``evalkit score``, ``evalkit run --pairs``). No metric may score a truncated
copy as perfect, and every row says how long each side is."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from evalkit.cli import app
from tests.robustness.conftest import CLEAN, clean_clip

runner = CliRunner()
SPEECH_METRICS = "pesq_wb,visqol_speech,stoi,estoi,si_sdr,mel_distance,stft_distance"


def cases(tmp_path):
    """(name, degraded) variants of a 16-kHz default-set speech clip (3.3 s), written as files."""
    ref, rate = clean_clip(CLEAN[0])
    ref = ref[:, : 4 * rate]
    n = ref.shape[1]
    silence = np.zeros((1, rate // 4), np.float32)
    variants = {
        "copy": ref,
        "first-half": ref[:, : n // 2],
        "last-half": ref[:, n // 2 :],
        "padded": np.concatenate([ref, silence], axis=1),
        "delayed": np.concatenate([silence[:, :800], ref], axis=1),
        "advanced": ref[:, 800:],
    }
    sf.write(tmp_path / "ref.wav", ref.T, rate, subtype="FLOAT")
    for name, deg in variants.items():
        sf.write(tmp_path / f"{name}.wav", deg.T, rate, subtype="FLOAT")
    return rate, n, list(variants)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Every variant through one pairs-mode run and, for the same files, ``evalkit score``."""
    root = tmp_path_factory.mktemp("pairs-alignment")
    rate, n, names = cases(root)
    with open(root / "pairs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["id", "reference", "degraded", "domain"])
        writer.writeheader()
        for name in names:
            writer.writerow({"id": name, "reference": "ref.wav", "degraded": f"{name}.wav",
                             "domain": "speech"})  # fmt: skip
    args = ["run", "--pairs", str(root / "pairs.csv"), "--metrics", SPEECH_METRICS]
    result = runner.invoke(app, [*args, "--workers", "2", "--out", str(root / "run")])
    assert result.exit_code == 0, result.output
    rows = pd.read_parquet(root / "run" / "results.parquet")
    table = rows.pivot_table(index="clip_id", columns="metric", values="value")
    return root, rate, n, rows, table


def test_the_copy_scores_as_a_copy(scored):
    _, _, _, _, table = scored
    assert table.loc["copy", "pesq_wb"] > 4.5 and table.loc["copy", "visqol_speech"] > 4.5
    assert table.loc["copy", "stoi"] > 0.999 and table.loc["copy", "mel_distance"] < 1e-3


@pytest.mark.parametrize("name", ["first-half", "last-half"])
def test_a_truncated_copy_is_not_perfect_on_any_metric(scored, name):
    _, rate, n, rows, table = scored
    copy, cut = table.loc["copy"], table.loc[name]
    assert cut["pesq_wb"] < copy["pesq_wb"] - 1.0
    assert cut["visqol_speech"] < copy["visqol_speech"] - 1.0
    assert cut["stoi"] < 0.8 and cut["estoi"] < 0.8
    assert cut["si_sdr"] < 10 and cut["mel_distance"] > 1 and cut["stft_distance"] > 1
    lengths = rows[rows["clip_id"] == name][["ref_duration_s", "deg_duration_s"]]
    assert set(lengths["ref_duration_s"]) == {n / rate}
    kept = n - n // 2 if name == "last-half" else n // 2
    assert set(lengths["deg_duration_s"]) == {kept / rate}


def test_trailing_silence_costs_nothing_and_is_reported(scored):
    _, rate, n, rows, table = scored
    assert table.loc["padded", "mel_distance"] < 1e-3  # cut to the reference's length
    assert table.loc["padded", "pesq_wb"] == pytest.approx(table.loc["copy", "pesq_wb"], abs=0.05)
    assert set(rows[rows["clip_id"] == "padded"]["deg_duration_s"]) == {(n + rate // 4) / rate}


@pytest.mark.parametrize("name", ["delayed", "advanced"])
def test_a_shift_moves_sample_aligned_metrics_only_unless_estimated(scored, name):
    """Without --align estimate no lag is assumed (lag 0): PESQ and ViSQOL align themselves and
    barely move, sample-aligned metrics see the shift; estimated, the lag is found and recorded."""
    root, _, _, rows, table = scored
    assert set(rows[rows["clip_id"] == name]["lag_samples"]) == {0.0}
    if name == "delayed":  # (advanced has lost its first 50 ms, which PESQ rightly counts)
        assert table.loc[name, "pesq_wb"] > table.loc["copy", "pesq_wb"] - 0.2
    assert table.loc[name, "si_sdr"] < 5
    result = runner.invoke(app, ["score", str(root / "ref.wav"), str(root / f"{name}.wav"),
                                 "--metrics", "si_sdr,mel_distance", "--align", "estimate",
                                 "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    estimated = {r["metric"]: r for r in json.loads(result.stdout)}
    assert estimated["mel_distance"]["lag_samples"] == (800 if name == "delayed" else -800)
    assert estimated["si_sdr"]["value"] > 30 or estimated["si_sdr"]["status"] == "not_applicable"


def test_pairs_mode_and_score_give_the_same_numbers(scored):
    root, _, _, _, table = scored
    result = runner.invoke(app, ["score", str(root / "ref.wav"), str(root / "first-half.wav"),
                                 "--metrics", "pesq_wb,stoi,mel_distance", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    for row in json.loads(result.stdout):
        assert row["value"] == pytest.approx(table.loc["first-half", row["metric"]], abs=1e-9)
