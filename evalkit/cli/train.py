"""``evalkit train rvq``: train (or resume training) the in-house RVQ codec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli._app import app
from evalkit.cli.common import console, user_errors
from evalkit.errors import UsageError


@app.command()
def train(
    codec: Annotated[str, typer.Argument(help="The codec to train; only `rvq` is trainable.")],
    data: Annotated[
        list[Path],
        typer.Option(
            help="Audio file or folder (repeatable). Folders named speech/, music/ or "
            "environmental/ directly under PATH are sampled equally often."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Run folder: checkpoint.pt, model.pt, log.csv.")],
    steps: Annotated[int, typer.Option(help="Total training steps (a resumed run counts on).")] = (
        10_000
    ),
    resume: Annotated[bool, typer.Option(help="Continue from OUT/checkpoint.pt.")] = False,
    init: Annotated[
        Path | None,
        typer.Option(
            help="Start from this inference checkpoint's weights (fine-tune, e.g. "
            "codecs/rvq/rvq.pt); optimizer and schedule start fresh."
        ),
    ] = None,
    discriminator: Annotated[
        str,
        typer.Option(
            help="Adversarial + feature-matching losses from `stft` (EnCodec's multi-scale "
            "complex-STFT discriminator; 18x slower steps on a CPU), `magnitude` (one "
            "log-magnitude scale, about 2.5x slower: against over-smoothed spectra on a CPU) or "
            "`none` (spectral losses only)."
        ),
    ] = "stft",
    device: Annotated[str, typer.Option(help="Torch device: cpu, cuda, cuda:1 ...")] = "cpu",
    batch_size: Annotated[int, typer.Option(help="Crops per step.")] = 8,
    crop_seconds: Annotated[float, typer.Option(help="Length of each training crop.")] = 1.0,
    max_minutes: Annotated[
        float | None,
        typer.Option(
            help="Stop by wall clock, counted from this start; the LR schedule follows it "
            "(with --resume: a new warm-restart cosine cycle from the peak LR)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = 0,
    threads: Annotated[int | None, typer.Option(help="Torch CPU threads.")] = None,
) -> None:
    """Train the RVQ codec on real audio; the result OUT/model.pt loads with --checkpoint.

    Ctrl-C once stops after the current step and still writes OUT/checkpoint.pt and OUT/model.pt.

    Example: evalkit train rvq --data .traindata --steps 2000 --out runs/rvq --discriminator none
    """
    with user_errors():
        if codec != "rvq":
            raise UsageError(f"codec {codec!r} cannot be trained here; only 'rvq' can")
        if steps < 1 or batch_size < 1:
            raise UsageError("--steps and --batch-size must be at least 1")
        from evalkit.codecs.rvq.train import TrainConfig
        from evalkit.codecs.rvq.train import train as run_training

        cfg = TrainConfig(
            data=tuple(str(p) for p in data),
            out=str(out),
            steps=steps,
            batch_size=batch_size,
            crop_s=crop_seconds,
            discriminator=discriminator,
            seed=seed,
            device=device,
            threads=threads,
            max_minutes=max_minutes,
            init=str(init) if init else None,
        )
        try:
            model = run_training(cfg, resume=resume)
        except (FileNotFoundError, ValueError) as e:
            raise UsageError(str(e)) from e
    console.print(f"model: {model}")
