"""``evalkit datasets``: list loaders; ``prepare`` fetches an official set; ``verify`` checks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli._app import app
from evalkit.cli.common import console, user_errors
from evalkit.datasets import list_datasets
from evalkit.datasets import prepare as local_copy

datasets_app = typer.Typer(
    name="datasets",
    help="List dataset loaders (bare command); fetch or check a local copy of an official set.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(datasets_app)

Root = Annotated[Path, typer.Option("--root", help="Folder of the local copy (NAME:ROOT).")]
Parts = Annotated[
    str, typer.Option(help="Comma-separated parts: subsets, stems or microphones (see list).")
]


def split_parts(parts: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in parts.split(",") if p.strip())


@datasets_app.callback()
def datasets(ctx: typer.Context) -> None:
    """List every dataset loader with its domains, licence and where to get the data."""
    if ctx.invoked_subcommand is None:
        for line in list_datasets():
            console.print(line, highlight=False, markup=False, soft_wrap=True)


@datasets_app.command()
def prepare(
    name: Annotated[str, typer.Argument(help="Official set, e.g. librispeech.")],
    root: Root,
    parts: Parts = "",
    mirror: Annotated[
        str | None, typer.Option(help="Fetch the archives by file name from this base URL.")
    ] = None,
    keep_archives: Annotated[
        bool, typer.Option(help="Keep the downloaded archives in ROOT/archives.")
    ] = False,
) -> None:
    """Download (resuming), check the sha256 of, and extract an official set into ROOT."""
    with user_errors():
        for done in local_copy.prepare(name, root, split_parts(parts), mirror, keep_archives):
            console.print(f"{done.archive}: {done.status}", highlight=False)
        console.print(f"use it with: --dataset {name}:{root}", highlight=False)


@datasets_app.command()
def verify(
    name: Annotated[str, typer.Argument(help="Official set, e.g. esc50.")],
    root: Root,
    parts: Parts = "",
) -> None:
    """Check a local copy: its layout, file count, and that every file's header opens."""
    with user_errors():
        result = local_copy.verify(name, root, split_parts(parts))
    expected = f" of {result.expected} expected" if result.expected is not None else ""
    console.print(
        f"{name}: {result.files} files{expected}, {result.hours:.2f} h of audio", highlight=False
    )
    for problem in result.problems:
        console.print(f"problem: {problem}", highlight=False, markup=False)
    if result.problems:
        raise typer.Exit(code=1)
