"""Summaries of a run's rows: per codec × bitrate × domain × metric, and per codebook.

Statistics are over ``ok`` values only; failures and non-applicable rows are counted beside them,
never averaged in. ``domain == "all"`` pools every domain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.results.schema import ERROR, NOT_APPLICABLE, OK
from evalkit.stats import bootstrap_ci

KEYS = ["codec", "bitrate_kbps", "domain", "metric"]
SUMMARY_COLUMNS = [
    *KEYS,
    "nominal_kbps",
    "measured_kbps",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "n",
    "errors",
    "not_applicable",
]


def _with_all(df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df, df.assign(domain="all")], ignore_index=True)


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, std, 95% bootstrap CI, n, errors and not-applicable counts per slice."""
    rows = []
    for key, g in _with_all(results).groupby(KEYS, sort=True, dropna=False):
        ok = g.loc[g["status"] == OK, "value"].to_numpy(dtype=np.float64)
        low, high = bootstrap_ci(ok)
        rows.append(
            {
                **dict(zip(KEYS, key, strict=True)),
                "nominal_kbps": g["nominal_kbps"].mean(),
                "measured_kbps": g["measured_kbps"].mean(),
                "mean": ok.mean() if ok.size else np.nan,
                "std": ok.std(ddof=1) if ok.size > 1 else np.nan,
                "ci_low": low,
                "ci_high": high,
                "n": int(ok.size),
                "errors": int((g["status"] == ERROR).sum()),
                "not_applicable": int((g["status"] == NOT_APPLICABLE).sum()),
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def codebook_table(codes: pd.DataFrame) -> pd.DataFrame:
    """Entropy, perplexity and utilisation per codebook over each codec × bitrate × domain slice.

    Histograms are summed over clips before the entropy is taken, so slice figures are exact.
    """
    from evalkit.metrics.entropy import slice_stats

    out = []
    if codes.empty:
        return pd.DataFrame(
            columns=[
                "codec",
                "bitrate_kbps",
                "domain",
                "codebook",
                "codebook_size",
                "entropy_bits",
                "perplexity",
                "utilisation",
                "entropy_bound_kbps",
            ]
        )
    for (codec, bitrate, domain), g in _with_all(codes).groupby(
        ["codec", "bitrate_kbps", "domain"], sort=True
    ):
        books = g.sort_values("codebook").groupby("codebook")
        counts = [np.sum(np.stack([np.asarray(c) for c in b["counts"]]), axis=0) for _, b in books]
        stats = slice_stats(counts, float(g["frame_rate_hz"].iloc[0]))
        for i, s in enumerate(stats["codebooks"]):
            out.append(
                {
                    "codec": codec,
                    "bitrate_kbps": bitrate,
                    "domain": domain,
                    "codebook": i,
                    "codebook_size": len(counts[i]),
                    **s,
                    "entropy_bound_kbps": stats["entropy_bound_kbps"],
                }
            )
    return pd.DataFrame(out)
