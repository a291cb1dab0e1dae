"""Summaries of a run's rows: per codec × bitrate × domain × metric, and per codebook.

The runner writes ``summary.csv`` with :func:`summarize` and the reports compute theirs with the
same function, so a report and its run folder can never disagree. Statistics are over ``ok``
values only; failures and non-applicable rows are counted beside them, never averaged in.
``domain == "all"`` pools every domain; ``source`` splits clips already lossy-coded at their source
from lossless ones where a domain holds both (mixing them would hide the difference).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.results.directions import Directions, higher_is_better
from evalkit.results.schema import ERROR, NOT_APPLICABLE, OK
from evalkit.stats import bootstrap_ci

ALL = "all"
SOURCES = ("lossless", "lossy", "unknown")
KEYS = ["codec", "bitrate_kbps", "domain", "metric"]
SUMMARY_COLUMNS = [
    "source",
    *KEYS,
    "higher_is_better",
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
CODEBOOK_COLUMNS = [
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
MEASURED = "bitrate_measured_kbps"


def _with_all(df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df, df.assign(domain=ALL)], ignore_index=True)


def _source(results: pd.DataFrame) -> pd.Series:
    lossy = results["lossy_source"].astype("boolean")
    return pd.Series(
        np.where(lossy.isna(), "unknown", np.where(lossy.fillna(False), "lossy", "lossless")),
        index=results.index,
    )


def summarize(results: pd.DataFrame, directions: Directions) -> pd.DataFrame:
    """Mean, std, 95% bootstrap CI, n, errors and not-applicable counts per slice.

    ``measured_kbps`` is the mean measured bitrate of the slice's codec × bitrate × domain, so
    every row can be drawn on a rate axis; ``higher_is_better`` comes from ``directions``.
    """
    source = _source(results)
    parts = [_summarize(results, directions).assign(source=ALL)]
    if source.nunique() > 1:
        per_domain = source.groupby(results["domain"]).nunique()
        mixed = set(per_domain[per_domain > 1].index) | {ALL}
        for name, part in results.groupby(source, sort=True):
            split = _summarize(part, directions).assign(source=name)
            parts.append(split[split["domain"].isin(mixed)])
    return pd.concat(parts, ignore_index=True)[SUMMARY_COLUMNS]


def _summarize(results: pd.DataFrame, directions: Directions) -> pd.DataFrame:
    pooled = _with_all(results)
    rates = pooled[(pooled["metric"] == MEASURED) & (pooled["status"] == OK)]
    measured = rates.groupby(KEYS[:3], dropna=False)["value"].mean()
    rows = []
    for key, g in pooled.groupby(KEYS, sort=True, dropna=False):
        ok = g.loc[g["status"] == OK, "value"].to_numpy(dtype=np.float64)
        low, high = bootstrap_ci(ok)
        rows.append(
            {
                **dict(zip(KEYS, key, strict=True)),
                "higher_is_better": higher_is_better(key[3], directions),
                "nominal_kbps": g["nominal_kbps"].mean(),
                "measured_kbps": measured.get(key[:3], np.nan),
                "mean": ok.mean() if ok.size else np.nan,
                "std": ok.std(ddof=1) if ok.size > 1 else np.nan,
                "ci_low": low,
                "ci_high": high,
                "n": int(ok.size),
                "errors": int((g["status"] == ERROR).sum()),
                "not_applicable": int((g["status"] == NOT_APPLICABLE).sum()),
            }
        )
    return pd.DataFrame(rows, columns=[c for c in SUMMARY_COLUMNS if c != "source"])


def directions_of(summary: pd.DataFrame) -> dict[str, bool]:
    """Value name -> higher is better, as the summary records it."""
    pairs = summary[["metric", "higher_is_better"]].drop_duplicates("metric")
    return {m: bool(h) for m, h in pairs.itertuples(index=False)}


def codebook_table(codes: pd.DataFrame) -> pd.DataFrame:
    """Entropy, perplexity and utilisation per codebook over each codec × bitrate × domain slice.

    Histograms are summed over clips before the entropy is taken, so slice figures are exact.
    """
    from evalkit.metrics.entropy import slice_stats

    out = []
    if codes.empty:
        return pd.DataFrame(columns=CODEBOOK_COLUMNS)
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
    return pd.DataFrame(out, columns=CODEBOOK_COLUMNS)
