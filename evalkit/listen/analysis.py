"""Listener screening, MUSHRA scores and each objective metric's agreement with the listeners.

Screening follows ITU-R BS.1534-3 §9.3: a listener who rates the hidden reference below 90 in
more than 15 % of their trials is excluded. Scores are means of every kept rating with the
bootstrap CI of :mod:`evalkit.stats`. Agreement compares, across the test's codec conditions, the
MUSHRA mean with the metric's mean over the same clips; a lower-is-better metric is negated first,
so +1 always means the metric orders conditions as the listeners did.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from evalkit.listen.correlation import with_ci
from evalkit.listen.design import HIDDEN_REFERENCE
from evalkit.results.directions import higher_is_better
from evalkit.results.schema import BITRATE_ROWS, OK
from evalkit.results.summary import ALL
from evalkit.stats import bootstrap_ci

REFERENCE_FLOOR = 90
MAX_SHARE_BELOW = 0.15
RATING_COLUMNS = ["listener", "trial", "clip_id", "domain", "stimulus", "rating"]


@dataclass(frozen=True)
class Analysis:
    ratings: pd.DataFrame  # every rating, screened-out listeners included
    dropped: dict[str, str]  # listener -> why
    scores: pd.DataFrame  # stimulus, label, domain, mean, ci_low, ci_high, n, listeners
    agreement: pd.DataFrame  # metric, higher_is_better, domains, n, coefficient columns
    points: pd.DataFrame  # metric, condition, label, codec, metric_mean, mushra_mean, ci


def ratings_frame(test: dict, records: list[dict]) -> pd.DataFrame:
    """One row per (listener, trial, stimulus) from the listeners' files of this test."""
    trials = {t["id"]: t for t in test["trials"]}
    rows = [
        (r["listener"], tid, trials[tid]["clip_id"], trials[tid]["domain"], stim, value)
        for r in records
        if r.get("test_id") == test["test_id"]
        for tid, result in r.get("trials", {}).items()
        if tid in trials
        for stim, value in result["ratings"].items()
    ]
    return pd.DataFrame(rows, columns=RATING_COLUMNS)


def screen(ratings: pd.DataFrame) -> dict[str, str]:
    """Listeners to exclude (BS.1534-3 §9.3), each with the reason in words."""
    hidden = ratings[ratings["stimulus"] == HIDDEN_REFERENCE]
    dropped = {}
    for listener, part in hidden.groupby("listener", sort=True):
        below = int((part["rating"] < REFERENCE_FLOOR).sum())
        if below > MAX_SHARE_BELOW * len(part):
            dropped[str(listener)] = (
                f"rated the hidden reference below {REFERENCE_FLOOR} in {below} of {len(part)} "
                f"trials ({below / len(part):.0%} > {MAX_SHARE_BELOW:.0%})"
            )
    return dropped


def scores(kept: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """MUSHRA mean and 95% CI per stimulus (condition, hidden reference, anchors) and domain."""
    rows = []
    for domain, part in [(ALL, kept), *kept.groupby("domain", sort=True)]:
        for stim, g in part.groupby("stimulus", sort=True):
            low, high = bootstrap_ci(g["rating"].to_numpy())
            rows.append(
                {
                    "stimulus": stim,
                    "label": labels.get(stim, stim),
                    "domain": domain,
                    "mean": float(g["rating"].mean()),
                    "ci_low": low,
                    "ci_high": high,
                    "n": len(g),
                    "listeners": g["listener"].nunique(),
                }
            )
    return pd.DataFrame(rows)


def agreement(
    kept: pd.DataFrame, results: pd.DataFrame, test: dict, directions: dict[str, bool]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per metric: correlation of metric and MUSHRA means over conditions, on the same clips."""
    conds = {c["id"]: c for c in test["conditions"]}
    clips = {t["clip_id"] for t in test["trials"]}
    ok = results[(results["status"] == OK) & results["clip_id"].isin(clips)]
    ok = ok[~ok["metric"].isin(list(BITRATE_ROWS))]
    ok = ok.assign(condition=ok["codec"] + "@" + ok["bitrate_kbps"].map(lambda b: f"{b:g}"))
    ok = ok[ok["condition"].isin(list(conds))]
    rows, points = [], []
    for metric, part in ok.groupby("metric", sort=True):
        scored = set(part["clip_id"])
        heard = kept[kept["clip_id"].isin(scored) & kept["stimulus"].isin(list(conds))]
        merged = pd.concat(
            [
                part.groupby("condition")["value"].mean().rename("metric_mean"),
                heard.groupby("stimulus")["rating"].mean().rename("mushra_mean"),
            ],
            axis=1,
            join="inner",
        )
        if len(merged) < 3:  # fewer than three conditions say nothing about an ordering
            continue
        higher = higher_is_better(metric, directions)
        sign = 1.0 if higher else -1.0
        coef = with_ci(sign * merged["metric_mean"].to_numpy(), merged["mushra_mean"].to_numpy())
        row = {
            "metric": metric,
            "higher_is_better": higher,
            "domains": ", ".join(sorted(set(part["domain"]))),
            "conditions": len(merged),
            "clips": len(scored),
        }
        for name, (value, low, high) in coef.items():
            row |= {name: value, f"{name}_low": low, f"{name}_high": high}
        rows.append(row)
        for cond, r in merged.iterrows():
            ci = bootstrap_ci(heard.loc[heard["stimulus"] == cond, "rating"].to_numpy())
            points.append(
                {
                    "metric": metric,
                    "condition": cond,
                    "label": conds[cond]["label"],
                    "codec": conds[cond]["codec"],
                    "metric_mean": r["metric_mean"],
                    "mushra_mean": r["mushra_mean"],
                    "mushra_ci_low": ci[0],
                    "mushra_ci_high": ci[1],
                }
            )
    return pd.DataFrame(rows), pd.DataFrame(points)


def analyse(
    test: dict, records: list[dict], results: pd.DataFrame, directions: dict[str, bool]
) -> Analysis:
    ratings = ratings_frame(test, records)
    dropped = screen(ratings)
    kept = ratings[~ratings["listener"].isin(list(dropped))]
    labels = {c["id"]: c["label"] for c in test["conditions"]}
    labels |= {HIDDEN_REFERENCE: "hidden reference", "anchor_3.5k": "anchor 3.5 kHz"}
    labels["anchor_7k"] = "anchor 7 kHz"
    agree, points = agreement(kept, results, test, directions)
    return Analysis(ratings, dropped, scores(kept, labels), agree, points)
