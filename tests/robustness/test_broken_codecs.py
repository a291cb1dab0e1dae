"""Codec adapters that raise, return NaN, the wrong length, rate or channel count, or hang.

They are installed as a real plug-in (a dist-info with ``evalkit.codecs`` entry points, see
conftest.broken_plugin) and run by name through the CLI next to the ``pcm`` reference adapter.
"""

from __future__ import annotations

import pytest

from tests.robustness.conftest import BROKEN, CLEAN

pytestmark = pytest.mark.slow  # real CLI runs with Dask (about a minute under load)


def test_each_broken_adapter_gives_error_rows_with_its_cause(runs):
    code, stdout, stderr = runs["clean"].wait()
    assert code == 0, stderr  # failures are data: the run completed
    broken = sorted(name for name in BROKEN if name != "broken_hang")
    assert f"no value at all from {', '.join(broken)}" in " ".join(stdout.split())
    df = runs["clean"].results()
    for name, cause in BROKEN.items():
        if name == "broken_hang":
            continue
        rows = df[df["codec"] == name]
        assert len(rows) == 3 * 5, name  # per clip: pesq_wb, stoi, mel_distance, 2 bitrate rows
        assert (rows["status"] == "error").all() and rows["value"].isna().all(), name
        for clip, message in zip(rows["clip_id"], rows["error"], strict=True):
            assert message.startswith(f"{clip}: {name} at 256 kbps failed to ") or (
                message.startswith(f"{clip}: {name} failed to encode")
            ), message
            assert "\n" not in message
        first = rows[rows["clip_id"] == CLEAN[0]]["error"]
        assert first.str.contains(cause, regex=False).all(), (cause, first.iloc[0])


def test_broken_adapters_leave_the_reference_adapter_complete(runs):
    """pcm ran in the same run on the same worker: all its values are there (they equal the
    hostile run's, see test_bad_input's acceptance test)."""
    df = runs["clean"].results()
    pcm = df[df["codec"] == "pcm"]
    assert len(pcm) == 3 * 5 and set(pcm["clip_id"]) == set(CLEAN)
    assert (pcm["status"] != "error").all()


def test_a_hanging_adapter_times_out_into_error_rows(runs):
    code, _, stderr = runs["hang"].wait()
    assert code == 0, stderr
    df = runs["hang"].results()
    assert len(df) == 5 and (df["status"] == "error").all()
    assert (df["error"] == f"{CLEAN[0]}: broken_hang {BROKEN['broken_hang']}").all()


def test_run_log_keeps_the_traceback_of_each_codec_failure(runs):
    """The rows carry one line; a codec author needs the file and line where it broke."""
    runs["clean"].wait()
    log = (runs["clean"].out / "run.log").read_text()
    assert f"{CLEAN[0]}: broken_raises failed to encode: OSError: GPU fell off the bus" in log
    assert "Traceback (most recent call last):" in log
    assert 'broken_codecs.py", line' in log and "in encode" in log
