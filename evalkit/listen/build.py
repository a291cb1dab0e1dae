"""``evalkit listen build``: a run folder → a self-contained MUSHRA test in ``RUN/listening/test``.

The test is one HTML page (CSS, JS and the test's description inline, nothing from a network)
and 16-bit FLAC stimuli beside it; Chromium decodes FLAC in ``decodeAudioData``. Decoded audio
comes from the run's ``--save-audio`` files, or is decoded again through the codec adapter when
its identity still equals the run's, so listeners hear what the metrics scored.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from evalkit import audio as A
from evalkit.datasets import Clip
from evalkit.errors import EvalkitError
from evalkit.listen import stimuli as S
from evalkit.listen.design import HIDDEN_REFERENCE, Condition, choose_clips, conditions, run_clips
from evalkit.listen.paths import Layout
from evalkit.pipeline.task import CodecSpec, codec_input, get_codec, saved_audio_path
from evalkit.results.rundir import Run, load_run

FORMAT = "evalkit-mushra-test/1"


def decoded_audio(run: Run, cond: Condition, clip: Clip, ref: np.ndarray, rate: int) -> np.ndarray:
    """The condition's decoded clip at the clip's rate, from saved audio or decoded again."""
    saved = saved_audio_path(str(run.path / "audio"), cond.codec, cond.bitrate_kbps, clip.clip_id)
    if saved.is_file():
        data, saved_rate = sf.read(str(saved), dtype="float32", always_2d=True)
        return A.resample(data.T, saved_rate, rate)
    checkpoints = (run.meta.get("config") or {}).get("checkpoints") or {}
    codec = get_codec(CodecSpec(cond.codec, checkpoints.get(cond.codec)))
    rows = run.results[run.results["codec"] == cond.codec]["codec_identity"]
    if json.dumps(codec.identity(), sort_keys=True) not in set(rows):
        raise EvalkitError(
            f"{cond.codec} has changed since the run (its identity differs) and the run kept no "
            f"audio ({saved} missing); rerun with --save-audio to listen to what was scored"
        )
    x, x_rate = codec_input(codec, A.to_channels(ref, codec.channels_for(ref.shape[0])), rate)
    raw, out_rate = codec.decode(codec.encode_many(x, x_rate, [cond.nominal_kbps])[0])
    return A.resample(np.asarray(raw, dtype=np.float32), int(out_rate), rate)


def lag_of(results: pd.DataFrame, cond: Condition, clip_id: str) -> int:
    rows = results[
        (results["codec"] == cond.codec)
        & (results["bitrate_kbps"] == cond.bitrate_kbps)
        & (results["clip_id"] == clip_id)
    ]["lag_samples"].dropna()
    return int(rows.iloc[0]) if len(rows) else 0


def make_trial(
    run: Run, index: int, clip: Clip, chosen: list[Condition], seconds: float, stim_dir: Path
) -> dict:
    """Write one trial's stimuli (the hidden reference shares the reference's file)."""
    ref, rate = A.read(clip.path, clip.start_s, clip.duration_s)
    full = {HIDDEN_REFERENCE: ref}
    full |= {name: S.lowpass(ref, rate, hz) for name, hz in S.ANCHORS_HZ.items()}
    for cond in chosen:
        decoded = A.to_channels(decoded_audio(run, cond, clip, ref, rate), ref.shape[0])
        lag = lag_of(run.results, cond, clip.clip_id)
        full[cond.id] = S.on_reference_axis(decoded, lag, ref.shape[1])
    window = S.loudest_window(ref, rate, seconds)
    cut = {k: S.faded(v[:, window], rate) for k, v in full.items()}
    levels = S.match_loudness(cut, rate)
    trial_id = f"t{index:02d}"
    file_of = {}
    for k, (name, audio) in enumerate(cut.items()):
        file_of[name] = f"stimuli/{trial_id}-{k}.flac"
        (stim_dir.parent / file_of[name]).write_bytes(S.flac_bytes(audio, rate))
    return {
        "id": trial_id,
        "clip_id": clip.clip_id,
        "domain": clip.domain,
        "sample_rate_hz": rate,
        "channels": int(ref.shape[0]),
        "window_s": [window.start / rate, window.stop / rate],
        "reference": file_of[HIDDEN_REFERENCE],
        "stimuli": [{"id": name, "file": file_of[name]} for name in cut],
        "levels": levels,
    }


def script_json(data: dict) -> str:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' can end it."""
    text = json.dumps(data, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(test: dict) -> str:
    """The test's one HTML page, with its CSS, JS and description inline."""
    here = files("evalkit.listen").joinpath("templates")
    html = here.joinpath("mushra.html").read_text(encoding="utf-8")
    parts = {
        "/*CSS*/": here.joinpath("mushra.css").read_text(encoding="utf-8"),
        "/*JS*/": here.joinpath("mushra.js").read_text(encoding="utf-8"),
        "/*TEST*/": script_json(test),
    }
    for marker, text in parts.items():
        html = html.replace(marker, text)
    return html


def build_test(
    run_dir: str | Path,
    clips_per_domain: int = 4,
    wanted: str | None = None,
    seconds: float = 4.0,
    seed: int = 0,
) -> Path:
    """Write ``RUN/listening/test/`` (index.html, test.json, stimuli/); returns index.html."""
    run = load_run(run_dir)
    layout = Layout(run.path)
    chosen = conditions(run.results, wanted)
    clips = choose_clips(run_clips(run.meta), run.results, chosen, clips_per_domain, seed)
    design = {
        "run_id": run.run_id,
        "conditions": [c.id for c in chosen],
        "clips": [c.key for c in clips],
        "seconds": seconds,
    }
    test_id = hashlib.sha256(json.dumps(design, sort_keys=True).encode()).hexdigest()[:16]
    layout.refuse_other_ratings(test_id)
    staging = layout.root / f".test-{test_id}"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "stimuli").mkdir(parents=True)
    trials = [
        make_trial(run, i, clip, chosen, seconds, staging / "stimuli")
        for i, clip in enumerate(sorted(clips, key=lambda c: (c.domain, c.clip_id)), start=1)
    ]
    test = {
        "format": FORMAT,
        "test_id": test_id,
        "run_id": run.run_id,
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": seconds,
        "seed": seed,
        "clips_per_domain": clips_per_domain,
        "conditions": [
            {"id": c.id, "codec": c.codec, "bitrate_kbps": c.bitrate_kbps, "label": c.label}
            for c in chosen
        ],
        "anchors_hz": S.ANCHORS_HZ,
        "target_lufs": S.TARGET_LUFS,
        "training_trial": trials[0]["id"],
        "trials": trials,
    }
    (staging / "test.json").write_text(json.dumps(test, indent=1))
    (staging / "index.html").write_text(page(test), encoding="utf-8")
    shutil.rmtree(layout.test, ignore_errors=True)
    staging.rename(layout.test)
    return layout.test / "index.html"
