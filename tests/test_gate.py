"""The CI gate: ``evalkit baseline`` / ``evalkit check`` on reruns and on runs made worse."""

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.stats import paired_difference
from tests.report_fixtures import write_run

runner = CliRunner()
CODECS = {"rvq": 1.6, "opus": 1.0}


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    run = write_run(root / "base", CODECS)
    out = root / "baselines" / "rvq-ci.json"
    result = runner.invoke(app, ["baseline", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def check(run, baseline, *extra):
    return runner.invoke(app, ["check", str(run), "--baseline", str(baseline), *extra])


def test_baseline_keeps_per_clip_values(baseline):
    doc = json.loads(baseline.read_text())
    rows = pd.DataFrame(doc["rows"], columns=doc["columns"])
    assert doc["dataset"]["fingerprint"] == "sha256:dataset-a"
    assert rows["clip_id"].nunique() == 10
    assert len(rows) == 2 * 4 * 10 * 5  # codecs × bitrates × clips × metric rows


def test_rerun_passes(baseline, tmp_path):
    result = check(write_run(tmp_path / "rerun", CODECS), baseline)
    assert result.exit_code == 0, result.output
    assert "0 regressed" in result.output


def test_degraded_codec_fails_and_says_what_and_by_how_much(baseline, tmp_path):
    worse = write_run(tmp_path / "worse", CODECS, degrade={"rvq": 0.1})
    result = check(worse, baseline)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("REGRESSED")]
    assert lines and all(line.startswith("REGRESSED rvq @") for line in lines)
    assert any(
        "rvq @ 6 kbps, speech, pesq_wb:" in line
        and "paired diff -0.1000" in line
        and "95% CI [-0.1000, -0.1000]" in line
        for line in lines
    )
    # lower-is-better metrics regress upwards
    assert any("mel_distance" in line and "paired diff +0.1000" in line for line in lines)
    # opus did not change; bitrate did not change
    assert not any("opus" in line or "bitrate_measured" in line for line in lines)
    tolerances = ["pesq_wb=0.2", "visqol_speech=0.2", "visqol_audio=0.2", "mel_distance=0.2"]
    result = check(worse, baseline, *[a for t in tolerances for a in ("--tolerance", t)])
    assert result.exit_code == 0, result.output


def test_noise_within_ci_does_not_fail(baseline, tmp_path):
    """A change whose paired CI straddles zero is not a regression, even beyond tolerance."""
    run = write_run(tmp_path / "noisy", CODECS)
    results = pd.read_parquet(run / "results.parquet")
    rng = np.random.default_rng(1)
    noise = rng.choice([-0.2, 0.2], size=len(results))
    results["value"] = results["value"] + np.where(results["metric"] == "pesq_wb", noise, 0.0)
    results.to_parquet(run / "results.parquet")
    result = check(run, baseline, "--tolerance", "pesq_wb=0")
    regressed = [line for line in result.output.splitlines() if "pesq_wb" in line]
    for line in regressed:  # any flagged cell must have a CI entirely below zero
        ci = line.split("95% CI [")[1].split("]")[0].split(", ")
        assert float(ci[1]) < 0


def test_new_failures_and_missing_cells_regress(baseline, tmp_path):
    failing = write_run(tmp_path / "failing", CODECS, error_clip="music-01", error_text="boom")
    result = check(failing, baseline)
    assert result.exit_code == 1
    assert "now fail or are missing (first: music-01: boom)" in flat(result.output)
    fewer = write_run(tmp_path / "fewer", {"rvq": 1.6})
    result = check(fewer, baseline)
    assert result.exit_code == 1 and "opus @ 1.5 kbps, speech, pesq_wb: missing from the run" in (
        flat(result.output)
    )


def test_incomparable_runs_and_bad_options_exit_2(baseline, tmp_path):
    other = write_run(tmp_path / "other", CODECS, dataset_fingerprint="sha256:other")
    result = check(other, baseline)
    assert result.exit_code == 2 and "regenerate the baseline" in flat(result.output)
    run = write_run(tmp_path / "ok", CODECS)
    for bad in ("pesq_wb", "pesq_wb=-1", "pesq_wb=x"):
        assert check(run, baseline, "--tolerance", bad).exit_code == 2
    assert "not in the baseline" in flat(check(run, baseline, "--tolerance", "nope=1").output)
    assert check(run, tmp_path / "missing.json").exit_code == 2


def test_paired_difference_uses_pairs():
    old = np.array([1.0, 2.0, 3.0, 4.0])
    diff, low, high = paired_difference(old - 0.05, old)
    assert diff == pytest.approx(-0.05) and low == pytest.approx(-0.05)
    assert high == pytest.approx(-0.05)


def _evalkit(*args):
    exe = shutil.which("evalkit") or pytest.skip("the evalkit console script is not installed")
    done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=300)
    return done


@pytest.mark.slow
def test_real_pcm_runs(tmp_path, monkeypatch):
    """A real rerun of the baseline's command passes; PCM at a lower setting in its place fails."""
    command = [
        "run",
        "--codec",
        "pcm",
        "--bitrates",
        "32,64",
        "--limit",
        "1",
        "--metrics",
        "mel_distance,pesq",
        "--workers",
        "1",
    ]
    base = tmp_path / "base"
    done = _evalkit(*command, "--out", str(base))
    assert done.returncode == 0, done.stderr
    only_64 = pd.read_parquet(base / "results.parquet")
    pd.DataFrame(only_64[only_64.bitrate_kbps == 64]).to_parquet(base / "results.parquet")
    baseline = tmp_path / "pcm.json"
    assert _evalkit("baseline", str(base), "--out", str(baseline)).returncode == 0
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "fresh-cache"))  # really recompute
    rerun = tmp_path / "rerun"
    done = _evalkit(*command, "--out", str(rerun))
    assert done.returncode == 0, done.stderr
    done = _evalkit("check", str(rerun), "--baseline", str(baseline))
    assert done.returncode == 0, done.stdout + done.stderr
    # the 32 kbps setting's audio, presented as the 64 kbps entry: a codec made worse
    results = pd.read_parquet(rerun / "results.parquet")
    worse = results[results.bitrate_kbps == 32].assign(bitrate_kbps=64.0)
    worse.to_parquet(rerun / "results.parquet")
    done = _evalkit("check", str(rerun), "--baseline", str(baseline))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REGRESSED pcm @ 64 kbps, speech, mel_distance" in done.stdout


def test_no_baseline_from_an_interrupted_run(tmp_path):
    """A baseline of what an interrupted run finished would let `check` pass on what it lacks."""
    run = write_run(tmp_path / "cut", CODECS, run_status="interrupted")
    result = runner.invoke(app, ["baseline", str(run), "--out", str(tmp_path / "b.json")])
    assert result.exit_code == 2, result.output
    assert "no baseline from an unfinished run: run" in flat(result.stderr)
    assert f"evalkit run --resume {run}" in flat(result.stderr)
    assert not (tmp_path / "b.json").exists()
