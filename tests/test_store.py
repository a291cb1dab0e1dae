"""Shards: atomic, content-addressed, never read half-written."""

from __future__ import annotations

import os

import pandas as pd
import pytest

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

    def crash(self, path, *a, **k):
        with open(path, "wb") as f:
            f.write(b"PAR1 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_parquet", crash)
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
