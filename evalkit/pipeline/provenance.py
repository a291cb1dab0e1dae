"""Provenance of a run: versions, git commit, host, times; written to run.json."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import evalkit

PACKAGES = (
    "evalkit-audio",
    "torch",
    "torchaudio",
    "numpy",
    "scipy",
    "soundfile",
    "av",
    "pesq",
    "pystoi",
    "visqol-python",
    "ai-edge-litert",
    "numba",
    "pandas",
    "pyarrow",
    "dask",
    "distributed",
    "encodec",
    "descript-audio-codec",
    "descript-audiotools",
)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> str | None:
    here = Path(evalkit.__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def run_metadata(
    run_id: str, config: dict, argv: list[str] | None, started: str, plan_info: dict[str, Any]
) -> dict[str, Any]:
    argv = argv if argv is not None else sys.argv
    return {
        "run_id": run_id,
        "argv": list(argv),
        "command": " ".join(["evalkit", *argv[1:]]) if argv else "",
        "evalkit_version": evalkit.__version__,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "host": {
            "name": platform.node(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "started_utc": started,
        "finished_utc": None,
        "config": config,
        **plan_info,
    }
