"""Content-addressed result shards: written atomically, never read half-written.

A shard holds the rows of one (codec identity, bitrate, clip, metric set). Its name is a hash of
everything that determines its values, so re-running the same command finds it and skips the work,
and changing a checkpoint, a metric version or the pipeline makes a new one. A file appears only
by ``os.replace`` of a complete, fsynced temporary file, so a crash mid-write leaves no shard
behind. What is read is checked all the same (a cache may be copied, shared, or damaged by a
disk): a shard that cannot be read as a table of result rows is moved aside once, with a warning,
and counts as missing, so the run recomputes it. A write that fails is a one-line StorageError.

Layout: ``<root>/<codec hash>/<shard key>.parquet`` for rows and
``<clip-bitrate key>.codes.parquet`` for code histograms (written whenever the codec ran).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from evalkit.atomic import atomic_path, open_regular, remove_if_stale_temporary
from evalkit.errors import printable, storage_error
from evalkit.results.schema import CODES_COLUMNS, ERROR, RESULT_COLUMNS, conform

_ARROW_TYPES = {"string": pa.string(), "float64": pa.float64(), "bool": pa.bool_()}
#: a shard's columns: the result schema without run_id (the run's tables conform what they read)
SHARD_SCHEMA = pa.schema(
    [(c, _ARROW_TYPES[t]) for c, (t, _) in RESULT_COLUMNS.items() if c != "run_id"]
)
#: columns a shard must have to be used (what planning and the run's tables read)
ROW_FIELDS = frozenset({"codec", "bitrate_kbps", "clip_id", "metric", "status", "metric_version"})
CODE_FIELDS = frozenset({"codec", "bitrate_kbps", "clip_id", "codebook", "counts"})

#: bump when the pipeline changes values (alignment, resampling, channel handling)
FAILED = ".failed"  # suffix of shards that hold error rows (reported, retried on re-run)
PIPELINE_VERSION = "2"  # 2: envelope fallback in delay estimation
DAMAGED = ".damaged-"  # infix of shards moved aside: <name>.damaged-<random>, never read again

log = logging.getLogger("evalkit")


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
        keys = set()
        for e in os.scandir(d):
            if remove_if_stale_temporary(e):  # a killed writer's leftovers do not pile up
                continue
            if e.name.endswith(".parquet") and not e.name.endswith(".codes.parquet"):
                keys.add(e.name[: -len(".parquet")])
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
        failed = any(row.get("status") == ERROR for row in rows)
        path = self.codec_dir(codec_identity) / f"{key}{FAILED if failed else ''}.parquet"
        try:  # straight to Arrow: the client writes one shard per finished unit
            table = pa.Table.from_pylist(rows, schema=SHARD_SCHEMA)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # a value Arrow will not take as it is
            table = _arrow(conform(pd.DataFrame(rows), RESULT_COLUMNS).drop(columns=["run_id"]))
        self._atomic(path, table)
        if not failed:
            (self.codec_dir(codec_identity) / f"{key}{FAILED}.parquet").unlink(missing_ok=True)

    def write_codes(self, codec_identity: str, unit: str, rows: list[dict[str, Any]]) -> None:
        self._atomic(
            self.codec_dir(codec_identity) / f"{unit}.codes.parquet",
            _arrow(conform(pd.DataFrame(rows), CODES_COLUMNS).drop(columns=["run_id"])),
        )

    def readable(self, codec_identity: str, unit: str, keys: list[str]) -> list[str]:
        """The ``keys`` of a unit whose shards read back whole. None where the unit's code
        histograms are damaged: only running the codec again rebuilds them."""
        if self.codes_damaged(codec_identity, unit):
            return []
        return [k for k in keys if self.read_rows(codec_identity, k) is not None]

    def read_rows(self, codec_identity: str, key: str) -> pd.DataFrame | None:
        """A shard's rows; ``None`` when it is gone or damaged (then moved aside)."""
        path = self.codec_dir(codec_identity) / f"{key}.parquet"
        return self._read(path, ROW_FIELDS)

    def read_codes(self, codec_identity: str, unit: str) -> pd.DataFrame | None:
        path = self.codec_dir(codec_identity) / f"{unit}.codes.parquet"
        return self._read(path, CODE_FIELDS) if path.exists() else None

    def codes_damaged(self, codec_identity: str, unit: str) -> bool:
        """True when a unit's code histograms exist but cannot be read (they are moved aside)."""
        path = self.codec_dir(codec_identity) / f"{unit}.codes.parquet"
        return path.exists() and self.read_codes(codec_identity, unit) is None

    def _read(self, path: Path, needed: frozenset[str]) -> pd.DataFrame | None:
        try:
            with open_regular(path) as (fd, _), os.fdopen(os.dup(fd), "rb") as f:
                df = pd.read_parquet(f)
        except FileNotFoundError:  # moved aside meanwhile by a run sharing this cache
            return None
        except Exception as exc:  # zero bytes, cut short, garbage, a pipe: any of them
            self._set_aside(path, " ".join(str(exc).split()) or type(exc).__name__)
            return None
        if missing := needed - set(df.columns):
            self._set_aside(path, f"no column {', '.join(sorted(missing))}")
            return None
        if df.empty:
            self._set_aside(path, "it holds no rows")
            return None
        return df

    @staticmethod
    def _set_aside(path: Path, cause: str) -> None:
        target = path.with_name(f"{path.name}{DAMAGED}{uuid.uuid4().hex[:8]}")
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return  # another run sharing the cache moved it first and said so
        except OSError as exc:
            raise storage_error(exc, "the damaged cache shard aside to", target) from None
        log.warning(
            "cache shard %s cannot be read (%s): moved aside to %s; its results are recomputed",
            printable(str(path)),
            cause[:200],
            target.name,
        )

    @staticmethod
    def _atomic(path: Path, table: pa.Table) -> None:
        try:
            with atomic_path(path) as tmp:
                pq.write_table(table, tmp)
        except OSError as exc:
            raise storage_error(exc, "the cache shard", path) from None


def _arrow(df: pd.DataFrame) -> pa.Table:
    """A conformed frame as the table ``DataFrame.to_parquet`` would write (dtypes kept)."""
    return pa.Table.from_pandas(df, preserve_index=False)
