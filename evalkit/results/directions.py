"""Which way is better for each value in the results.

A run records the direction of every value it measured in ``run.json`` (``directions``), taken
from the metric classes when it ran: reports, leaderboards and the gate read it from there and
need none of the metric plug-ins installed. Only run folders written before the record existed
fall back to asking the registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from evalkit.errors import EvalkitError
from evalkit.results.schema import BITRATE_ROWS

Directions = Mapping[str, bool]  # value name -> higher is better


def of_metrics(names: Iterable[str]) -> dict[str, bool]:
    """The directions of the outputs of these registered metrics, plus the bitrate rows.

    Raises:
        EvalkitError: a metric plug-in cannot be loaded.
    """
    from evalkit import registry

    found = dict(BITRATE_ROWS)
    for name in names:
        try:
            cls = registry.load(registry.METRICS, name)
        except ImportError as exc:
            raise EvalkitError(
                f"cannot load metric plug-in {name!r} to learn its direction: {exc}"
            ) from exc
        for output in cls.outputs or (cls.name,):  # class metadata, without building it
            found[output] = bool(cls.higher_is_better)
    return found


def registered() -> dict[str, bool]:
    """Directions of every registered metric (for run folders that predate the record)."""
    from evalkit import registry

    return of_metrics(registry.names(registry.METRICS))


def higher_is_better(metric: str, directions: Directions) -> bool:
    """True where a larger value of ``metric`` is better.

    Raises:
        EvalkitError: the run records no direction for this value.
    """
    if metric not in directions:
        raise EvalkitError(
            f"metric {metric!r} has no recorded direction (known: "
            f"{', '.join(sorted(directions)) or 'none'}); install the plug-in that wrote it"
        )
    return bool(directions[metric])
