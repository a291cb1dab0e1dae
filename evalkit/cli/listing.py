"""``evalkit codecs`` and ``evalkit metrics``: what is installed, one line each."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from evalkit import registry
from evalkit.cli._app import app
from evalkit.cli.common import console, err_console, user_errors
from evalkit.errors import EvalkitError


def _loaded(group: str) -> list[tuple[str, Any]]:
    """The group's classes by name; a broken plug-in is reported with its cause on stderr."""
    loaded = []
    for name in registry.names(group):
        try:
            loaded.append((name, registry.load(group, name)))
        except EvalkitError as exc:
            err_console.print(str(exc), highlight=False, soft_wrap=True)  # names it and why
    return loaded


def _print_columns(rows: list[list[str]]) -> None:
    """One line per row, every column but the last padded to its longest cell, names in bold."""
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [escape(f"{c:{w}}") for c, w in zip(row, widths, strict=False)] + [escape(row[-1])]
        cells[0] = f"[bold]{cells[0]}[/]"
        console.print(" ".join(cells), highlight=False, soft_wrap=True)


@app.command()
def codecs() -> None:
    """List registered codecs: bitrates offered, input rate and channels, what it is."""
    with user_errors():
        rows = []
        for name, cls in _loaded(registry.CODECS):
            try:
                offered = cls.describe_bitrates(cls.__new__(cls))
            except Exception as exc:  # a plug-in that cannot describe itself still gets listed
                offered = f"(cannot list bitrates: {exc})"
            rate = f"{cls.sample_rate_hz} Hz" if cls.sample_rate_hz else "any rate"
            ch = {None: "any channels", 1: "mono", 2: "stereo"}.get(
                cls.channels, f"{cls.channels} ch"
            )
            rows.append([name, offered, rate, ch, cls.description])
        _print_columns(rows)


@app.command()
def metrics() -> None:
    """List registered metrics: domains where they apply, evaluation rate, direction."""
    with user_errors():
        rows = []
        for name, cls in _loaded(registry.METRICS):
            better = "higher ↑" if cls.higher_is_better else "lower ↓"
            opt_in = "" if cls.in_default_run else f" (opt-in: --metrics {name})"
            rows.append(
                [name, ", ".join(cls.domains), cls.rate_label(), better, cls.description + opt_in]
            )
        _print_columns(rows)
