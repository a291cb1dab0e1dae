"""One registry for pluggable parts, fed by Python entry points.

Built-in codecs and metrics register through the same entry-point groups (``evalkit.codecs``,
``evalkit.metrics``) as third-party packages, so ``pip install my-codec`` makes ``--codec my-codec``
work and there is no second list to keep in step.
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from evalkit.errors import UsageError

CODECS = "evalkit.codecs"
METRICS = "evalkit.metrics"
_KIND = {CODECS: "codec", METRICS: "metric"}


@cache
def _entry_points(group: str) -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=group):
        if ep.name in found and found[ep.name].value != ep.value:
            raise UsageError(
                f"two packages register {_KIND[group]} {ep.name!r}: "
                f"{found[ep.name].value} and {ep.value}; uninstall one of them"
            )
        found[ep.name] = ep
    return found


def names(group: str) -> list[str]:
    """Every registered name of a group, sorted."""
    return sorted(_entry_points(group))


def load(group: str, name: str) -> type:
    """The class registered under ``name``, with a did-you-mean hint when unknown."""
    eps = _entry_points(group)
    kind = _KIND[group]
    if name not in eps:
        hint = difflib.get_close_matches(name, eps, n=1)
        extra = f" Did you mean {hint[0]!r}?" if hint else ""
        raise UsageError(
            f"unknown {kind} {name!r}.{extra} Known: {', '.join(sorted(eps))}. "
            f"Plug-ins register under the {group!r} entry-point group."
        )
    try:
        cls = eps[name].load()
    except Exception as exc:  # a broken plug-in must not take the whole CLI down with a traceback
        raise UsageError(
            f"{kind} {name!r} is registered by {eps[name].value} but cannot be loaded: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if getattr(cls, "name", None) != name:
        raise UsageError(f"entry point {name!r} loads {cls!r}, whose name is {cls.name!r}")
    return cls


def parse_list(group: str, text: str) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]``, each checked against the registry (fails fast, before work)."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise UsageError(f"no {_KIND[group]} named in {text!r}")
    if group == METRICS:
        items = list(dict.fromkeys(metric_of_output(item) for item in items))
    for item in items:
        load(group, item)
    return items


def metric_of_output(name: str) -> str:
    """The metric that computes output ``name`` (``pesq_wb`` -> ``pesq``), as tables name values
    by output; a metric's own name, or an unknown one, comes back unchanged."""
    eps = _entry_points(METRICS)
    if name in eps:
        return name
    for metric in sorted(eps):
        try:
            cls = load(METRICS, metric)
        except UsageError:  # a broken plug-in is reported when it is asked for
            continue
        if name in (cls.outputs or (cls.name,)):
            return metric
    return name
