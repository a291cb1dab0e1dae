"""BD-rate against two independent implementations and an analytic case."""

import bjontegaard
import numpy as np
import pandas as pd
import pytest

from evalkit.reports.bdrate import bd_rate, bd_rate_table

# Test data published in the README of the FAU-LMS `bjontegaard` package (libx265 presets).
RATE_A = [9487.76, 4593.60, 2486.44, 1358.24]
PSNR_A = [40.037, 38.615, 36.845, 34.851]
RATE_T = [9787.80, 4469.00, 2451.52, 1356.24]
PSNR_T = [40.121, 38.651, 36.970, 34.987]
# "Sample 2" of the widely copied bjontegaard_metric.py demo (demo_bpcs.py).
RATE_A2 = [57118, 41684, 29502, 20640]
PSNR_A2 = [40.18, 36.18, 32.24, 31.02]
RATE_T2 = [56350, 40985, 29265, 20403]
PSNR_T2 = [40.09, 36.21, 32.17, 30.24]


def vceg_bd_rate(R1, PSNR1, R2, PSNR2):  # noqa: N803 - names kept from the transcribed snippet
    """Literal transcription of the common Python ``BD_RATE`` (``piecewise == 0`` branch)."""
    lR1 = np.log(R1)  # noqa: N806
    lR2 = np.log(R2)  # noqa: N806

    # rate method
    p1 = np.polyfit(PSNR1, lR1, 3)
    p2 = np.polyfit(PSNR2, lR2, 3)

    # integration interval
    min_int = max(min(PSNR1), min(PSNR2))
    max_int = min(max(PSNR1), max(PSNR2))

    # find integral
    p_int1 = np.polyint(p1)
    p_int2 = np.polyint(p2)

    int1 = np.polyval(p_int1, max_int) - np.polyval(p_int1, min_int)
    int2 = np.polyval(p_int2, max_int) - np.polyval(p_int2, min_int)

    # find avg diff
    avg_exp_diff = (int2 - int1) / (max_int - min_int)
    avg_diff = (np.exp(avg_exp_diff) - 1) * 100
    return avg_diff


CURVES = [(RATE_A, PSNR_A, RATE_T, PSNR_T), (RATE_A2, PSNR_A2, RATE_T2, PSNR_T2)]


@pytest.mark.parametrize("curves", CURVES)
def test_matches_the_common_bd_rate_snippet(curves):
    assert bd_rate(*curves) == pytest.approx(vceg_bd_rate(*map(np.asarray, curves)), abs=1e-9)


@pytest.mark.parametrize("curves", CURVES)
def test_matches_the_bjontegaard_package(curves):
    # the package's 'cubic' method is VCEG-M33's third-order polynomial fit of log10(rate)
    assert bd_rate(*curves) == pytest.approx(bjontegaard.bd_rate(*curves, method="cubic"), abs=1e-9)


def test_published_example_is_a_small_saving():
    # Test codec is slightly better at every point: a saving of a few percent.
    assert -5 < bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T) < 0


@pytest.mark.parametrize("n_points", [2, 3, 4, 5])
def test_constant_rate_ratio_is_exact(n_points):
    quality = np.linspace(1.5, 4.2, n_points)
    rate = 3.0 * 2.0 ** np.arange(n_points)
    assert bd_rate(rate, quality, 0.8 * rate, quality) == pytest.approx(-20.0, abs=1e-9)
    assert bd_rate(0.8 * rate, quality, rate, quality) == pytest.approx(25.0, abs=1e-9)


def test_lower_is_better_metric_needs_no_sign_flip():
    # Mel distance falls as rate rises; a codec needing 30% fewer bits at equal distance is -30%.
    rate = np.array([1.5, 3.0, 6.0, 12.0])
    distance = np.array([2.1, 1.6, 1.2, 0.9])
    assert bd_rate(rate, distance, 0.7 * rate, distance) == pytest.approx(-30.0, abs=1e-9)
    # negating the quality axis mirrors both fits and leaves the rate difference unchanged
    assert bd_rate(RATE_A, -np.asarray(PSNR_A), RATE_T, -np.asarray(PSNR_T)) == pytest.approx(
        bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T), abs=1e-9
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([1, 2], [1, 2], [1, 2], [3, 4]), "do not overlap"),
        (([1], [1], [1, 2], [1, 2]), "at least two"),
        (([0, 2], [1, 2], [1, 2], [1, 2]), "positive"),
        (([1, 2], [1, 1], [1, 2], [1, 2]), "repeated"),
    ],
)
def test_bad_curves_raise_with_reason(args, message):
    with pytest.raises(ValueError, match=message):
        bd_rate(*args)


def test_table_flags_small_quality_overlap():
    rate = [6.0, 12.0, 24.0]
    summary = pd.DataFrame(
        {
            "codec": ["a"] * 3 + ["b"] * 3 + ["c"] * 3,
            "bitrate_kbps": rate * 3,
            "measured_kbps": rate * 3,
            "mean": [2.0, 3.0, 4.0, 2.2, 3.2, 4.2, 3.9, 4.0, 4.05],
            "domain": "music",
            "source": "all",
            "metric": "visqol_audio",
        }
    )
    table = bd_rate_table(summary, "visqol_audio").set_index(["codec", "anchor"])
    assert table.loc[("b", "a"), "note"] == "" and table.loc[("b", "a"), "bd_rate_percent"] < 0
    assert "overlap 5%: unreliable" in table.loc[("c", "a"), "note"]
