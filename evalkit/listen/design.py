"""What a listening test holds: its conditions and clips, chosen from a run's results.

Conditions are the run's (codec, bitrate) pairs; two budgets that resolved to the same codec
setting are one condition. Clips are chosen per domain with the rule ``--limit`` uses
(:func:`evalkit.datasets.select`), among the clips every chosen condition decoded.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from evalkit.datasets import Clip, load_dataset, select
from evalkit.errors import EvalkitError, UsageError
from evalkit.results.schema import OK

HIDDEN_REFERENCE = "reference"


@dataclass(frozen=True)
class Condition:
    codec: str
    bitrate_kbps: float  # the budget, as the run's rows and saved audio name it
    nominal_kbps: float

    @property
    def id(self) -> str:
        return f"{self.codec}@{self.bitrate_kbps:g}"

    @property
    def label(self) -> str:
        return f"{self.codec} {self.nominal_kbps:g} kbps"


def conditions(results: pd.DataFrame, wanted: str | None) -> list[Condition]:
    """The run's conditions, or those ``wanted`` names (``codec:kbps,...``, kbps the budget)."""
    pairs = results[["codec", "bitrate_kbps", "nominal_kbps"]].drop_duplicates()
    found: dict[tuple[str, float], Condition] = {}
    for codec, budget, nominal in sorted(pairs.itertuples(index=False)):
        found.setdefault((codec, float(nominal)), Condition(codec, float(budget), float(nominal)))
    every = sorted(found.values(), key=lambda c: (c.codec, c.nominal_kbps))
    if not wanted:
        return every
    by_id = {c.id: c for c in every}
    chosen = []
    for item in (w.strip() for w in wanted.split(",") if w.strip()):
        codec, _, kbps = item.partition(":")
        try:
            key = f"{codec}@{float(kbps):g}"
        except ValueError:
            raise UsageError(f"--conditions takes codec:kbps items, got {item!r}") from None
        if key not in by_id:
            known = ", ".join(c.id.replace("@", ":") for c in every)
            raise UsageError(f"--conditions {item!r} is not in this run; it holds {known}")
        chosen.append(by_id[key])
    return list(dict.fromkeys(chosen))


def run_clips(meta: dict) -> list[Clip]:
    """The run's clips, listed again from its dataset spec; refused if the audio changed."""
    config = meta.get("config") or {}
    dataset = load_dataset(
        config.get("dataset", meta["dataset"].get("spec", "default")),
        limit=config.get("limit"),
        segment_s=config.get("segment_s"),
    )
    if dataset.fingerprint() != meta["dataset"]["fingerprint"]:
        raise EvalkitError(
            "the run's dataset no longer holds the audio it scored (fingerprint "
            f"{dataset.fingerprint()} != {meta['dataset']['fingerprint']}); listeners would "
            "hear other clips than the metrics measured"
        )
    return list(dataset.clips)


def choose_clips(
    clips: list[Clip], results: pd.DataFrame, chosen: list[Condition], per_domain: int, seed: int
) -> list[Clip]:
    """``per_domain`` clips of each domain that every condition decoded (same rule as --limit)."""
    ok = results[(results["metric"] == "bitrate_measured_kbps") & (results["status"] == OK)]
    decoded: set[str] | None = None
    for c in chosen:
        rows = ok[(ok["codec"] == c.codec) & (ok["bitrate_kbps"] == c.bitrate_kbps)]
        decoded = set(rows["clip_id"]) if decoded is None else decoded & set(rows["clip_id"])
    usable = [c for c in clips if c.clip_id in (decoded or set())]
    if not usable:
        raise EvalkitError("no clip was decoded by every chosen condition; nothing to listen to")
    return select(usable, per_domain, seed)
