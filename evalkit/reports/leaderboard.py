"""``evalkit leaderboard``: several runs → one ranked Markdown page and one static HTML page.

Runs are merged only when they measured the same thing: the same dataset fingerprint and the same
fingerprint for every metric they share. Anything else is refused with the difference named,
because a ranking across different clips or metric definitions would be meaningless.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from evalkit.errors import EvalkitError, UsageError
from evalkit.listen.results import listening_sections
from evalkit.reports.render import Cell, Section, Table, html, markdown, number
from evalkit.reports.report import bd_rate_section, failures_section, rd_figures
from evalkit.reports.tables import codec_rows, domain_order, mean_ci, metric_header
from evalkit.results.rundir import Run, load_run
from evalkit.results.schema import BITRATE_ROWS
from evalkit.results.summary import ALL, directions_of, summarize

#: upper edges (kbps, inclusive) of the bitrate bands codecs are ranked within
BAND_EDGES = (3.0, 6.0, 12.0, 24.0, 48.0, 96.0)
#: ranking metrics in order of preference: each domain is ranked by the first one measured there
DEFAULT_RANK_METRICS = ("visqol_speech", "visqol_audio")


def band(bitrate_kbps: float) -> tuple[int, str]:
    """(order, label) of the band holding a requested bitrate, e.g. (2, '6–12 kbps')."""
    low = 0.0
    for i, high in enumerate(BAND_EDGES):
        if bitrate_kbps <= high:
            return i, (f"{low:g}–{high:g} kbps" if low else f"≤ {high:g} kbps")
        low = high
    return len(BAND_EDGES), f"> {low:g} kbps"


def check_compatible(runs: list[Run]) -> None:
    """Raise EvalkitError naming the first two runs that measured different things."""
    first = runs[0]
    for run in runs[1:]:
        if run.dataset_fingerprint != first.dataset_fingerprint:
            raise EvalkitError(
                f"runs {first.run_id} and {run.run_id} used different datasets (fingerprints "
                f"{first.dataset_fingerprint} and {run.dataset_fingerprint}); "
                "make one leaderboard per dataset"
            )
        for metric in sorted(set(first.metric_fingerprints) & set(run.metric_fingerprints)):
            a, b = first.metric_fingerprints[metric], run.metric_fingerprints[metric]
            if a != b:
                raise EvalkitError(
                    f"runs {first.run_id} and {run.run_id} measured {metric!r} differently "
                    f"({a} vs {b}); rerun one of them with the same metric version"
                )


def merge(runs: list[Run]) -> pd.DataFrame:
    """All results of compatible runs; a codec × bitrate measured by two runs is refused."""
    check_compatible(runs)
    owner: dict[tuple[str, float], Run] = {}
    for run in runs:
        pairs = run.results[["codec", "bitrate_kbps"]].drop_duplicates()
        for codec, bitrate in pairs.itertuples(index=False):
            first = owner.setdefault((codec, float(bitrate)), run)
            if first is not run:
                raise EvalkitError(
                    f"codec {codec!r} at {bitrate:g} kbps is in both {first.path} and "
                    f"{run.path}; pass only one of them"
                )
    return pd.concat([run.results for run in runs], ignore_index=True)


def rank_metric(part: pd.DataFrame, rank_by: tuple[str, ...]) -> str | None:
    """The first metric of ``rank_by`` with a value in this summary slice."""
    scored = set(part.loc[part["n"] > 0, "metric"])
    return next((m for m in rank_by if m in scored), None)


def ranked_tables(
    summary: pd.DataFrame, rank_by: tuple[str, ...], run_of: dict[str, str]
) -> list[Section]:
    """Per domain, one table per bitrate band, rows ranked by the domain's ranking metric."""
    sections = []
    for domain in domain_order(summary["domain"].unique().tolist()):
        part = summary[(summary["domain"] == domain) & (summary["source"] == ALL)]
        ranker = rank_metric(part, rank_by)
        if ranker is None:
            continue
        shown = set(part.loc[part["n"] > 0, "metric"]) - set(BITRATE_ROWS) - {ranker}
        metrics = [ranker, *sorted(shown)]
        higher = directions_of(part)[ranker]
        columns = ["Rank", "Codec", "Bitrate (kbps)", "Measured (kbps)"]
        columns += [metric_header(m, part) for m in metrics] + ["n", "Errors", "Run"]
        rows = codec_rows(part, metrics)
        tables = []
        for band_key in sorted({band(r["bitrate_kbps"]) for r in rows}):
            in_band = [r for r in rows if band(r["bitrate_kbps"]) == band_key]
            in_band.sort(key=lambda r: _rank_key(r["metrics"][ranker], higher))
            table_rows = []
            for i, r in enumerate(in_band, start=1):
                scored = _rank_key(r["metrics"][ranker], higher)[0] == 0
                table_rows.append(
                    [
                        Cell(str(i), i) if scored else Cell("—"),
                        Cell(r["codec"]),
                        number(r["bitrate_kbps"], 2),
                        number(r["measured_kbps"], 2),
                    ]
                    + [mean_ci(r["metrics"][m], r["n"]) for m in metrics]
                    + [
                        Cell(str(r["n"]), r["n"]),
                        Cell(str(r["errors"]), r["errors"]),
                        Cell(run_of.get(r["codec"], "")),
                    ]
                )
            tables.append(Table(band_key[1], columns, table_rows))
        sections.append(
            Section(
                f"{domain}: ranked by {ranker}",
                tables=tables,
                text="mean [95% bootstrap CI]; click a column header to sort",
            )
        )
    return sections


