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


def timed(manifest: Path, metrics: tuple[str, ...], workers: int) -> tuple[float, float, int]:
    """(seconds while tasks ran, seconds of the whole run, tasks) on an empty cache."""
    span: dict[str, float] = {}

    @contextlib.contextmanager
    def clock(total: int, dashboard: str | None):
        span["tasks"], span["start"] = total, time.perf_counter()
        yield lambda task, result: None
        span["end"] = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EVALKIT_CACHE"] = str(Path(tmp) / "cache")
        config = RunConfig(pairs=f"{manifest}:speech", metrics=metrics, workers=workers)
        started = time.perf_counter()
        evaluate(config, Path(tmp) / "run", progress_factory=clock)
        whole = time.perf_counter() - started
    return span["end"] - span["start"], whole, int(span["tasks"])


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
            working, whole, tasks = timed(manifest, metrics, workers)
            rates[workers] = tasks / working
            print(
                f"{workers} worker(s): {tasks} pairs in {working:.1f} s while working "
                f"({rates[workers]:.1f} pairs/s), {whole:.1f} s for the whole run"
            )
    print(f"throughput ratio 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x (target >= 1.7x)")


if __name__ == "__main__":
    main()
