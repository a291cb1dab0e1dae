"""Built-in metrics, registered under the ``evalkit.metrics`` entry-point group."""

from __future__ import annotations

from evalkit import registry
from evalkit.metrics.base import DOMAINS


def applicability_table() -> str:
    """README's metric × domain × evaluation-rate table, generated from the registered classes."""
    head = ["metric", "values", *DOMAINS, "evaluated at", "channels", "better"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in registry.names(registry.METRICS):
        cls = registry.load(registry.METRICS, name)
        m = cls()
        cells = [
            f"`{name}`",
            ", ".join(f"`{o}`" for o in m.output_names()),
            *("yes" if m.applies_to(d) else "—" for d in DOMAINS),
            cls.rate_label(),
            "mono mix" if cls.mono else "as coded",
            "higher" if cls.higher_is_better else "lower",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
