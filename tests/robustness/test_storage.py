"""Caches and disks as users have them (issue 18): damaged shards, a full disk, a read-only
cache. Each outcome through the real CLI: a damaged shard is moved aside and recomputed, a failed
write is one line (exit 3) naming the path and what to do, and what finished stays for --resume.

Full and read-only disks are small tmpfs mounts (root only; skipped where mounting is refused).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.robustness.conftest import METRICS, Run, start_cli

slow = pytest.mark.slow
COLUMNS = ["clip_id", "metric", "status", "value", "error"]


def pcm_run(runs, cache: Path, out: Path, *extra: str) -> Run:
    """The ``clean`` run's pcm part, on another cache and run folder."""
    clean = runs["clean"]
    args = ("--codec", "pcm", "--dataset", f"folder:{clean.cwd / 'clean'}:speech")
    common = ("--bitrates", "256", "--metrics", METRICS, "--workers", "1", "--out", str(out))
    proc = start_cli("run", *args, *common, *extra, cache=cache, cwd=clean.cwd, env=os.environ)
    return Run(proc, out, clean.cwd)


def resumed(out: Path, cache: Path, cwd: Path) -> Run:
    proc = start_cli("run", "--resume", str(out), cache=cache, cwd=cwd, env=os.environ)
    return Run(proc, out, cwd)


def table(run: Run) -> pd.DataFrame:
    df = run.results()
    return df[df["codec"] == "pcm"][COLUMNS].sort_values(COLUMNS[:2]).reset_index(drop=True)


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True, timeout=30)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


@slow
def test_damaged_shards_are_moved_aside_once_and_recomputed_to_the_same_tables(runs, tmp_path):
    """A zero-length shard (a power cut without fsync), one of garbage and one that is a named
    pipe: each is reported once, moved aside, recomputed; the tables equal the clean run's."""
    clean = runs["clean"]
    clean.wait()
    cache = tmp_path / "cache"
    shutil.copytree(clean.cwd / "cache-clean", cache)
    pcm = sorted(
        p for p in (cache / "shards").rglob("*.parquet")
        if (pd.read_parquet(p)["codec"] == "pcm").all()
    )  # fmt: skip
    assert len(pcm) == 3
    pcm[0].write_bytes(b"")
    pcm[1].write_bytes(b"PAR1 not a parquet file PAR1")
    pcm[2].unlink()
    os.mkfifo(pcm[2])
    run = pcm_run(runs, cache, tmp_path / "run")
    code, _, stderr = run.wait()
    assert code == 0, stderr
    pd.testing.assert_frame_equal(table(run), table(clean))
    assert json.loads((run.out / "run.json").read_text())["tasks_run"] == 3
    log = (run.out / "run.log").read_text()
    for path in pcm:
        assert log.count(f"cache shard {path} cannot be read") == 1, log
        assert path.is_file() and len(list(path.parent.glob(f"{path.name}.damaged-*"))) == 1


@slow
def test_a_full_disk_is_one_line_and_resume_finishes_the_run(runs, tmp_path):
    with tmpfs(tmp_path / "disk", "size=256k") as disk:
        filler = disk / "filler"
        with contextlib.suppress(OSError), open(filler, "wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
        run = pcm_run(runs, disk / "cache", tmp_path / "run")
        code, _, stderr = run.wait()
        assert code == 3, stderr
        line = one_error_line(stderr)
        assert line.startswith(f"error: cannot write the cache shard {disk / 'cache'}/"), line
        assert line.endswith(
            f": No space left on device; free space on that disk; then continue with "
            f"`evalkit run --resume {run.out}`"
        ), line
        meta = json.loads((run.out / "run.json").read_text())
        assert meta["status"].startswith("failed: cannot write the cache shard")
        filler.unlink()
        again = resumed(run.out, disk / "cache", run.cwd)
        code, _, stderr = again.wait()
        assert code == 0, stderr
        pd.testing.assert_frame_equal(table(again), table(runs["clean"]))


@slow
def test_a_read_only_cache_is_one_line_naming_it(runs, tmp_path):
    with tmpfs(tmp_path / "ro", "ro,size=64k") as ro:
        run = pcm_run(runs, ro / "cache", tmp_path / "run")
        code, _, stderr = run.wait()
        assert code == 3, stderr
        line = one_error_line(stderr)
        assert f"{ro / 'cache'}" in line and "Read-only file system" in line, line
        assert "use a writable folder" in line, line
