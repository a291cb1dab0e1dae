"""Pearson, Spearman and Kendall τ-b, vectorised over bootstrap resamples.

Written out rather than called from scipy.stats so 2000 resamples cost one array operation each;
``tests/test_listen_stats.py`` checks every coefficient equals scipy.stats on the same numbers.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from evalkit.stats import BOOTSTRAP_RESAMPLES, CONFIDENCE, SEED


def pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Along the last axis; NaN where either side is constant."""
    x = x - x.mean(axis=-1, keepdims=True)
    y = y - y.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (x * y).sum(-1) / np.sqrt((x * x).sum(-1) * (y * y).sum(-1))
    return np.clip(r, -1.0, 1.0)


def spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson of the ranks (ties get their average rank, as scipy does)."""
    return pearson(rankdata(x, axis=-1), rankdata(y, axis=-1))


def kendall(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall τ-b (scipy.stats.kendalltau's default): ties in either variable accounted for."""
    dx = np.sign(x[..., :, None] - x[..., None, :])
    dy = np.sign(y[..., :, None] - y[..., None, :])
    upper = np.triu(np.ones(dx.shape[-2:], dtype=bool), k=1)
    concordance = (dx * dy)[..., upper].sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return concordance / np.sqrt((dx[..., upper] != 0).sum(-1) * (dy[..., upper] != 0).sum(-1))


COEFFICIENTS = {"pearson": pearson, "spearman": spearman, "kendall": kendall}


def with_ci(x: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, float, float]]:
    """Each coefficient and its percentile bootstrap CI over resampled (x, y) pairs (seeded)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    idx = np.random.default_rng(SEED).integers(0, x.size, size=(BOOTSTRAP_RESAMPLES, x.size))
    alpha = (1 - CONFIDENCE) / 2
    out = {}
    for name, fn in COEFFICIENTS.items():
        boot = fn(x[idx], y[idx])
        low, high = (
            np.nanquantile(boot, [alpha, 1 - alpha]) if np.isfinite(boot).any() else (np.nan,) * 2
        )
        out[name] = (float(fn(x, y)), float(low), float(high))
    return out
