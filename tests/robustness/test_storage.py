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


def mount_tmpfs(where: Path, options: str) -> str | None:
    """Mount a small tmpfs; the reason it cannot be mounted (not root ...) or ``None``."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True, timeout=30)  # fmt: skip
    return None if done.returncode == 0 else done.stderr.decode().strip() or "mount failed"


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with contextlib.suppress(OSError), open(filler, "wb") as f:
        while True:
            f.write(b"\0" * 4096)
            f.flush()
    return filler


def damage(cache: Path) -> list[Path]:
    """A zero-length shard (a power cut without fsync), one of garbage and one that is a named
    pipe, among the pcm shards of a copied cache; returns their paths."""
    pcm = sorted(
        p for p in (cache / "shards").rglob("*.parquet")
        if (pd.read_parquet(p)["codec"] == "pcm").all()
    )  # fmt: skip
    assert len(pcm) == 3
    pcm[0].write_bytes(b"")
    pcm[1].write_bytes(b"PAR1 not a parquet file PAR1")
    pcm[2].unlink()
    os.mkfifo(pcm[2])
    return pcm


@pytest.fixture(scope="module")
def storage(runs, tmp_path_factory) -> Iterator[dict]:
    """The three runs of this module, started at once once the clean run has finished: on a
    copy of its cache with damaged shards, on a full tmpfs, on a read-only tmpfs."""
    base = tmp_path_factory.mktemp("storage")
    runs["clean"].wait()
    cache = base / "damaged-cache"
    shutil.copytree(runs["clean"].cwd / "cache-clean", cache)
    found = {"damaged": damage(cache)}
    started = {"damaged": pcm_run(runs, cache, base / "run-damaged")}
    mounts = []
    for name, options in (("full", "size=256k"), ("ro", "ro,size=64k")):
        disk = base / f"{name}-disk"
        why = mount_tmpfs(disk, options)
        if why:
            found[name] = why
            continue
        mounts.append(disk)
        found[name] = fill(disk) if name == "full" else disk
        started[name] = pcm_run(runs, disk / "cache", base / f"run-{name}")
    yield {"runs": started, **found}
    for run in started.values():
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()
    for disk in mounts:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=30)


def mounted(storage: dict, name: str) -> Run:
    if name not in storage["runs"]:
        pytest.skip(f"cannot mount a tmpfs here: {storage[name]}")
    return storage["runs"][name]


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


@slow
def test_damaged_shards_are_moved_aside_once_and_recomputed_to_the_same_tables(runs, storage):
    """Each damaged shard is reported once, moved aside and recomputed; the tables equal those
    of the run on the empty cache."""
    run = storage["runs"]["damaged"]
    code, _, stderr = run.wait()
    assert code == 0, stderr
    pd.testing.assert_frame_equal(table(run), table(runs["clean"]))
    assert json.loads((run.out / "run.json").read_text())["tasks_run"] == 3
    log = (run.out / "run.log").read_text()
    for path in storage["damaged"]:
        assert log.count(f"cache shard {path} cannot be read") == 1, log
        assert path.is_file() and len(list(path.parent.glob(f"{path.name}.damaged-*"))) == 1


@slow
def test_a_full_disk_is_one_line_and_resume_finishes_the_run(runs, storage):
    run = mounted(storage, "full")
    code, _, stderr = run.wait()
    assert code == 3, stderr
    line = one_error_line(stderr)
    cache = storage["full"].parent / "cache"
    assert line.startswith(f"error: cannot write the cache shard {cache}/"), line
    assert line.endswith(
        f": No space left on device; free space on that disk; then continue with "
        f"`evalkit run --resume {run.out}`"
    ), line
    meta = json.loads((run.out / "run.json").read_text())
    assert meta["status"].startswith("failed: cannot write the cache shard")
    storage["full"].unlink()  # space again
    again = resumed(run.out, cache, run.cwd)
    code, _, stderr = again.wait()
    assert code == 0, stderr
    pd.testing.assert_frame_equal(table(again), table(runs["clean"]))


@slow
def test_a_read_only_cache_is_one_line_naming_it(storage):
    run = mounted(storage, "ro")
    code, _, stderr = run.wait()
    assert code == 3, stderr
    line = one_error_line(stderr)
    assert f"{storage['ro'] / 'cache'}" in line and "Read-only file system" in line, line
    assert "use a writable folder" in line, line