def write_leaderboard(run_dirs: list[Path], out: Path, rank_by: tuple[str, ...]) -> list[Path]:
    """Write ``out``/leaderboard.md, ``out``/leaderboard.html and ``out``/plots/."""
    if not run_dirs:
        raise UsageError("name at least one run folder")
    runs = [load_run(p) for p in dict.fromkeys(p.resolve() for p in run_dirs)]
    results = merge(runs)
    directions = {k: v for run in runs for k, v in run.directions.items()}
    summary = summarize(results, directions)
    present = sorted(set(summary.loc[summary["n"] > 0, "metric"]))
    if not present:
        raise UsageError(
            "these runs hold no values (interrupted before any finished?); complete them with "
            "`evalkit run --resume RUN_DIR`"
        )
    if not set(rank_by) & set(present):
        raise UsageError(f"--rank-by {','.join(rank_by)}: not in these runs; choose from {present}")
    run_of: dict[str, str] = {}
    for run in runs:
        for codec in run.results["codec"].unique():
            run_of[codec] = ", ".join(filter(None, [run_of.get(codec), run.run_id]))
    quality = sorted(set(present) - set(BITRATE_ROWS))
    out.mkdir(parents=True, exist_ok=True)
    bd_section, _ = bd_rate_section(summary, [m for m in rank_by if m in present])
    partial = " ".join(r.unfinished for r in runs if r.unfinished)
    sections = [Section("Partial results", text=partial)] if partial else []
    sections += ranked_tables(summary, rank_by, run_of) + [bd_section]
    sections.append(Section("Rate–distortion", figures=rd_figures(summary, quality, out / "plots")))
    for i, run in enumerate(runs):  # listening tests of the runs (evalkit listen)
        sections += listening_sections(run, out / "plots" / f"listening-{i}", f"{run.run_id}: ")
    failures = failures_section(results)
    if failures:
        sections.append(failures)
    dataset = runs[0].meta["dataset"]
    subtitle = (
        f"{len(runs)} run(s): {', '.join(r.run_id for r in runs)}; dataset "
        f"{dataset.get('spec', '?')} ({dataset.get('n_clips', '?')} clips, fingerprint "
        f"{runs[0].dataset_fingerprint}); each domain ranked by the first of "
        f"{', '.join(rank_by)} measured there, within bitrate bands"
    )
    commands = Section(
        "Runs", text="; ".join(f"{r.run_id}: {r.meta.get('command', '?')}" for r in runs)
    )
    (out / "leaderboard.md").write_text(
        markdown("evalkit leaderboard", [Section("About", text=subtitle), commands] + sections, out)
    )
    (out / "leaderboard.html").write_text(
        html("evalkit leaderboard", sections + [commands], subtitle)
    )
    return [out / "leaderboard.md", out / "leaderboard.html", *sorted((out / "plots").glob("*"))]


def _rank_key(row: dict | None, higher: bool) -> tuple[int, float]:
    if row is None or row["n"] == 0 or not math.isfinite(row["mean"]):
        return (1, 0.0)
    return (0, -row["mean"] if higher else row["mean"])
