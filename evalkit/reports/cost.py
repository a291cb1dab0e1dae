"""The report's "Codec cost" section, from run.json's ``cost`` (evalkit.pipeline.cost)."""

from __future__ import annotations

from typing import Any

from evalkit.reports.render import Cell, Section, Table, number

COLUMNS = (
    "Codec", "Bitrate (kbps)", "Measured (kbps)", "Encode RTF", "Decode RTF", "Parameters",
    "Algorithmic latency (ms)", "Measured delay (ms)", "Frame rate (Hz)", "Tokens/s",
)  # fmt: skip


def _count(value: Any) -> Cell:
    if value is None:
        return Cell("—", None, numeric=True)
    return Cell(f"{value / 1e6:.2f} M", float(value), numeric=True)


def cost_section(meta: dict[str, Any]) -> Section | None:
    """One row per codec × bitrate; None for runs written before evalkit measured cost."""
    cost = meta.get("cost")
    if not cost or not cost.get("rows"):
        return None
    rows = [
        [
            Cell(r["codec"]),
            number(r["bitrate_kbps"], 1),
            number(r["measured_kbps"], 2),
            number(r["encode_rtf"], 3),
            number(r["decode_rtf"], 3),
            _count(r["parameters"]),
            number(r["algorithmic_latency_ms"], 1),
            number(r["measured_delay_ms"], 1),
            number(r["frame_rate_hz"], 1),
            number(r["tokens_per_s"], 0),
        ]
        for r in cost["rows"]
    ]
    note = (
        "RTF: processing seconds per second of audio, wall clock on a worker with "
        f"{cost['math_threads_per_worker']} math thread, device {cost['device']}, "
        f"{cost['workers']} workers side by side. Algorithmic latency: frame + look-ahead as the "
        "codec states them; measured delay: on evalkit's probe, after the container's own "
        "delay compensation. Tokens/s: code frames per second × codebooks used."
    )
    return Section("Codec cost", [Table("Cost per codec and bitrate", list(COLUMNS), rows, note)])
