"""Content-addressed result shards: written atomically, never read half-written.

A shard holds the rows of one (codec identity, bitrate, clip, metric set). Its name is a hash of
everything that determines its values, so re-running the same command finds it and skips the work,
and changing a checkpoint, a metric version or the pipeline makes a new one. A file appears only
by ``os.replace`` of a complete temporary file, so a crash mid-write leaves no shard behind.

Layout: ``<root>/<codec hash>/<shard key>.parquet`` for rows and
``<clip-bitrate key>.codes.parquet`` for code histograms (written whenever the codec ran).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.atomic import atomic_path
from evalkit.results.schema import CODES_COLUMNS, ERROR, RESULT_COLUMNS, conform

#: bump when the pipeline changes values (alignment, resampling, channel handling)
FAILED = ".failed"  # suffix of shards that hold error rows (reported, retried on re-run)
PIPELINE_VERSION = "2"  # 2: envelope fallback in delay estimation


def digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def default_root() -> Path:
    return Path(os.environ.get("EVALKIT_CACHE", Path.home() / ".cache" / "evalkit")) / "shards"


class ShardStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def codec_dir(self, codec_identity: str) -> Path:
        return self.root / digest(codec_identity, PIPELINE_VERSION)

    @staticmethod
    def unit_key(clip_key: str, budget_kbps: float) -> str:
        """(clip, bitrate) within a codec: the prefix of every shard of that pair."""
        return digest(clip_key, f"{budget_kbps:g}")

    @staticmethod
    def shard_key(unit: str, metric_fingerprints: list[str]) -> str:
        return f"{unit}-{digest(sorted(metric_fingerprints))}"

    def existing(self, codec_identity: str, include_failed: bool = False) -> set[str]:
        """Shard keys of a codec (one directory listing, not one stat per shard).

        Shards holding an ``error`` row are kept as ``<key>.failed``: their rows are reported,
        but they do not count as finished, so a re-run or ``--resume`` tries them again (a
        crashed worker or a fixed file must not stay an error forever).
        """
        d = self.codec_dir(codec_identity)
        if not d.is_dir():
            return set()
        keys = {
            e.name[: -len(".parquet")]
            for e in os.scandir(d)
            if e.name.endswith(".parquet") and not e.name.endswith(".codes.parquet")
        }
        if include_failed:  # a failed shard that has since succeeded is superseded
            return {k for k in keys if not (k.endswith(FAILED) and k[: -len(FAILED)] in keys)}
        return {k for k in keys if not k.endswith(FAILED)}

    def existing_by_unit(
        self, codec_identity: str, include_failed: bool = False
    ) -> dict[str, list[str]]:
        """Shard keys of a codec grouped by their (clip, bitrate) unit, sorted: one lookup per
        unit instead of a scan of every shard (runs of 10^5 shards stay linear)."""
        grouped: dict[str, list[str]] = {}
        for key in sorted(self.existing(codec_identity, include_failed)):
            grouped.setdefault(key.split("-", 1)[0], []).append(key)
        return grouped

    def write_rows(self, codec_identity: str, key: str, rows: list[dict[str, Any]]) -> None:
        df = conform(pd.DataFrame(rows), RESULT_COLUMNS).drop(columns=["run_id"])
        failed = bool((df["status"] == ERROR).any())
        self._atomic(
            self.codec_dir(codec_identity) / f"{key}{FAILED if failed else ''}.parquet", df
        )
        if not failed:
            (self.codec_dir(codec_identity) / f"{key}{FAILED}.parquet").unlink(missing_ok=True)

    def write_codes(self, codec_identity: str, unit: str, rows: list[dict[str, Any]]) -> None:
        self._atomic(
            self.codec_dir(codec_identity) / f"{unit}.codes.parquet",
            conform(pd.DataFrame(rows), CODES_COLUMNS).drop(columns=["run_id"]),
        )

    def read_rows(self, codec_identity: str, key: str) -> pd.DataFrame:
        return pd.read_parquet(self.codec_dir(codec_identity) / f"{key}.parquet")

    def read_codes(self, codec_identity: str, unit: str) -> pd.DataFrame | None:
        path = self.codec_dir(codec_identity) / f"{unit}.codes.parquet"
        return pd.read_parquet(path) if path.exists() else None

    @staticmethod
    def _atomic(path: Path, df: pd.DataFrame) -> None:
        with atomic_path(path) as tmp:
            df.to_parquet(tmp, index=False)
