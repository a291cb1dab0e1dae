"""Exit codes: 0 when the run completed (failures are data), 1 with ``--strict`` and a failure
(tested on the hostile run in test_bad_input), 2 with a one-line message for a usage error."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evalkit.cli import app

RUN = ["run", "--codec", "pcm", "--bitrates", "256", "--workers", "1"]


def usage_error(args: list[str], tmp_path) -> str:
    """Run the CLI in-process; assert exit 2, one line on stderr, no traceback, no run folder."""
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and not out.exists()
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--codec", "nosuch", "--bitrates", "6"], "unknown codec 'nosuch'"),
        (["run", "--codec", "os:system", "--bitrates", "6"], "unknown codec 'os:system'"),
        (["run", "--codec", "pcn", "--bitrates", "6"], "Did you mean 'pcm'?"),
        (["run", "--codec", "pcm", "--bitrates", "abc"], "--bitrates must be comma-separated"),
        (["run", "--codec", "pcm", "--bitrates", "0"], "--bitrates must be positive finite"),
        (["run", "--codec", "pcm", "--bitrates", "inf"], "--bitrates must be positive finite"),
        (["run", "--codec", "pcm", "--bitrates", "1"], "codec 'pcm' cannot run at 1 kbps"),
        (["run", "--codec", "pcm"], "name at least one --codec and --bitrates"),
        ([*RUN, "--dataset", "nosuch:/x"], "unknown dataset 'nosuch'"),
        ([*RUN, "--dataset", "folder"], "dataset 'folder' needs a path: folder:PATH"),
        ([*RUN, "--dataset", "folder:/no/such/dir:speech"], "/no/such/dir is not a folder"),
        ([*RUN, "--dataset", "default:/x"], "the default dataset takes no path"),
        ([*RUN, "--checkpoint", "/no/such/weights.pt"], "--checkpoint pcm=/no/such/weights.pt: "
                                                        "no such file"),
        ([*RUN, "--checkpoint", "opus=/no/such.pt"], "no such file"),
        ([*RUN, "--metrics", "pesq,nosuch"], "unknown metric 'nosuch'"),
        ([*RUN, "--limit", "0"], "--limit must be at least 1"),
        ([*RUN, "--segment", "-1"], "--segment must be positive"),
        ([*RUN, "--profile", "nightly"], "unknown profile 'nightly'"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2_with_one_line(args, message, tmp_path):
    assert message in usage_error(args, tmp_path)


def test_folder_dataset_with_a_bad_domain_is_a_usage_error(tmp_path):
    (tmp_path / "d").mkdir()
    line = usage_error([*RUN, "--dataset", f"folder:{tmp_path / 'd'}:podcast"], tmp_path)
    assert "unknown domain 'podcast'" in line


def test_checkpoint_for_a_codec_without_weights_is_a_usage_error(tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"not weights")
    assert "takes no checkpoint" in usage_error([*RUN, "--checkpoint", str(weights)], tmp_path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"codecs": ["os:system"]}, "unknown codec 'os:system'"),
        ({"extra": "field"}, "does not hold a run's settings: TypeError"),
        ({"codecs": None}, "does not hold a run's settings"),
    ],
)
def test_resume_from_an_edited_run_json_is_a_usage_error(edit, message, tmp_path):
    """run.json names codecs by registered name only: an import string in it loads nothing."""
    run = tmp_path / "old"
    run.mkdir()
    config = {"codecs": ["pcm"], "bitrates_kbps": [256.0], "metrics": ["mel_distance"]}
    (run / "run.json").write_text(json.dumps({"config": {**config, **edit}}))
    result = CliRunner().invoke(app, ["run", "--resume", str(run)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_an_existing_run_folder_is_not_overwritten(tmp_path):
    old = tmp_path / "run"
    old.mkdir()
    (old / "run.json").write_text('{"config": {}}')
    result = CliRunner().invoke(app, [*RUN, "--out", str(old)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert f"{old} already holds a run; continue it with `evalkit run --resume {old}`" in (
        result.stderr
    )
    assert (old / "run.json").read_text() == '{"config": {}}'


def test_resume_with_settings_of_its_own_is_a_usage_error(tmp_path):
    """--resume replays run.json; a --codec or --out beside it would be silently ignored."""
    result = CliRunner().invoke(
        app, ["run", "--resume", str(tmp_path), "--codec", "opus", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2, (result.output, result.exception)
    assert "--resume replays the run's own settings; drop --codec, --out" in result.stderr


def test_a_codec_whose_constructor_raises_is_one_line(tmp_path, monkeypatch):
    """A plug-in that cannot start (a missing model file, a bad import) says so, no traceback."""
    from evalkit.codecs.pcm import PCM
    from evalkit.pipeline import task

    monkeypatch.setattr(task, "_codecs", {})  # no instance built by an earlier test

    def broken_init(self, checkpoint=None, device="cpu"):
        raise FileNotFoundError("weights.bin is missing")

    monkeypatch.setattr(PCM, "__init__", broken_init)
    line = usage_error(RUN, tmp_path)
    assert line == "error: codec 'pcm' cannot start: FileNotFoundError: weights.bin is missing"
