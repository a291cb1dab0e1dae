"""`evalkit codecs` and `evalkit metrics`: every registered part, one aligned line each."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from evalkit import registry
from evalkit.cli import app
from evalkit.errors import UsageError


@pytest.mark.parametrize(
    ("command", "group"), [("codecs", registry.CODECS), ("metrics", registry.METRICS)]
)
def test_every_registered_part_gets_one_line_with_its_columns_aligned(command, group):
    result = CliRunner().invoke(app, [command])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    names = registry.names(group)
    assert [line.split()[0] for line in lines] == names
    width = max(map(len, names))  # the longest name sets where the second column starts
    assert all(line[width] == " " and line[width + 1] != " " for line in lines), lines


def test_opt_in_metrics_say_how_to_ask_for_them():
    lines = CliRunner().invoke(app, ["metrics"]).output.splitlines()
    by_name = {line.split()[0]: line for line in lines}
    assert by_name["wer"].endswith("(opt-in: --metrics wer)")
    assert "opt-in" not in by_name["pesq"]


def test_a_broken_plug_in_is_named_on_stderr_and_the_rest_still_listed(monkeypatch):
    real_names, real_load = registry.names, registry.load

    def load(group: str, name: str) -> type:
        if name == "broken":
            raise UsageError("metric 'broken' is registered by x:Y but cannot be loaded: boom")
        return real_load(group, name)

    monkeypatch.setattr(registry, "names", lambda group: sorted([*real_names(group), "broken"]))
    monkeypatch.setattr(registry, "load", load)
    result = CliRunner().invoke(app, ["metrics"])
    assert result.exit_code == 0
    assert "cannot be loaded: boom" in result.stderr
    assert "pesq" in result.stdout and "broken" not in result.stdout
