"""PESQ and ViSQOL against published reference vectors (tests/data/conformance/SOURCES.md).

Both go through the metric objects' ``prepare``/``score``, with float32 audio as
``evalkit.audio.read`` gives it: the path the pipeline uses.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import evalkit
from evalkit import audio as A
from evalkit.cli import app
from evalkit.metrics.pesq import PESQNarrowBand, p862_raw
from evalkit.metrics.visqol import ViSQOLAudio, ViSQOLSpeech
from tests.metrics_fixtures import CONFORMANCE


def cases(folder: str) -> list[dict]:
    with open(CONFORMANCE / folder / "cases.csv", newline="") as f:
        return list(csv.DictReader(f))


PESQ_CASES = cases("pesq")


def test_pesq_conformance_set_is_complete():
    assert len(PESQ_CASES) == 20


@pytest.mark.parametrize("case", PESQ_CASES, ids=lambda c: c["reference"])
def test_pesq_reproduces_raw_p862_to_three_decimals(case):
    """Files as they are (no padding, no trimming); MOS-LQO inverted through P.862.1."""
    folder = CONFORMANCE / "pesq"
    ref, sr = A.read(folder / case["reference"])
    deg, sr_deg = A.read(folder / case["degraded"])
    assert sr == sr_deg == int(case["sample_rate"]) == PESQNarrowBand.sample_rate_hz
    metric = PESQNarrowBand()
    mos = metric.score(metric.prepare(ref, sr), deg, sr)["pesq_nb"]
    assert round(p862_raw(mos), 3) == pytest.approx(float(case["p862_raw"]), abs=1e-9)


def test_pesq_float_and_int16_inputs_agree():
    """The package scales by the common peak: float [-1, 1] and int16 samples score the same."""
    import soundfile as sf
    from pesq import pesq

    folder = CONFORMANCE / "pesq"
    ref, sr = sf.read(folder / "or105.wav", dtype="int16")
    deg, _ = sf.read(folder / "dg105.wav", dtype="int16")
    assert pesq(sr, ref, deg, "nb") == pytest.approx(
        pesq(sr, ref.astype(np.float32) / 32768, deg.astype(np.float32) / 32768, "nb"), abs=1e-6
    )


VISQOL_MODELS = {"speech": (ViSQOLSpeech, "lattice"), "audio": (ViSQOLAudio, "libsvm")}
VISQOL_TOLERANCE = {"speech": 0.01, "audio": 0.001}
VISQOL_CASES = [c for c in cases("visqol") if VISQOL_MODELS[c["mode"]][1] == c["quality_model"]]


def test_visqol_conformance_covers_both_modes():
    """Only the exponential-model speech case is left out: evalkit does not offer that model."""
    assert len(VISQOL_CASES) == 6
    assert {c["mode"] for c in VISQOL_CASES} == {"speech", "audio"}


@pytest.mark.slow
@pytest.mark.parametrize("case", VISQOL_CASES, ids=lambda c: c["name"])
def test_visqol_matches_the_cpp_conformance_values(case):
    """Through ``evalkit score``, the command a user types, and through the Python API: the 48-kHz
    files as they are (mixed to mono), as the C++ tool runs them in either mode."""
    cls, model = VISQOL_MODELS[case["mode"]]
    assert cls().fingerprint()["quality_model"].startswith(f"{model}:")
    folder = CONFORMANCE / "visqol"
    ref_path, deg_path = folder / case["reference"], folder / case["degraded"]
    domain = "speech" if case["mode"] == "speech" else "music"
    result = CliRunner().invoke(
        app, ["score", str(ref_path), str(deg_path), "--domain", domain,
              "--metrics", cls.name, "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    value = json.loads(result.stdout)[0]["value"]
    expected = float(case["expected_mos_lqo"])
    assert value == pytest.approx(expected, abs=VISQOL_TOLERANCE[case["mode"]])
    (api_row,) = evalkit.score_files(ref_path, deg_path, [cls.name], domain=domain)
    assert api_row["value"] == pytest.approx(value, abs=1e-9)  # the package varies by ~1e-15
