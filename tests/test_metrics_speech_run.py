"""Speech metrics through a real run: values for English speech, reasons everywhere else, and
the codec's cost in run.json, cost.csv and the report."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest

from evalkit.pipeline.config import RunConfig
from evalkit.pipeline.runner import evaluate
from evalkit.reports.report import write_report
from tests.conftest import DEFAULT_SET, default_clips

pytest.importorskip("pocketsphinx")
pytest.importorskip("parselmouth")
CLIPS = {  # id -> window seconds: one English reading with a transcript, Czech speech, music
    "speech-librivox-sense-and-sensibility-0930": None,
    "speech-fillets-ch-r-anavic0": None,
    "music-csoundqt-flute": 3.0,
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("speech")
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        fields = ["id", "domain", "path", "duration", "language", "transcript"]
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in default_clips():
            if row["id"] in CLIPS:
                writer.writerow(
                    {k: row.get(k, "") for k in ("id", "domain", "language", "transcript")}
                    | {"path": DEFAULT_SET / row["path"], "duration": CLIPS[row["id"]] or ""}
                )
    config = RunConfig(
        codecs=("opus",),
        bitrates_kbps=(6.0, 12.0),
        dataset=f"manifest:{manifest}:allow-outside",
        metrics=("wer", "dwer", "f0_rmse"),
        workers=1,
    )
    return evaluate(config, folder / "run")


def test_english_speech_gets_values_and_the_rest_reasons(run):
    df = pd.read_parquet(run / "results.parquet").set_index(["clip_id", "metric", "bitrate_kbps"])
    english, czech = "speech-librivox-sense-and-sensibility-0930", "speech-fillets-ch-r-anavic0"
    for metric in ("wer", "wer_ref", "dwer", "f0_rmse"):
        assert (df.loc[(english, metric), "status"] == "ok").all(), metric
    for metric in ("wer", "dwer"):
        row = df.loc[(czech, metric, 12.0)]
        assert row["status"] == "not_applicable"
        assert "does not recognise language 'cs'" in row["error"]
        assert df.loc[("music-csoundqt-flute", metric, 12.0), "status"] == "not_applicable"
    assert df.loc[(czech, "f0_rmse", 12.0), "status"] == "ok"  # pitch knows no language
    assert df.loc[("music-csoundqt-flute", "f0_rmse", 12.0), "status"] == "ok"
    wer = df.loc[(english, "wer")]["value"]
    assert wer.loc[6.0] >= wer.loc[12.0]


def test_cost_is_in_run_json_cost_csv_and_the_report(run, tmp_path):
    cost = json.loads((run / "run.json").read_text())["cost"]
    assert cost["device"] == "cpu" and cost["math_threads_per_worker"] == 1
    table = pd.read_csv(run / "cost.csv")
    assert list(table["bitrate_kbps"]) == [6.0, 12.0] and (table["clips"] == 3).all()
    assert (table["encode_rtf"] > 0).all() and (table["decode_rtf"] > 0).all()
    assert (table["algorithmic_latency_ms"] == 26.5).all()
    assert table["measured_delay_ms"].abs().max() < 5  # Ogg pre-skip removes libopus's delay
    assert [r["encode_rtf"] for r in cost["rows"]] == pytest.approx(list(table["encode_rtf"]))
    write_report(run, ["md"], tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "## Codec cost" in text and "Encode RTF" in text and "Tokens/s" in text
