"""Scoring a (reference, degraded) pair with any metric: shared by the runner, the CLI and the API.

Every path applies one alignment policy (:mod:`evalkit.pipeline.align`, docs/alignment.md):
metrics that align internally get both signals as they are, sample-aligned ones get the degraded
signal shifted by a known lag and cut or padded to the reference's length. Outcomes are plain
dicts with ``metric, value, status, error, metric_version, metric_s``.
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
from evalkit.pipeline.align import ALIGN_CHOICES, pair_lag, to_reference
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


def alignment(metric: Metric) -> str:
    """How a metric receives the pair (part of its fingerprint: a change recomputes its values)."""
    if metric.needs_alignment:
        return "lag, cut or padded to the reference"
    return "as they are, a shorter degraded padded" if metric.pads_short_degraded else "as they are"


def fingerprint(name: str) -> str:
    metric = get_metric(name)
    return json.dumps({**metric.fingerprint(), "alignment": alignment(metric)}, sort_keys=True)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    plain = ValueError | RuntimeError | NotApplicable  # their messages say what happened
    return text if isinstance(exc, plain) else f"{type(exc).__name__}: {text}"


def _prepared_reference(
    metric: Metric, ref_key: str, ref: np.ndarray, rate: int, text: ClipText
) -> Any:
    """Reference-side work of a metric, once per clip per worker (reused across codecs/bitrates)."""
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
    lag: int = 0,
) -> list[dict[str, Any]]:
    """All outputs of one metric on a pair at the clip's rate, ``deg`` trailing ``ref`` by
    ``lag`` samples; never raises."""
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
    if ref.shape[-1] == 0 or deg.shape[-1] == 0:
        return rows(NOT_APPLICABLE, f"{clip_id}: {name}: nothing to compare, a signal is empty")
    if metric.needs_alignment:
        deg = to_reference(deg, lag, ref.shape[1])
    elif metric.pads_short_degraded and deg.shape[1] < ref.shape[1]:
        deg = to_reference(deg, 0, ref.shape[1])
    started = time.perf_counter()
    try:
        m_rate = metric.evaluation_rate(rate)
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


def default_metrics() -> list[str]:
    """Every registered metric that is part of a default run (``Metric.in_default_run``)."""
    return [
        n
        for n in registry.names(registry.METRICS)
        if registry.load(registry.METRICS, n).in_default_run
    ]


def match_format(
    reference: np.ndarray, degraded: np.ndarray, degraded_rate: int, rate: int
) -> tuple[np.ndarray, np.ndarray]:
    """The degraded signal at the reference's rate; channels matched by mixing (a mono side
    is repeated, other mismatches compare mono mixes)."""
    deg = A.resample(degraded, degraded_rate, rate)
    if deg.shape[0] == reference.shape[0]:
        return reference, deg
    if 1 in (deg.shape[0], reference.shape[0]):
        channels = max(deg.shape[0], reference.shape[0])
    else:
        channels = 1
    return A.to_channels(reference, channels), A.to_channels(deg, channels)


def score_arrays(
    reference: np.ndarray,
    degraded: np.ndarray,
    rate: int,
    metrics: list[str] | None = None,
    align: str | int = "none",
    domain: str = "speech",
    degraded_rate: int | None = None,
) -> list[dict[str, Any]]:
    """Score one pair of arrays shaped (channels, samples) or (samples,) (:func:`as_channels`).

    ``align``: ``"none"`` (lag 0: decoded files are usually written without the codec's delay),
    ``"estimate"`` (one lag estimated for the pair) or a known lag in samples at ``rate``; it only
    moves sample-aligned metrics (PESQ and ViSQOL align themselves). A length mismatch is never
    trimmed away: each row carries both durations. Metrics default to those of a default run.

    >>> import numpy as np
    >>> t = np.arange(16000) / 16000
    >>> ref = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    >>> rows = score_arrays(ref, ref[:8000], 16000, metrics=["mel_distance"], domain="music")
    >>> rows[0]["metric"], rows[0]["status"], rows[0]["deg_duration_s"], rows[0]["value"] > 1
    ('mel_distance', 'ok', 0.5, True)
    """
    return _score(reference, degraded, rate, degraded_rate or rate, metrics, align, domain, "pair")


def score_files(
    ref_path: str | Path,
    deg_path: str | Path,
    metrics: list[str] | None = None,
    align: str | int = "none",
    domain: str = "speech",
) -> list[dict[str, Any]]:
    """Read two audio files and score them as :func:`score_arrays` does, at the reference's rate
    (evalkit's resampler brings the degraded file there). A bad file is a one-line error.

    >>> import tempfile, numpy as np, soundfile as sf
    >>> path = tempfile.mkdtemp() + "/tone.wav"
    >>> sf.write(path, 0.3 * np.sin(np.arange(16000) / 4.0), 16000)
    >>> rows = score_files(path, path, metrics=["mel_distance"], domain="music")
    >>> rows[0]["value"], rows[0]["lag_samples"], rows[0]["ref_duration_s"]
    (0.0, 0.0, 1.0)
    """
    read = []
    for path in (Path(ref_path), Path(deg_path)):
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        try:
            read.append(A.read(path))
        except Exception as exc:
            raise UsageError(f"{path}: cannot read audio: {one_line(exc)}") from None
    (ref, rate), (deg, deg_rate) = read
    return _score(ref, deg, rate, deg_rate, metrics, align, domain, Path(ref_path).name)


def as_channels(signal: Any, side: str) -> np.ndarray:
    """An API caller's array as float32 (channels, samples): integer PCM is scaled from its full
    scale, as soundfile reads it; a (samples, channels) array, soundfile's layout, is refused with
    the fix, since read the other way it would be thousands of two-sample channels."""
    x = np.asarray(signal)
    if x.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        offset = (info.max + 1) / 2 if x.dtype.kind == "u" else 0.0
        x = (x.astype(np.float64) - offset) / (info.max + 1 - offset)
    elif x.dtype.kind != "f":
        raise UsageError(f"the {side} signal holds {x.dtype} values, not audio samples")
    if x.ndim not in (1, 2):
        raise UsageError(f"the {side} signal has shape {x.shape}: pass (channels, samples)")
    x = np.atleast_2d(x.astype(np.float32, copy=False))
    if x.shape[0] > x.shape[1]:
        raise UsageError(
            f"the {side} signal has shape {x.shape}, which reads as {x.shape[0]} channels of "
            f"{x.shape[1]} samples: pass (channels, samples), e.g. the transpose of what "
            "soundfile.read returns"
        )
    return x


def _score(
    reference: np.ndarray,
    degraded: np.ndarray,
    rate: int,
    degraded_rate: int,
    metrics: list[str] | None,
    align: str | int,
    domain: str,
    label: str,
) -> list[dict[str, Any]]:
    if domain not in DOMAINS:
        raise UsageError(f"domain must be one of {', '.join(DOMAINS)}, not {domain!r}")
    ref, deg = as_channels(reference, "reference"), as_channels(degraded, "degraded")
    ref, deg = match_format(ref, deg, degraded_rate, rate)
    try:
        lag = pair_lag(ref, deg, rate, align)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    names = registry.parse_list(registry.METRICS, ",".join(metrics)) if metrics else None
    common = {
        "lag_samples": float(lag),
        "ref_duration_s": ref.shape[1] / rate,
        "deg_duration_s": deg.shape[1] / rate,
    }
    key = hashlib.blake2b(ref.tobytes(), digest_size=16).hexdigest()
    return [
        {**row, **common}
        for name in names or default_metrics()
        for row in score_metric(name, key, label, domain, ref, deg, rate, lag=lag)
    ]


def check_align(value: str) -> str | int:
    """``--align`` text: none, estimate or a lag in samples."""
    if value in ALIGN_CHOICES:
        return value
    try:
        return int(value)
    except ValueError:
        raise UsageError(
            f"--align must be {', '.join(ALIGN_CHOICES)} or a lag in samples, not {value!r}"
        ) from None
