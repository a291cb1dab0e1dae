"""``evalkit score``: score one pair of files with the runner's own metric code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from evalkit import registry
from evalkit.cli._app import app
from evalkit.cli.common import console, print_table, user_errors
from evalkit.pipeline.scoring import score_pair


@app.command()
def score(
    reference: Annotated[Path, typer.Argument(help="Reference (original) audio file.")],
    degraded: Annotated[Path, typer.Argument(help="Degraded (decoded) audio file.")],
    domain: Annotated[
        str, typer.Option(help="speech, music or environmental: decides which metrics apply.")
    ] = "speech",
    metrics: Annotated[
        str | None, typer.Option(help="Metric(s), comma-separated (default: all that apply).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Score a pair of files; the degraded file is aligned to the reference first.

    Example: evalkit score clean.wav decoded.wav --domain speech
    """
    with user_errors():
        names = registry.parse_list(registry.METRICS, metrics) if metrics else None
        rows = score_pair(reference, degraded, domain, names)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    import pandas as pd

    print_table(
        pd.DataFrame(rows)[["metric", "value", "status", "error"]].fillna(""),
        title=f"{reference.name} vs {degraded.name} ({domain})",
    )
    console.print(f"lag removed: {rows[0]['lag_samples'] if rows else 0:g} samples")
