"""Pairs-mode scaling: ``evalkit run --pairs`` over generated pairs with 1 and then 2 workers.

Prints the throughput of each (pairs per second while the cluster works, and the whole command's
wall time, cluster start and file hashing included) and the 2-worker / 1-worker ratio
(target >= 1.7x on a 2-core machine). Each run starts from an empty cache.

Usage:  python benchmarks/pairs.py [--pairs 1000] [--seconds 1.0] [--metrics mel_distance,si_sdr]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from evalkit.pipeline.config import RunConfig
from evalkit.pipeline.runner import evaluate

RATE = 16000


def generate(folder: Path, n: int, seconds: float) -> Path:
    """``n`` pairs: seeded noise bursts over tones as references, each plus faint noise."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    rows = []
    for i in range(n):
        tone = 0.2 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t)
        ref = (tone + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
        deg = (ref + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
        sf.write(folder / f"r{i:05d}.wav", ref, RATE)
        sf.write(folder / f"d{i:05d}.wav", deg, RATE)
        rows.append({"reference": f"r{i:05d}.wav", "degraded": f"d{i:05d}.wav"})
    manifest = folder / "pairs.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.DictWriter(f, ["reference", "degraded"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def timed(manifest: Path, metrics: tuple[str, ...], workers: int) -> dict[str, float]:
    """Seconds while tasks ran, client CPU seconds meanwhile, seconds of the whole run, tasks;
    on an empty cache."""
    span: dict[str, float] = {}

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    @contextlib.contextmanager
    def clock(total: int, dashboard: str | None):
        span["tasks"], span["start"], span["cpu"] = total, time.perf_counter(), cpu()
        yield lambda task, result: None
        span["working"], span["cpu"] = time.perf_counter() - span["start"], cpu() - span["cpu"]

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EVALKIT_CACHE"] = str(Path(tmp) / "cache")
        config = RunConfig(pairs=f"{manifest}:speech", metrics=metrics, workers=workers)
        started = time.perf_counter()
        evaluate(config, Path(tmp) / "run", progress_factory=clock)
        span["whole"] = time.perf_counter() - started
    return span


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--metrics", default="mel_distance,si_sdr")
    args = parser.parse_args()
    metrics = tuple(args.metrics.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate(Path(tmp), args.pairs, args.seconds)
        rates = {}
        for workers in (1, 2):
            t = timed(manifest, metrics, workers)
            rates[workers] = t["tasks"] / t["working"]
            print(
                f"{workers} worker(s): {t['tasks']:.0f} pairs in {t['working']:.1f} s while "
                f"working ({rates[workers]:.1f} pairs/s; the client used {t['cpu']:.1f} CPU s "
                f"meanwhile), {t['whole']:.1f} s for the whole run; load average "
                f"{os.getloadavg()[0]:.1f}"
            )
    print(f"throughput ratio 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x (target >= 1.7x)")


if __name__ == "__main__":
    main()
