"""Shared fixtures: real recordings from the embedded default set, and an isolated shard cache."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT / "datasets" / "default"


def pytest_configure(config):
    """The test session gets its own shard cache: no test reads results of an earlier session
    (set before any fixture runs, so module-scoped runs use it too)."""
    os.environ["EVALKIT_CACHE"] = tempfile.mkdtemp(prefix="evalkit-test-cache-")


def default_clips() -> list[dict]:
    with open(DEFAULT_SET / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def speech_path() -> Path:
    clip = next(c for c in default_clips() if c["domain"] == "speech")
    return DEFAULT_SET / clip["path"]


def tone(seconds: float = 1.0, rate: int = 16000, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None, :]


@pytest.fixture(scope="module")
def one_torch_thread():
    """One math thread, as on a pipeline worker: two threads on two busy cores contend."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
