"""Hostile audio files through the real CLI: every file gets a defined, recorded outcome.

One ``evalkit run --strict`` covers the whole hostile folder (see conftest.build_hostile); the
same three real clips run alone give the reference for "broken files change nothing else".
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from evalkit import audio as A
from tests.robustness.conftest import (
    CLEAN,
    LATIN1_ID,
    SHELL_NAME,
    UNICODE_NAME,
    build_hostile,
    one_hour_wav,
)

#: tests that wait for real CLI runs (Dask start-up, 25 clips: about 1-2 minutes under load)
slow = pytest.mark.slow
OK, NA, ERROR = "ok", "not_applicable", "error"
SCORES = ("pesq_wb", "stoi", "mel_distance")
READ = "cannot read audio: "

#: clip id -> (status of every row, message part) or per-output {output: (status, message)}
UNREADABLE = {
    "empty": "file is empty (0 bytes)",
    "truncated.flac": "the audio data is damaged (flac decoder lost sync)",
    "text": "not an audio file soundfile or FFmpeg can read (soundfile: Format not recognised",
    "zero-samples": "file holds no audio samples",
    "nan": "audio contains NaN or Inf samples",
    "inf": "audio contains NaN or Inf samples",
    "rate-1hz": "sample rate 1 Hz is outside the 8000-384000 Hz evalkit evaluates",
    "one-hour": "3600 s is longer than the 600 s evalkit reads at once; evaluate it in windows "
    "with `evalkit run --segment SECONDS`",
    "fifo": "a named pipe (FIFO), not a regular file; evalkit does not open it",
    "zero": "a character device, not a regular file; evalkit does not open it",
    "urandom": "a character device, not a regular file; evalkit does not open it",
    "socket": "a socket, not a regular file; evalkit does not open it",
    "huge-values": "audio holds samples of magnitude 1e+30, beyond the ±16 (24 dB above full "
    "scale) evalkit accepts",
}
SCORED = [*CLEAN, "truncated.wav", "lying-header", "square", "eight-channels", "rate-384khz",
          "with space", UNICODE_NAME, SHELL_NAME, "sub/inner", "dup.wav", "dup.flac",
          "dir.wav/inside", LATIN1_ID, "new\\nline"]  # fmt: skip
NOT_SCORED = {
    "short": {"pesq_wb": (NA, "pesq: clip is 0.100 s, shorter than the 0.25 s it needs"),
              "stoi": (NA, "stoi: clip is 0.100 s, shorter than the 0.4 s it needs"),
              "mel_distance": (OK, "")},
    "few-samples": {"pesq_wb": (NA, "pesq: clip is 10 samples, shorter than the 0.25 s it needs"),
                    "stoi": (NA, "stoi: clip is 10 samples, shorter than the 0.4 s it needs"),
                    "mel_distance": (NA, "mel_distance: clip has 28 samples; its 2048-sample")},
    **{clip: {m: (NA, f"{m.split('_wb')[0]}: the reference is silent") for m in SCORES}
       for clip in ("silence", "tiny-constant", "cancelling-stereo")},
}  # fmt: skip


def by_clip(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {clip: rows.set_index("metric") for clip, rows in df.groupby("clip_id")}


@slow
def test_every_hostile_file_is_listed_once_and_nothing_else(runs):
    """Also: five of the files hold identical bytes under different names; each keeps its rows."""
    clips = set(runs["hostile"].results()["clip_id"])
    assert clips == set(UNREADABLE) | set(SCORED) | set(NOT_SCORED)  # the link loop adds none


@slow
def test_unreadable_files_are_error_rows_naming_clip_file_and_cause(runs):
    rows = by_clip(runs["hostile"].results())
    for clip, cause in UNREADABLE.items():
        got = rows[clip]
        assert (got["status"] == ERROR).all(), clip
        assert got["value"].isna().all()
        for message in got["error"]:
            assert message.startswith(f"{clip} (") and f"): {READ}{cause}" in message, message
            assert "\n" not in message


@slow
def test_damaged_but_decodable_files_are_scored_on_the_samples_they_hold(runs):
    rows = by_clip(runs["hostile"].results())
    for clip in SCORED:
        got = rows[clip].loc[list(SCORES)]
        assert (got["status"] == OK).all(), (clip, got["error"].tolist())
        assert np.isfinite(got["value"]).all()
        assert rows[clip].loc["bitrate_measured_kbps", "value"] == 256
    # 16-bit PCM at 16 kHz is transparent for the 16 and 22.05 kHz speech clips ...
    for clip in (*CLEAN, "truncated.wav", "lying-header", SHELL_NAME, "eight-channels"):
        assert rows[clip].loc["pesq_wb", "value"] > 4.4, clip
    # ... and removes everything above 8 kHz of the 384 kHz white noise: a real, large distance
    assert rows["rate-384khz"].loc["mel_distance", "value"] > 1.0


@slow
def test_metrics_that_cannot_apply_say_why_and_the_rest_is_scored(runs):
    rows = by_clip(runs["hostile"].results())
    for clip, expected in NOT_SCORED.items():
        for metric, (status, cause) in expected.items():
            row = rows[clip].loc[metric]
            assert row["status"] == status, (clip, metric, row["error"])
            assert row["error"].startswith(f"{clip}: {cause}") if cause else row["error"] == ""


@slow
def test_strict_exits_1_after_completing_the_run_and_writing_every_table(runs):
    code, stdout, stderr = runs["hostile"].wait()
    assert code == 1, stderr
    out = runs["hostile"].out
    meta = json.loads((out / "run.json").read_text())
    assert meta["status"] == "completed" and meta["tasks_run"] == 35, stderr
    assert "values failed" in stdout and "Traceback" not in stderr
    summary = pd.read_csv(out / "summary.csv")
    assert summary.loc[summary["domain"] == "all", "errors"].sum() > 0


@slow
def test_shell_metacharacters_in_names_run_nothing(runs):
    runs["hostile"].wait()
    base = runs["hostile"].cwd
    assert not list(base.rglob("PWNED*"))


@slow
def test_broken_files_leave_the_other_clips_numbers_unchanged(runs):
    """Acceptance: the 3 real clips score the same with 32 hostile files mixed in as alone."""
    key = ["clip_id", "metric"]
    cols = [*key, "status", "value", "lag_samples"]
    mixed = runs["hostile"].results()
    mixed = mixed[mixed["clip_id"].isin(CLEAN)][cols].sort_values(key).reset_index(drop=True)
    alone = runs["clean"].results()
    alone = alone[alone["codec"] == "pcm"][cols].sort_values(key).reset_index(drop=True)
    assert len(alone) == 3 * 5 and (alone["status"] != ERROR).all()
    pd.testing.assert_frame_equal(mixed, alone)


def test_truncated_wav_reads_the_samples_present(tmp_path):
    """The outcome the hostile run scores: a WAV cut mid-data reads the whole samples present."""
    build_hostile(tmp_path)
    size = (tmp_path / "truncated.wav").stat().st_size
    audio, rate = A.read(tmp_path / "truncated.wav")
    assert rate == 16000 and audio.shape == (1, (size - 44) // 2)
    lying, _ = A.read(tmp_path / "lying-header.wav")
    assert lying.shape == (1, 24000)  # the 1.5 s it holds, not the 4 GB its header claims


PEAK = """
import json, resource, sys
from evalkit.datasets.base import Clip
from evalkit.pipeline.task import CodecSpec, Task, Work, run_task

