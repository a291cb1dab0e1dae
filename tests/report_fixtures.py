"""Synthetic run folders in the exact format ``evalkit run`` writes, for report and gate tests.

Values follow a plausible rate–quality law plus a fixed per-clip offset, all seeded: writing the
same run twice gives identical numbers (a rerun), and ``degrade`` makes one codec worse on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.results.directions import registered
from evalkit.results.schema import CODES_COLUMNS, RESULT_COLUMNS, conform, empty

#: metric value name -> domains where it applies (real registered metric outputs)
METRICS = {
    "pesq_wb": ("speech",),
    "visqol_speech": ("speech",),
    "visqol_audio": ("music", "environmental"),
    "mel_distance": ("speech", "music", "environmental"),
}
CLIPS = [  # clip id, domain, lossy source
    ("speech-01", "speech", False),
    ("speech-02", "speech", False),
    ("speech-03", "speech", False),
    ("speech-04", "speech", True),
    ("music-01", "music", False),
    ("music-02", "music", False),
    ("music-03", "music", True),
    ("env-01", "environmental", False),
    ("env-02", "environmental", False),
    ("env-03", "environmental", False),
]
METRIC_FP = {m: {"metric": m, "version": "1", "rate_hz": 16000} for m in METRICS}
#: what run.json records: directions of the values written (the real metric classes' ones)
DIRECTIONS = {m: h for m, h in registered().items() if m in METRICS or m.startswith("bitrate_")}


def _clip_offset(clip_id: str) -> float:
    return float(np.random.default_rng(sum(map(ord, clip_id))).normal(0, 0.15))


def write_run(
    path: Path,
    codecs: dict[str, float],
    bitrates: tuple[float, ...] = (1.5, 3.0, 6.0, 12.0),
    degrade: dict[str, float] | None = None,
    clips: list[tuple[str, str, bool]] = CLIPS,
    dataset_fingerprint: str = "sha256:dataset-a",
    metric_fingerprints: dict | None = None,
    error_clip: str | None = None,
    error_text: str = "decoder failed",
    run_status: str = "completed",
) -> Path:
    """Write ``path``/run.json, results.parquet/.csv, codes.parquet and codebooks.csv.

    ``codecs`` maps codec name -> efficiency (kbps multiplier: 2.0 reaches a quality at half the
    bits); ``degrade`` maps codec name -> quality points subtracted on every clip.
    """
    degrade = degrade or {}
    path.mkdir(parents=True, exist_ok=True)
    rows = []
    for codec, efficiency in codecs.items():
        for bitrate in bitrates:
            for clip_id, domain, lossy in clips:
                offset = _clip_offset(clip_id) - (0.2 if lossy else 0.0)
                measured = bitrate * (0.97 + 0.01 * (len(clip_id) % 3))
                effective = measured * efficiency
                visqol = 1.5 + 3.0 * (1 - np.exp(-effective / 6)) + offset
                values = {
                    "pesq_wb": 1.0 + 3.4 * (1 - np.exp(-effective / 8)) + offset,
                    "visqol_speech": visqol,
                    "visqol_audio": visqol,
                    "mel_distance": 0.4 + 2.0 * np.exp(-effective / 6) - offset,
                }
                drop = degrade.get(codec, 0.0)
                values = {m: v - drop if DIRECTIONS[m] else v + drop for m, v in values.items()}
                values["bitrate_measured_kbps"] = measured
                for metric, value in values.items():
                    status, error = "ok", ""
                    if domain not in METRICS.get(metric, (domain,)):
                        status, value = "not_applicable", np.nan
                    if clip_id == error_clip and metric.startswith("visqol") and status == "ok":
                        status, value = "error", np.nan
                        error = f"{clip_id}: {error_text}"
                    rows.append(
                        {
                            "run_id": path.name,
                            "codec": codec,
                            "codec_identity": json.dumps({"adapter": "1"}),
                            "bitrate_kbps": bitrate,
                            "nominal_kbps": bitrate,
                            "clip_id": clip_id,
                            "domain": domain,
                            "lossy_source": lossy,
                            "metric": metric,
                            "value": value,
                            "status": status,
                            "error": error,
                            "lag_samples": 0.0,
                            "encode_s": 0.01,
                            "decode_s": 0.01,
                            "metric_s": 0.01,
                            "metric_version": json.dumps(METRIC_FP.get(metric, {})),
                        }
                    )
    results = conform(pd.DataFrame(rows), RESULT_COLUMNS)
    results.to_parquet(path / "results.parquet")
    results.to_csv(path / "results.csv", index=False)
    empty(CODES_COLUMNS).to_parquet(path / "codes.parquet")
    _codebooks(codecs, bitrates).to_csv(path / "codebooks.csv", index=False)
    meta = {
        "run_id": path.name,
        "argv": ["evalkit", "run"],
        "command": f"evalkit run --codec {','.join(codecs)} --bitrates "
        + ",".join(f"{b:g}" for b in bitrates),
        "evalkit_version": "0.1.0",
        "versions": {},
        "git_commit": "0" * 40,
        "host": "test",
        "started_utc": "2026-11-27T05:00:00Z",
        "finished_utc": "2026-11-27T05:01:00Z",
        "config": {"codecs": list(codecs), "bitrates_kbps": list(bitrates), "dataset": "default"},
        "dataset": {"spec": "default", "fingerprint": dataset_fingerprint, "n_clips": len(clips)},
        "metrics": metric_fingerprints if metric_fingerprints is not None else METRIC_FP,
        "directions": DIRECTIONS,
        "resampler": {"name": "kaiser_best"},
        "codecs": {c: {"adapter": "1"} for c in codecs},
        "status": run_status,
    }
    (path / "run.json").write_text(json.dumps(meta, indent=1))
    return path


def _codebooks(codecs: dict[str, float], bitrates: tuple[float, ...]) -> pd.DataFrame:
    """Codebook stats for the first codec only (the others behave like waveform codecs)."""
    codec = next(iter(codecs))
    rows = []
    for bitrate in bitrates:
        n_books = max(1, int(bitrate / 1.5))
        for domain in ("speech", "music", "environmental", "all"):
            for book in range(n_books):
                entropy = 9.5 - 0.6 * book
                rows.append(
                    {
                        "codec": codec,
                        "bitrate_kbps": bitrate,
                        "domain": domain,
                        "codebook": book,
                        "codebook_size": 1024,
                        "entropy_bits": entropy,
                        "perplexity": 2**entropy,
                        "utilisation": 0.95 - 0.07 * book,
                        "entropy_bound_kbps": entropy * 75 / 1000 * n_books,
                    }
                )
    return pd.DataFrame(rows)
