"""``evalkit codecs`` and ``evalkit metrics``: what is installed, one line each."""

from __future__ import annotations

from evalkit import registry
from evalkit.cli._app import app
from evalkit.cli.common import console, err_console, user_errors
from evalkit.errors import EvalkitError


def _say(text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True)


@app.command()
def codecs() -> None:
    """List registered codecs: bitrates offered, input rate and channels, what it is."""
    with user_errors():
        for name in registry.names(registry.CODECS):
            try:
                cls = registry.load(registry.CODECS, name)
            except EvalkitError as exc:  # a broken plug-in is listed with its cause
                err_console.print(f"{name:14} {exc}", highlight=False, soft_wrap=True)
                continue
            try:
                offered = cls.describe_bitrates(cls.__new__(cls))
            except Exception as exc:  # a plug-in that cannot describe itself still gets listed
                offered = f"(cannot list bitrates: {exc})"
            rate = f"{cls.sample_rate_hz} Hz" if cls.sample_rate_hz else "any rate"
            ch = {None: "any channels", 1: "mono", 2: "stereo"}.get(
                cls.channels, f"{cls.channels} ch"
            )
            _say(f"[bold]{name:14}[/] {offered:27} {rate:9} {ch:12} {cls.description}")


@app.command()
def metrics() -> None:
    """List registered metrics: domains where they apply, evaluation rate, direction."""
    with user_errors():
        for name in registry.names(registry.METRICS):
            cls = registry.load(registry.METRICS, name)
            rate = f"{cls.sample_rate_hz} Hz" if cls.sample_rate_hz else "clip rate"
            better = "higher ↑" if cls.higher_is_better else "lower ↓"
            opt_in = "" if cls.in_default_run else f" (opt-in: --metrics {name})"
            _say(
                f"[bold]{name:14}[/] {', '.join(cls.domains):28} {rate:9} {better:8} "
                f"{cls.description}{opt_in}"
            )
