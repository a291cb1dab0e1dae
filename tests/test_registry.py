"""Codecs plug in through entry points: a codec from outside evalkit runs by name."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from evalkit import registry
from evalkit.errors import UsageError

THIRD_PARTY = '''
import numpy as np
from evalkit.codecs.base import Codec, Encoded


class Halver(Codec):
    """Keeps every second sample at 8 kHz: a real (bad) codec that lives outside evalkit."""

    name = "halver"
    description = "third-party test codec"
    sample_rate_hz = 16000
    channels = 1

    def offered_bitrates(self):
        return [64.0]

    def encode(self, audio, sample_rate_hz, nominal_kbps):
        kept = (np.clip(audio[0, ::2], -1, 1) * 127).astype(np.int8)
        return Encoded(nominal_kbps=nominal_kbps, payload_bits=kept.size * 8,
                       duration_s=audio.shape[1] / sample_rate_hz, sample_rate_hz=16000, data=kept)

    def decode(self, encoded):
        return encoded.data.astype(np.float32)[None, :] / 127, 8000
'''


def make_plugin(root: Path) -> dict[str, str]:
    """A pip-installed-style distribution: module + dist-info with an entry point."""
    (root / "halver_codec.py").write_text(textwrap.dedent(THIRD_PARTY))
    info = root / "halver_codec-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: halver-codec\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[evalkit.codecs]\nhalver = halver_codec:Halver\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    return env


def evalkit_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evalkit", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_third_party_codec_runs_by_name(tmp_path):
    env = make_plugin(tmp_path)
    listed = evalkit_cli("codecs", env=env, cwd=tmp_path)
    assert listed.returncode == 0 and "halver" in listed.stdout
    out = tmp_path / "run"
    done = evalkit_cli(
        "run",
        "--codec",
        "halver",
        "--bitrates",
        "64",
        "--limit",
        "1",
        "--metrics",
        "mel_distance",
        "--workers",
        "1",
        "--out",
        str(out),
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    results = pd.read_parquet(out / "results.parquet")
    assert set(results["codec"]) == {"halver"}
    mel = results[results["metric"].str.startswith("mel")]
    assert (mel["status"] == "ok").all() and mel["value"].gt(0).all()


def test_unknown_codec_suggests_the_close_name():
    with pytest.raises(UsageError, match="Did you mean 'opus'"):
        registry.load(registry.CODECS, "opsu")


def test_builtin_codecs_come_from_entry_points():
    assert {"opus", "mp3", "pcm"} <= set(registry.names(registry.CODECS))


def test_editing_a_codecs_source_changes_its_identity_so_the_cache_is_not_reused(
    tmp_path, monkeypatch
):
    """A plugin author edits decode() without bumping ``version``: results must be recomputed."""
    import importlib.util

    def identity_of(source: str) -> dict:
        path = tmp_path / "halver_plugin.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("halver_plugin", path)
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, "halver_plugin", module)  # as an import would
        spec.loader.exec_module(module)
        return module.Halver().identity()

    before = identity_of(THIRD_PARTY)
    after = identity_of(THIRD_PARTY.replace("every second sample", "every 2nd sample"))
    assert before["adapter_version"] == after["adapter_version"]
    assert before["adapter_source"] != after["adapter_source"]
    assert identity_of(THIRD_PARTY) == before  # same code, same identity: the cache is reused


def test_metrics_can_be_named_by_the_outputs_tables_show():
    """Tables say pesq_wb; --metrics pesq_wb means the metric that computes it, once."""
    assert registry.parse_list(registry.METRICS, "pesq_wb, mel_distance,pesq") == [
        "pesq",
        "mel_distance",
    ]
    with pytest.raises(UsageError, match="unknown metric 'pesq_xx'"):
        registry.parse_list(registry.METRICS, "pesq_xx")
