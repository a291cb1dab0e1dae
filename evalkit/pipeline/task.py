"""Worker side: one task = one codec on one clip, covering every requested bitrate.

A task is plain data so it can run on any Dask worker; heavy objects (codec models, metric models,
measured codec lags; metric instances and prepared references live in
evalkit.pipeline.scoring) are created once per worker process and cached here.
Every outcome becomes rows: a failure is an ``error`` row with a one-line message naming the clip,
never a missing row and never a default value.
"""

from __future__ import annotations

import functools
import json
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evalkit import audio as A
from evalkit import registry
from evalkit.codecs.base import Codec, Encoded
from evalkit.codecs.replay import Replay, ReplayedClip
from evalkit.datasets.base import Clip
from evalkit.errors import printable
from evalkit.metrics.base import ClipText
from evalkit.pipeline.align import MAX_LAG_SECONDS, estimate_lag, probe_signal
from evalkit.pipeline.scoring import fingerprint, get_metric, one_line, score_metric
from evalkit.results.schema import BITRATE_ROWS, ERROR, NOT_APPLICABLE, OK

BITRATE_METRICS = tuple(BITRATE_ROWS)


@dataclass(frozen=True)
class CodecSpec:
    """How to build a codec on a worker: registered name, checkpoint path, device."""

    name: str
    checkpoint: str | None = None
    device: str = "cpu"
    adapter: str | None = None  # the registered adapter where ``name`` is a label (replayed files)


@dataclass(frozen=True)
class Work:
    """One bitrate of a task: the budget, its resolved setting, the metrics to compute."""

    budget_kbps: float
    nominal_kbps: float
    metrics: tuple[str, ...]
    shard: str  # store key the rows are written under


@dataclass(frozen=True)
class Task:
    codec: CodecSpec
    codec_identity: str  # JSON, recorded in every row
    clip: Clip
    work: tuple[Work, ...]
    save_audio_dir: str | None = None
    timeout_s: float | None = None


@dataclass
class TaskResult:
    """Rows per shard key, and code histograms per budget (codebook codecs only)."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    codes: dict[float, list[dict[str, Any]]] = field(default_factory=dict)
    failures: int = 0
    tracebacks: list[str] = field(default_factory=list)  # of codec failures, for run.log


# -- per-worker caches
_codecs: dict[CodecSpec, Codec] = {}
_lags: dict[tuple, int] = {}


@functools.cache
def configure_threads() -> None:
    """One math thread per worker process: with N workers on N cores, more threads only contend.
    Called by :func:`run_task` only (once per process): the client also builds codecs (to plan,
    to probe delays) and must leave the caller's torch and numba settings alone."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import numba
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    numba.set_num_threads(1)  # visqol-python's kernels are parallel by default


def worker_device(device: str) -> str:
    """``cuda`` on a machine with several GPUs: worker i uses GPU i mod n (one worker per GPU)."""
    if device != "cuda":
        return device
    import torch

    count = torch.cuda.device_count()
    try:
        from distributed import get_worker

        name = get_worker().name
        index = name if isinstance(name, int) else int(str(name).rsplit("-", 1)[-1])
    except (ImportError, ValueError):
        index = 0
    return f"cuda:{index % max(count, 1)}"


def get_codec(spec: CodecSpec) -> Codec:
    """The codec of a spec, built once per worker process (models load once, never pickled)."""
    if spec not in _codecs:
        cls = registry.load(registry.CODECS, spec.adapter or spec.name)
        _codecs[spec] = cls(checkpoint=spec.checkpoint, device=worker_device(spec.device))
    return _codecs[spec]


def codec_lag(codec: Codec, spec: CodecSpec, nominal: float, rate: int, channels: int) -> int:
    """The codec's delay at this setting, measured once on the probe (see pipeline.align)."""
    key = (spec, nominal, rate, channels)
    if key not in _lags:
        probe = probe_signal(rate, channels)
        decoded = _decode_checked(
            codec, _encode_checked(codec, probe, rate, [nominal])[0], rate, channels, probe.shape[1]
        )
        _lags[key] = estimate_lag(probe, decoded, int(MAX_LAG_SECONDS * rate), rate)
    return _lags[key]