def rows(path, start=0.0, duration=None):
    clip = Clip("c", "speech", path, "x" * 64, start, duration)
    work = Work(256.0, 256.0, ("mel_distance",), "k")
    return run_task(Task(CodecSpec("pcm"), "{}", clip, (work,))).rows["k"]

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

warm = rows(sys.argv[1])  # imports and first-use costs
base = peak_mb()
window = rows(sys.argv[2], 1800.0, 10.0)
after_window = peak_mb()
whole = rows(sys.argv[2])
print(json.dumps({"base": base, "window": after_window, "whole": peak_mb(),
                  "rows": [warm[0]["status"], window[0]["error"], whole[0]["error"]]}))
"""


@slow
def test_one_hour_file_is_refused_in_bounded_memory_and_its_windows_are_read(tmp_path):
    """A worker never holds the hour: the whole file is refused from its header, and a window
    costs only the window (reading the hour would add 230 MB of float32 samples)."""
    hour = one_hour_wav(tmp_path / "hour.wav")
    from tests.conftest import DEFAULT_SET

    code = textwrap.dedent(PEAK)
    done = subprocess.run(
        [sys.executable, "-c", code, str(DEFAULT_SET / f"{CLEAN[0]}.flac"), str(hour)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    got = json.loads(done.stdout.strip().splitlines()[-1])
    warm, window, whole = got["rows"]
    assert warm == OK
    assert window.startswith("c: mel_distance: the reference is silent")  # read and scored
    assert "3600 s is longer than the 600 s" in whole and "--segment" in whole
    assert got["window"] - got["base"] < 50 and got["whole"] - got["base"] < 50, got


def test_ffmpeg_decoded_files_keep_only_the_window_and_refuse_long_reads(tmp_path, monkeypatch):
    """Formats libsndfile cannot open (here AAC in .m4a) are decoded by FFmpeg from the start;
    a window keeps only its samples, and the read limit holds on that path too."""
    from evalkit.codecs.pyav import _encode

    noise = np.random.default_rng(1).standard_normal((1, 3 * 16000)).astype(np.float32) * 0.1
    data, _ = _encode("ipod", "aac", noise, 16000, 64000, {})
    path = tmp_path / "clip.m4a"
    path.write_bytes(data)
    with pytest.raises(sf.LibsndfileError):  # so this exercises the FFmpeg path
        sf.info(str(path))
    whole, rate = A.read(path)
    window, _ = A.read(path, 1.0, 0.5)
    assert rate == 16000 and window.shape == (1, 8000)
    np.testing.assert_array_equal(window, whole[:, 16000:24000])
    monkeypatch.setattr(A, "MAX_READ_SECONDS", 1.0)
    with pytest.raises(ValueError, match="longer than the 1 s evalkit reads at once"):
        A.read(path)
    assert A.read(path, 1.0, 0.5)[0].shape == (1, 8000)  # a window within the limit still reads


def test_same_bytes_under_another_id_or_domain_is_stored_apart(tmp_path):
    from dataclasses import replace

    from evalkit.datasets.base import Clip
    from evalkit.pipeline.runner import unit_of
    from evalkit.pipeline.store import ShardStore

    store = ShardStore(tmp_path)
    a = Clip("a", "speech", "a.wav", "0" * 64)
    clips = (a, replace(a, clip_id="b"), replace(a, domain="music"), replace(a, lossy_source=True))
    assert len({unit_of(store, c, 6.0) for c in clips}) == 4


@slow
def test_special_files_are_error_rows_naming_their_kind_and_are_never_opened(runs):
    """Issue 18: a FIFO, links to /dev/zero and /dev/urandom and a socket with audio names hung
    the run (opened to hash them); a folder named dir.wav is a folder, its audio is scored."""
    rows = by_clip(runs["hostile"].results())
    assert {"fifo", "zero", "urandom", "socket"} <= set(rows) and "dir.wav" not in rows
    assert (rows["dir.wav/inside"].loc[list(SCORES), "status"] == OK).all()


@slow
def test_names_of_any_bytes_are_carried_through_tables_log_and_report(runs, tmp_path):
    """A name that is not UTF-8 failed the whole run; a newline in a name broke one-line rows.
    Ids show such bytes escaped (one-to-one), and the report's failures table shows them so."""
    from evalkit.cli import app

    run = runs["hostile"]
    for clip_id in (LATIN1_ID, "new\\nline"):
        rows = run.results().set_index("clip_id").loc[clip_id]
        assert (rows.set_index("metric").loc[list(SCORES), "status"] == OK).all(), clip_id
    assert {LATIN1_ID, "new\\nline"} <= set(pd.read_csv(run.out / "results.csv")["clip_id"])
    runs["manifest"].wait()
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(runs["manifest"].out), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    assert "two\\nlines: broken_raises failed to encode" in page and "bad\\nid (" in page


