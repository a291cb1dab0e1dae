"""Building a listening test from a run, the server's boundaries, and the results in reports."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.errors import EvalkitError
from evalkit.listen import stimuli as S
from evalkit.listen.build import build_test
from evalkit.listen.paths import Layout
from evalkit.listen.serve import load_test, serve_in_thread
from tests.listen_fixtures import listenable_run, simulate, truth_of

CONDITIONS = "mp3:8,mp3:24,opus:16"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    run = listenable_run(tmp_path_factory.mktemp("listen"))
    build_test(run, 2, CONDITIONS, seconds=1.5)
    return run


def test_trials_hold_reference_anchors_and_conditions(built):
    test = load_test(Layout(built))
    assert len(test["trials"]) == 4 and {t["domain"] for t in test["trials"]} == {"speech", "music"}
    for trial in test["trials"]:
        ids = [s["id"] for s in trial["stimuli"]]
        assert ids == ["reference", "anchor_3.5k", "anchor_7k", "mp3@8", "mp3@24", "opus@16"]
        files = {s["id"]: Layout(built).test / s["file"] for s in trial["stimuli"]}
        assert trial["reference"] == trial["stimuli"][0]["file"]  # open and hidden: one file
        audio = {k: sf.read(str(p), always_2d=True) for k, p in files.items()}
        rate = trial["sample_rate_hz"]
        loudness = [S.loudness_lufs(a.T, r) for a, r in audio.values()]
        assert max(loudness) - min(loudness) < 0.5  # loudness-matched (BS.1770)
        assert all(sf.info(str(p)).format == "FLAC" for p in files.values())
        assert {r for _, r in audio.values()} == {rate}
        anchor = audio["anchor_3.5k"][0][:, 0]
        spectrum = np.abs(np.fft.rfft(anchor)) ** 2
        freqs = np.fft.rfftfreq(anchor.size, 1 / rate)
        assert spectrum[freqs > 5000].sum() < 1e-4 * spectrum.sum()


def test_page_is_self_contained(built):
    page = (Layout(built).test / "index.html").read_text()
    assert "http://" not in page and "https://" not in page and "<script src" not in page
    assert json.loads((Layout(built).test / "test.json").read_text())["test_id"] in page


def test_no_saved_audio_and_a_changed_codec_is_refused(tmp_path):
    run = listenable_run(tmp_path)
    for path in sorted((run / "audio").rglob("*.flac")):
        path.unlink()
    with pytest.raises(EvalkitError, match="has changed since the run"):
        build_test(run, 1, "mp3:8", seconds=1.0)


def test_without_saved_audio_the_clips_are_decoded_again(tmp_path):
    import pandas as pd

    from evalkit.pipeline.task import CodecSpec, get_codec

    run = listenable_run(tmp_path, codecs=("pcm",), bitrates=(64.0, 128.0))
    shutil.rmtree(run / "audio")
    results = pd.read_parquet(run / "results.parquet")
    identity = json.dumps(get_codec(CodecSpec("pcm")).identity(), sort_keys=True)
    results.assign(codec_identity=identity).to_parquet(run / "results.parquet")
    build_test(run, 1, None, seconds=1.0)
    test = load_test(Layout(run))
    assert [c["id"] for c in test["conditions"]] == ["pcm@64", "pcm@128"]
    assert all(len(t["stimuli"]) == 5 for t in test["trials"])


def _request(url: str, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_server_reads_and_writes_only_the_test(built, tmp_path):
    test = load_test(Layout(built))
    server, url = serve_in_thread(built)
    try:
        assert server.server_address[0] == "127.0.0.1"
        assert _request(url)[0] == 200
        for path in ["../run.json", "%2e%2e/run.json", "test.json", "stimuli/", "/etc/passwd"]:
            assert _request(url + path)[0] == 404, path
        trial = test["trials"][0]
        ratings = {s["id"]: 50 for s in trial["stimuli"]}
        plan = {
            "trial_order": [t["id"] for t in test["trials"]],
            "orders": {t["id"]: [s["id"] for s in t["stimuli"]] for t in test["trials"]},
        }
        name = "../../outside/<b>x</b>"

        def post(**changes) -> int:
            body = {"test_id": test["test_id"], "listener": name, "plan": plan}
            body |= {"trial": trial["id"], "result": {"ratings": ratings, "seconds": 3}} | changes
            return _request(url + "api/ratings", json.dumps(body).encode())[0]

        bad = [
            {"result": {"ratings": ratings | {"mp3@8": 101}}},
            {"result": {"ratings": ratings | {"mp3@8": 50.5}}},
            {"result": {"ratings": ratings | {"extra": 1}}},
            {"trial": "../t01"},
            {"test_id": "other"},
            {"listener": ""},
            {"plan": plan | {"trial_order": plan["trial_order"][:1]}},
        ]
        assert [post(**b) for b in bad] == [400] * len(bad)
        assert _request(url + "api/ratings", b"x" * 300_000)[0] == 413
        assert post() == 200
        files = list(Layout(built).ratings.iterdir())
        assert len(files) == 1 and files[0].parent == built / "listening" / "ratings"
        status, body = _request(url + "api/ratings?listener=" + urllib.request.quote(name))
        assert status == 200 and json.loads(body)["trials"][trial["id"]]["ratings"] == ratings
        assert post(plan=plan | {"trial_order": plan["trial_order"][::-1]}) == 400  # order fixed
    finally:
        server.shutdown()
        server.server_close()
        for path in Layout(built).ratings.glob("*.json"):
            path.unlink()
    assert not (tmp_path.parent / "outside").exists()


def test_results_in_cli_report_and_leaderboard(tmp_path):
    """Ratings from the server and from an exported file, analysed by the CLI and in reports."""
    run = listenable_run(tmp_path)
    build_test(run, 1, CONDITIONS, seconds=1.0)
    layout = Layout(run)
    test = load_test(layout)
    truth = truth_of(test, {"mp3@8": 30.0, "mp3@24": 60.0, "opus@16": 70.0})
    for i in range(3):
        simulate(layout, test, truth, f"sim-{i}", seed=i)
    simulate(layout, test, truth, "<i>careless</i>", seed=9, careless=True)
    # a rebuild with other clips would orphan these ratings
    with pytest.raises(EvalkitError, match="ratings of another test"):
        build_test(run, 2, CONDITIONS, seconds=1.0)

    cli = CliRunner()
    exported = tmp_path / "exported.json"  # as the page's export button saves it
    layout.listener("sim-0").rename(exported)
    result = cli.invoke(app, ["listen", "results", str(run), "--add", str(exported)])
    assert result.exit_code == 0, result.output
    assert layout.listener("sim-0").is_file()
    assert "screened out: <i>careless</i>: rated the hidden reference below 90" in result.output
    out = layout.root / "results"
    assert (out / "results.html").is_file() and list((out / "plots").glob("listen_*.png"))
    assert "<i>careless</i>" not in (out / "results.html").read_text()  # escaped

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "evalkit-mushra-ratings/1", "test_id": "zzz"}))
    result = cli.invoke(app, ["listen", "results", str(run), "--add", str(bad)])
    assert result.exit_code == 2 and "ratings of another test" in result.output

    assert cli.invoke(app, ["report", str(run), "--format", "md"]).exit_code == 0
    report = (run / "report" / "report.md").read_text()
    assert "## Listening test" in report and "## How well each metric predicts" in report
    board = tmp_path / "board"
    result = cli.invoke(app, ["leaderboard", str(run), "--out", str(board)])
    assert result.exit_code == 0, result.output
    assert "Listening test" in (board / "leaderboard.md").read_text()
