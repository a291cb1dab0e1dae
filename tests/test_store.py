"""Shards: atomic, content-addressed, never read half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest

from evalkit.atomic import STALE_TEMPORARY_S
from evalkit.pipeline.store import ShardStore


def _row(value: float) -> dict:
    return {
        "codec": "pcm",
        "bitrate_kbps": 64.0,
        "clip_id": "a",
        "domain": "speech",
        "metric": "x",
        "value": value,
        "status": "ok",
        "metric_version": "{}",
    }


def test_written_shard_is_found_and_read_back(tmp_path):
    store = ShardStore(tmp_path)
    store.write_rows("codecA", "unit-m", [_row(1.5)])
    assert store.existing("codecA") == {"unit-m"}
    assert store.read_rows("codecA", "unit-m")["value"].tolist() == [1.5]
    assert store.existing("codecB") == set()


def test_crash_mid_write_leaves_no_shard(tmp_path, monkeypatch):
    store = ShardStore(tmp_path)

    def crash(table, path, *a, **k):  # either writer: a table, then where it goes
        with open(path, "wb") as f:
            f.write(b"PAR1 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_parquet", crash)
    monkeypatch.setattr(pq, "write_table", crash)
    with pytest.raises(KeyboardInterrupt):
        store.write_rows("codecA", "unit-m", [_row(1.0)])
    assert store.existing("codecA") == set()
    assert not [p for p in os.listdir(store.codec_dir("codecA")) if not p.startswith(".")]


def test_keys_depend_on_everything_that_changes_values():
    u1 = ShardStore.unit_key("sha:0:", 6.0)
    assert u1 != ShardStore.unit_key("sha:0:", 12.0)
    assert u1 != ShardStore.unit_key("sha2:0:", 6.0)
    assert ShardStore.shard_key(u1, ["a", "b"]) == ShardStore.shard_key(u1, ["b", "a"])
    assert ShardStore.shard_key(u1, ["a"]) != ShardStore.shard_key(u1, ["a", "b"])


def test_shard_with_errors_is_reported_but_not_finished(tmp_path):
    store = ShardStore(tmp_path)
    failed = {**_row(float("nan")), "status": "error", "error": "c: worker died"}
    store.write_rows("codecA", "unit-m", [failed])
    assert store.existing("codecA") == set()  # a re-run tries it again
    assert store.existing("codecA", include_failed=True) == {"unit-m.failed"}
    store.write_rows("codecA", "unit-m", [_row(2.0)])  # the retry succeeds
    assert store.existing("codecA") == {"unit-m"}
    assert store.existing("codecA", include_failed=True) == {"unit-m"}


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(b""),  # a power cut before the data reached the disk
        lambda p: p.write_bytes(p.read_bytes()[:-20]),  # cut short
        lambda p: pd.DataFrame({"x": [1]}).to_parquet(p),  # a table, not of result rows
        lambda p: pd.DataFrame(columns=[*_row(1.0)]).to_parquet(p),  # no rows
        lambda p: (p.unlink(), os.mkfifo(p)),  # a pipe in its place: never opened
    ],
)
def test_a_damaged_shard_is_moved_aside_once_and_counts_as_missing(tmp_path, caplog, damage):
    store = ShardStore(tmp_path)
    store.write_rows("codecA", "unit-m", [_row(1.5)])
    path = store.codec_dir("codecA") / "unit-m.parquet"
    damage(path)
    assert store.readable("codecA", "unit", ["unit-m"]) == []
    assert store.read_rows("codecA", "unit-m") is None  # gone: nothing more to report
    assert caplog.text.count("cannot be read") == 1 and str(path) in caplog.text
    assert store.existing("codecA") == set()
    assert len(list(path.parent.glob("unit-m.parquet.damaged-*"))) == 1
    store.write_rows("codecA", "unit-m", [_row(1.5)])  # recomputed
    assert store.readable("codecA", "unit", ["unit-m"]) == ["unit-m"]


def test_damaged_code_histograms_make_their_unit_run_again(tmp_path):
    store = ShardStore(tmp_path)
    store.write_rows("codecA", "unit-m", [_row(1.5)])
    codes = {"codec": "rvq", "codebook": 0, "codebook_size": 2, "frame_rate_hz": 75.0}
    store.write_codes("codecA", "unit", [{**codes, "counts": [1, 2]}])
    assert store.readable("codecA", "unit", ["unit-m"]) == ["unit-m"]
    (store.codec_dir("codecA") / "unit.codes.parquet").write_bytes(b"")
    assert store.readable("codecA", "unit", ["unit-m"]) == []


def test_writes_are_durable_file_then_folder(tmp_path, monkeypatch):
    """fsync of the file before the rename and of its folder after (ext4/XFS need both)."""
    import stat

    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.fstat(fd).st_mode) or real(fd))
    ShardStore(tmp_path).write_rows("codecA", "unit-m", [_row(1.5)])
    assert [stat.S_ISREG(m) for m in synced] == [True, False] and stat.S_ISDIR(synced[1])


def test_a_cache_that_cannot_be_written_is_one_line_naming_it(tmp_path):
    from evalkit.errors import StorageError

    (tmp_path / "file").write_text("a file where the cache folder should be")
    store = ShardStore(tmp_path / "file" / "shards")
    with pytest.raises(StorageError) as caught:
        store.write_rows("codecA", "unit-m", [_row(1.5)])
    message = str(caught.value)
    assert message.startswith(f"cannot write the cache shard {tmp_path / 'file' / 'shards'}/")
    assert message.endswith(": Not a directory; a file stands where a folder must be: move it, "
                            "or use another folder")  # fmt: skip


def test_a_killed_writers_temporary_file_is_removed_once_stale(tmp_path):
    store = ShardStore(tmp_path)
    store.write_rows("codecA", "unit-m", [_row(1.0)])
    folder = store.codec_dir("codecA")
    killed = (  # SIGKILL mid-write: no finally runs, the temporary file stays
        "import os, signal, sys\nfrom evalkit.atomic import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_bytes(b'PAR1 half')\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", killed, str(folder / "unit-n.parquet")])
    assert proc.returncode == -signal.SIGKILL
    (left,) = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert store.existing("codecA") == {"unit-m"}  # never a shard
    assert left.exists()  # young: it could be a live writer's in another run
    old = time.time() - STALE_TEMPORARY_S - 60
    os.utime(left, (old, old))
    assert store.existing("codecA") == {"unit-m"}
    assert not left.exists()
    assert sorted(p.name for p in folder.iterdir()) == ["unit-m.parquet"]
