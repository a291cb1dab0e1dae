"""Rate–distortion and codebook plots (matplotlib, no display needed), saved as PNG and SVG."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from evalkit.reports.render import Figure
from evalkit.reports.tables import domain_order
from evalkit.results.summary import ALL, directions_of

#: names from results are drawn as plain text: a '$' in a codec name must not start mathtext
STYLE = {"text.parse_math": False, "svg.fonttype": "path", "font.size": 10}
PANEL_IN = 4.2
LEGEND_IN = 1.5


def colours_for(codecs: list[str]) -> dict[str, tuple]:
    """One colour per codec, assigned by sorted name, so a codec keeps it across panels."""
    cmap = mpl.colormaps["tab10" if len(codecs) <= 10 else "tab20"]
    return {c: cmap(i % cmap.N) for i, c in enumerate(sorted(codecs))}


def ci_errorbar(
    ax: Axes, x: pd.Series, mean: pd.Series, low: pd.Series, high: pd.Series, **style: object
) -> None:
    """Means with their confidence intervals as error bars (an interval not computed: no bar)."""
    yerr = np.vstack([mean - low, high - mean])
    ax.errorbar(x, mean, yerr=np.where(np.isfinite(yerr), yerr, 0.0), capsize=3, **style)


def rd_figure(summary: pd.DataFrame, metric: str) -> MplFigure:
    """``metric`` against measured bitrate: a line per codec, one panel per domain, 95% CI bars."""
    sel = summary[(summary["metric"] == metric) & (summary["source"] == ALL)]
    sel = sel[np.isfinite(sel["mean"]) & np.isfinite(sel["measured_kbps"])]
    domains = [d for d in domain_order(sel["domain"].unique().tolist()) if d != ALL]
    domains = [d for d in domains if d in set(sel["domain"])] or [ALL]
    colours = colours_for(sel["codec"].unique().tolist())
    with mpl.rc_context(STYLE):
        width = PANEL_IN * len(domains) + LEGEND_IN
        fig = MplFigure(figsize=(width, PANEL_IN * 0.8), layout="constrained")
        axes = fig.subplots(1, len(domains), squeeze=False, sharey=True)[0]
        for ax, domain in zip(axes, domains, strict=True):
            part = sel[sel["domain"] == domain]
            for codec, g in part.groupby("codec", sort=True):
                g = g.sort_values("measured_kbps")
                ci_errorbar(
                    ax,
                    g["measured_kbps"],
                    g["mean"],
                    g["ci_low"],
                    g["ci_high"],
                    marker="o",
                    label=codec,
                    color=colours[codec],
                )
            ax.set_xscale("log")
            # plain numbers: the default log labels are mathtext, which STYLE turns off
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_title(domain)
            ax.set_xlabel("measured bitrate (kbps, log scale)")
            ax.grid(True, which="both", alpha=0.3)
        better = "higher" if directions_of(summary)[metric] else "lower"
        axes[0].set_ylabel(f"{metric} (mean, 95% CI; {better} is better)")
        handles, labels = axes[0].get_legend_handles_labels()
        for ax in axes[1:]:
            h, lab = ax.get_legend_handles_labels()
            handles += [x for x, n in zip(h, lab, strict=True) if n not in labels]
            labels += [n for n in lab if n not in labels]
        fig.legend(handles, labels, loc="outside right upper", title="codec")
        fig.suptitle(f"{metric} vs measured bitrate")
    return fig


def codebook_figure(codebooks: pd.DataFrame, codec: str) -> MplFigure:
    """Per-codebook utilisation and entropy (against its log2(size) ceiling) at each bitrate."""
    sel = codebooks[(codebooks["codec"] == codec) & (codebooks["domain"] == ALL)]
    bitrates = sorted(sel["bitrate_kbps"].unique())
    width = 0.8 / max(len(bitrates), 1)
    with mpl.rc_context(STYLE):
        fig = MplFigure(figsize=(2 * PANEL_IN + 1, PANEL_IN * 0.8), layout="constrained")
        util_ax, ent_ax = fig.subplots(1, 2)
        for i, bitrate in enumerate(bitrates):
            g = sel[sel["bitrate_kbps"] == bitrate].sort_values("codebook")
            x = g["codebook"].to_numpy() + (i - (len(bitrates) - 1) / 2) * width
            label = f"{bitrate:g} kbps"
            util_ax.bar(x, 100 * g["utilisation"], width=width, label=label)
            ent_ax.bar(x, g["entropy_bits"], width=width, label=label)
        if not sel.empty:
            ceiling = sel.groupby("codebook")["codebook_size"].max()
            ent_ax.hlines(
                np.log2(ceiling.to_numpy()),
                ceiling.index.to_numpy() - 0.45,
                ceiling.index.to_numpy() + 0.45,
                colors="k",
                linestyles="--",
                label="log2(codebook size)",
            )
        util_ax.set_ylabel("utilisation (% of entries used)")
        util_ax.set_ylim(0, 105)
        ent_ax.set_ylabel("entropy (bits per code)")
        for ax in (util_ax, ent_ax):
            ax.set_xlabel("codebook (quantizer stage)")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(True, axis="y", alpha=0.3)
        fig.legend(*ent_ax.get_legend_handles_labels(), loc="outside right upper", title="bitrate")
        fig.suptitle(f"{codec}: codebook usage over all clips")
    return fig


def save(fig: MplFigure, stem: Path, caption: str) -> Figure:
    """Write ``stem``.png and ``stem``.svg; return the SVG for embedding."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    with mpl.rc_context(STYLE):
        fig.savefig(stem.with_suffix(".png"), dpi=110)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    stem.with_suffix(".svg").write_bytes(svg)
    return Figure(caption=caption, svg=svg, png=stem.with_suffix(".png"))