@slow
def test_absurd_and_near_silent_levels_are_not_scored(runs):
    """±1e30 was scored ok (and leaked a PESQ message); a constant 1e-40 and stereo channels that
    cancel were scored as if they held sound (see NOT_SCORED / UNREADABLE for the messages)."""
    rows = by_clip(runs["hostile"].results())
    assert "cannot convert float NaN" not in " ".join(rows["huge-values"]["error"])
    for clip in ("tiny-constant", "cancelling-stereo"):
        assert (rows[clip].loc[list(SCORES), "status"] == NA).all(), clip


def manifest_rows(runs, codec: str) -> dict[str, pd.DataFrame]:
    df = runs["manifest"].results()
    return by_clip(df[df["codec"] == codec])


@slow
def test_a_window_past_the_end_of_its_file_says_the_window_is_wrong(runs):
    for message in manifest_rows(runs, "pcm_mutating")["late-window"]["error"]:
        assert "the window starts at 5 s, past the end of the file (1.500 s long)" in message


@slow
def test_newlines_in_clip_ids_never_reach_rows_or_the_log_raw(runs):
    rows = manifest_rows(runs, "pcm_mutating")
    assert {"two\\nlines", "bad\\nid"} <= set(rows)
    assert (rows["two\\nlines"].loc[list(SCORES), "status"] == OK).all()
    for message in rows["bad\\nid"]["error"]:
        assert message.startswith("bad\\nid (") and "\n" not in message
    log = (runs["manifest"].out / "run.log").read_text()
    assert "two\\nlines: broken_raises failed to encode: OSError" in log  # its traceback follows
    assert "two\nlines" not in log and "bad\nid" not in log


@slow
def test_a_file_that_changes_after_listing_is_refused_not_scored_as_listed(runs):
    """The pcm_mutating adapter rewrites changing.wav on the worker after the client hashed it:
    scoring it would store the new audio's scores under the old bytes' cache key."""
    for message in manifest_rows(runs, "pcm_mutating")["z-changing"]["error"]:
        assert "cannot read audio: the file changed after evalkit listed it" in message
    assert (manifest_rows(runs, "pcm_mutating")["a-good"].loc[list(SCORES), "status"] == OK).all()
