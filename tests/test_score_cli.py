"""``evalkit score``: one pair of files through the command a user types, and its Python API."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from evalkit import audio as A
from evalkit.cli import app
from evalkit.metrics.pesq import p862_raw
from evalkit.pipeline.scoring import score_arrays, score_files
from tests.conftest import DEFAULT_SET, default_clips
from tests.metrics_fixtures import CONFORMANCE

runner = CliRunner()


def score_json(*args: str) -> dict[str, dict]:
    result = runner.invoke(app, ["score", *map(str, args), "--json"])
    assert result.exit_code == 0, result.output
    return {row["metric"]: row for row in json.loads(result.stdout)}


def music_excerpt(seconds: float = 3.0) -> tuple[np.ndarray, int]:
    clip = next(c for c in default_clips() if c["domain"] == "music")
    ref, rate = A.read(DEFAULT_SET / clip["path"])
    return ref[:, : int(seconds * rate)], rate


def test_a_delayed_copy_scores_as_identical_when_asked_to_estimate_the_lag(tmp_path):
    ref, rate = music_excerpt()
    sf.write(tmp_path / "ref.wav", ref.T, rate, subtype="FLOAT")
    delayed = np.concatenate([np.zeros((ref.shape[0], 480), np.float32), ref], axis=1)
    sf.write(tmp_path / "deg.wav", delayed.T, rate, subtype="FLOAT")
    args = (tmp_path / "ref.wav", tmp_path / "deg.wav", "--domain", "music")
    rows = score_json(*args, "--metrics", "mel_distance,si_sdr", "--align", "estimate")
    assert {row["lag_samples"] for row in rows.values()} == {480}
    assert rows["mel_distance"]["value"] < 1e-3
    assert rows["si_sdr"]["error"].endswith("degraded equals the reference, SI-SDR is unbounded")
    unaligned = score_json(*args, "--metrics", "mel_distance")  # the default: no lag
    assert unaligned["mel_distance"]["lag_samples"] == 0
    assert unaligned["mel_distance"]["value"] > 0.1
    assert unaligned["mel_distance"]["deg_duration_s"] == pytest.approx(3 + 480 / rate)


def test_a_truncated_copy_is_penalised_and_its_length_reported(tmp_path):
    clip = next(c for c in default_clips() if c["domain"] == "speech")
    ref, rate = A.read(DEFAULT_SET / clip["path"])
    sf.write(tmp_path / "full.wav", ref.T, rate, subtype="FLOAT")
    sf.write(tmp_path / "half.wav", ref[:, : ref.shape[1] // 2].T, rate, subtype="FLOAT")
    metrics = "pesq_wb,stoi,mel_distance,si_sdr"
    same = score_json(tmp_path / "full.wav", tmp_path / "full.wav", "--metrics", metrics)
    half = score_json(tmp_path / "full.wav", tmp_path / "half.wav", "--metrics", metrics)
    assert half["stoi"]["deg_duration_s"] == pytest.approx(half["stoi"]["ref_duration_s"] / 2)
    assert half["pesq_wb"]["value"] < same["pesq_wb"]["value"] - 2
    assert half["stoi"]["value"] < 0.8
    assert half["mel_distance"]["value"] > 1
    assert half["si_sdr"]["value"] < 5


def test_a_missing_or_unreadable_file_is_named(tmp_path):
    sf.write(tmp_path / "ok.wav", np.zeros(16000, np.float32) + 0.1, 16000)
    (tmp_path / "text.wav").write_text("not audio")
    for other, cause in (("nope.wav", "no such file"), ("text.wav", "cannot read audio")):
        result = runner.invoke(app, ["score", str(tmp_path / "ok.wav"), str(tmp_path / other)])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"error: {tmp_path / other}: {cause}"), result.stderr


def test_a_bad_align_value_is_a_usage_error(tmp_path):
    sf.write(tmp_path / "ok.wav", np.zeros(16000, np.float32) + 0.1, 16000)
    result = runner.invoke(app, ["score", *[str(tmp_path / "ok.wav")] * 2, "--align", "auto"])
    assert result.exit_code == 2 and "--align must be none, estimate" in result.stderr


def test_the_api_scores_arrays_and_files_alike(tmp_path):
    ref, rate = music_excerpt(2.0)
    deg = ref[:, 100:] * 0.5
    sf.write(tmp_path / "r.wav", ref.T, rate, subtype="FLOAT")
    sf.write(tmp_path / "d.wav", deg.T, rate, subtype="FLOAT")
    arrays = score_arrays(ref, deg, rate, ["mel_distance"], align=-100, domain="music")
    files = score_files(tmp_path / "r.wav", tmp_path / "d.wav", ["mel_distance"], -100, "music")
    assert arrays[0]["value"] == files[0]["value"]
    assert arrays[0]["lag_samples"] == -100


with open(CONFORMANCE / "pesq" / "cases.csv", newline="") as f:
    PESQ_CASES = list(csv.DictReader(f))


@pytest.mark.parametrize("case", PESQ_CASES, ids=lambda c: c["reference"])
def test_score_gives_the_official_p862_value_on_every_itu_pair(case):
    """The command a user types, on the ITU files as they are: raw P.862 to 3 decimals."""
    folder = CONFORMANCE / "pesq"
    rows = score_json(folder / case["reference"], folder / case["degraded"], "--metrics", "pesq_nb")
    assert rows["pesq_nb"]["lag_samples"] == 0
    assert round(p862_raw(rows["pesq_nb"]["value"]), 3) == pytest.approx(float(case["p862_raw"]))
