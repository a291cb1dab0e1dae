"""Scaling benchmark: evalkit on Dask against a plain sequential loop doing the same calls.

Prints ratios, not absolute targets:
  * throughput with 2 workers vs 1 (target >= 1.7x on a 2-core machine),
  * evalkit with 1 worker vs the plain loop (overhead, target <= 1.10x),
  * evalkit with 2 workers vs the plain loop (target <= 0.6x),
  * client peak memory with 50 and 5 000 short synthetic clips (should stay flat).

Usage:  python benchmarks/scaling.py [--clips 12] [--codec opus] [--bitrates 6,12,24]
        [--memory-clips 50,5000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from evalkit.datasets import load_dataset
from evalkit.pipeline.config import RunConfig
from evalkit.pipeline.runner import evaluate, plan_tasks, prepare
from evalkit.pipeline.store import ShardStore
from evalkit.pipeline.task import configure_threads, run_task


def timed_run(config: RunConfig, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EVALKIT_CACHE"] = str(Path(tmp) / "cache")
        cfg = RunConfig(**{**config.__dict__, "workers": workers})
        started = time.perf_counter()
        evaluate(cfg, Path(tmp) / "run")
        return time.perf_counter() - started


def plain_loop(config: RunConfig) -> float:
    """The same codec and metric calls, one after another, in this process."""
    configure_threads()
    with tempfile.TemporaryDirectory() as tmp:
        plan = prepare(config)
        tasks = list(plan_tasks(plan, ShardStore(tmp), None, None, config.bitrates_kbps))
        started = time.perf_counter()
        for task in tasks:
            run_task(task)
        return time.perf_counter() - started


def client_peak_mb(n_clips: int) -> float:
    """Peak RSS of a client process evaluating ``n_clips`` short synthetic clips."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clips"
        folder.mkdir()
        rng = np.random.default_rng(0)
        for i in range(n_clips):
            sf.write(folder / f"c{i:05d}.wav", 0.1 * rng.standard_normal(1600), 16000)
        code = (
            "import resource, sys; from pathlib import Path\n"
            "from evalkit import RunConfig, evaluate\n"
            f"evaluate(RunConfig(codecs=('pcm',), bitrates_kbps=(128.0,), "
            f"dataset='folder:{folder}:speech', metrics=('si_sdr',), workers=2), "
            f"Path('{tmp}') / 'run')\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
        )
        env = dict(os.environ, EVALKIT_CACHE=str(Path(tmp) / "cache"))
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=4, help="clips per domain")
    parser.add_argument("--codec", default="opus")
    parser.add_argument("--bitrates", default="6,12,24")
    parser.add_argument("--metrics", default=None, help="default: all")
    parser.add_argument("--memory-clips", default="50,5000")
    args = parser.parse_args()
    config = RunConfig(
        codecs=(args.codec,),
        bitrates_kbps=tuple(float(b) for b in args.bitrates.split(",")),
        limit=args.clips,
        metrics=tuple(args.metrics.split(",")) if args.metrics else None,
    )
    n = len(load_dataset("default", limit=args.clips).clips)
    loop = plain_loop(config)
    one = timed_run(config, 1)
    two = timed_run(config, 2)
    report = {
        "clips": n,
        "codec": args.codec,
        "bitrates": args.bitrates,
        "plain_loop_s": round(loop, 1),
        "evalkit_1_worker_s": round(one, 1),
        "evalkit_2_workers_s": round(two, 1),
        "speedup_2_vs_1_workers": round(one / two, 2),
        "overhead_1_worker_vs_loop": round(one / loop, 2),
        "evalkit_2_workers_vs_loop": round(two / loop, 2),
    }
    for m in (int(x) for x in args.memory_clips.split(",") if x):
        report[f"client_peak_mb_{m}_clips"] = round(client_peak_mb(m), 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
