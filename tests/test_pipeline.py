"""The pipeline end to end on real clips: rows for everything, failures as data, cache reuse."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import UsageError
from evalkit.pipeline import runner
from evalkit.pipeline.config import RunConfig
from evalkit.pipeline.runner import evaluate
from tests.conftest import DEFAULT_SET, default_clips

METRICS = ("mel_distance", "stoi")


@pytest.fixture(scope="module")
def opus_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return evaluate(
        RunConfig(
            codecs=("opus", "pcm"),
            bitrates_kbps=(32.0, 256.0),
            limit=1,
            metrics=METRICS,
            workers=2,
            save_audio=True,
        ),
        out,
    )


def test_every_clip_codec_bitrate_has_rows_and_ok_values_are_finite(opus_run):
    df = pd.read_parquet(opus_run / "results.parquet")
    per_unit = df.groupby(["codec", "bitrate_kbps", "clip_id"]).size()
    assert len(per_unit) == 2 * 2 * 3 and per_unit.nunique() == 1
    ok = df[df["status"] == "ok"]
    assert np.isfinite(ok["value"]).all()
    assert (df.loc[df["status"] != "ok", "value"].isna()).all()
    stoi = df[df["metric"] == "stoi"]
    assert set(stoi.loc[stoi["domain"] != "speech", "status"]) == {"not_applicable"}
    assert (df["run_id"] == opus_run.name).all()


def test_run_folder_holds_every_table_and_provenance(opus_run):
    for name in (
        "results.parquet",
        "results.csv",
        "summary.csv",
        "codes.parquet",
        "codebooks.csv",
        "run.json",
        "run.log",
    ):
        assert (opus_run / name).exists(), name
    meta = json.loads((opus_run / "run.json").read_text())
    assert meta["status"] == "completed" and meta["finished_utc"]
    assert meta["versions"]["pesq"] and meta["versions"]["av"]
    assert meta["config"]["codecs"] == ["opus", "pcm"]
    assert meta["dataset"]["n_clips"] == 3
    summary = pd.read_csv(opus_run / "summary.csv")
    row = summary[
        (summary.codec == "opus")
        & (summary.bitrate_kbps == 32)
        & (summary.domain == "all")
        & (summary.source == "all")
        & (summary.metric == "bitrate_measured_kbps")
    ]
    assert abs(row["mean"].item() - 32) < 0.5 and row["n"].item() == 3


def test_saved_audio_is_the_decoded_clip(opus_run):
    saved = sorted((opus_run / "audio" / "opus" / "32").glob("*.flac"))
    assert len(saved) == 3


def test_pcm_at_16_bits_is_near_transparent(opus_run):
    df = pd.read_parquet(opus_run / "results.parquet")
    df = df[df.domain == "speech"]  # 16 kHz clips: PCM's 16 kHz rate loses nothing there
    mel = df[(df.codec == "pcm") & (df.bitrate_kbps == 256) & df.metric.str.startswith("mel")]
    coarse = df[(df.codec == "opus") & (df.bitrate_kbps == 32) & df.metric.str.startswith("mel")]
    assert mel["value"].max() < coarse["value"].min()


def test_rerun_skips_finished_shards_and_new_metric_computes_only_itself(
    opus_run, tmp_path, monkeypatch
):
    calls = []
    real = runner.execute
    monkeypatch.setattr(
        runner,
        "execute",
        lambda tasks, *a, **k: calls.append(list(tasks)) or real(iter([]), *a, **k),
    )
    again = evaluate(
        RunConfig(
            codecs=("opus", "pcm"), bitrates_kbps=(32.0, 256.0), limit=1, metrics=METRICS, workers=1
        ),
        tmp_path / "again",
    )
    assert calls == []  # nothing to do: every shard was found
    pd.testing.assert_frame_equal(
        pd.read_parquet(again / "results.parquet").drop(columns="run_id"),
        pd.read_parquet(opus_run / "results.parquet").drop(columns="run_id"),
    )
    plan = runner.prepare(
        RunConfig(codecs=("pcm",), bitrates_kbps=(256.0,), limit=1, metrics=(*METRICS, "si_sdr"))
    )
    tasks = list(
        runner.plan_tasks(plan, runner.ShardStore(runner.default_root()), None, None, (256.0,))
    )
    assert tasks and all(w.metrics == ("si_sdr",) for t in tasks for w in t.work)


def test_folder_with_unreadable_file_gives_error_row_naming_it(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    clip = next(c for c in default_clips() if c["domain"] == "music")
    shutil.copy(DEFAULT_SET / clip["path"], folder / "good.flac")
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    run_dir = evaluate(
        RunConfig(
            codecs=("opus",),
            bitrates_kbps=(12.0,),
            dataset=f"folder:{folder}:music",
            metrics=("mel_distance",),
            workers=1,
        ),
        tmp_path / "run",
    )
    df = pd.read_parquet(run_dir / "results.parquet")
    bad = df[df["clip_id"].str.contains("broken")]
    assert len(bad) and (bad["status"] == "error").all()
    assert bad["error"].str.contains("broken.wav").all()
    good = df[df["clip_id"].str.contains("good")]
    assert (good["status"] == "ok").all()


def test_budget_below_codec_floor_fails_before_any_work(tmp_path):
    with pytest.raises(UsageError, match="mp3.*6 kbps"):
        evaluate(RunConfig(codecs=("mp3",), bitrates_kbps=(6.0,), limit=1), tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_budget_below_one_codecs_floor_is_skipped_for_that_codec_only():
    plan = runner.prepare(RunConfig(codecs=("pcm", "opus"), bitrates_kbps=(6.0, 32.0), limit=1))
    assert ("opus", 6.0) in plan.nominal and ("pcm", 6.0) not in plan.nominal
    assert len(plan.skipped) == 1 and "pcm" in plan.skipped[0]
