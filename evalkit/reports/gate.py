"""The CI regression gate: ``evalkit baseline`` keeps per-clip values, ``evalkit check`` compares.

A cell (codec × bitrate × domain × metric) regresses when its mean got worse by more than the
tolerance *and* the 95% CI of the paired per-clip difference lies entirely on the worse side of
zero. Pairing by clip makes the test sensitive to small consistent changes while run-to-run noise
on a few clips does not fail a build. A clip that was scored in the baseline and now fails or is
missing is a regression too: a codec that crashes must not pass by having fewer values.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import EvalkitError, UsageError
from evalkit.reports.tables import domain_order
from evalkit.results.directions import higher_is_better
from evalkit.results.rundir import Run, load_run
from evalkit.results.schema import OK
from evalkit.results.summary import ALL
from evalkit.stats import paired_difference

FORMAT = "evalkit-baseline/1"
COLUMNS = ["codec", "bitrate_kbps", "domain", "clip_id", "metric", "value", "status", "error"]
CELL = ["codec", "bitrate_kbps", "metric"]
#: default tolerance: this share of the baseline mean (absolute tolerances per metric override it)
RELATIVE_TOLERANCE = 0.01


@dataclass(frozen=True)
class Baseline:
    meta: dict[str, Any]
    values: pd.DataFrame  # COLUMNS


@dataclass(frozen=True)
class Finding:
    """One compared cell. ``diff`` and its CI are new minus baseline, in the metric's units."""

    codec: str
    bitrate_kbps: float
    domain: str
    metric: str
    n: int
    baseline_mean: float
    new_mean: float
    diff: float
    ci_low: float
    ci_high: float
    tolerance: float
    regressed: bool
    reason: str = ""

    def describe(self) -> str:
        where = f"{self.codec} @ {self.bitrate_kbps:g} kbps, {self.domain}, {self.metric}"
        if self.reason:
            return f"{where}: {self.reason}"
        ci = (
            f"95% CI [{self.ci_low:+.4f}, {self.ci_high:+.4f}]"
            if math.isfinite(self.ci_low)
            else "no CI (one clip)"
        )
        return (
            f"{where}: {self.baseline_mean:.4f} -> {self.new_mean:.4f} "
            f"(paired diff {self.diff:+.4f}, {ci}, n={self.n}, tolerance {self.tolerance:.4f})"
        )


def make_baseline(run: Run) -> dict[str, Any]:
    """The baseline document of a run: fingerprints plus every per-clip value."""
    if run.unfinished:  # a partial baseline would let `check` pass on the cells it lacks
        raise EvalkitError(f"no baseline from an unfinished run: {run.unfinished}")
    values = run.results[COLUMNS]
    for metric in values["metric"].unique():
        higher_is_better(metric, run.directions)  # fail now, not in CI, on an unknown direction
    rows = [
        [None if isinstance(v, float) and math.isnan(v) else v for v in row]
        for row in values.astype(object).where(values.notna(), None).itertuples(index=False)
    ]
    return {
        "format": FORMAT,
        "run_id": run.run_id,
        "command": run.meta.get("command"),
        "finished_utc": run.meta.get("finished_utc"),
        "evalkit_version": run.meta.get("evalkit_version"),
        "dataset": run.meta["dataset"],
        "metrics": run.metric_fingerprints,
        "codecs": run.meta.get("codecs"),
        "columns": COLUMNS,
        "rows": rows,
    }


def write_baseline(run_dir: str | Path, out: Path) -> Path:
    document = make_baseline(load_run(run_dir))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, allow_nan=False, indent=0) + "\n")
    return out


def load_baseline(path: Path) -> Baseline:
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such baseline; write one with evalkit baseline") from exc
    except json.JSONDecodeError as exc:
        raise EvalkitError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise EvalkitError(f"{path}: not an {FORMAT} file")
    values = pd.DataFrame(document["rows"], columns=document["columns"])
    values["value"] = values["value"].astype("float64")
    values["bitrate_kbps"] = values["bitrate_kbps"].astype("float64")
    meta = {k: v for k, v in document.items() if k != "rows"}
    return Baseline(meta=meta, values=values)


def parse_tolerances(items: list[str]) -> dict[str, float]:
    """``["pesq_wb=0.05", ...]`` -> ``{"pesq_wb": 0.05}`` (absolute, in the metric's units)."""
    out = {}
    for item in items:
        metric, sep, value = item.partition("=")
        try:
            tolerance = float(value)
        except ValueError:
            tolerance = float("nan")
        if not sep or not metric.strip() or not tolerance >= 0:
            raise UsageError(f"--tolerance {item!r}: expected METRIC=NON_NEGATIVE_NUMBER")
        out[metric.strip()] = tolerance
    return out


