"""``evalkit report``: one run folder → tables (Markdown, HTML, CSV, JSON) and plots."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from evalkit.errors import UsageError
from evalkit.listen.results import listening_sections
from evalkit.reports import plots
from evalkit.reports.bdrate import COLUMNS as BD_COLUMNS
from evalkit.reports.bdrate import bd_rate_table
from evalkit.reports.cost import cost_section
from evalkit.reports.render import Cell, Figure, Section, Table, html, markdown, number
from evalkit.reports.tables import metric_tables, quality_metrics
from evalkit.results.rundir import Run, load_run
from evalkit.results.schema import ERROR
from evalkit.results.summary import ALL

FORMATS = ("md", "html", "csv", "json")
MAX_FAILURES_SHOWN = 200


def parse_formats(text: str) -> list[str]:
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise UsageError(f"unknown report format(s) {unknown or text!r}; choose from {FORMATS}")
    return formats


def bd_rate_section(summary: pd.DataFrame, metrics: list[str]) -> tuple[Section, pd.DataFrame]:
    """BD-rate of each codec against each other codec, per metric and domain."""
    parts = [bd_rate_table(summary, m) for m in metrics]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=BD_COLUMNS)
    tables = []
    for metric, part in frame.groupby("metric", sort=True):
        rows = [
            [
                Cell(r.domain),
                Cell(r.codec),
                Cell(r.anchor),
                number(r.bd_rate_percent, 1),
                Cell(r.note),
            ]
            for r in part.itertuples()
        ]
        tables.append(Table(metric, ["Domain", "Codec", "Anchor", "BD-rate (%)", "Note"], rows))
    text = (
        "Average bitrate difference of Codec against Anchor at equal quality (Bjøntegaard, "
        "cubic fit of log-rate over the shared quality range); negative = Codec needs fewer bits."
    )
    if not tables:
        text += " Not computable here: it needs two codecs with two or more bitrates each."
    return Section("BD-rate", tables=tables, text=text), frame


def rd_figures(summary: pd.DataFrame, metrics: list[str], plot_dir: Path) -> list[Figure]:
    figures = []
    for metric in metrics:
        fig = plots.rd_figure(summary, metric)
        figures.append(plots.save(fig, plot_dir / f"rd_{metric}", f"{metric} vs measured bitrate"))
    return figures


def codebook_section(run: Run, plot_dir: Path) -> Section | None:
    books = run.codebooks
    if books is None or books.empty:
        return None
    overall = books[books["domain"] == ALL].sort_values(["codec", "bitrate_kbps", "codebook"])
    rows = [
        [
            Cell(r.codec),
            number(r.bitrate_kbps, 2),
            Cell(str(r.codebook), r.codebook),
            Cell(str(r.codebook_size), r.codebook_size),
            number(r.entropy_bits, 2),
            number(r.perplexity, 1),
            number(100 * r.utilisation, 1),
            number(r.entropy_bound_kbps, 2),
        ]
        for r in overall.itertuples()
    ]
    columns = [
        "Codec",
        "Bitrate (kbps)",
        "Codebook",
        "Size",
        "Entropy (bits)",
        "Perplexity",
        "Utilisation (%)",
        "Entropy bound (kbps)",
    ]
    figures = [
        plots.save(
            plots.codebook_figure(books, codec),
            plot_dir / f"codebooks_{i}",
            f"{codec}: codebook utilisation and entropy",
        )
        for i, codec in enumerate(sorted(overall["codec"].unique()))
    ]
    return Section("Codebooks", [Table("All clips", columns, rows)], figures)


def failures_section(results: pd.DataFrame) -> Section | None:
    errors = results[results["status"] == ERROR]
    if errors.empty:
        return None
    shown = errors.head(MAX_FAILURES_SHOWN)
    rows = [
        [
            Cell(r.codec),
            number(r.bitrate_kbps, 2),
            Cell(r.clip_id),
            Cell(r.metric),
            Cell(str(r.error)),
        ]
        for r in shown.itertuples()
    ]
    note = f"{len(errors)} error rows" + (
        f"; the first {MAX_FAILURES_SHOWN} shown" if len(errors) > len(shown) else ""
    )
    table = Table("Errors", ["Codec", "Bitrate (kbps)", "Clip", "Metric", "Error"], rows, note)
    return Section("Failures", [table])


def write_report(run_dir: str | Path, formats: list[str], out: Path | None = None) -> list[Path]:
    """Write the report of one run (default folder ``RUN_DIR/report``); returns written files."""
    run = load_run(run_dir)
    out = out or run.path / "report"
    out.mkdir(parents=True, exist_ok=True)
    summary = run.summary
    metrics = quality_metrics(summary)
    bd_section, bd_frame = bd_rate_section(summary, metrics)
    written: list[Path] = []
    if "csv" in formats:
        summary.to_csv(out / "summary.csv", index=False)
        bd_frame.to_csv(out / "bdrate.csv", index=False)
        written += [out / "summary.csv", out / "bdrate.csv"]
    if "json" in formats:
        payload = {
            "run": {k: run.meta.get(k) for k in ("run_id", "command", "dataset", "metrics")},
            "summary": json.loads(summary.to_json(orient="records")),
            "bd_rate": json.loads(bd_frame.to_json(orient="records")),
            "cost": run.meta.get("cost"),
        }
        (out / "report.json").write_text(json.dumps(payload, indent=1))
        written.append(out / "report.json")
    if not {"md", "html"} & set(formats):
        return written
    plot_dir = out / "plots"
    sections = [Section("Partial results", text=run.unfinished)] if run.unfinished else []
    sections += [Section("Results by domain", tables=metric_tables(summary)), bd_section]
    sections.append(Section("Rate–distortion", figures=rd_figures(summary, metrics, plot_dir)))
    optional = [cost_section(run.meta), codebook_section(run, plot_dir)]
    sections += [s for s in (*optional, failures_section(run.results)) if s]
    # listening test (evalkit listen): screening, MUSHRA scores, agreement of each metric
    sections += listening_sections(run, plot_dir)
    written += sorted(plot_dir.glob("*"))
    dataset = run.meta["dataset"]
    title = f"evalkit report: {run.run_id}"
    subtitle = (
        f"dataset {dataset.get('spec', '?')} ({dataset.get('n_clips', '?')} clips, fingerprint "
        f"{run.dataset_fingerprint}); command: {run.meta.get('command', '?')}"
    )
    if "md" in formats:
        text = markdown(title, [Section("Run", text=subtitle)] + sections, out)
        (out / "report.md").write_text(text)
        written.append(out / "report.md")
    if "html" in formats:
        (out / "report.html").write_text(html(title, sections, subtitle))
        written.append(out / "report.html")
    return written
