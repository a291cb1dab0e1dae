"""Dask scale-out: an existing cluster on loopback, dead workers, interrupt and resume."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.pipeline import runner
from evalkit.pipeline.config import RunConfig
from evalkit.pipeline.runner import PRE_SPAWN_ENV, WORKER_ENV, dask_client, evaluate
from evalkit.pipeline.store import ShardStore

pytestmark = pytest.mark.slow

CHEAP = ("mel_distance", "stoi")
KEY = ["codec", "bitrate_kbps", "clip_id", "metric"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _values(run_dir: Path) -> pd.DataFrame:
    df = pd.read_parquet(run_dir / "results.parquet")
    return df.sort_values(KEY)[[*KEY, "value", "status"]].reset_index(drop=True)


@pytest.fixture
def cluster():
    """A real scheduler and two real single-threaded worker processes on 127.0.0.1."""
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--dashboard-address",
                ":0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    time.sleep(2)
    for _ in range(2):
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "distributed.cli.dask_worker",
                    addr,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    from distributed import Client

    with Client(addr, timeout="30s") as c:
        c.wait_for_workers(2, timeout=60)
    yield addr, procs
    for p in procs:
        p.kill()
        p.wait()


def test_existing_cluster_gives_the_same_results_as_a_local_run(tmp_path, cluster):
    addr, _ = cluster
    config = RunConfig(codecs=("pcm", "opus"), bitrates_kbps=(64.0,), limit=1, metrics=CHEAP)
    remote = evaluate(
        RunConfig(**{**config.__dict__, "scheduler": addr}),
        tmp_path / "remote",
        cache_dir=tmp_path / "cache-remote",
    )
    local = evaluate(
        RunConfig(**{**config.__dict__, "workers": 1}),
        tmp_path / "local",
        cache_dir=tmp_path / "cache-local",
    )
    a, b = _values(remote), _values(local)
    assert len(a) == 2 * 3 * (len(CHEAP) + 2)  # 2 codecs x 3 clips x (metrics + 2 bitrate rows)
    pd.testing.assert_frame_equal(a, b)
    assert (a["status"] != "error").all()


@pytest.mark.parametrize("per_batch", [1, 2])
def test_killed_worker_loses_nothing(tmp_path, cluster, monkeypatch, per_batch):
    addr, procs = cluster
    monkeypatch.setattr(runner, "batch_size", lambda n_tasks, n_workers: per_batch)
    config = RunConfig(
        codecs=("opus",), bitrates_kbps=(8.0, 16.0), limit=3, metrics=CHEAP, scheduler=addr
    )
    shards = tmp_path / "cache"

    def kill_when_started() -> None:
        deadline = time.time() + 120
        while time.time() < deadline and not list(shards.rglob("*.parquet")):
            time.sleep(0.05)
        os.kill(procs[1].pid, signal.SIGKILL)

    import threading

    killer = threading.Thread(target=kill_when_started, daemon=True)
    killer.start()
    run_dir = evaluate(config, tmp_path / "run", cache_dir=shards)
    killer.join()
    df = pd.read_parquet(run_dir / "results.parquet")
    assert procs[1].poll() is not None  # the worker really died mid-run
    assert df.groupby("clip_id").size().nunique() == 1  # every clip has all its rows
    assert (df["status"] != "error").all(), df.loc[df["status"] == "error", "error"].tolist()


def test_interrupted_run_resumes_to_the_same_tables(tmp_path):
    args = [
        "--codec",
        "opus",
        "--bitrates",
        "8,16",
        "--limit",
        "4",
        "--metrics",
        ",".join(CHEAP),
        "--workers",
        "1",
    ]
    env = dict(os.environ, EVALKIT_CACHE=str(tmp_path / "cache-a"))
    run_dir = tmp_path / "interrupted"
    # SIG_DFL in the child: Ctrl-C must reach the run even when this test runs as a background
    # job, whose processes inherit an ignored SIGINT. Its own session: the SIGINT goes to the
    # whole process group, Dask workers included, as a terminal's Ctrl-C does.
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalkit", "run", *args, "--out", str(run_dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    shards = tmp_path / "cache-a" / "shards"
    deadline = time.time() + 180
    # Interrupt after the first clip's shard: the clip in flight may still finish (nothing
    # computed is lost), and two clips are left for --resume whatever the timing.
    while time.time() < deadline and not list(shards.rglob("*.parquet")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr  # the workers ignore it; evalkit stops them itself
    partial = pd.read_parquet(run_dir / "results.parquet")
    resumed = subprocess.run(
        [sys.executable, "-m", "evalkit", "run", "--resume", str(run_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    env_b = dict(os.environ, EVALKIT_CACHE=str(tmp_path / "cache-b"))
    clean = tmp_path / "clean"
    done = subprocess.run(
        [sys.executable, "-m", "evalkit", "run", *args, "--out", str(clean)],
        env=env_b,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert len(partial) < len(_values(clean))  # it really was interrupted
    meta = json.loads((run_dir / "run.json").read_text())
    assert "--resume" not in meta["command"]  # the run is still the command that started it
    assert meta["resumed_by"] == [f"evalkit run --resume {run_dir}"]
    pd.testing.assert_frame_equal(_values(run_dir), _values(clean))
    pd.testing.assert_frame_equal(
        pd.read_csv(run_dir / "summary.csv"), pd.read_csv(clean / "summary.csv")
    )


def test_local_workers_are_capped_and_the_callers_environment_is_left_as_it_was(monkeypatch):
    """distributed sets pre-spawn variables in the process that starts the workers; left there,
    NUMBA_NUM_THREADS=1 made numba raise in the caller's next ViSQOL or DNSMOS call."""
    names = [*PRE_SPAWN_ENV, *WORKER_ENV]
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")  # a value the caller set wins, and stays theirs
    before = dict(os.environ)
    with dask_client(RunConfig(workers=1)) as client:
        (seen,) = client.run(lambda: {n: os.environ.get(n) for n in names}).values()
    assert seen == {**dict.fromkeys(names, "1"), "MKL_NUM_THREADS": "3"}
    assert dict(os.environ) == before


