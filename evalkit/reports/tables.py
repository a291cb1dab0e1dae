"""The codec × bitrate × metric tables built from a run summary (:mod:`evalkit.results.summary`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.metrics.base import DOMAINS
from evalkit.reports.render import Cell, Table, number
from evalkit.results.schema import BITRATE_ROWS
from evalkit.results.summary import ALL, SOURCES, directions_of

NOTE = "mean [95% bootstrap CI], (n=k): scored on k of n clips; ↑ higher / ↓ lower is better"


def domain_order(domains: list[str]) -> list[str]:
    """Known domains in their usual order, then any others, then ``all``."""
    rest = sorted(set(domains) - set(DOMAINS) - {ALL})
    return [d for d in DOMAINS if d in domains] + rest + [ALL]


def quality_metrics(summary: pd.DataFrame) -> list[str]:
    """Metrics with a value somewhere (bitrate rows are the measured-kbps column already)."""
    return sorted(set(summary.loc[summary["n"] > 0, "metric"]) - set(BITRATE_ROWS))


def metric_header(metric: str, summary: pd.DataFrame) -> str:
    return f"{metric} {'↑' if directions_of(summary)[metric] else '↓'}"


def mean_ci(row: dict | None, clips: int) -> Cell:
    """'mean [low, high]', with '(n=k)' where fewer than the row's ``clips`` were scored."""
    if row is None or row["n"] == 0:
        return Cell("error" if row is not None and row["errors"] else "—", numeric=True)
    text = f"{row['mean']:.3f}"
    if np.isfinite(row["ci_low"]):
        text += f" [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
    if row["n"] < clips:
        text += f" (n={row['n']})"
    return Cell(text, float(row["mean"]))


def codec_rows(part: pd.DataFrame, metrics: list[str]) -> list[dict]:
    """One dict per codec × bitrate of a summary slice: identity, rate, per-metric rows, counts."""
    rows = []
    for (codec, bitrate), g in part.groupby(["codec", "bitrate_kbps"], sort=True):
        measured = g["measured_kbps"].mean()
        g = g[g["metric"].isin(metrics)]
        by_metric = {m: r for m, r in zip(g["metric"], g.to_dict("records"), strict=True)}
        rows.append(
            {
                "codec": codec,
                "bitrate_kbps": bitrate,
                "measured_kbps": measured,
                "metrics": {m: by_metric.get(m) for m in metrics},
                "n": int(g["n"].max()) if len(g) else 0,
                "errors": int(g["errors"].sum()),
                "not_applicable": int(g["not_applicable"].sum()),
            }
        )
    return rows


def metric_tables(summary: pd.DataFrame) -> list[Table]:
    """Per domain (and source, where split) a codec × bitrate table of the metrics measured there.

    Metrics that apply nowhere in a domain (PESQ on music) get no column; "N/A" then counts
    only unexpected not-applicable rows (a clip too short for a metric, for instance).
    """
    tables = []
    for domain in domain_order(summary["domain"].unique().tolist()):
        in_domain = summary[summary["domain"] == domain]
        metrics = quality_metrics(in_domain[in_domain["source"] == ALL])
        columns = ["Codec", "Bitrate (kbps)", "Measured (kbps)"]
        columns += [metric_header(m, summary) for m in metrics] + ["n", "Errors", "N/A"]
        for source in (ALL, *SOURCES):
            part = in_domain[in_domain["source"] == source]
            if part.empty:
                continue
            rows = [
                [Cell(r["codec"]), number(r["bitrate_kbps"], 2), number(r["measured_kbps"], 2)]
                + [mean_ci(r["metrics"][m], r["n"]) for m in metrics]
                + [Cell(str(r[k]), r[k]) for k in ("n", "errors", "not_applicable")]
                for r in codec_rows(part, metrics)
            ]
            title = domain if source == ALL else f"{domain} — {source}-source clips"
            tables.append(Table(title=title, columns=columns, rows=rows, note=NOTE))
    return tables
