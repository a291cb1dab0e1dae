"""evalkit: a benchmark and evaluation harness for neural audio codecs.

The Python API is the same machinery as the ``evalkit`` command; the CLI only maps flags to it.

Run an evaluation from a config (the same settings as ``evalkit run``), then load its tables:

>>> import evalkit
>>> config = evalkit.RunConfig(codecs=("pcm",), bitrates_kbps=(64, 128), dataset="folder:" +
...     str(EXAMPLE_DIR) + ":speech", metrics=("si_sdr",), workers=1)
>>> run_dir = evalkit.evaluate(config, EXAMPLE_DIR / "run")
>>> run = evalkit.load_run(run_dir)
>>> sorted(run.results["metric"].unique())
['bitrate_container_kbps', 'bitrate_measured_kbps', 'si_sdr']
>>> si_sdr = run.summary.query("metric == 'si_sdr' and domain == 'all' and source == 'all'")
>>> db = si_sdr.set_index("bitrate_kbps")["mean"]  # 4 more bits per sample: about 24 dB more
>>> bool(20 < db[128] - db[64] < 28)
True

(In a script, call ``evaluate`` under ``if __name__ == "__main__":``: the local Dask workers are
new processes that import the script.)

Profiles fill in what a preset needs and validate everything before work starts:

>>> evalkit.RunConfig(profile="ci").resolved().codecs
('rvq',)
>>> evalkit.RunConfig(codecs=("opsu",), bitrates_kbps=(6,)).resolved()
Traceback (most recent call last):
...
evalkit.errors.UsageError: unknown codec 'opsu'. Did you mean 'opus'? ...

Score two arrays or two files with any metrics, under the same alignment policy as a run
(docs/alignment.md): one row per value, with both durations and the lag used:

>>> import numpy as np
>>> tone = np.sin(np.arange(16000) / 4.0).astype(np.float32) * 0.3
>>> rows = evalkit.score_arrays(tone, tone[:8000], 16000, metrics=["mel_distance"], domain="music")
>>> [(r["metric"], r["ref_duration_s"], r["deg_duration_s"]) for r in rows]
[('mel_distance', 1.0, 0.5)]

Write a report (Markdown, HTML, CSV, JSON and plots) from any run folder:

>>> paths = evalkit.write_report(run_dir, formats=["md"])
>>> [p.name for p in paths if p.suffix == ".md"]
['report.md']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import EvalkitError, UsageError
from evalkit.pipeline.config import RunConfig

if TYPE_CHECKING:
    import numpy as np

    from evalkit.results.rundir import Run

__version__ = "0.1.0"
__all__ = [
    "EvalkitError",
    "Run",
    "RunConfig",
    "UsageError",
    "evaluate",
    "load_run",
    "score_arrays",
    "score_files",
    "write_leaderboard",
    "write_report",
]


def evaluate(
    config: RunConfig, run_dir: str | Path | None = None, cache_dir: str | Path | None = None
) -> Path:
    """Run an evaluation end to end on a local Dask cluster (or ``config.scheduler``).

    Args:
        config: what to run; checked by :meth:`RunConfig.resolved` before any work starts.
        run_dir: the run folder to write (default ``runs/<UTC time>-<codecs>/``); an existing
            run folder is continued, as ``evalkit run --resume`` does.
        cache_dir: the shard cache (default ``$EVALKIT_CACHE`` or ``~/.cache/evalkit``).

    Returns:
        The run folder: ``run.json``, ``results.parquet``/``.csv``, ``summary.csv`` … (see
        :mod:`evalkit.results`).
    """
    from evalkit.pipeline.runner import evaluate as run

    return run(config, Path(run_dir) if run_dir else None, Path(cache_dir) if cache_dir else None)


def score_arrays(
    reference: np.ndarray,
    degraded: np.ndarray,
    rate: int,
    metrics: Sequence[str] | None = None,
    align: str | int = "none",
    domain: str = "speech",
    degraded_rate: int | None = None,
) -> list[dict[str, Any]]:
    """Score one (reference, degraded) pair of arrays, (channels, samples) or (samples,): float,
    or integer PCM (scaled from its full scale, as soundfile reads it). A (samples, channels)
    array, soundfile's layout, is refused with the fix: pass its transpose.

    ``align`` is ``"none"``, ``"estimate"`` (one lag estimated and recorded) or a lag in samples;
    it moves only the sample-aligned metrics. ``metrics`` default to those of a default run.
    Returns one row per value, as ``results.parquet`` holds them (status, error, durations).
    """
    from evalkit.pipeline.scoring import score_arrays as score

    names = list(metrics) if metrics is not None else None
    return score(reference, degraded, rate, names, align, domain, degraded_rate)


def score_files(
    reference: str | Path,
    degraded: str | Path,
    metrics: Sequence[str] | None = None,
    align: str | int = "none",
    domain: str = "speech",
) -> list[dict[str, Any]]:
    """Read two audio files and score them as :func:`score_arrays` does (``evalkit score``)."""
    from evalkit.pipeline.scoring import score_files as score

    return score(reference, degraded, list(metrics) if metrics is not None else None, align, domain)


def load_run(run_dir: str | Path) -> Run:
    """A run folder's settings (``.meta``), rows (``.results``), ``.summary`` and ``.codebooks``.

    Raises:
        EvalkitError: the folder is not a readable run folder (the message says why).
    """
    from evalkit.results.rundir import load_run as load

    return load(run_dir)


def write_report(
    run_dir: str | Path,
    formats: Sequence[str] = ("md", "html", "csv", "json"),
    out: str | Path | None = None,
) -> list[Path]:
    """Write one run's report (default folder ``RUN_DIR/report``); returns the files written."""
    from evalkit.reports.report import write_report as write

    return write(run_dir, list(formats), Path(out) if out else None)


def write_leaderboard(
    run_dirs: Sequence[str | Path], out: str | Path, rank_by: Sequence[str] | None = None
) -> list[Path]:
    """Rank the codecs of several runs (Markdown, HTML, plots in ``out``); returns the files."""
    from evalkit.reports.leaderboard import DEFAULT_RANK_METRICS
    from evalkit.reports.leaderboard import write_leaderboard as write

    return write([Path(p) for p in run_dirs], Path(out), tuple(rank_by or DEFAULT_RANK_METRICS))


def __getattr__(name: str) -> object:
    if name == "Run":  # the class of load_run's result, imported when first asked for
        from evalkit.results.rundir import Run

        return Run
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