def _check_comparable(run: Run, baseline: Baseline) -> None:
    base_fp = baseline.meta["dataset"].get("fingerprint")
    if run.dataset_fingerprint != base_fp:
        raise EvalkitError(
            f"run {run.run_id} used dataset fingerprint {run.dataset_fingerprint} but the baseline "
            f"({baseline.meta.get('run_id')}) used {base_fp}; regenerate the baseline"
        )
    base_metrics = baseline.meta.get("metrics") or {}
    for metric in sorted(set(base_metrics) & set(run.metric_fingerprints)):
        if base_metrics[metric] != run.metric_fingerprints[metric]:
            raise EvalkitError(
                f"metric {metric!r} changed since the baseline ({base_metrics[metric]} vs "
                f"{run.metric_fingerprints[metric]}); regenerate the baseline"
            )


def check(run: Run, baseline: Baseline, tolerances: dict[str, float]) -> list[Finding]:
    """Compare every baseline cell with the run, per domain and over all domains."""
    _check_comparable(run, baseline)
    unknown = sorted(set(tolerances) - set(baseline.values["metric"]))
    if unknown:
        raise UsageError(f"--tolerance for {unknown}: not in the baseline")
    new = run.results[COLUMNS]
    findings = []
    for domain in domain_order(baseline.values["domain"].dropna().unique().tolist()):
        old_d = (
            baseline.values if domain == ALL else baseline.values[baseline.values.domain == domain]
        )
        new_d = new if domain == ALL else new[new["domain"] == domain]
        new_cells = dict(tuple(new_d.groupby(CELL, sort=False)))
        for key, old_cell in old_d.groupby(CELL, sort=True):
            higher = higher_is_better(key[2], run.directions)
            findings.append(
                _compare(key, domain, old_cell, new_cells.get(key), tolerances.get(key[2]), higher)
            )
    return [f for f in findings if f is not None]


def _compare(
    key: tuple,
    domain: str,
    old: pd.DataFrame,
    new: pd.DataFrame | None,
    tolerance: float | None,
    higher: bool,
) -> Finding | None:
    codec, bitrate, metric = key
    old_ok = old[old["status"] == OK].set_index("clip_id")["value"]
    if old_ok.empty:
        return None  # nothing was measured here (not applicable): nothing can regress
    base_mean = float(old_ok.mean())
    tol = tolerance if tolerance is not None else RELATIVE_TOLERANCE * abs(base_mean)
    blank = dict(n=0, new_mean=math.nan, diff=math.nan, ci_low=math.nan, ci_high=math.nan)
    if new is None:
        return Finding(
            codec,
            bitrate,
            domain,
            metric,
            baseline_mean=base_mean,
            tolerance=tol,
            regressed=True,
            reason="missing from the run",
            **blank,
        )
    new_by_clip = new.set_index("clip_id")
    lost = [c for c in old_ok.index if c not in new_by_clip.index]
    failing = new_by_clip.loc[[c for c in old_ok.index if c in new_by_clip.index]]
    failing = failing[failing["status"] != OK]
    if lost or not failing.empty:
        first = failing["error"].iloc[0] if not failing.empty else f"{lost[0]} not in the run"
        reason = (
            f"{len(failing) + len(lost)} clip(s) scored in the baseline now fail or are "
            f"missing (first: {first})"
        )
        return Finding(
            codec,
            bitrate,
            domain,
            metric,
            baseline_mean=base_mean,
            tolerance=tol,
            regressed=True,
            reason=reason,
            **blank,
        )
    new_ok = new_by_clip.loc[old_ok.index, "value"].to_numpy(dtype=np.float64)
    diff, low, high = paired_difference(new_ok, old_ok.to_numpy(dtype=np.float64))
    worse = -diff if higher else diff
    ci_worse = -high if higher else low  # the CI bound nearest "no change"
    excludes_zero = ci_worse > 0 if math.isfinite(ci_worse) else True
    return Finding(
        codec,
        bitrate,
        domain,
        metric,
        n=len(new_ok),
        baseline_mean=base_mean,
        new_mean=float(new_ok.mean()),
        diff=diff,
        ci_low=low,
        ci_high=high,
        tolerance=tol,
        regressed=bool(worse > tol and excludes_zero),
    )


def run_check(
    run_dir: str | Path, baseline_path: Path, tolerances: dict[str, float]
) -> list[Finding]:
    return check(load_run(run_dir), load_baseline(baseline_path), tolerances)
