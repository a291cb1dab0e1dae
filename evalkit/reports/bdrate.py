"""Bjøntegaard delta rate (VCEG-M33): the average bitrate difference of two codecs at equal quality.

Each codec's curve is fitted as log10(rate) = cubic polynomial of quality (the original VCEG-M33
method; the degree drops to ``points - 1`` when a codec has fewer than four bitrates, which makes
the fit an exact interpolation). Both fits are integrated over the quality range the two curves
share, and the mean log-rate difference is turned into a percentage.

Direction: BD-rate compares *rates at equal quality*, so it needs no sign flip for metrics where
lower is better (mel distance): the integral runs over the shared quality interval either way,
and a negative result always means the test codec needs fewer bits than the anchor.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evalkit.results.summary import ALL

MAX_DEGREE = 3
#: below this share of the joint quality range, the fits are compared mostly where one of them
#: extrapolates (the FAU-LMS ``bjontegaard`` package warns at the same threshold)
MIN_OVERLAP = 0.75
COLUMNS = ["domain", "metric", "codec", "anchor", "bd_rate_percent", "note"]


def bd_rate(
    rate_anchor: Sequence[float],
    quality_anchor: Sequence[float],
    rate_test: Sequence[float],
    quality_test: Sequence[float],
) -> float:
    """BD-rate of ``test`` against ``anchor`` in percent (negative: test saves bits).

    Raises:
        ValueError: fewer than two points on a curve, a non-positive or non-finite rate, repeated
            quality values, or quality ranges that do not overlap.
    """
    curves = []
    for label, rate, quality in (
        ("anchor", rate_anchor, quality_anchor),
        ("test", rate_test, quality_test),
    ):
        r = np.asarray(rate, dtype=np.float64)
        q = np.asarray(quality, dtype=np.float64)
        if r.shape != q.shape or r.ndim != 1:
            raise ValueError(f"{label}: rate and quality must be 1-D of equal length")
        if r.size < 2:
            raise ValueError(f"{label}: BD-rate needs at least two rate points, got {r.size}")
        if not (np.isfinite(r).all() and np.isfinite(q).all() and (r > 0).all()):
            raise ValueError(f"{label}: rates must be positive and finite, qualities finite")
        if np.unique(q).size != q.size:
            raise ValueError(f"{label}: repeated quality values cannot be fitted")
        curves.append((np.log10(r), q))
    low = max(q.min() for _, q in curves)
    high = min(q.max() for _, q in curves)
    if high <= low:
        raise ValueError("the quality ranges of the two curves do not overlap")
    integrals = []
    for log_rate, q in curves:
        poly = np.polyint(np.polyfit(q, log_rate, min(MAX_DEGREE, q.size - 1)))
        integrals.append(np.polyval(poly, high) - np.polyval(poly, low))
    mean_log_diff = (integrals[1] - integrals[0]) / (high - low)
    return float((10**mean_log_diff - 1) * 100)


def bd_rate_table(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    """BD-rate of every codec against every other, per domain, for one metric.

    ``summary`` is :func:`evalkit.reports.tables.summarize` output; points are (mean measured
    kbps, mean quality) of each bitrate over all clips of the domain. Pairs that cannot be
    computed keep the reason in ``note`` instead of a number.
    """
    rows = []
    sel = summary[(summary["metric"] == metric) & (summary["source"] == ALL)]
    sel = sel[np.isfinite(sel["mean"]) & np.isfinite(sel["measured_kbps"])]
    for domain, part in sel.groupby("domain", sort=False):
        curves = {
            codec: c.sort_values("measured_kbps") for codec, c in part.groupby("codec", sort=True)
        }
        for anchor, ca in curves.items():
            for test, ct in curves.items():
                if anchor == test:
                    continue
                try:
                    value = bd_rate(
                        ca["measured_kbps"], ca["mean"], ct["measured_kbps"], ct["mean"]
                    )
                    note = _overlap_note(ca["mean"], ct["mean"])
                except ValueError as exc:
                    value, note = float("nan"), str(exc)
                rows.append(
                    {
                        "domain": domain,
                        "metric": metric,
                        "codec": test,
                        "anchor": anchor,
                        "bd_rate_percent": value,
                        "note": note,
                    }
                )
    return pd.DataFrame(rows, columns=COLUMNS)


def _overlap_note(quality_a: pd.Series, quality_b: pd.Series) -> str:
    low, high = max(quality_a.min(), quality_b.min()), min(quality_a.max(), quality_b.max())
    joint = max(quality_a.max(), quality_b.max()) - min(quality_a.min(), quality_b.min())
    share = (high - low) / joint
    return "" if share >= MIN_OVERLAP else f"quality ranges overlap {share:.0%}: unreliable"
