"""Helpers shared by command modules: parsing lists, printing errors and tables."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evalkit.errors import EvalkitError, StorageError, UsageError

# piped output (CI logs, files) is not wrapped at 80 columns: summary tables are wide
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True)


def parse_floats(text: str, what: str) -> tuple[float, ...]:
    """Comma-separated positive finite numbers; a UsageError (one line, exit 2) otherwise."""
    try:
        values = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise UsageError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not values or not all(0 < v < float("inf") for v in values):
        raise UsageError(f"{what} must be positive finite numbers, got {text!r}")
    return values


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn evalkit's user-facing errors into one line on stderr and exit code 2 (usage) or 3
    (a file that could not be written: full disk, read-only or not permitted)."""
    try:
        yield
    except EvalkitError as exc:
        # soft_wrap: one line however narrow the terminal (or 80 columns when piped)
        # escape: a path such as "takes/[draft]/x.wav" is text, not rich markup
        line = f"[bold red]error:[/] {escape(str(exc))}"
        err_console.print(line, highlight=False, soft_wrap=True)
        raise typer.Exit(code=3 if isinstance(exc, StorageError) else 2) from None


def _cell(value: object, floatfmt: str) -> str:
    if isinstance(value, float):
        return "—" if value != value else f"{value:.4g}"
    return str(value)


def print_table(df: pd.DataFrame, title: str | None = None, floatfmt: str = "{:.3f}") -> None:
    table = Table(title=title, show_lines=False)
    for col in df.columns:
        table.add_column(str(col), justify="right" if df[col].dtype.kind in "fi" else "left")
    for _, row in df.iterrows():
        table.add_row(*[_cell(v, floatfmt) for v in row])
    console.print(table)