# -- codec calls, with their output checked
def codec_input(codec: Codec, audio: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """The clip in the codec's format (the reference for metrics keeps the clip's rate)."""
    audio = A.convert(audio, rate, codec.sample_rate_hz, codec.channels_for(audio.shape[0]))
    return audio, codec.sample_rate_hz or rate


def _encode_checked(
    codec: Codec, audio: np.ndarray, rate: int, nominal: list[float]
) -> list[Encoded]:
    x, x_rate = codec_input(codec, audio, rate)
    encoded = codec.encode_many(x, x_rate, nominal)
    if len(encoded) != len(nominal):
        raise RuntimeError(f"codec returned {len(encoded)} encodings for {len(nominal)} bitrates")
    for enc in encoded:
        if not enc.payload_bits > 0 or not enc.duration_s > 0:  # also refuses NaN
            raise RuntimeError(
                f"codec reported payload_bits={enc.payload_bits}, duration_s={enc.duration_s}: "
                "both must be positive (the exact bits a decoder needs, the input's length)"
            )
    return encoded


def _decode_checked(codec: Codec, enc: Encoded, rate: int, channels: int, n: int) -> np.ndarray:
    """Decode and bring back to the reference's rate and channels, refusing broken output."""
    raw, out_rate = codec.decode(enc)
    raw = np.asarray(raw)
    if not np.issubdtype(raw.dtype, np.floating):  # int16 PCM would score as 32767x too loud
        raise RuntimeError(
            f"codec returned {raw.dtype} samples; decode must return float audio in [-1, 1]"
        )
    out = raw.astype(np.float32, copy=False)
    if out.ndim != 2 or out.shape[1] == 0:
        raise RuntimeError(f"codec returned audio shaped {out.shape}, expected (channels, samples)")
    if not isinstance(out_rate, int | np.integer) or out_rate <= 0:
        raise RuntimeError(f"codec returned an invalid sample rate {out_rate!r}")
    if not np.isfinite(out).all():
        raise RuntimeError("codec returned NaN or Inf samples")
    A.check_level(out, "codec returned")
    out = A.resample(out, int(out_rate), rate)
    if out.shape[0] != channels:  # it was given exactly this many: mixing would hide a bug
        raise RuntimeError(f"codec returned {out.shape[0]} channels for a {channels}-channel input")
    expected = n
    if abs(out.shape[1] - expected) > 0.1 * expected + int(MAX_LAG_SECONDS * rate):
        raise RuntimeError(
            f"codec returned {out.shape[1]} samples for {expected} (at {rate} Hz): "
            "wrong length or rate"
        )
    return out


def saved_audio_path(root: str, codec: str, budget_kbps: float, clip_id: str) -> Path:
    """``audio/<codec>/<bitrate>/<clip_id>.flac`` under the run folder.

    A clip id is free text in a manifest: ``.`` and ``..`` parts are escaped (``%2E%2E``) and
    empty parts (a leading ``/``) dropped, so no id can place a file outside the run folder.
    """
    parts = [p.replace(".", "%2E") if p in (".", "..") else p for p in clip_id.split("/") if p]
    parts = parts or ["%2F"]  # an id of only slashes
    return Path(root, codec, f"{budget_kbps:g}", *parts[:-1], f"{parts[-1]}.flac")


# -- the task
def _row(task: Task, work: Work, **values: Any) -> dict[str, Any]:
    clip = task.clip
    base = {
        "codec": task.codec.name,
        "codec_identity": task.codec_identity,
        "bitrate_kbps": work.budget_kbps,
        "nominal_kbps": work.nominal_kbps,
        "clip_id": printable(clip.clip_id),  # loaders' ids already are: a safety net
        "domain": clip.domain,
        "lossy_source": clip.lossy_source,
        "value": np.nan,
        "status": OK,
        "error": "",
        "lag_samples": np.nan,
        "encode_s": np.nan,
        "decode_s": np.nan,
        "metric_s": np.nan,
        "metric_version": "",
    }
    base.update(values)
    base["error"] = printable(base["error"])  # one line, storable, whatever an id or path held
    return base


def listed_sha256(clip: Clip) -> str | None:
    """The checksum the file must still have, where the clip carries one (loaders always do)."""
    sha = clip.sha256
    return sha if len(sha) == 64 and all(c in "0123456789abcdef" for c in sha) else None


def bitrate_fingerprint(name: str) -> str:
    return json.dumps({"metric": name, "version": "1"}, sort_keys=True)


def _metric_outputs(name: str) -> tuple[tuple[str, ...], str]:
    if name in BITRATE_METRICS:
        return (name,), bitrate_fingerprint(name)
    return get_metric(name).output_names(), fingerprint(name)


def fail_all(task: Task, result: TaskResult, message: str, works: tuple[Work, ...]) -> None:
    for work in works:
        rows = result.rows.setdefault(work.shard, [])
        for name in work.metrics:
            outputs, version = _metric_outputs(name)
            for out in outputs:
                rows.append(
                    _row(
                        task, work, metric=out, status=ERROR, error=message, metric_version=version
                    )
                )
                result.failures += 1


def _codec_failed(task: Task, result: TaskResult, message: str, works: tuple[Work, ...]) -> None:
    """Error rows for the codec's exception being handled, and its traceback for run.log."""
    fail_all(task, result, message, works)
    result.tracebacks.append(f"{message}\n{traceback.format_exc()}")


def run_task(task: Task) -> TaskResult:
    """Encode the clip once, decode every bitrate, align, score; failures become error rows."""
    configure_threads()  # here, in the worker: a caller planning a run keeps its own threads
    clip = task.clip
    result = TaskResult()
    try:
        ref, rate = A.read(clip.path, clip.start_s, clip.duration_s, listed_sha256(clip))
    except Exception as exc:  # unreadable clip: every row is an error naming it
        fail_all(
            task,
            result,
            f"{clip.clip_id} ({printable(clip.path)}): cannot read audio: {one_line(exc)}",
            task.work,
        )
        return result
    try:
        codec = get_codec(task.codec)
        ref = A.to_channels(ref, codec.channels_for(ref.shape[0]))
        started = time.perf_counter()
        nominal = [w.nominal_kbps for w in task.work]
        if isinstance(codec, Replay):  # files of this clip, payload bits as listed (or none)
            codec = codec.bind(clip)
            encoded = codec.encode_many(ref, rate, nominal)
            encode_s = [time.perf_counter() - started] * len(nominal)
        elif type(codec).encode_many is not Codec.encode_many:  # one encoding for all: shared
            encoded = _encode_checked(codec, ref, rate, nominal)
            encode_s = [time.perf_counter() - started] * len(nominal)
        else:  # an encoding per bitrate, each timed: the encode real-time factor per bitrate
            encoded, encode_s = [], []
            for kbps in nominal:
                started = time.perf_counter()
                encoded += _encode_checked(codec, ref, rate, [kbps])
                encode_s.append(time.perf_counter() - started)
    except Exception as exc:
        message = f"{clip.clip_id}: {task.codec.name} failed to encode: {one_line(exc)}"
        _codec_failed(task, result, message, task.work)
        return result
    for work, enc, seconds in zip(task.work, encoded, encode_s, strict=True):
        _score_bitrate(task, work, enc, codec, ref, rate, seconds, result)
    return result


def _score_bitrate(
    task: Task,
    work: Work,
    enc: Encoded,
    codec: Codec,
    ref: np.ndarray,
    rate: int,
    encode_s: float,
    result: TaskResult,
) -> None:
    clip = task.clip
    try:
        started = time.perf_counter()
        if isinstance(codec, ReplayedClip):  # as the file is: no probe, no length check
            decoded, lag = codec.replayed(enc, ref, rate)
        else:
            decoded = _decode_checked(codec, enc, rate, ref.shape[0], ref.shape[1])
            lag = codec_lag(codec, task.codec, work.nominal_kbps, rate, ref.shape[0])
        decode_s = time.perf_counter() - started
    except Exception as exc:
        message = (
            f"{clip.clip_id}: {task.codec.name} at {work.nominal_kbps:g} kbps "
            f"failed to decode: {one_line(exc)}"
        )
        _codec_failed(task, result, message, (work,))
        return
    if task.save_audio_dir:
        path = saved_audio_path(
            task.save_audio_dir, task.codec.name, work.budget_kbps, clip.clip_id
        )
        A.write(path, decoded, rate)
    common = {
        "nominal_kbps": enc.nominal_kbps,
        "lag_samples": float(lag),
        "ref_duration_s": ref.shape[1] / rate,
        "deg_duration_s": decoded.shape[1] / rate,
        "encode_s": encode_s,
        "decode_s": decode_s,
    }
    if enc.codes is not None:
        from evalkit.metrics.entropy import code_histograms

        result.codes[work.budget_kbps] = [
            {
                "codec": task.codec.name,
                "bitrate_kbps": work.budget_kbps,
                "clip_id": clip.clip_id,
                "domain": clip.domain,
                "codebook": i,
                "codebook_size": enc.codebook_size,
                "frame_rate_hz": enc.frame_rate_hz,
                "counts": counts.tolist(),
            }
            for i, counts in enumerate(code_histograms(enc.codes, enc.codebook_size))
        ]
    rows = result.rows.setdefault(work.shard, [])
    for name in work.metrics:
        rows.extend(_metric_rows(task, work, name, enc, ref, decoded, rate, common, result))


def _bitrate_row(task: Task, work: Work, name: str, enc: Encoded, common: dict) -> dict:
    """The measured (payload) or container bitrate row: a value, or N/A saying what is missing."""
    who = f"{task.clip.clip_id}: {task.codec.name}"
    if name == "bitrate_measured_kbps":
        value = enc.measured_kbps if enc.payload_bits else None
        missing = f"{who}: no payload_bits or bitstream listed"  # replayed, none listed
    else:
        value, missing = enc.container_kbps, f"{who} has no container"
    outcome = {"status": NOT_APPLICABLE, "error": missing} if value is None else {"value": value}
    version = bitrate_fingerprint(name)
    return _row(task, work, metric=name, metric_version=version, **outcome, **common)


def _metric_rows(
    task: Task,
    work: Work,
    name: str,
    enc: Encoded,
    ref: np.ndarray,
    deg: np.ndarray,
    rate: int,
    common: dict,
    result: TaskResult,
) -> list[dict]:
    clip = task.clip
    if name in BITRATE_METRICS:
        return [_bitrate_row(task, work, name, enc, common)]
    text = ClipText(clip.language, clip.transcript)
    lag = int(common["lag_samples"])  # applied by score_metric where the metric needs it
    scored = score_metric(name, clip.key, clip.clip_id, clip.domain, ref, deg, rate, text, lag)
    result.failures += sum(r["status"] == ERROR for r in scored)
    return [_row(task, work, **common, **r) for r in scored]
