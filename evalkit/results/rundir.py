"""Reading a run folder (``runs/<run_id>/``) written by ``evalkit run``, with one-line errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.errors import EvalkitError
from evalkit.results.schema import RESULT_COLUMNS


@dataclass(frozen=True)
class Run:
    """One run: its ``run.json``, its tidy results and (codebook codecs only) codebook stats."""

    path: Path
    meta: dict[str, Any]
    results: pd.DataFrame
    codebooks: pd.DataFrame | None

    @property
    def run_id(self) -> str:
        return str(self.meta.get("run_id") or self.path.name)

    @property
    def dataset_fingerprint(self) -> str:
        return str(self.meta["dataset"]["fingerprint"])

    @property
    def unfinished(self) -> str | None:
        return unfinished_note(self.path, self.meta)

    @property
    def metric_fingerprints(self) -> dict[str, Any]:
        return dict(self.meta.get("metrics") or {})


def unfinished_note(path: Path, meta: dict[str, Any]) -> str | None:
    """Why a run's tables are partial (interrupted, still running), or None if it completed."""
    status = meta.get("status", "completed")
    if status == "completed":
        return None
    return (
        f"run {path} did not complete (status: {status}); its tables hold only what finished. "
        f"Complete it with `evalkit run --resume {path}`"
    )


def load_run(path: str | Path) -> Run:
    """Load a run folder; raises EvalkitError naming the folder and what is wrong with it."""
    path = Path(path)
    if not path.is_dir():
        raise EvalkitError(f"{path}: no such run folder")
    try:
        meta = json.loads((path / "run.json").read_text())
    except FileNotFoundError as exc:
        raise EvalkitError(
            f"{path}: no run.json; is this a folder written by evalkit run?"
        ) from exc
    except json.JSONDecodeError as exc:
        raise EvalkitError(f"{path / 'run.json'}: not valid JSON ({exc})") from exc
    if not isinstance(meta.get("dataset"), dict) or "fingerprint" not in meta["dataset"]:
        raise EvalkitError(f"{path / 'run.json'}: no dataset fingerprint")
    results_path = path / "results.parquet"
    if not results_path.is_file():
        raise EvalkitError(f"{path}: no results.parquet; the run did not finish")
    try:
        results = pd.read_parquet(results_path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise EvalkitError(f"{results_path}: cannot be read ({exc})") from exc
    missing = [c for c in RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise EvalkitError(f"{results_path}: missing columns {', '.join(missing)}")
    codebooks_path = path / "codebooks.csv"
    codebooks = None
    if codebooks_path.is_file() and codebooks_path.stat().st_size:
        codebooks = pd.read_csv(codebooks_path)
    return Run(path=path, meta=meta, results=results, codebooks=codebooks)
