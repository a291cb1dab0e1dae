"""Seconds per 10-s pair for each metric: evalkit's metric objects against naive package calls.

Real clips from the default set, coded by Opus at two bitrates (so the reference-side work of
``prepare`` is reused once, as the pipeline reuses it across codecs and bitrates), delay removed
the pipeline's way. "naive" calls each package's public function on every pair, with its model
created once (``VisqolApi.measure_from_arrays``, ``pesq.pesq``, ``pystoi.stoi``, audiotools'
losses when installed). Runs on one core (one torch, numba and BLAS thread) and counts CPU seconds
of this process (``time.process_time``), so other work on a shared machine does not inflate the
figures. Also prints the largest difference between the two values of each metric, which must be
at float-noise level. The speech metrics (``--metrics wer,dwer,speaker_similarity,f0_rmse,...``)
get each clip's language and transcript from the manifest; their naive calls run the recogniser,
encoder or tracker on both signals of every pair.

    python benchmarks/metrics.py [--per-domain 3] [--bitrates 12,24] [--metrics visqol_audio,...]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from evalkit import audio as A  # noqa: E402
from evalkit import registry  # noqa: E402
from evalkit.errors import NotApplicable  # noqa: E402
from evalkit.metrics.base import ClipText  # noqa: E402
from evalkit.pipeline.align import MAX_LAG_SECONDS, apply_lag, estimate_lag, probe_signal  # noqa: E402

DEFAULT_SET = Path(__file__).resolve().parents[1] / "datasets" / "default"


Naive = Callable[[np.ndarray, np.ndarray, int, ClipText], float]


def naive_calls() -> dict[str, Naive]:
    """Each package called directly on one pair, the way a plain script would."""
    from pesq import pesq
    from pystoi import stoi
    from visqol.api import VisqolApi

    speech, audio = VisqolApi(), VisqolApi()
    speech.create(mode="speech", use_lattice_model=True)
    audio.create(mode="audio")
    plain = {
        "pesq": lambda r, d, sr: pesq(sr, r[0], d[0], "wb"),
        "pesq_nb": lambda r, d, sr: pesq(sr, r[0], d[0], "nb"),
        "stoi": lambda r, d, sr: stoi(r[0], d[0], sr),
        "estoi": lambda r, d, sr: stoi(r[0], d[0], sr, extended=True),
        "visqol_speech": lambda r, d, sr: speech.measure_from_arrays(r[0], d[0], sr).moslqo,
        "visqol_audio": lambda r, d, sr: audio.measure_from_arrays(r[0], d[0], sr).moslqo,
    }
    calls: dict[str, Naive] = {k: _without_text(f) for k, f in plain.items()}
    calls.update(speech_calls())
    try:  # reference-free metrics: a plain script scores the reference again for every pair
        import distillmos
        from speechmos import dnsmos

        model = distillmos.ConvTransformerSQAModel().eval()

        def distill(x: np.ndarray) -> float:
            with torch.no_grad():
                return float(model(torch.from_numpy(np.ascontiguousarray(x[0]))[None]))

        def dns(x: np.ndarray) -> dict:
            return dnsmos.run(np.clip(x[0], -1.0, 1.0), 16000)  # speechmos refuses overshoot

        calls["dnsmos"] = lambda r, d, sr, text: (dns(d), dns(r))[0]["sig_mos"]
        calls["distillmos"] = lambda r, d, sr, text: (distill(d), distill(r))[0]
    except ImportError:
        pass
    try:
        import audiotools
        from audiotools.metrics.distance import SISDRLoss
        from audiotools.metrics.spectral import MelSpectrogramLoss, MultiScaleSTFTLoss
    except ImportError:
        return calls
    mel = MelSpectrogramLoss(
        n_mels=[5, 10, 20, 40, 80, 160, 320],
        window_lengths=[32, 64, 128, 256, 512, 1024, 2048],
        mel_fmin=[0.0] * 7,
        mel_fmax=[None] * 7,
        pow=1.0,
        clamp_eps=1e-5,
        mag_weight=0.0,
    )
    stft, sisdr = MultiScaleSTFTLoss(window_lengths=[2048, 512]), SISDRLoss()

    def signals(r: np.ndarray, d: np.ndarray, sr: int) -> tuple:
        return tuple(audiotools.AudioSignal(x[None].copy(), sr) for x in (r, d))

    calls["mel_distance"] = lambda r, d, sr, text: float(mel(*signals(r, d, sr)[::-1]))
    calls["stft_distance"] = lambda r, d, sr, text: float(stft(*signals(r, d, sr)[::-1]))
    calls["si_sdr"] = lambda r, d, sr, text: -float(sisdr(*signals(r, d, sr)))
    return calls


def _without_text(call: Callable[[np.ndarray, np.ndarray, int], float]) -> Naive:
    return lambda r, d, sr, text: call(r, d, sr)


def speech_calls() -> dict[str, Naive]:
    """pocketsphinx + jiwer, Resemblyzer, Praat and WARP-Q called directly (where installed)."""
    try:
        import jiwer
        import parselmouth
        from pocketsphinx import Decoder
        from resemblyzer import VoiceEncoder, preprocess_wav

        from evalkit.metrics.pitch import compare
        from evalkit.metrics.text_normalize import normalize
        from evalkit.metrics.warpq import WARPQ
    except ImportError:
        return {}
    decoder, encoder = Decoder(samprate=16000, loglevel="FATAL"), VoiceEncoder("cpu", False)
    warpq = WARPQ()._warpq()

    def hear(x: np.ndarray) -> str:
        decoder.reinit_feat()  # as a fresh Decoder: no state from the clip before
        decoder.start_utt()
        pcm = np.clip(np.round(x[0] * 32768.0), -32768, 32767).astype("<i2")
        decoder.process_raw(pcm.tobytes(), full_utt=True)
        decoder.end_utt()
        return normalize(decoder.hyp().hypstr if decoder.hyp() else "")

    def embed(x: np.ndarray) -> np.ndarray:
        return encoder.embed_utterance(preprocess_wav(x[0], source_sr=16000))

    def f0(x: np.ndarray, sr: int) -> np.ndarray:
        sound = parselmouth.Sound(x[0].astype(np.float64), sampling_frequency=sr)
        return sound.to_pitch_ac(time_step=0.01, pitch_floor=50, pitch_ceiling=1000).selected_array[
            "frequency"
        ]

    def pitch(name: str) -> Naive:
        return lambda r, d, sr, text: compare(f0(r, sr), f0(d, sr))[name]

    def wer(r, d, sr, text):
        truth = normalize(text.transcript or "")
        return (jiwer.wer(truth, hear(d)), jiwer.wer(truth, hear(r)))[0]

    def similarity(r, d, sr, text):
        a, b = embed(r), embed(d)
        return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))

    return {
        "wer": wer,
        "dwer": lambda r, d, sr, text: jiwer.wer(hear(r), hear(d)),
        "speaker_similarity": similarity,
        "f0_rmse": pitch("f0_rmse"),
        "f0_corr": pitch("f0_corr"),
        "vde": pitch("vde"),
        "warpq": lambda r, d, sr, text: warpq.evaluate(  # pyvad refuses samples beyond +-1
            *(np.clip(x[0], -1, 1).astype(np.float64) for x in (r, d)), arr_sr=sr
        )["raw_warpq_score"],
    }


def coded_pairs(per_domain: int, bitrates: list[float]) -> list[tuple]:
    """(clip id, domain, rate, [(reference, degraded) per bitrate], ClipText), delay removed."""
    codec = registry.load(registry.CODECS, "opus")()
    with open(DEFAULT_SET / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    picked: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if len(picked[row["domain"]]) < per_domain:
            picked[row["domain"]].append(row)
    out = []
    for row in (r for rs in picked.values() for r in rs):
        ref, rate = A.read(DEFAULT_SET / row["path"])
        ref = A.to_channels(ref, 1)
        pairs = []
        for kbps in bitrates:
            nominal = codec.resolve_bitrate(kbps)
            probe = probe_signal(rate, 1)
            coded = _code(codec, probe, rate, nominal)
            lag = estimate_lag(probe, coded, int(MAX_LAG_SECONDS * rate), rate)
            pairs.append(apply_lag(ref, _code(codec, ref, rate, nominal), lag))
        text = ClipText(row.get("language") or None, row.get("transcript") or None)
        out.append((row["id"], row["domain"], rate, pairs, text))
    return out


def _code(codec, audio: np.ndarray, rate: int, nominal: float) -> np.ndarray:
    decoded, out_rate = codec.decode(codec.encode(audio, rate, nominal))
    return A.to_channels(A.resample(decoded, out_rate, rate), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-domain", type=int, default=3, help="clips per domain")
    parser.add_argument("--bitrates", default="12,24", help="Opus budgets in kbps")
    parser.add_argument("--metrics", default="", help="comma-separated (default: all built in)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    naive = naive_calls()
    names = [m for m in args.metrics.split(",") if m] or [
        n for n in registry.names(registry.METRICS) if n in naive
    ]
    clips = coded_pairs(args.per_domain, [float(b) for b in args.bitrates.split(",")])
    ours_s, naive_s, audio_s, diff = (defaultdict(float) for _ in range(4))
    for name in names:
        metric = registry.load(registry.METRICS, name)()
        _warm_up(metric, naive[name], clips)
        for _clip_id, domain, rate, pairs, text in clips:
            if not metric.applies_to(domain):
                continue
            m_rate = metric.evaluation_rate(rate)
            converted = [
                (A.convert(r, rate, m_rate, 1), A.convert(d, rate, m_rate, 1)) for r, d in pairs
            ]
            try:  # evalkit: prepare once per distinct reference (the pipeline's per-clip reuse)
                started = time.process_time()
                prepared: dict[bytes, object] = {}
                values = []
                for r, d in converted:
                    key = hashlib.blake2b(r.tobytes(), digest_size=16).digest()
                    if key not in prepared:
                        prepared[key] = _prepare(metric, r, m_rate, text)
                    values.append(metric.score(prepared[key], d, m_rate)[metric.output_names()[0]])
                ours_s[name] += time.process_time() - started
            except NotApplicable:
                continue
            started = time.process_time()
            theirs = [naive[name](r, d, m_rate, text) for r, d in converted]
            naive_s[name] += time.process_time() - started
            audio_s[name] += sum(r.shape[1] / m_rate for r, _ in converted)
            gaps = [abs(a - b) for a, b in zip(values, theirs, strict=True)]
            diff[name] = max(diff[name], *gaps)
    print(
        f"{len(clips)} clips x {len(args.bitrates.split(','))} Opus bitrates; "
        "one core, CPU seconds; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    head = ("metric", "evalkit s/10 s", "naive s/10 s", "speed-up", "max |diff|")
    print(f"{head[0]:15} {head[1]:>14} {head[2]:>12} {head[3]:>9} {head[4]:>11}")
    for name in names:
        if audio_s[name]:
            ours, theirs = (10 * t[name] / audio_s[name] for t in (ours_s, naive_s))
            print(f"{name:15} {ours:14.3f} {theirs:12.3f} {theirs / ours:8.2f}x {diff[name]:11.2e}")
    total_ours, total_naive = sum(ours_s.values()), sum(naive_s.values())
    print(
        f"{'all metrics':15} {total_ours:13.1f}s {total_naive:11.1f}s "
        f"{total_naive / total_ours:8.2f}x   (stage time / package compute = "
        f"{total_ours / total_naive:.2f})"
    )


def _warm_up(metric, naive_call, clips: list) -> None:
    """One untimed call of each side first: model loads and JIT compiles are not per-pair cost."""
    for _clip_id, domain, rate, pairs, text in clips:
        if metric.applies_to(domain):
            m_rate = metric.evaluation_rate(rate)
            ref, deg = (A.convert(x, rate, m_rate, 1) for x in pairs[0])
            try:
                metric.score(_prepare(metric, ref, m_rate, text), deg, m_rate)
            except NotApplicable:
                continue
            naive_call(ref, deg, m_rate, text)
            return


def _prepare(metric, ref: np.ndarray, rate: int, text: ClipText):
    return metric.prepare(ref, rate, text) if metric.uses_text else metric.prepare(ref, rate)


if __name__ == "__main__":
    main()
