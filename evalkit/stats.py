"""Statistics shared by summaries, reports and the regression gate."""

from __future__ import annotations

import numpy as np

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
SEED = 0


def bootstrap_ci(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (seeded, so tables rerun to the same numbers).

    Returns (nan, nan) for fewer than two values: one clip says nothing about spread.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(SEED)
    idx = rng.integers(0, values.size, size=(BOOTSTRAP_RESAMPLES, values.size))
    means = values[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


def paired_difference(new: np.ndarray, old: np.ndarray) -> tuple[float, float, float]:
    """Mean of per-clip differences ``new - old`` and its bootstrap CI.

    Pairing by clip removes the spread between clips (a hard clip is hard in both runs), so a
    small but consistent change is detected where two independent CIs would still overlap.
    """
    diff = np.asarray(new, dtype=np.float64) - np.asarray(old, dtype=np.float64)
    if diff.size == 0:
        raise ValueError("paired_difference needs at least one pair")
    low, high = bootstrap_ci(diff)
    return float(diff.mean()), low, high
