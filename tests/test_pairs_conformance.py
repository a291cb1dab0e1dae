"""The ITU-T P.862 and ViSQOL conformance folders through pairs mode: one command each, the
numbers the reference tools give (the same values ``evalkit score`` gives, tests/test_score_cli.py
and tests/test_metrics_conformance.py)."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.metrics.pesq import p862_raw
from tests.metrics_fixtures import CONFORMANCE
from tests.test_metrics_conformance import PESQ_CASES, VISQOL_CASES, VISQOL_TOLERANCE

runner = CliRunner()


def pairs_run(out, spec: str, metrics: str) -> pd.DataFrame:
    """The rows of ``metrics`` that apply to each pair's domain, by pair id."""
    args = ["run", "--pairs", spec, "--metrics", metrics, "--workers", "1", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = pd.read_parquet(out / "results.parquet")
    rows = rows[rows["metric"].isin(metrics.split(",")) & (rows["status"] != "not_applicable")]
    return rows.set_index("clip_id")


@pytest.fixture(scope="module")
def pesq_rows(tmp_path_factory):
    """The ITU folder's own cases.csv is the pairs manifest (reference, degraded columns)."""
    spec = f"{CONFORMANCE / 'pesq' / 'cases.csv'}:speech"
    return pairs_run(tmp_path_factory.mktemp("pesq"), spec, "pesq_nb")


@pytest.mark.parametrize("case", PESQ_CASES, ids=lambda c: c["reference"])
def test_pairs_mode_gives_the_official_p862_value(pesq_rows, case):
    row = pesq_rows.loc[case["reference"].removesuffix(".wav")]
    assert row["status"] == "ok" and row["lag_samples"] == 0
    assert round(p862_raw(row["value"]), 3) == pytest.approx(float(case["p862_raw"]))


@pytest.fixture(scope="module")
def visqol_rows(tmp_path_factory):
    """Every ViSQOL case in one run: speech-mode cases as speech, audio-mode ones as music."""
    folder = tmp_path_factory.mktemp("visqol")
    manifest = folder / "pairs.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.DictWriter(f, ["id", "reference", "degraded", "domain"])
        writer.writeheader()
        for case in VISQOL_CASES:
            writer.writerow(
                {"id": case["name"], "domain": "speech" if case["mode"] == "speech" else "music",
                 **{k: CONFORMANCE / "visqol" / case[k] for k in ("reference", "degraded")}}
            )  # fmt: skip
    return pairs_run(folder / "run", f"{manifest}:allow-outside", "visqol_audio,visqol_speech")


@pytest.mark.slow
@pytest.mark.parametrize("case", VISQOL_CASES, ids=lambda c: c["name"])
def test_pairs_mode_gives_the_visqol_cpp_value(visqol_rows, case):
    """Both modes on the 48-kHz files as they are, as the C++ tool runs them."""
    row = visqol_rows.loc[case["name"]]
    assert row["status"] == "ok"
    expected = float(case["expected_mos_lqo"])
    assert row["value"] == pytest.approx(expected, abs=VISQOL_TOLERANCE[case["mode"]])
