"""Simulated listeners for listening-test tests: ratings drawn around a known ground truth.

Each listener rates stimulus s of a trial as truth[s] + their own bias + noise, clipped to 0-100;
a careless listener rates the hidden reference like a poor condition, so screening must drop them.
"""

from __future__ import annotations

import numpy as np

from evalkit.listen.design import HIDDEN_REFERENCE
from evalkit.listen.paths import Layout
from evalkit.listen.ratings import record_trial


def truth_of(test: dict, quality: dict[str, float]) -> dict[str, float]:
    """Ground truth per stimulus: ``quality`` per condition id, plus reference and anchors."""
    return {HIDDEN_REFERENCE: 100.0, "anchor_3.5k": 20.0, "anchor_7k": 45.0} | quality


def plan_of(test: dict, rng: np.random.Generator) -> dict:
    ids = [t["id"] for t in test["trials"]]
    orders = {
        t["id"]: list(rng.permutation([s["id"] for s in t["stimuli"]])) for t in test["trials"]
    }
    return {"trial_order": list(rng.permutation(ids)), "orders": orders}


def simulate(
    layout: Layout,
    test: dict,
    truth: dict[str, float],
    listener: str,
    seed: int,
    noise: float = 5.0,
    careless: bool = False,
) -> dict[str, dict[str, int]]:
    """Rate every trial through the server's own write path; returns what was 'entered'."""
    rng = np.random.default_rng(seed)
    bias = rng.normal(0, 3)
    plan = plan_of(test, rng)
    entered = {}
    for trial in test["trials"]:
        ratings = {}
        for s in trial["stimuli"]:
            mean = 40.0 if careless and s["id"] == HIDDEN_REFERENCE else truth[s["id"]]
            ratings[s["id"]] = int(np.clip(round(mean + bias + rng.normal(0, noise)), 0, 100))
        if not careless:
            ratings[HIDDEN_REFERENCE] = max(ratings[HIDDEN_REFERENCE], 95)
        body = {
            "test_id": test["test_id"],
            "listener": listener,
            "plan": plan,
            "trial": trial["id"],
            "result": {"ratings": ratings, "seconds": 30.0},
        }
        record_trial(layout, test, body)
        entered[trial["id"]] = ratings
    return entered


def listenable_run(root, codecs=("mp3", "opus"), bitrates=(8.0, 16.0, 24.0), seconds=2.0):
    """A small run folder as ``evalkit run --save-audio`` leaves it, over synthetic clips.

    The clips are real files behind a manifest, so the builder lists them again and checks the
    run's dataset fingerprint; each condition's saved audio is the clip plus noise that falls
    with the bitrate, so louder noise means a worse condition.
    """
    import json

    import soundfile as sf

    from evalkit.datasets import load_dataset
    from evalkit.pipeline.task import saved_audio_path
    from tests.report_fixtures import write_run

    clips_dir = root / "clips"
    clips_dir.mkdir(parents=True)
    lines = ["path,domain,id"]
    rng = np.random.default_rng(0)
    for i, (domain, rate, channels) in enumerate(
        [("speech", 16000, 1), ("speech", 16000, 1), ("music", 44100, 2), ("music", 44100, 2)]
    ):
        t = np.arange(int(seconds * rate)) / rate
        tone = 0.3 * np.sin(2 * np.pi * (220 * (i + 1)) * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
        audio = np.stack([tone + 0.01 * rng.standard_normal(t.size)] * channels, axis=1)
        name = f"{domain}-{i}.flac"
        sf.write(str(clips_dir / name), audio.astype(np.float32), rate)
        lines.append(f"{name},{domain},{domain}-{i}")
    manifest = clips_dir / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    dataset = load_dataset(f"manifest:{manifest}")
    clips = [(c.clip_id, c.domain, False) for c in dataset.clips]
    efficiency = {c: 1.0 + 0.3 * k for k, c in enumerate(codecs)}
    run = write_run(
        root / "run", efficiency, bitrates, clips=clips, dataset_fingerprint=dataset.fingerprint()
    )
    meta = json.loads((run / "run.json").read_text())
    meta["config"]["dataset"] = f"manifest:{manifest}"
    (run / "run.json").write_text(json.dumps(meta))
    for codec in codecs:
        for b in bitrates:
            for clip in dataset.clips:
                audio, rate = sf.read(clip.path, dtype="float32", always_2d=True)
                noise = 0.3 / (b * efficiency[codec]) * rng.standard_normal(audio.shape)
                path = saved_audio_path(str(run / "audio"), codec, b, clip.clip_id)
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(path), (audio + noise).astype(np.float32), rate)
    return run