def test_a_run_leaves_the_callers_threads_and_environment_alone(tmp_path, monkeypatch):
    """The client builds codecs to plan and to probe delays; one math thread is the workers'."""
    import numba
    import soundfile as sf
    import torch

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    rate = 16000
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(rate) / rate)
    sf.write(tmp_path / "a.wav", tone.astype(np.float32), rate)
    torch.set_num_threads(2)
    threads, environ = (torch.get_num_threads(), numba.get_num_threads()), dict(os.environ)
    config = RunConfig(codecs=("pcm",), bitrates_kbps=(64,), dataset=f"folder:{tmp_path}:music",
                       metrics=("si_sdr",), workers=1)  # fmt: skip
    evaluate(config, tmp_path / "run")
    assert (torch.get_num_threads(), numba.get_num_threads()) == threads
    assert dict(os.environ) == environ


def test_a_batch_that_cannot_run_is_sent_again_task_by_task(tmp_path, monkeypatch):
    """A clip that kills its worker must not take its batch-mates' results with it."""
    from distributed import Client

    config = RunConfig(codecs=("pcm",), bitrates_kbps=(64.0,), limit=3, metrics=("si_sdr",))
    plan = runner.prepare(config.resolved())
    store = ShardStore(tmp_path)
    tasks = list(runner.plan_tasks(plan, store, None, None, (64.0,)))
    poison, real = tasks[1].clip.clip_id, runner._run_with_timeout

    def run(task):
        if task.clip.clip_id == poison:
            raise MemoryError("poison")
        return real(task)

    monkeypatch.setattr(runner, "_run_with_timeout", run)  # the in-process worker sees it
    seen: list[tuple[str, int]] = []

    def progress(task, result) -> None:
        seen.append((task.clip.clip_id, result.failures))

    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as c:
        runner.execute(tasks, c, store, progress, retries=0, per_batch=3)
    assert sorted(clip for clip, _ in seen) == sorted(t.clip.clip_id for t in tasks)
    assert {clip: bool(failed) for clip, failed in seen} == {
        t.clip.clip_id: t.clip.clip_id == poison for t in tasks
    }
