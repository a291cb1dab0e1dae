"""Listening-test statistics against a known ground truth, and the coefficients against scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from evalkit.listen import correlation as C
from evalkit.listen.analysis import RATING_COLUMNS, screen
from evalkit.listen.build import build_test
from evalkit.listen.paths import Layout
from evalkit.listen.results import load_analysis
from evalkit.listen.serve import load_test
from evalkit.results.rundir import load_run
from tests.listen_fixtures import listenable_run, simulate, truth_of

#: ground truth per condition: better with bitrate, opus (the more efficient codec here) ahead
QUALITY = {"mp3@8": 30.0, "mp3@16": 52.0, "mp3@24": 66.0, "opus@8": 41.0, "opus@16": 63.0}
GOOD, CARELESS = [f"listener-{i}" for i in range(8)], ["careless-1", "careless-2"]


@pytest.mark.parametrize("seed", range(4))
def test_coefficients_equal_scipy(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, 11).astype(float)  # ties on purpose
    y = 3 * x + rng.normal(0, 4, 11)
    y[3] = y[4]
    assert C.pearson(x, y) == pytest.approx(scipy.stats.pearsonr(x, y)[0], abs=1e-12)
    assert C.spearman(x, y) == pytest.approx(scipy.stats.spearmanr(x, y)[0], abs=1e-12)
    assert C.kendall(x, y) == pytest.approx(scipy.stats.kendalltau(x, y)[0], abs=1e-12)
    rows = np.stack([x, y[::-1], rng.normal(size=11)])  # vectorised over resamples, row by row
    want = [scipy.stats.kendalltau(r, y)[0] for r in rows]
    assert C.kendall(rows, np.broadcast_to(y, rows.shape)) == pytest.approx(want, abs=1e-12)


def test_screening_threshold_is_more_than_15_percent():
    def listener(name: str, below: int) -> list[tuple]:
        return [
            (name, f"t{i}", f"c{i}", "speech", "reference", 60 if i < below else 100)
            for i in range(20)
        ]

    frame = pd.DataFrame(listener("a", 3) + listener("b", 4), columns=RATING_COLUMNS)
    dropped = screen(frame)
    assert list(dropped) == ["b"]  # 3 of 20 is 15 %, not more: kept
    assert dropped["b"] == "rated the hidden reference below 90 in 4 of 20 trials (20% > 15%)"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    run = listenable_run(tmp_path_factory.mktemp("sim"))
    build_test(run, 2, ",".join(c.replace("@", ":") for c in QUALITY), seconds=1.0)
    layout = Layout(run)
    test = load_test(layout)
    truth = truth_of(test, QUALITY)
    for i, name in enumerate(GOOD):
        simulate(layout, test, truth, name, seed=i)
    for i, name in enumerate(CARELESS):
        simulate(layout, test, truth, name, seed=100 + i, careless=True)
    return load_analysis(load_run(run)), truth


def test_screened_listeners_are_dropped_and_named(simulated):
    analysis, _ = simulated
    assert sorted(analysis.dropped) == CARELESS
    assert all("hidden reference below 90 in 4 of 4 trials" in w for w in analysis.dropped.values())
    assert set(analysis.ratings["listener"]) == set(GOOD + CARELESS)
    assert (analysis.scores["listeners"] <= len(GOOD)).all()


def test_scores_recover_the_ground_truth(simulated):
    analysis, truth = simulated
    overall = analysis.scores[analysis.scores["domain"] == "all"].set_index("stimulus")
    for stim, value in truth.items():
        row = overall.loc[stim]
        assert row["n"] == len(GOOD) * 4
        assert row["ci_low"] <= row["mean"] <= row["ci_high"]
        assert abs(row["mean"] - value) < 6, stim  # 32 ratings, noise 5, listener bias 3
    order = overall.loc[list(QUALITY), "mean"].sort_values().index.tolist()
    assert order == sorted(QUALITY, key=QUALITY.get)
    domains = set(analysis.scores["domain"])
    assert domains == {"all", "speech", "music"}


def test_agreement_equals_scipy_with_directions(simulated):
    analysis, _ = simulated
    table = analysis.agreement.set_index("metric")
    assert not table.loc["mel_distance", "higher_is_better"]
    for metric, row in table.iterrows():
        pts = analysis.points[analysis.points["metric"] == metric]
        x = pts["metric_mean"].to_numpy() * (1 if row["higher_is_better"] else -1)
        y = pts["mushra_mean"].to_numpy()
        assert row["conditions"] == len(QUALITY)
        assert row["pearson"] == pytest.approx(scipy.stats.pearsonr(x, y)[0], abs=1e-12)
        assert row["spearman"] == pytest.approx(scipy.stats.spearmanr(x, y)[0], abs=1e-12)
        assert row["kendall"] == pytest.approx(scipy.stats.kendalltau(x, y)[0], abs=1e-12)
        for name in ("pearson", "spearman", "kendall"):
            assert row[f"{name}_low"] <= row[name] <= row[f"{name}_high"]
    # the fixture's metrics follow the same rate-quality law as the truth: both agree positively,
    # mel distance (lower is better) included
    assert table.loc["mel_distance", "spearman"] > 0.8
    assert table.loc["pesq_wb", "spearman"] > 0.8
