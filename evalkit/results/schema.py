"""The result schema: one tidy row per (codec, bitrate, clip, metric value).

Every key is documented here; reports, summaries and the regression gate read these columns only.
Bitrates have one representation: the requested budget and the codec's setting are columns, and
what was measured is a value row like any metric (``bitrate_measured_kbps``: payload bits ÷
duration; ``bitrate_container_kbps``: with the container's framing), so it gets the same
statistics, CIs and failure accounting as every other value.
"""

from __future__ import annotations

import pandas as pd

OK, NOT_APPLICABLE, ERROR = "ok", "not_applicable", "error"

#: value rows the pipeline writes itself (no metric class): name -> higher is better
BITRATE_ROWS: dict[str, bool] = {"bitrate_measured_kbps": False, "bitrate_container_kbps": False}

#: column -> (dtype, meaning)
RESULT_COLUMNS: dict[str, tuple[str, str]] = {
    "run_id": ("string", "the run folder's name"),
    "codec": ("string", "registered codec name"),
    "codec_identity": ("string", "JSON: adapter version, checkpoint sha256, parameters"),
    "bitrate_kbps": ("float64", "the requested bitrate budget"),
    "nominal_kbps": ("float64", "the setting the codec used (highest that fits the budget)"),
    "clip_id": ("string", "clip identifier, unique within the dataset"),
    "domain": ("string", "speech, music or environmental"),
    "lossy_source": ("bool", "the clip was already lossy-coded at its source"),
    "metric": ("string", "metric value name (e.g. pesq_wb, visqol, mel_distance)"),
    "value": ("float64", "the value; NaN unless status is ok"),
    "status": ("string", "ok, not_applicable or error"),
    "error": ("string", "one-line message naming the clip and the cause (empty when ok)"),
    "lag_samples": (
        "float64",
        "lag by which the degraded signal trails the reference, at the clip's rate: removed for "
        "sample-aligned metrics only (docs/alignment.md)",
    ),
    "ref_duration_s": ("float64", "length of the reference (the clip or its window), seconds"),
    "deg_duration_s": (
        "float64",
        "length of the degraded signal as decoded (delay included), seconds: a mismatch is "
        "reported here, never trimmed away",
    ),
    "encode_s": (
        "float64",
        "seconds spent encoding this bitrate; for a codec whose one encoding serves every "
        "bitrate (RVQ: encode_many), that shared encoding",
    ),
    "decode_s": ("float64", "seconds spent decoding this bitrate"),
    "metric_s": ("float64", "seconds spent computing this metric"),
    "metric_version": ("string", "JSON fingerprint of the metric definition"),
}

#: per-clip code histograms of codebook codecs (entropy is computed over slices from these)
CODES_COLUMNS: dict[str, tuple[str, str]] = {
    "run_id": ("string", "the run folder's name"),
    "codec": ("string", "registered codec name"),
    "bitrate_kbps": ("float64", "the requested bitrate budget"),
    "clip_id": ("string", "clip identifier"),
    "domain": ("string", "speech, music or environmental"),
    "codebook": ("int64", "codebook (quantizer stage) index, 0-based"),
    "codebook_size": ("int64", "entries in that codebook"),
    "frame_rate_hz": ("float64", "code frames per second"),
    "counts": ("object", "list of ints: how often each entry was used in this clip"),
}


def empty(columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, (t, _) in columns.items()})


def conform(df: pd.DataFrame, columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Columns in schema order with schema dtypes (missing ones filled with NA)."""
    out = df.reindex(columns=list(columns))
    for c, (t, _) in columns.items():
        if t != "object":
            out[c] = out[c].astype(t)
    return out
