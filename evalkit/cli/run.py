"""``evalkit run``: evaluate codecs on a dataset."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from evalkit.cli._app import app
from evalkit.cli.common import console, parse_floats, print_table, user_errors
from evalkit.errors import UsageError
from evalkit.pipeline.config import RunConfig
from evalkit.pipeline.runner import evaluate
from evalkit.results.summary import ALL


def parse_checkpoints(values: list[str], codecs: tuple[str, ...]) -> dict[str, str]:
    """``NAME=PATH`` per codec, or a plain ``PATH`` when exactly one codec is run (the files are
    checked with the rest of the settings, by :meth:`RunConfig.resolved`)."""
    out: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            if len(codecs) != 1:
                raise UsageError(f"--checkpoint {value!r}: with several codecs, write NAME=PATH")
            name, path = codecs[0], value
        if name in out:
            raise UsageError(f"--checkpoint given twice for {name!r}")
        out[name] = path
    return out


@contextlib.contextmanager
def rich_progress(total: int, dashboard: str | None):
    if dashboard:
        console.print(f"Dask dashboard: {dashboard}")
    started = time.perf_counter()
    failures = 0
    with Progress(
        TextColumn("[bold]evaluating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tasks · [red]{task.fields[failures]} failed[/] · {task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        bar = progress.add_task("run", total=total, failures=0, rate="")

        def update(task, result) -> None:
            nonlocal failures
            failures += result.failures
            done = progress.tasks[bar].completed + 1
            rate = done / max(time.perf_counter() - started, 1e-9) * 60
            progress.update(bar, advance=1, failures=failures, rate=f"{rate:.1f} clips/min")

        yield update


@app.command()
def run(
    codec: Annotated[
        str,
        typer.Option(
            "--codec", "-c", help="Codec name(s), comma-separated (see `evalkit codecs`)."
        ),
    ] = "",
    bitrates: Annotated[
        str,
        typer.Option(
            "--bitrates",
            "-b",
            help="Bitrate budgets in kbps, comma-separated. Each codec runs at its highest setting "
            "that fits each budget; a budget below a codec's lowest setting is skipped for it "
            "(an error if none is left).",
        ),
    ] = "",
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            "-d",
            help="`default` (the embedded set), `folder:PATH[:DOMAIN]`, "
            "`manifest:FILE[:allow-outside]` (paths may leave the manifest's folder) or "
            "`NAME:ROOT` (see `evalkit datasets`).",
        ),
    ] = "default",
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default: runs/<UTC time>-<codecs>/).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Local Dask worker processes (default: one per core).")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Address of an existing Dask scheduler (tcp://HOST:PORT) instead of a local one."
        ),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(
            help="Metric(s) or their outputs (pesq_wb), comma-separated (default: all but those "
            "`evalkit metrics` marks opt-in)."
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="At most N clips per domain (stratified, seeded).")
    ] = None,
    segment: Annotated[
        float | None, typer.Option(help="Cut long files into windows of this many seconds.")
    ] = None,
    checkpoint: Annotated[
        list[str] | None,
        typer.Option(
            help="Weights for a codec: NAME=PATH (repeatable), or PATH when one codec is run."
        ),
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
    save_audio: Annotated[
        bool, typer.Option(help="Keep decoded audio as audio/<codec>/<bitrate>/<clip_id>.flac.")
    ] = False,
    profile: Annotated[
        str | None,
        typer.Option(
            help="Preset: `ci` runs a fixed small subset (2 clips per domain) for regression gates."
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue an interrupted run in this folder with its own settings."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds before a hung task becomes error rows.")
    ] = 1800.0,
    strict: Annotated[
        bool,
        typer.Option(
            help="Exit 1 when any value failed (by default failures are data and the exit is 0)."
        ),
    ] = False,
    pairs: Annotated[
        str | None,
        typer.Option(
            help="Score decoded files instead of coding: a folder laid out like --dataset "
            "(--codec/--bitrates label it) or a manifest FILE[:DOMAIN][:allow-outside] of "
            "reference,degraded pairs (docs/pairs.md)."
        ),
    ] = None,
    align: Annotated[
        str,
        typer.Option(
            help="With --pairs: lag for sample-aligned metrics, none or estimate (one per pair, "
            "recorded in lag_samples); PESQ and ViSQOL always get the files as they are."
        ),
    ] = "none",
) -> None:
    """Encode, decode and score every clip of a dataset; print the summary and the run folder.

    Example: evalkit run --codec opus,mp3 --bitrates 8,16,24
    """
    with user_errors():
        if resume is not None:
            given = {
                "--codec": codec, "--bitrates": bitrates, "--out": out, "--metrics": metrics,
                "--limit": limit, "--segment": segment, "--checkpoint": checkpoint,
                "--profile": profile, "--dataset": dataset != "default", "--pairs": pairs,
                "--align": align != "none",
            }  # fmt: skip
            if ignored := [flag for flag, value in given.items() if value]:
                raise UsageError(
                    f"--resume replays the run's own settings; drop {', '.join(ignored)} "
                    "(or start a new run without --resume)"
                )
            config, out = RunConfig.from_run(resume), resume
        else:
            if out is not None and (out / "run.json").exists():
                raise UsageError(
                    f"{out} already holds a run; continue it with `evalkit run --resume {out}`, "
                    "or give another --out (delete the folder to start it over)"
                )
            codecs = tuple(c.strip() for c in codec.split(",") if c.strip())
            run_codecs = RunConfig(codecs=codecs, profile=profile).with_profile().codecs
            config = RunConfig(
                codecs=codecs,
                bitrates_kbps=parse_floats(bitrates, "--bitrates") if bitrates else (),
                dataset=dataset,
                metrics=tuple(m.strip() for m in metrics.split(",")) if metrics else None,
                limit=limit,
                segment_s=segment,
                workers=workers,
                scheduler=scheduler,
                checkpoints=parse_checkpoints(checkpoint or [], run_codecs),
                device=device,
                save_audio=save_audio,
                profile=profile,
                timeout_s=timeout,
                pairs=pairs,
                align=align,
            )
        started = time.perf_counter()
        try:
            run_dir = evaluate(config, out, progress_factory=rich_progress, argv=sys.argv)
        except KeyboardInterrupt:
            console.print(
                "[yellow]interrupted[/]: finished shards are kept; continue with "
                f"`evalkit run --resume {out or 'RUN_DIR'}`"
            )
            raise typer.Exit(code=130) from None
    show_summary(run_dir)  # skipped budgets were reported as the run started
    console.print(f"run folder: [bold]{run_dir}[/] ({time.perf_counter() - started:.0f} s)")
    if strict and _has_failures(run_dir):
        raise typer.Exit(code=1)


def show_summary(run_dir: Path) -> None:
    """Per domain, the mean of every metric measured there; summary.csv has the CIs."""
    import pandas as pd

    summary = pd.read_csv(run_dir / "summary.csv")
    summary = summary[summary["source"] == ALL]  # lossless/lossy-source splits: see the report
    shown = summary[(summary["metric"] != "bitrate_container_kbps") & (summary["n"] > 0)]
    for domain, table in shown[shown["domain"] != ALL].groupby("domain", sort=True):
        wide = table.pivot_table(
            index=["codec", "bitrate_kbps"], columns="metric", values="mean", sort=True
        ).reset_index()
        wide.columns.name = None
        wide = wide.rename(columns={"bitrate_kbps": "kbps", "bitrate_measured_kbps": "measured"})
        print_table(wide, title=f"{domain}: mean per codec × bitrate (95% CIs in summary.csv)")
    per_codec = summary[summary["domain"] == ALL].groupby("codec")["errors"].sum()
    if per_codec.sum():
        failed = ", ".join(f"{codec} {int(n)}" for codec, n in per_codec.items() if n)
        missing = sorted(set(summary["codec"]) - set(shown["codec"]))
        nothing = f"; no value at all from {', '.join(missing)}" if missing else ""
        console.print(
            f"[red]{int(per_codec.sum())} values failed[/] ({failed}{nothing}): see the error "
            "column of results.csv"
        )


def _has_failures(run_dir: Path) -> bool:
    import pandas as pd

    return bool((pd.read_parquet(run_dir / "results.parquet")["status"] == "error").any())
