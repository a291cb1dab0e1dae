"""Which way is better for each metric value name, read from the metric classes themselves.

The registry is the one list of metrics; only the bitrate rows the pipeline writes itself have
no metric class, so they are named here.
"""

from __future__ import annotations

from functools import cache

from evalkit import registry
from evalkit.errors import EvalkitError

#: bitrate rows written by the pipeline: fewer bits for the same audio is better
BITRATE_ROWS: dict[str, bool] = {"bitrate_measured_kbps": False, "bitrate_container_kbps": False}


@cache
def _registered() -> dict[str, bool]:
    found: dict[str, bool] = {}
    for name in registry.names(registry.METRICS):
        try:
            cls = registry.load(registry.METRICS, name)
        except ImportError as exc:
            raise EvalkitError(
                f"cannot load metric plug-in {name!r} to learn its direction: {exc}"
            ) from exc
        # class-level metadata, as Metric.output_names() computes it, without building the metric
        for output in cls.outputs or (cls.name,):
            found[output] = bool(cls.higher_is_better)
    return found


def higher_is_better(metric: str) -> bool:
    """True where a larger value of this result metric is better.

    Raises:
        EvalkitError: the metric is neither a bitrate row nor an output of a registered metric.
    """
    if metric in BITRATE_ROWS:
        return BITRATE_ROWS[metric]
    known = _registered()
    if metric not in known:
        raise EvalkitError(
            f"metric {metric!r} in the results is not an output of any registered metric "
            f"(known: {', '.join(sorted(known)) or 'none'}); install the plug-in that wrote it"
        )
    return known[metric]
