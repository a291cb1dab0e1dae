"""Display tables and their two renderings: Markdown and one self-contained HTML page.

Every string that comes from results (codec names, clip ids, error messages) reaches HTML through
Jinja2's autoescaping and Markdown through :func:`md_escape`; nothing is inserted raw.
"""

from __future__ import annotations

import base64
import math
import os
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import jinja2


@dataclass(frozen=True)
class Cell:
    """Shown text, the value a header click sorts by (None: by text), right-aligned if numeric."""

    text: str
    sort: float | None = None
    numeric: bool = False

    @property
    def right(self) -> bool:
        return self.numeric or self.sort is not None


@dataclass(frozen=True)
class Table:
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    note: str = ""


@dataclass(frozen=True)
class Figure:
    """A plot: caption, SVG bytes (embedded in HTML as a data URI) and the PNG file beside it."""

    caption: str
    svg: bytes
    png: Path

    @property
    def data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg).decode("ascii")


@dataclass(frozen=True)
class Section:
    title: str
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    text: str = ""


def number(value: float, digits: int = 3) -> Cell:
    if value is None or not math.isfinite(value):
        return Cell("—", None, numeric=True)
    return Cell(f"{value:.{digits}f}", float(value))


def md_escape(text: str) -> str:
    """Make text inert in a Markdown table cell (no HTML, no column breaks)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("\n", " ")
    )


def markdown(title: str, sections: list[Section], folder: Path) -> str:
    """The page as Markdown, to be saved in ``folder``; figures link to their PNG files."""
    out = [f"# {md_escape(title)}", ""]
    for section in sections:
        out += [f"## {md_escape(section.title)}", ""]
        if section.text:
            out += [md_escape(section.text), ""]
        for table in section.tables:
            out += [f"### {md_escape(table.title)}", ""]
            if table.note:
                out += [md_escape(table.note), ""]
            out.append("| " + " | ".join(md_escape(c) for c in table.columns) + " |")
            out.append("|" + "---|" * len(table.columns))
            out += ["| " + " | ".join(md_escape(c.text) for c in row) + " |" for row in table.rows]
            out.append("")
        for fig in section.figures:
            link = Path(os.path.relpath(fig.png, folder)).as_posix()
            out += [f"![{md_escape(fig.caption)}]({link})", ""]
    return "\n".join(out)


def html(title: str, sections: list[Section], subtitle: str = "") -> str:
    """One static HTML page with inline CSS and JS and the figures embedded; works offline."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(
        files("evalkit.reports").joinpath("templates/page.html").read_text(encoding="utf-8")
    )
    return template.render(title=title, subtitle=subtitle, sections=sections)
