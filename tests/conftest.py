"""Shared fixtures: real recordings from the embedded default set, and an isolated shard cache."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DEFAULT_SET = ROOT / "datasets" / "default"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own shard cache, so no test reuses another's results."""
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path_factory.mktemp("cache")))


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
