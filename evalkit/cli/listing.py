"""``evalkit codecs`` and ``evalkit metrics``: what is installed, one line each."""

from __future__ import annotations

from evalkit import registry
from evalkit.cli._app import app
from evalkit.cli.common import console, user_errors


@app.command()
def codecs() -> None:
    """List registered codecs with the bitrates they offer and their rates."""
    with user_errors():
        for name in registry.names(registry.CODECS):
            cls = registry.load(registry.CODECS, name)
            try:
                offered = cls.describe_bitrates(cls.__new__(cls))
            except Exception as exc:  # a plug-in that cannot describe itself still gets listed
                offered = f"(cannot list bitrates: {exc})"
            rate = f"{cls.sample_rate_hz} Hz" if cls.sample_rate_hz else "any rate"
            ch = {None: "any channels", 1: "mono", 2: "stereo"}.get(
                cls.channels, f"{cls.channels} ch"
            )
            console.print(
                f"[bold]{name:16}[/] {offered:40} {rate}, {ch} — {cls.description}", highlight=False
            )


@app.command()
def metrics() -> None:
    """List registered metrics with their domains, evaluation rate and direction."""
    with user_errors():
        for name in registry.names(registry.METRICS):
            cls = registry.load(registry.METRICS, name)
            rate = f"{cls.sample_rate_hz} Hz" if cls.sample_rate_hz else "clip rate"
            better = "higher" if cls.higher_is_better else "lower"
            console.print(
                f"[bold]{name:14}[/] {', '.join(cls.domains):34} {rate:10} "
                f"{better} is better — {cls.description}",
                highlight=False,
            )
