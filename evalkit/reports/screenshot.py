"""Open a report page in headless system Chromium (via Playwright) and take a screenshot.

Used by the browser test and to make README's picture of the leaderboard:
``python -m evalkit.reports.screenshot reports/leaderboard/leaderboard.html
reports/leaderboard.png``.
Needs Debian's ``chromium`` and the ``playwright`` Python package; ``playwright install`` is never
run, so nothing is downloaded.
"""

from __future__ import annotations

import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}


@contextmanager
def open_page(html_path: Path):
    """Yield (page, console errors) for ``html_path`` in a fresh Chromium profile."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise EvalkitError(
            "screenshots need the playwright package: pip install playwright"
        ) from exc
    if not CHROMIUM.is_file():
        raise EvalkitError(
            f"{CHROMIUM} not found: apt-get install -y --no-install-recommends chromium"
        )
    errors: list[str] = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=ARGS, headless=True, viewport=VIEWPORT
        )
        try:
            page: Any = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(Path(html_path).resolve().as_uri())
            page.wait_for_load_state("load")
            yield page, errors
        finally:
            context.close()


def screenshot(html_path: Path, png_path: Path) -> None:
    with open_page(html_path) as (page, errors):
        if errors:
            raise EvalkitError(f"{html_path}: the page logged errors: {errors}")
        page.screenshot(path=str(png_path))


if __name__ == "__main__":
    screenshot(Path(sys.argv[1]), Path(sys.argv[2]))
