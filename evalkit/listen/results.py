"""``evalkit listen results``: the analysis as tables and plots, in ``RUN/listening/results``.

:func:`listening_sections` is what the run's report and the leaderboard show, so all three say
the same thing from the same ratings.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from evalkit.atomic import atomic_path
from evalkit.errors import EvalkitError, UsageError
from evalkit.listen.paths import Layout
from evalkit.listen.plots import agreement_figure
from evalkit.listen.ratings import FORMAT
from evalkit.listen.serve import load_test
from evalkit.reports import plots
from evalkit.reports.render import Cell, Section, Table, html, markdown
from evalkit.results.rundir import Run, load_run
from evalkit.results.summary import ALL

if TYPE_CHECKING:  # the analysis imports scipy.stats: only when a run has ratings
    from evalkit.listen.analysis import Analysis

COEFFICIENTS = (("pearson", "Pearson r"), ("spearman", "Spearman ρ"), ("kendall", "Kendall τ"))


def import_exports(layout: Layout, test: dict, paths: list[Path]) -> None:
    """Copy ratings exported from the page into the run folder, under the listener's file name."""
    for path in paths:
        try:
            record = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: not a ratings file ({exc})") from None
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise UsageError(f"{path}: not a ratings file exported by the listening page")
        if record.get("test_id") != test["test_id"]:
            raise UsageError(f"{path}: ratings of another test ({record.get('test_id')})")
        name = str(record.get("listener", ""))
        with atomic_path(layout.listener(name)) as tmp:
            shutil.copyfile(path, tmp)


def load_analysis(run: Run) -> Analysis | None:
    """The run's listening analysis, or None when it has no test or no ratings yet."""
    layout = Layout(run.path)
    if not (layout.test / "test.json").is_file() or not any(layout.ratings.glob("*.json")):
        return None
    test = load_test(layout)
    records = []
    for path in sorted(layout.ratings.glob("*.json")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except ValueError as exc:
            raise EvalkitError(f"{path}: not valid JSON ({exc})") from None
    from evalkit.listen.analysis import analyse

    return analyse(test, records, run.results, run.directions)


def _ci(mean: float, low: float, high: float, digits: int = 1) -> Cell:
    text = f"{mean:.{digits}f}" + (f" [{low:.{digits}f}, {high:.{digits}f}]" if low == low else "")
    return Cell(text, float(mean))


def listening_sections(run: Run, plot_dir: Path, heading: str = "") -> list[Section]:
    """Screening, MUSHRA scores per domain and metric agreement; [] without ratings."""
    analysis = load_analysis(run)
    if analysis is None:
        return []
    listeners = sorted(analysis.ratings["listener"].unique())
    kept = [n for n in listeners if n not in analysis.dropped]
    text = (
        f"MUSHRA (ITU-R BS.1534-3) of {run.run_id}: {len(listeners)} listener(s), {len(kept)} kept "
        "after post-screening (§9.3: hidden reference below 90 in more than 15 % of trials)."
    )
    screening = Table(
        "Listeners",
        ["Listener", "Trials rated", "Kept", "Why not"],
        [
            [
                Cell(name),
                Cell(str(n), n),
                Cell("no" if name in analysis.dropped else "yes"),
                Cell(analysis.dropped.get(name, "")),
            ]
            for name in listeners
            for n in [analysis.ratings.loc[analysis.ratings["listener"] == name, "trial"].nunique()]
        ],
    )
    sections = [Section(f"{heading}Listening test", tables=[screening], text=text)]
    if not analysis.scores.empty:
        sections.append(_scores_section(analysis.scores, heading))
    if not analysis.agreement.empty:
        sections.append(_agreement_section(analysis, plot_dir, heading))
    return sections


def _scores_section(scores: pd.DataFrame, heading: str) -> Section:
    domains = [ALL] + sorted(set(scores["domain"]) - {ALL})
    overall = scores[scores["domain"] == ALL].sort_values("mean", ascending=False)
    rows = []
    for r in overall.itertuples():
        row = [Cell(r.label)]
        for domain in domains:
            m = scores[(scores["domain"] == domain) & (scores["stimulus"] == r.stimulus)]
            row.append(_ci(*m[["mean", "ci_low", "ci_high"]].iloc[0]) if len(m) else Cell("—"))
        rows.append(row + [Cell(str(r.n), r.n)])
    columns = ["Condition"] + [f"{d} (mean [95% CI])" for d in domains] + ["Ratings"]
    return Section(
        f"{heading}MUSHRA scores",
        tables=[Table("Kept listeners", columns, rows)],
        text="0–100: Bad, Poor, Fair, Good, Excellent in steps of 20; bootstrap CIs.",
    )


def _agreement_section(analysis: Analysis, plot_dir: Path, heading: str) -> Section:
    rows, figures = [], []
    for r in analysis.agreement.sort_values("spearman", ascending=False).itertuples():
        rows.append(
            [Cell(r.metric), Cell("higher" if r.higher_is_better else "lower"), Cell(r.domains)]
            + [Cell(str(r.conditions), r.conditions)]
            + [
                _ci(*(getattr(r, f"{c}{s}") for s in ("", "_low", "_high")), 2)
                for c, _ in COEFFICIENTS
            ]
        )
        pts = analysis.points[analysis.points["metric"] == r.metric]
        fig = agreement_figure(pts, pd.Series(r._asdict()))
        figures.append(plots.save(fig, plot_dir / f"listen_{r.metric}", f"{r.metric} vs MUSHRA"))
    columns = ["Metric", "Better", "Domains", "Conditions"] + [n for _, n in COEFFICIENTS]
    return Section(
        f"{heading}How well each metric predicts the listeners",
        tables=[Table("Agreement across conditions", columns, rows)],
        figures=figures,
        text="Correlation over codec conditions of the metric's mean and the MUSHRA mean on the "
        "same clips, with 95% bootstrap CIs; lower-is-better metrics are negated first, so +1 "
        "always means full agreement with the listeners.",
    )


def write_results(run_dir: str | Path, add: list[Path]) -> tuple[list[Path], Analysis]:
    """Write ``RUN/listening/results/`` (results.md/.html/.json, csv tables, plots)."""
    run = load_run(run_dir)
    layout = Layout(run.path)
    import_exports(layout, load_test(layout), add)
    analysis = load_analysis(run)
    if analysis is None:
        raise EvalkitError(
            f"no ratings in {layout.ratings} yet: run `evalkit listen serve {run_dir}`"
        )
    out = layout.root / "results"
    sections = listening_sections(run, out / "plots")
    out.mkdir(parents=True, exist_ok=True)
    analysis.scores.to_csv(out / "mushra.csv", index=False)
    analysis.agreement.to_csv(out / "agreement.csv", index=False)
    analysis.ratings.to_csv(out / "ratings.csv", index=False)
    payload = {
        "dropped": analysis.dropped,
        "scores": json.loads(analysis.scores.to_json(orient="records")),
        "agreement": json.loads(analysis.agreement.to_json(orient="records")),
    }
    (out / "results.json").write_text(json.dumps(payload, indent=1))
    title = f"Listening test: {run.run_id}"
    (out / "results.md").write_text(markdown(title, sections, out))
    (out / "results.html").write_text(html(title, sections, f"run {run.path}"))
    names = ["results.html", "results.md", "results.json", "mushra.csv", "agreement.csv"]
    return [out / n for n in names] + sorted((out / "plots").glob("*.png")), analysis
