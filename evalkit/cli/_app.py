"""The Typer application object that every command module attaches to."""

import typer

app = typer.Typer(
    name="evalkit",
    help=(
        "Benchmark neural audio codecs: encode, decode and score real speech, music and "
        "environmental sound on bitrate, PESQ, STOI, ViSQOL, mel distance and codebook entropy.\n\n"
        "Start with:  evalkit run --codec rvq --bitrates 1.5,3,6"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
