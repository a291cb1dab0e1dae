"""``evalkit report``: summaries with the lossy-source split, tables, BD-rate, plots, errors."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.errors import EvalkitError
from evalkit.results.directions import higher_is_better, registered
from evalkit.results.rundir import load_run
from evalkit.results.summary import summarize
from tests.report_fixtures import write_run

runner = CliRunner()


def flat(text: str) -> str:
    """CLI output with rich's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "run-a"
    return write_run(path, {"rvq": 1.6, "opus": 1.0}, error_clip="music-02")


def test_directions_come_from_the_metric_classes():
    known = registered()
    assert higher_is_better("pesq_wb", known) is True
    assert higher_is_better("visqol_audio", known) is True
    assert higher_is_better("mel_distance", known) is False
    assert higher_is_better("bitrate_measured_kbps", known) is False
    with pytest.raises(EvalkitError, match="no recorded direction"):
        higher_is_better("made_up_metric", known)


def test_reports_read_directions_from_run_json_not_the_plugins(run_dir, tmp_path, monkeypatch):
    """A stored run reports on a machine without the metric plug-ins: run.json says which way
    is better (here inverted for mel_distance, so the report can only have learned it there)."""
    import json

    from evalkit import registry

    meta = json.loads((run_dir / "run.json").read_text())
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("results.parquet", "codebooks.csv"):
        (copy / name).write_bytes((run_dir / name).read_bytes())
    meta["directions"]["mel_distance"] = True
    (copy / "run.json").write_text(json.dumps(meta))

    def no_plugins(*args, **kwargs):
        raise AssertionError("a report must not load metric plug-ins")

    monkeypatch.setattr(registry, "load", no_plugins)
    run = load_run(copy)
    assert run.directions["mel_distance"] is True
    assert run.summary.query("metric == 'mel_distance'")["higher_is_better"].all()
    result = runner.invoke(app, ["report", str(copy), "--format", "md"])
    assert result.exit_code == 0, result.output
    assert "mel_distance ↑" in (copy / "report" / "report.md").read_text()


def test_summary_splits_lossless_and_lossy_sources(run_dir):
    results = pd.read_parquet(run_dir / "results.parquet")
    summary = summarize(results, registered())
    sel = summary[
        (summary.codec == "rvq") & (summary.bitrate_kbps == 6) & (summary.metric == "mel_distance")
    ]
    n = {(r.domain, r.source): r.n for r in sel.itertuples()}
    # speech and music hold lossy-source clips, environmental does not: no split there
    assert n[("speech", "all")] == 4 and n[("speech", "lossless")] == 3
    assert n[("speech", "lossy")] == 1 and n[("music", "lossy")] == 1
    assert ("environmental", "lossless") not in n and n[("environmental", "all")] == 3
    assert n[("all", "all")] == 10 and n[("all", "lossy")] == 2
    # the lossy-source mean is the mean of exactly those clips' values
    rows = results[
        (results.codec == "rvq") & (results.bitrate_kbps == 6) & (results.metric == "mel_distance")
    ]
    expected = rows[rows.lossy_source & (rows.domain == "speech")]["value"].mean()
    got = sel[(sel.domain == "speech") & (sel.source == "lossy")]["mean"].item()
    assert got == pytest.approx(expected)


def test_report_writes_tables_plots_and_bd_rate(run_dir, tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", str(run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    md = (out / "report.md").read_text()
    assert "| Codec | Bitrate (kbps) | Measured (kbps) | mel_distance ↓ | pesq_wb ↑" in md
    assert "### speech — lossy-source clips" in md
    assert "![visqol_audio vs measured bitrate](plots/rd_visqol_audio.png)" in md
    for stem in ("rd_visqol_audio", "rd_mel_distance", "rd_pesq_wb", "codebooks_0"):
        assert (out / "plots" / f"{stem}.png").stat().st_size > 10_000
        assert (out / "plots" / f"{stem}.svg").read_text().lstrip().startswith("<?xml")
    # the fixture's rvq reaches any quality with 1/1.6 of opus's bits: BD-rate -37.5%
    bd = pd.read_csv(out / "bdrate.csv")
    row = bd[(bd.codec == "rvq") & (bd.anchor == "opus") & (bd.metric == "visqol_audio")]
    assert row[row.domain == "music"]["bd_rate_percent"].item() == pytest.approx(-37.5, abs=1.0)
    mel = bd[(bd.codec == "opus") & (bd.anchor == "rvq") & (bd.metric == "mel_distance")]
    assert mel[mel.domain == "all"]["bd_rate_percent"].item() == pytest.approx(60.0, abs=2.0)
    report = json.loads((out / "report.json").read_text())
    assert report["run"]["run_id"] == "run-a"
    summary = pd.read_csv(out / "summary.csv")
    errors = summary[
        (summary.metric == "visqol_audio") & (summary.domain == "music") & (summary.source == "all")
    ]
    assert set(errors["errors"]) == {1} and np.isfinite(errors["ci_low"]).all()
    assert "music-02: decoder failed" in md


def test_report_formats_are_checked(run_dir, tmp_path):
    result = runner.invoke(app, ["report", str(run_dir), "--format", "pdf", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown report format" in flat(result.output)
    result = runner.invoke(app, ["report", str(run_dir), "--format", "csv", "--out", str(tmp_path)])
    assert result.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bdrate.csv", "summary.csv"]


def test_not_a_run_folder_is_one_clear_line(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such run folder" in flat(result.output)
    (tmp_path / "run.json").write_text("{")
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "not valid JSON" in flat(result.output)


def test_report_and_leaderboard_of_an_interrupted_run_say_it_is_partial(tmp_path):
    cut = write_run(tmp_path / "cut", {"rvq": 1.6, "opus": 1.0}, run_status="interrupted")
    report = runner.invoke(
        app, ["report", str(cut), "--format", "md", "--out", str(tmp_path / "r")]
    )
    board = runner.invoke(app, ["leaderboard", str(cut), "--out", str(tmp_path / "lb")])
    for result, page in ((report, "r/report.md"), (board, "lb/leaderboard.md")):
        assert result.exit_code == 0, result.output
        assert "did not complete (status: interrupted)" in flat(result.stderr)
        assert "## Partial results" in (tmp_path / page).read_text()
