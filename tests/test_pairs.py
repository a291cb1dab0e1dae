"""Pairs mode: decoded files made elsewhere, evaluated as a run through ``evalkit run --pairs``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from evalkit import audio as A
from evalkit.cli import app
from evalkit.metrics.entropy import code_histograms
from evalkit.pipeline.config import RunConfig
from evalkit.pipeline.runner import plan_tasks, prepare
from evalkit.pipeline.store import ShardStore, default_root
from tests.conftest import DEFAULT_SET, default_clips

runner = CliRunner()
METRICS = "mel_distance,si_sdr"
RATE = 16000
CLIPS, LABELS = 10, (("vq", 6.0), ("vq", 12.0), ("noisy", 6.0), ("noisy", 12.0))


def invoke(*args: str):
    result = runner.invoke(app, [*map(str, args)])
    assert result.exit_code == 0, result.output
    return result


def generated_pairs(root: Path) -> Path:
    """40 pairs: 10 one-second excerpts of default-set speech, each degraded by two 'codecs' at
    two bitrate labels; vq lists codes and payload bits, noisy lists a bitstream file."""
    speech = [c for c in default_clips() if c["domain"] == "speech"]
    rng = np.random.default_rng(0)
    rows = []
    for i in range(CLIPS):
        audio, rate = A.read(DEFAULT_SET / speech[i % len(speech)]["path"], (i // 4) * 1.5, 1.0)
        ref = A.convert(audio, rate, RATE, 1)
        sf.write(root / f"ref{i:02d}.wav", ref.T, RATE, subtype="FLOAT")
        for codec, kbps in LABELS:
            bits = int(kbps * 1000)
            name = f"{codec}-{kbps:g}-{i:02d}"
            if codec == "vq":
                deg = np.round(ref * 2 ** (kbps / 2)) / 2 ** (kbps / 2)
                codes = rng.integers(0, 16, size=(2, 50))
                np.save(root / f"{name}.npy", codes)
                extra = {"payload_bits": bits, "codes": f"{name}.npy", "codebook_size": 16}
            else:
                deg = ref + 10 ** (-kbps / 10) * rng.standard_normal(ref.shape)
                (root / f"{name}.bit").write_bytes(b"x" * (bits // 8))
                extra = {"bitstream": f"{name}.bit"}
            sf.write(root / f"{name}.wav", deg.astype(np.float32).T, RATE, subtype="FLOAT")
            rows.append(
                {"reference": f"ref{i:02d}.wav", "degraded": f"{name}.wav", "codec": codec,
                 "bitrate_kbps": kbps, **extra}
            )  # fmt: skip
    manifest = root / "pairs.csv"
    with open(manifest, "w", newline="") as f:
        fields = ["reference", "degraded", "codec", "bitrate_kbps", "payload_bits", "bitstream",
                  "codes", "codebook_size"]  # fmt: skip
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(rows)
    return manifest


@pytest.fixture(scope="module")
def pairs_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    manifest = generated_pairs(root)
    out = root / "run"
    invoke("run", "--pairs", f"{manifest}:speech", "--metrics", METRICS, "--workers", "2",
           "--out", out)  # fmt: skip
    return manifest, out


def test_every_pair_has_its_rows_bitrates_and_lengths(pairs_run):
    _, out = pairs_run
    df = pd.read_parquet(out / "results.parquet")
    assert df.groupby(["codec", "bitrate_kbps"])["clip_id"].nunique().to_dict() == {
        (c, k): CLIPS for c, k in LABELS
    }
    scored = df[df["metric"] != "bitrate_container_kbps"]  # no container: not applicable
    assert set(scored["status"]) == {"ok"}, scored[scored["status"] != "ok"]["error"].unique()
    measured = df[df["metric"] == "bitrate_measured_kbps"]
    assert np.allclose(measured["value"], measured["bitrate_kbps"])  # bits over 1-s references
    assert (df["ref_duration_s"] == 1.0).all() and (df["deg_duration_s"] == 1.0).all()
    assert (df["lag_samples"] == 0).all()
    mel = df[df["metric"] == "mel_distance"].groupby(["codec", "bitrate_kbps"])["value"].mean()
    assert mel[("vq", 12.0)] < mel[("vq", 6.0)] and mel[("noisy", 12.0)] < mel[("noisy", 6.0)]


def test_codes_give_codebook_statistics(pairs_run):
    manifest, out = pairs_run
    codes = pd.read_parquet(out / "codes.parquet")
    assert set(codes["codec"]) == {"vq"} and len(codes) == 2 * CLIPS * 2
    one = codes[(codes["clip_id"] == "ref00") & (codes["bitrate_kbps"] == 6.0)]
    expected = code_histograms(np.load(manifest.parent / "vq-6-00.npy"), 16)
    assert [list(c) for c in one.sort_values("codebook")["counts"]] == [
        e.tolist() for e in expected
    ]
    assert one["frame_rate_hz"].tolist() == [50.0, 50.0]
    table = pd.read_csv(out / "codebooks.csv")
    assert set(table["codec"]) == {"vq"}


def test_a_rerun_recomputes_nothing_and_a_changed_file_is_planned_again(pairs_run, tmp_path):
    manifest, out = pairs_run
    again = tmp_path / "again"
    invoke("run", "--pairs", f"{manifest}:speech", "--metrics", METRICS, "--workers", "1",
           "--out", again)  # fmt: skip
    assert json.loads((again / "run.json").read_text())["tasks_run"] == 0
    pd.testing.assert_frame_equal(
        pd.read_parquet(again / "results.parquet").drop(columns="run_id"),
        pd.read_parquet(out / "results.parquet").drop(columns="run_id"),
    )
    resumed = invoke("run", "--resume", out)
    assert json.loads((out / "run.json").read_text())["tasks_run"] == 0, resumed.output
    # a decoded file replaced: its label's replay identity changes, so its clips are planned again
    path = manifest.parent / "noisy-6-03.wav"
    original = path.read_bytes()
    try:
        sf.write(path, np.zeros((RATE, 1), np.float32) + 0.01, RATE, subtype="FLOAT")
        config = RunConfig(pairs=f"{manifest}:speech", metrics=tuple(METRICS.split(",")))
        config = config.resolved()
        plan = prepare(config)
        tasks = list(plan_tasks(plan, ShardStore(default_root()), None, None, config.bitrates_kbps))
        assert len(tasks) == CLIPS and {t.codec.name for t in tasks} == {"noisy"}
    finally:
        path.write_bytes(original)


def test_report_and_leaderboard_accept_the_folder(pairs_run, tmp_path):
    _, out = pairs_run
    invoke("report", out, "--out", tmp_path / "report")
    assert any((tmp_path / "report").iterdir())
    invoke("leaderboard", out, "--rank-by", "mel_distance", "--out", tmp_path / "board")
    assert any((tmp_path / "board").iterdir())


def test_a_folder_laid_out_like_the_dataset_with_a_missing_file(tmp_path):
    refs, decoded = tmp_path / "refs", tmp_path / "decoded"
    refs.mkdir(), decoded.mkdir()
    speech = next(c for c in default_clips() if c["domain"] == "speech")
    audio, rate = A.read(DEFAULT_SET / speech["path"], 0.0, 1.0)
    for name in ("a", "b"):
        sf.write(refs / f"{name}.wav", audio.T, rate, subtype="FLOAT")
    sf.write(decoded / "a.flac", audio[:, : rate // 2].T, rate)  # b was never decoded
    out = tmp_path / "run"
    invoke("run", "--pairs", decoded, "--dataset", f"folder:{refs}:speech", "--codec", "mine",
           "--bitrates", "3", "--metrics", "mel_distance", "--out", out,
           "--workers", "1")  # fmt: skip
    df = pd.read_parquet(out / "results.parquet")
    mel = df[df["metric"] == "mel_distance"].set_index("clip_id")
    assert mel.loc["a", "status"] == "ok" and mel.loc["a", "value"] > 1  # half of it is missing
    assert mel.loc["a", "deg_duration_s"] == pytest.approx(0.5)
    assert mel.loc["b", "status"] == "error"
    assert mel.loc["b", "error"].startswith("b: mine at 3 kbps failed to decode: no decoded file")
    assert set(df["codec"]) == {"mine"} and set(df["bitrate_kbps"]) == {3.0}


def test_a_manifest_codec_without_a_file_for_a_clip_gets_an_error_row_saying_so(tmp_path):
    speech = next(c for c in default_clips() if c["domain"] == "speech")
    audio, rate = A.read(DEFAULT_SET / speech["path"], 0.0, 1.0)
    for name in ("a", "b"):
        sf.write(tmp_path / f"{name}.wav", audio.T, rate, subtype="FLOAT")
    rows = ["reference,degraded,codec", "a.wav,a.wav,full", "b.wav,b.wav,full", "a.wav,a.wav,half"]
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")  # half never decoded b
    invoke("run", "--pairs", f"{tmp_path / 'pairs.csv'}:speech", "--metrics", "mel_distance",
           "--out", tmp_path / "run", "--workers", "1")  # fmt: skip
    df = pd.read_parquet(tmp_path / "run" / "results.parquet")
    mel = df[df["metric"] == "mel_distance"].set_index(["codec", "clip_id"])
    assert mel.loc[("half", "b"), "error"] == (
        "b: half at 0 kbps failed to decode: no decoded file: the manifest lists none for this "
        "clip at bitrate label 0"
    )
    assert (mel.drop(("half", "b"))["status"] == "ok").all()


@pytest.mark.parametrize(
    "row,message",
    [
        ({"reference": "../x.wav", "degraded": "d.wav"}, "lies outside"),
        ({"reference": "r.wav"}, "missing 'degraded'"),
        ({"reference": "r.wav", "degraded": "d.wav", "codes": "c.npy"}, "need a codebook_size"),
        ({"reference": "r.wav", "degraded": "d.wav", "bitrate_kbps": "fast"}, "must be a number"),
    ],
)
def test_a_bad_manifest_row_is_a_one_line_error_naming_it(tmp_path, row, message):
    for name in ("r.wav", "d.wav"):
        sf.write(tmp_path / name, np.zeros(RATE, np.float32) + 0.1, RATE)
    manifest = tmp_path / "pairs.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.DictWriter(f, list(row))
        writer.writeheader()
        writer.writerow(row)
    result = runner.invoke(app, ["run", "--pairs", f"{manifest}:speech", "--out", tmp_path / "o"])
    assert result.exit_code == 2, result.output
    assert f"pairs manifest {manifest} line 2" in result.stderr and message in result.stderr
    assert not (tmp_path / "o").exists()
