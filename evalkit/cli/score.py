"""``evalkit score``: one pair of files, a shell over ``scoring.score_files``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli._app import app
from evalkit.cli.common import console, print_table, user_errors
from evalkit.pipeline.scoring import check_align, score_files


@app.command()
def score(
    reference: Annotated[Path, typer.Argument(help="Reference (original) audio file.")],
    degraded: Annotated[Path, typer.Argument(help="Degraded (decoded) audio file.")],
    domain: Annotated[
        str, typer.Option(help="speech, music or environmental: decides which metrics apply.")
    ] = "speech",
    metrics: Annotated[
        str | None,
        typer.Option(help="Metric(s) or outputs, comma-separated (default: those of a run)."),
    ] = None,
    align: Annotated[
        str,
        typer.Option(
            help="Lag for sample-aligned metrics (SI-SDR, mel/STFT, STOI): none, estimate (one "
            "per pair) or samples. PESQ and ViSQOL always get the files as they are."
        ),
    ] = "none",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Score a pair of files as a run scores codec output (see docs/alignment.md).

    Example: evalkit score clean.wav decoded.wav --domain speech --align estimate
    """
    with user_errors():
        names = metrics.split(",") if metrics else None
        rows = score_files(reference, degraded, names, check_align(align), domain)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    import pandas as pd

    print_table(
        pd.DataFrame(rows)[["metric", "value", "status", "error"]].fillna(""),
        title=f"{reference.name} vs {degraded.name} ({domain})",
    )
    if rows:
        first = rows[0]
        ref_s, deg_s = first["ref_duration_s"], first["deg_duration_s"]
        console.print(
            f"lag: {first['lag_samples']:g} samples · reference {ref_s:.3f} s, "
            f"degraded {deg_s:.3f} s"
            + (f" [yellow]({deg_s - ref_s:+.3f} s)[/]" if abs(deg_s - ref_s) > 5e-4 else "")
        )
