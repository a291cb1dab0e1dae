"""What each codec costs, measured by evalkit itself, beside what it delivers.

Per codec × bitrate, written to ``cost.csv`` and to ``run.json`` (``cost``) so reports need no
codec plug-in:

- ``encode_rtf`` / ``decode_rtf``: real-time factor, processing seconds per second of audio:
  the sum of ``encode_s`` (``decode_s``) over the clips of that codec and bitrate divided by the
  sum of their durations; wall-clock time on a pipeline worker with one math thread, on the run's
  device (both recorded). Below 1 is faster than real time. A codec whose one encoding serves
  every bitrate (RVQ) shows that shared encoding at each bitrate.
- ``parameters``: learned parameters of a neural codec (``Codec.parameter_count``), else empty.
- ``algorithmic_latency_ms`` = ``frame_ms`` + ``lookahead_ms`` as the codec's design states
  them (empty where it states none: a non-causal model needs the whole signal), and
  ``measured_delay_ms``: the delay evalkit measures on its probe (evalkit.pipeline.align) at the
  codec's input rate (16 kHz for codecs that take any), mono, at that bitrate.
- ``frame_rate_hz`` and ``tokens_per_s`` (codes per second = code frames per second × codebooks
  used at that bitrate) of codebook codecs, next to ``bitrate_kbps`` and the measured bitrate;
  a frame-based DSP codec gets ``frame_rate_hz`` from its frame length.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evalkit.atomic import atomic_path
from evalkit.codecs.base import Codec
from evalkit.pipeline.task import CodecSpec, codec_lag, get_codec
from evalkit.results.schema import OK

if TYPE_CHECKING:
    from evalkit.pipeline.config import RunConfig
    from evalkit.pipeline.runner import Plan

log = logging.getLogger(__name__)
COST_CSV = "cost.csv"
MEASURED = "bitrate_measured_kbps"
COLUMNS = (
    "codec", "bitrate_kbps", "nominal_kbps", "measured_kbps", "clips", "encode_rtf",
    "decode_rtf", "parameters", "frame_ms", "lookahead_ms", "algorithmic_latency_ms",
    "measured_delay_ms", "frame_rate_hz", "codebooks", "tokens_per_s",
)  # fmt: skip


def codec_facts(codec: Codec) -> dict[str, Any]:
    """What the codec states about itself: parameters and algorithmic latency."""
    frame, ahead = codec.frame_ms, codec.lookahead_ms
    return {
        "parameters": codec.parameter_count(),
        "frame_ms": frame,
        "lookahead_ms": ahead,
        "algorithmic_latency_ms": None if frame is None or ahead is None else frame + ahead,
    }


def measured_delay_ms(spec: CodecSpec, nominal_kbps: float, timeout_s: float | None) -> float:
    """The codec's delay on evalkit's probe at its input rate (16 kHz where it takes any: every
    codec codes that band at every bitrate, 48 kHz probes defeat 6-kbps Opus), mono.

    The probe runs in the client, so it gets the run's task timeout: a codec that hangs must not
    hang the end of a run whose tasks already timed out into error rows. Replayed files have no
    probe (nothing can be encoded)."""
    if spec.adapter is not None:
        return float("nan")
    box: dict[str, Any] = {}

    def probe() -> None:
        try:
            codec = get_codec(spec)
            rate = codec.sample_rate_hz or 16000
            lag = codec_lag(codec, spec, nominal_kbps, rate, codec.channels_for(1))
            box["ms"] = 1000.0 * lag / rate
        except Exception as exc:  # a broken codec: the table says unknown, the log why
            box["error"] = exc

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if "ms" in box:
        return box["ms"]
    why = box.get("error") or f"timed out after {timeout_s:g} s"
    log.warning("%s at %g kbps: no delay on the probe: %s", spec.name, nominal_kbps, why)
    return float("nan")


def _real_time_factors(results: pd.DataFrame) -> pd.DataFrame:
    """encode/decode RTF and clip count per codec × bitrate, one timing per coded clip."""
    coded = results[np.isfinite(results["decode_s"].astype(float))]
    units = coded.drop_duplicates(["codec", "bitrate_kbps", "clip_id"])
    sums = units.groupby(["codec", "bitrate_kbps"])[["encode_s", "decode_s", "ref_duration_s"]]
    out = sums.sum(min_count=1)
    return pd.DataFrame(
        {
            "clips": units.groupby(["codec", "bitrate_kbps"]).size(),
            "encode_rtf": out["encode_s"] / out["ref_duration_s"],
            "decode_rtf": out["decode_s"] / out["ref_duration_s"],
        }
    )


def _tokens(codes: pd.DataFrame) -> pd.DataFrame:
    """Code frames per second and codebooks per codec × bitrate (codebook codecs only)."""
    if codes.empty:  # indexed like the other parts, so that joining them works
        index = pd.MultiIndex.from_arrays([[], []], names=["codec", "bitrate_kbps"])
        return pd.DataFrame(columns=["frame_rate_hz", "codebooks"], index=index)
    per_clip = codes.groupby(["codec", "bitrate_kbps", "clip_id"]).agg(
        frame_rate_hz=("frame_rate_hz", "median"), codebooks=("codebook", "nunique")
    )
    return per_clip.groupby(["codec", "bitrate_kbps"]).median()


def cost_table(
    results: pd.DataFrame,
    codes: pd.DataFrame,
    facts: dict[str, dict[str, Any]],
    delays: dict[tuple[str, float], float],
) -> pd.DataFrame:
    """One row per codec × bitrate with every column of ``COLUMNS`` (see the module docstring)."""
    if results.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    keys = ["codec", "bitrate_kbps"]
    base = results.groupby(keys)["nominal_kbps"].first().to_frame()
    measured = results[(results["metric"] == MEASURED) & (results["status"] == OK)]
    base["measured_kbps"] = measured.groupby(keys)["value"].median()
    table = base.join(_real_time_factors(results)).join(_tokens(codes)).reset_index()
    for column in ("parameters", "frame_ms", "lookahead_ms", "algorithmic_latency_ms"):
        table[column] = [facts.get(c, {}).get(column) for c in table["codec"]]
    pairs = zip(table["codec"], table["bitrate_kbps"], strict=True)
    table["measured_delay_ms"] = [delays.get(pair, np.nan) for pair in pairs]
    by_frame = 1000.0 / pd.to_numeric(table["frame_ms"], errors="coerce")
    table["frame_rate_hz"] = table["frame_rate_hz"].astype(float).fillna(by_frame)
    table["tokens_per_s"] = table["frame_rate_hz"] * table["codebooks"].astype(float)
    table["clips"] = table["clips"].fillna(0).astype(int)
    table["parameters"] = pd.array(table["parameters"], dtype="Int64")
    return table[list(COLUMNS)]


def records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The table as JSON-ready rows (NaN -> None)."""
    clean = table.astype(object).where(pd.notna(table), None)
    return clean.to_dict(orient="records")


