"""The run folder (``runs/<run_id>/``): its files, written atomically, and read back with
one-line errors.

``run.json`` (settings, provenance, directions, status), ``results.parquet`` / ``.csv`` (one row
per value, :mod:`evalkit.results.schema`), ``summary.csv`` (:mod:`evalkit.results.summary`),
``codes.parquet`` and ``codebooks.csv`` (codebook codecs), ``run.log``, and ``audio/`` with
``--save-audio``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.atomic import atomic_path
from evalkit.errors import EvalkitError
from evalkit.results import RUN_JSON
from evalkit.results import directions as D
from evalkit.results.schema import RESULT_COLUMNS
from evalkit.results.summary import codebook_table, summarize


def write_json(path: Path, data: dict) -> None:
    """Replace a JSON file atomically (a crash leaves the old file or the new one)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=str))


def write_tables(
    run_dir: Path, results: pd.DataFrame, codes: pd.DataFrame, directions: D.Directions
) -> None:
    """Every table of the run folder, each written atomically."""

    def atomic(name: str, write: Callable[[Path], object]) -> None:
        with atomic_path(run_dir / name) as tmp:
            write(tmp)

    atomic("results.parquet", lambda p: results.to_parquet(p, index=False))
    atomic("results.csv", lambda p: results.to_csv(p, index=False))
    atomic("codes.parquet", lambda p: codes.to_parquet(p, index=False))
    atomic("summary.csv", lambda p: summarize(results, directions).to_csv(p, index=False))
    atomic("codebooks.csv", lambda p: codebook_table(codes).to_csv(p, index=False))


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

    @cached_property
    def directions(self) -> dict[str, bool]:
        """Value name -> higher is better, as recorded when the run ran."""
        recorded = self.meta.get("directions")
        return dict(recorded) if isinstance(recorded, dict) else D.registered()

    @cached_property
    def summary(self) -> pd.DataFrame:
        """The run's summary, by the function that wrote its ``summary.csv``."""
        return summarize(self.results, self.directions)


def unfinished_note(path: Path, meta: dict[str, Any]) -> str | None:
    """Why a run's tables are partial (interrupted, still running), or None if it completed."""
    status = meta.get("status", "completed")
    if status == "completed":
        return None
    return (
        f"run {path} did not complete (status: {status}); its tables hold only what finished. "
        f"Complete it with `evalkit run --resume {path}`"
    )


def read_meta(path: str | Path) -> dict[str, Any]:
    """A run folder's ``run.json``; raises EvalkitError naming the file and what is wrong."""
    path = Path(path)
    if not path.is_dir():
        raise EvalkitError(f"{path}: no such run folder")
    try:
        meta = json.loads((path / RUN_JSON).read_text())
    except FileNotFoundError as exc:
        raise EvalkitError(
            f"{path}: no {RUN_JSON}; is this a folder written by evalkit run?"
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EvalkitError(f"{path / RUN_JSON}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise EvalkitError(f"{path / RUN_JSON}: not a run's settings (a JSON object)")
    return meta


def load_run(path: str | Path) -> Run:
    """Load a run folder; raises EvalkitError naming the folder and what is wrong with it.

    Example:
        >>> run = load_run("runs/my-run")  # doctest: +SKIP
        >>> run.summary.query("metric == 'pesq_wb' and domain == 'speech'")  # doctest: +SKIP
    """
    path = Path(path)
    meta = read_meta(path)
    if not isinstance(meta.get("dataset"), dict) or "fingerprint" not in meta["dataset"]:
        raise EvalkitError(f"{path / RUN_JSON}: no dataset fingerprint")
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
