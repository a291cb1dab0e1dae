"""A built listening test in real headless Chromium, served by ``evalkit listen serve``'s server:
it plays, switches stimuli at the same position, takes ratings from sliders and keys, survives a
reload mid-test, and the run folder ends up holding exactly what was entered.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time

import pytest

from evalkit.listen.build import build_test
from evalkit.listen.paths import Layout
from evalkit.listen.serve import serve_in_thread
from evalkit.reports.screenshot import ARGS, CHROMIUM, VIEWPORT
from tests.listen_fixtures import listenable_run

pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None and not os.path.exists("/usr/bin/chromium"),
    reason="needs Debian's chromium (apt-get install --no-install-recommends chromium)",
)
NAME = 'Ada <img src=x onerror="window.__pwned=1">'


def wait_loaded(page, trial_title: str) -> None:
    page.wait_for_selector("#columns .column", timeout=20_000)
    deadline = time.monotonic() + 20
    while page.inner_text("#trial-title") != trial_title or page.evaluate("!window.mushra.state()"):
        assert time.monotonic() < deadline, page.inner_text("body")
        time.sleep(0.05)


def rate_trial(page, values: list[int]) -> dict[str, int]:
    """Listen to every stimulus (keys and clicks), set each slider; returns id -> rating."""
    order = page.evaluate("window.mushra.state().order")
    page.keyboard.press("Space")
    for k in range(len(order)):
        if k % 2:
            page.locator("#columns .column button").nth(k).click()
        else:
            page.keyboard.press(str(k + 1))
        assert page.evaluate("window.mushra.state().active") == k + 1
    entered = {}
    for k, stim in enumerate(order):
        value = values[k % len(values)]
        if k == 0:  # by keyboard: select stimulus 1, then PageUp / ArrowUp from 0
            page.keyboard.press("1")
            for _ in range(value // 10):
                page.keyboard.press("PageUp")
            for _ in range(value % 10):
                page.keyboard.press("ArrowUp")
        else:
            page.locator("#columns input[type=range]").nth(k).fill(str(value))
        entered[stim] = value
    assert page.evaluate("window.mushra.state().ratings") == entered
    return entered


def test_listening_test_in_chromium(tmp_path):
    from playwright.sync_api import sync_playwright

    run = listenable_run(tmp_path)
    build_test(run, clips_per_domain=1, wanted="mp3:8,mp3:24,opus:16", seconds=1.5)
    server, url = serve_in_thread(run)
    outside: list[str] = []
    errors: list[str] = []
    try:
        with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                args=[*ARGS, "--autoplay-policy=no-user-gesture-required"],
                headless=True,
                viewport=VIEWPORT,
                bypass_csp=True,  # lets Playwright evaluate scripts; the page itself keeps none
            )
            context.route(
                "**/*",
                lambda r: (
                    r.continue_()
                    if r.request.url.startswith(url)
                    else (outside.append(r.request.url), r.abort())
                ),
            )
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.fill("#name", NAME)
            page.click("#start")

            wait_loaded(page, "Training")
            rate_trial(page, [50])
            page.keyboard.press("Enter")

            wait_loaded(page, "Trial 1 of 2")
            page.keyboard.press("Space")
            time.sleep(0.4)
            before = page.evaluate("window.mushra.state()")
            assert before["playing"] and before["position"] > 0.1  # the audio clock runs
            page.keyboard.press("2")  # switching keeps the playback position
            after = page.evaluate("window.mushra.state()")
            assert after["active"] == 2 and after["position"] >= before["position"]  # not restarted
            page.locator("#loop-end").fill("1.0")  # a loop region
            time.sleep(1.3)
            assert page.evaluate("window.mushra.state().position") < 1.0
            page.keyboard.press("Space")
            entered = {}
            first = page.evaluate("window.mushra.state().trial")
            entered[first] = rate_trial(page, [100, 73, 12, 48])
            page.keyboard.press("Enter")
            wait_loaded(page, "Trial 2 of 2")
            second = page.evaluate("window.mushra.state().trial")
            rate_trial(page, [5, 5])  # in progress when the tab reloads: lost, as allowed
            page.reload()
            assert page.input_value("#name") == NAME
            assert page.inner_text("#start") == "Continue"
            page.click("#start")
            wait_loaded(page, "Trial 2 of 2")  # no second training, the same trial again
            assert page.evaluate("window.mushra.state().trial") == second
            entered[second] = rate_trial(page, [91, 0, 64])
            page.screenshot(path=str(tmp_path / "trial.png"))
            page.keyboard.press("Enter")
            page.wait_for_selector("#done:not([hidden])", timeout=10_000)
            assert page.evaluate("window.__pwned") is None
            context.close()
    finally:
        server.shutdown()
        server.server_close()
    assert outside == [] and errors == []
    files = list(Layout(run).ratings.glob("*.json"))
    assert len(files) == 1 and files[0].parent == run / "listening" / "ratings"
    record = json.loads(files[0].read_text())
    assert record["listener"] == NAME
    assert {t: r["ratings"] for t, r in record["trials"].items()} == entered
    assert record["plan"]["trial_order"] == [first, second]