def write_cost(
    run_dir: Path, plan: Plan, results: pd.DataFrame, codes: pd.DataFrame, config: RunConfig
) -> dict[str, Any]:
    """Write ``cost.csv`` and return run.json's ``cost`` section (the same rows, and where and
    how they were timed)."""
    facts, delays = {}, {}
    for name, (spec, _identity) in plan.codecs.items():
        try:
            facts[name] = codec_facts(get_codec(spec))
        except Exception as exc:  # the run's results stand; the log says why cost is missing
            log.warning("%s: no parameter count or latency: %s", name, exc)
    for (name, budget), nominal in plan.nominal.items():
        delays[(name, budget)] = measured_delay_ms(plan.codecs[name][0], nominal, config.timeout_s)
    try:
        table = cost_table(results, codes, facts, delays)
    except Exception as exc:  # never lose a finished run's results to its cost table
        log.exception("the codec cost table failed")
        return {"error": f"{type(exc).__name__}: {exc}"}
    with atomic_path(run_dir / COST_CSV) as tmp:
        table.to_csv(tmp, index=False)
    return {
        "device": config.device,
        "math_threads_per_worker": 1,  # evalkit.pipeline.task.configure_threads
        "workers": config.workers or os.cpu_count(),
        "timer": "time.perf_counter (wall clock) around encode and decode on the worker",
        "rows": records(table),
    }
