"""Commands over finished runs: ``report``, ``leaderboard``, ``baseline`` and ``check``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli._app import app
from evalkit.cli.common import user_errors
from evalkit.reports import gate
from evalkit.reports.leaderboard import DEFAULT_RANK_METRICS, write_leaderboard
from evalkit.reports.report import FORMATS, parse_formats, write_report
from evalkit.results.rundir import read_meta, unfinished_note

RunDir = Annotated[Path, typer.Argument(help="A run folder written by evalkit run.")]


def warn_if_unfinished(run_dirs: list[Path]) -> None:
    """Partial tables look like complete ones: say so on stderr (the files say so too). Reads
    only run.json: the results were loaded by the writer already."""
    for run_dir in run_dirs:
        note = unfinished_note(run_dir, read_meta(run_dir))
        if note:
            typer.echo(f"warning: {note}", err=True)


@app.command()
def report(
    run_dir: RunDir,
    format: Annotated[  # noqa: A002 - the option is called --format
        str, typer.Option(help=f"Comma-separated outputs: {','.join(FORMATS)}.")
    ] = ",".join(FORMATS),
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: RUN_DIR/report).")
    ] = None,
) -> None:
    """Per-domain tables (mean, 95% CI, n, failures), BD-rate, rate–distortion, codebook plots."""
    with user_errors():
        written = write_report(run_dir, parse_formats(format), out)
    warn_if_unfinished([run_dir])
    typer.echo("\n".join(str(p) for p in written))


@app.command()
def leaderboard(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folders to merge.")],
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("reports/leaderboard"),
    rank_by: Annotated[
        str,
        typer.Option(
            help="Metric(s) ranking codecs within each bitrate band, comma-separated: each "
            "domain is ranked by the first one measured there."
        ),
    ] = ",".join(DEFAULT_RANK_METRICS),
) -> None:
    """Merge runs of the same dataset into ranked Markdown and one self-contained HTML page."""
    with user_errors():
        metrics = tuple(m.strip() for m in rank_by.split(",") if m.strip())
        written = write_leaderboard(run_dirs, out, metrics)
    warn_if_unfinished(run_dirs)
    typer.echo(f"wrote {written[0]} and {written[1]}")


@app.command()
def baseline(
    run_dir: RunDir,
    out: Annotated[
        Path, typer.Option(help="Baseline file to write, e.g. reports/baselines/NAME.json.")
    ],
) -> None:
    """Keep a run's per-clip values as the baseline that evalkit check compares against."""
    with user_errors():
        written = gate.write_baseline(run_dir, out)
    typer.echo(f"wrote {written}")


@app.command()
def check(
    run_dir: RunDir,
    baseline: Annotated[Path, typer.Option(help="Baseline file written by evalkit baseline.")],
    tolerance: Annotated[
        list[str] | None,
        typer.Option(
            help="METRIC=VALUE, absolute allowed drop (repeatable; default "
            f"{gate.RELATIVE_TOLERANCE:.0%} of the baseline mean)."
        ),
    ] = None,
) -> None:
    """Exit 1 if a codec × bitrate × domain × metric regressed (exit 2: unusable input)."""
    with user_errors():
        findings = gate.run_check(run_dir, baseline, gate.parse_tolerances(tolerance or []))
    regressed = [f for f in findings if f.regressed]
    for finding in regressed:
        typer.echo(f"REGRESSED {finding.describe()}")
    typer.echo(f"check: {len(findings)} cells compared with {baseline}, {len(regressed)} regressed")
    if regressed:
        raise typer.Exit(code=1)
