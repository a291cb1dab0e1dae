"""``evalkit score``: one pair of files, aligned and scored by the runner's metric code."""

from __future__ import annotations

import json

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

from evalkit import audio as A
from evalkit.cli import app
from tests.conftest import DEFAULT_SET, default_clips

runner = CliRunner()


def test_a_delayed_copy_scores_as_identical_once_aligned(tmp_path):
    clip = next(c for c in default_clips() if c["domain"] == "music")
    ref, rate = A.read(DEFAULT_SET / clip["path"])
    ref = ref[:, : 3 * rate]
    sf.write(tmp_path / "ref.wav", ref.T, rate, subtype="FLOAT")
    delayed = np.concatenate([np.zeros((ref.shape[0], 480), np.float32), ref], axis=1)
    sf.write(tmp_path / "deg.wav", delayed.T, rate, subtype="FLOAT")
    result = runner.invoke(
        app,
        ["score", str(tmp_path / "ref.wav"), str(tmp_path / "deg.wav"), "--domain", "music",
         "--metrics", "mel_distance,si_sdr", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {row["metric"]: row for row in json.loads(result.stdout)}
    assert {row["lag_samples"] for row in rows.values()} == {480}
    assert rows["mel_distance"]["value"] < 1e-3
    assert rows["si_sdr"]["error"].endswith("degraded equals the reference, SI-SDR is unbounded")


def test_a_missing_or_unreadable_file_is_named(tmp_path):
    sf.write(tmp_path / "ok.wav", np.zeros(16000, np.float32) + 0.1, 16000)
    (tmp_path / "text.wav").write_text("not audio")
    for other, cause in (("nope.wav", "no such file"), ("text.wav", "cannot read audio")):
        result = runner.invoke(app, ["score", str(tmp_path / "ok.wav"), str(tmp_path / other)])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"error: {tmp_path / other}: {cause}"), result.stderr
