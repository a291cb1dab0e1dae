"""Scoring one aligned (reference, degraded) pair with any metric: shared by runner and CLI.

Outcomes are plain dicts with ``metric, value, status, error, metric_version, metric_s``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from evalkit import audio as A
from evalkit import registry
from evalkit.errors import NotApplicable, UsageError
from evalkit.metrics.base import DOMAINS, ClipText, Metric
from evalkit.pipeline.align import MAX_LAG_SECONDS, apply_lag, estimate_lag
from evalkit.results.schema import ERROR, NOT_APPLICABLE, OK

_metrics: dict[str, Metric] = {}
_prepared: OrderedDict[tuple, Any] = OrderedDict()
_PREPARED_MAX = 32
NO_TEXT = ClipText()  # a pair scored without a dataset (evalkit score): no language, no transcript


def get_metric(name: str) -> Metric:
    """One instance per process (models load once per worker)."""
    if name not in _metrics:
        _metrics[name] = registry.load(registry.METRICS, name)()
    return _metrics[name]


def fingerprint(name: str) -> str:
    return json.dumps(get_metric(name).fingerprint(), sort_keys=True)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    plain = ValueError | RuntimeError | NotApplicable  # their messages say what happened
    return text if isinstance(exc, plain) else f"{type(exc).__name__}: {text}"


def _prepared_reference(
    metric: Metric, ref_key: str, ref: np.ndarray, rate: int, text: ClipText
) -> Any:
    """Reference-side work of a metric, once per clip per worker (reused across codecs/bitrates)."""
    # the aligned reference can differ per codec (a negative lag or a short decode trims it), so
    # the key covers its content, not only the clip it came from
    key = (metric.name, ref_key, hashlib.blake2b(ref.tobytes(), digest_size=16).digest(), text)
    if key in _prepared:
        _prepared.move_to_end(key)
        return _prepared[key]
    value = metric.prepare(ref, rate, text) if metric.uses_text else metric.prepare(ref, rate)
    _prepared[key] = value
    if len(_prepared) > _PREPARED_MAX:
        _prepared.popitem(last=False)
    return value


def score_metric(
    name: str,
    ref_key: str,
    clip_id: str,
    domain: str,
    ref: np.ndarray,
    deg: np.ndarray,
    rate: int,
    text: ClipText = NO_TEXT,
) -> list[dict[str, Any]]:
    """All outputs of one metric on an aligned pair at the clip's rate; never raises."""
    metric = get_metric(name)
    outputs, version = metric.output_names(), fingerprint(name)

    def rows(status: str, error: str = "", values=None, spent=np.nan) -> list[dict[str, Any]]:
        return [
            {
                "metric": out,
                "value": float(values[out]) if values else np.nan,
                "status": status,
                "error": error,
                "metric_version": version,
                "metric_s": spent,
            }
            for out in outputs
        ]

    if not metric.applies_to(domain):
        return rows(NOT_APPLICABLE, f"{clip_id}: {name} does not apply to {domain}")
    if ref.shape[-1] == 0:  # apply_lag left no overlap
        return rows(
            NOT_APPLICABLE,
            f"{clip_id}: {name}: nothing to compare, the clip is no longer than the codec's delay",
        )
    started = time.perf_counter()
    try:
        m_rate = metric.sample_rate_hz or rate
        channels = 1 if metric.mono else None
        ref_m = A.convert(ref, rate, m_rate, channels)
        deg_m = A.convert(deg, rate, m_rate, channels)
        prepared = _prepared_reference(metric, ref_key, ref_m, m_rate, text)
        values = metric.score(prepared, deg_m, m_rate)
        bad = [k for k in outputs if k not in values or not np.isfinite(values[k])]
        if bad:
            raise RuntimeError(f"no finite value for {', '.join(bad)}")
    except NotApplicable as exc:  # metrics name themselves in the message ("pesq: ..."), or not
        text = one_line(exc)
        text = text if text.startswith(f"{name}:") else f"{name}: {text}"
        return rows(NOT_APPLICABLE, f"{clip_id}: {text}")
    except Exception as exc:
        return rows(ERROR, f"{clip_id}: {name} failed: {one_line(exc)}")
    return rows(OK, values=values, spent=time.perf_counter() - started)


def score_pair(
    reference: Path, degraded: Path, domain: str, names: list[str] | None = None
) -> list[dict[str, Any]]:
    """``evalkit score``: read, bring the degraded file to the reference's format, align, score."""
    if domain not in DOMAINS:
        raise UsageError(f"--domain must be one of {', '.join(DOMAINS)}, not {domain!r}")
    read = {}
    for path in (reference, degraded):
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        try:
            read[path] = A.read(path)
        except Exception as exc:
            raise UsageError(f"{path}: cannot read audio: {one_line(exc)}") from None
    (ref, rate), (deg, deg_rate) = read[reference], read[degraded]
    deg = A.resample(deg, deg_rate, rate)
    if deg.shape[0] != ref.shape[0]:
        deg = (
            A.to_channels(deg, ref.shape[0])
            if 1 in deg.shape[:1] + ref.shape[:1]
            else A.to_channels(deg, 1)
        )
        ref = A.to_channels(ref, deg.shape[0])
    lag = estimate_lag(ref, deg, int(MAX_LAG_SECONDS * rate), rate)
    ref, deg = apply_lag(ref, deg, lag)
    out = []
    for name in names or registry.names(registry.METRICS):
        for row in score_metric(name, str(reference), reference.name, domain, ref, deg, rate):
            out.append({**row, "lag_samples": lag})
    return out
