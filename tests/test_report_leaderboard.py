"""``evalkit leaderboard``: merging, ranking, refusing incomparable runs, escaping."""

import re

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.reports.leaderboard import band
from tests.report_fixtures import METRIC_FP, write_run

runner = CliRunner()
HOSTILE = "<script>alert(1)</script>"


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """A leaderboard of two runs whose codec name, clip id and error message carry markup."""
    root = tmp_path_factory.mktemp("board")
    clips = [
        ("speech-01", "speech", False),
        (f"speech-{HOSTILE}", "speech", False),
        ("music-01", "music", False),
        ("music-02", "music", True),
    ]
    a = write_run(
        root / "run-a",
        {"rvq": 1.6, f"evil{HOSTILE}": 0.8},
        clips=clips,
        error_clip=f"speech-{HOSTILE}",
        error_text=HOSTILE,
    )
    b = write_run(
        root / "run-b", {"opus": 1.0, "mp3": 0.6}, bitrates=(6.0, 12.0, 24.0), clips=clips
    )
    out = root / "leaderboard"
    result = runner.invoke(app, ["leaderboard", str(a), str(b), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return root, out


def test_ranked_within_bands(board):
    _, out = board
    md = (out / "leaderboard.md").read_text()
    music = md[md.index("## music: ranked by visqol_audio") :]
    band_6 = music[music.index("### 3–6 kbps") : music.index("### 6–12 kbps")]
    ranks = re.findall(r"^\| (\d) \| ([^|]+?) \| 6\.00", band_6, flags=re.M)
    evil = "evil&lt;script&gt;alert(1)&lt;/script&gt;"  # efficiency 0.8: between opus and mp3
    assert ranks == [("1", "rvq"), ("2", "opus"), ("3", evil), ("4", "mp3")]
    assert "## speech: ranked by visqol_speech" in md
    assert (out / "plots" / "rd_visqol_audio.png").is_file()


def test_everything_from_results_is_escaped(board):
    _, out = board
    page = (out / "leaderboard.html").read_text()
    assert HOSTILE not in page
    assert "evil&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert len(re.findall(r"<script", page)) == 1  # only the page's own sorting script
    md = (out / "leaderboard.md").read_text()
    assert HOSTILE not in md and "&lt;script&gt;" in md


def test_page_is_self_contained(board):
    _, out = board
    page = (out / "leaderboard.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<style>" in page and page.count('src="data:image/svg+xml;base64,') >= 3


def test_refuses_other_dataset_metric_version_and_duplicates(board, tmp_path):
    root, _ = board
    other = write_run(tmp_path / "run-c", {"dac": 1.2}, dataset_fingerprint="sha256:other")
    result = runner.invoke(
        app, ["leaderboard", str(root / "run-a"), str(other), "--out", str(tmp_path / "lb")]
    )
    assert result.exit_code == 2 and "used different datasets" in flat(result.output)
    changed = {**METRIC_FP, "mel_distance": {"metric": "mel_distance", "version": "2"}}
    other = write_run(
        tmp_path / "run-d",
        {"dac": 1.2},
        clips=[("speech-01", "speech", False)],
        metric_fingerprints=changed,
    )
    other_ds = write_run(tmp_path / "run-e", {"dac": 1.2}, metric_fingerprints=changed)
    for run in (other, other_ds):
        result = runner.invoke(
            app, ["leaderboard", str(root / "run-b"), str(run), "--out", str(tmp_path / "lb")]
        )
        assert result.exit_code == 2
    assert "measured 'mel_distance' differently" in flat(result.output)
    result = runner.invoke(
        app,
        ["leaderboard", str(root / "run-b"), str(root / "run-b"), "--out", str(tmp_path / "lb")],
    )
    assert result.exit_code == 0  # the same run twice is still one measurement
    dup = write_run(
        tmp_path / "run-f",
        {"opus": 1.0},
        bitrates=(6.0,),
        clips=[
            ("speech-01", "speech", False),
            (f"speech-{HOSTILE}", "speech", False),
            ("music-01", "music", False),
            ("music-02", "music", True),
        ],
    )
    result = runner.invoke(
        app, ["leaderboard", str(root / "run-b"), str(dup), "--out", str(tmp_path / "lb")]
    )
    assert result.exit_code == 2 and "'opus' at 6 kbps is in both" in flat(result.output)


def test_unknown_rank_metric(board, tmp_path):
    root, _ = board
    result = runner.invoke(
        app, ["leaderboard", str(root / "run-a"), "--rank-by", "pesq_nb", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "not in these runs" in flat(result.output)


def test_bands():
    assert [band(b)[1] for b in (1.5, 3, 6, 8, 24, 128)] == [
        "≤ 3 kbps",
        "≤ 3 kbps",
        "3–6 kbps",
        "6–12 kbps",
        "12–24 kbps",
        "> 96 kbps",
    ]


def test_runs_without_values_say_so(tmp_path):
    """An interrupted run can hold no values at all: say that, not '--rank-by: choose from []'."""
    import pandas as pd

    run = write_run(tmp_path / "empty", {"opus": 1.0})
    rows = pd.read_parquet(run / "results.parquet")
    rows.iloc[:0].to_parquet(run / "results.parquet")
    result = runner.invoke(app, ["leaderboard", str(run), "--out", str(tmp_path / "lb")])
    assert result.exit_code == 2, result.output
    assert "these runs hold no values (interrupted before any finished?)" in flat(result.stderr)
