"""One scatter plot per metric: metric mean against MUSHRA mean, a point per codec condition."""

from __future__ import annotations

import matplotlib as mpl
import pandas as pd
from matplotlib.figure import Figure as MplFigure

from evalkit.reports.plots import PANEL_IN, STYLE, ci_errorbar, colours_for


def agreement_figure(points: pd.DataFrame, row: pd.Series) -> MplFigure:
    """``row`` is the metric's line of the agreement table (its coefficients go in the title)."""
    colours = colours_for(points["codec"].unique().tolist())
    with mpl.rc_context(STYLE):
        fig = MplFigure(figsize=(PANEL_IN * 1.25, PANEL_IN), layout="constrained")
        ax = fig.subplots()
        for codec, g in points.groupby("codec", sort=True):
            ci_errorbar(
                ax,
                g["metric_mean"],
                g["mushra_mean"],
                g["mushra_ci_low"],
                g["mushra_ci_high"],
                fmt="o",
                color=colours[codec],
                label=codec,
            )
            for r in g.itertuples():
                ax.annotate(
                    r.label.split(" ", 1)[1],
                    (r.metric_mean, r.mushra_mean),
                    fontsize=7,
                    xytext=(4, 3),
                    textcoords="offset points",
                )
        better = "higher" if row["higher_is_better"] else "lower"
        ax.set_xlabel(f"{row['metric']} (mean over the test's clips; {better} is better)")
        ax.set_ylabel("MUSHRA score (mean, 95% CI)")
        ax.set_ylim(0, 100)
        ax.grid(True, alpha=0.3)
        ax.legend(title="codec", fontsize=8)
        ax.set_title(
            f"{row['metric']}: r = {row['pearson']:.2f}, ρ = {row['spearman']:.2f}, "
            f"τ = {row['kendall']:.2f}",
            fontsize=10,
        )
    return fig
