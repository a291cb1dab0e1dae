"""``evalkit listen``: build a MUSHRA test from a run, serve it, analyse the ratings."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli._app import app
from evalkit.cli.common import print_table, user_errors
from evalkit.errors import UsageError

listen = typer.Typer(
    help="Listening tests (MUSHRA, ITU-R BS.1534-3) from a run folder, and how well each metric "
    "predicts the listeners.",
    no_args_is_help=True,
)
app.add_typer(listen, name="listen")
RunDir = Annotated[Path, typer.Argument(help="A run folder written by evalkit run.")]


@listen.command()
def build(
    run_dir: RunDir,
    clips: Annotated[int, typer.Option(help="Clips (trials) per domain, chosen as --limit.")] = 4,
    conditions: Annotated[
        str | None,
        typer.Option(help="codec:kbps,... to test (default: every codec × bitrate of the run)."),
    ] = None,
    seconds: Annotated[float, typer.Option(help="Length of each excerpt (loudest part).")] = 4.0,
    seed: Annotated[int, typer.Option(help="Which clips --clips picks.")] = 0,
) -> None:
    """Write RUN/listening/test/: one offline page and its FLAC stimuli."""
    from evalkit.listen.build import build_test

    with user_errors():
        if clips < 1 or not 0.5 <= seconds <= 30:
            raise UsageError("--clips must be at least 1 and --seconds within 0.5-30")
        index = build_test(run_dir, clips, conditions, seconds, seed)
    size = sum(p.stat().st_size for p in index.parent.rglob("*") if p.is_file())
    typer.echo(f"wrote {index} ({size / 1e6:.1f} MB); next: evalkit listen serve {run_dir}")


@listen.command()
def serve(
    run_dir: RunDir,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
) -> None:
    """Serve the test on http://127.0.0.1:PORT/ and save every finished trial in RUN/listening."""
    from evalkit.listen.serve import make_server

    with user_errors():
        server = make_server(run_dir, port)
    typer.echo(f"listening test of {run_dir} on http://127.0.0.1:{server.server_address[1]}/")
    typer.echo("ratings go to " + str(run_dir / "listening" / "ratings") + "; Ctrl-C stops")
    with contextlib.suppress(KeyboardInterrupt), server:
        server.serve_forever()


@listen.command()
def results(
    run_dir: RunDir,
    add: Annotated[
        list[Path] | None,
        typer.Option(help="Ratings exported from the page elsewhere, copied in first."),
    ] = None,
) -> None:
    """Screen listeners (BS.1534-3 §9.3), MUSHRA scores with 95% CIs, metric agreement."""
    from evalkit.listen.results import write_results

    with user_errors():
        written, analysis = write_results(run_dir, add or [])
    for listener, why in analysis.dropped.items():
        typer.echo(f"screened out: {listener}: {why}")
    overall = analysis.scores[analysis.scores["domain"] == "all"].sort_values(
        "mean", ascending=False
    )
    print_table(overall[["label", "mean", "ci_low", "ci_high", "n"]], "MUSHRA scores, all domains")
    if not analysis.agreement.empty:
        columns = ["metric", "conditions", "pearson", "spearman", "kendall"]
        print_table(analysis.agreement[columns], "Agreement with the listeners (sign-adjusted)")
    typer.echo("\n".join(str(p) for p in written))
