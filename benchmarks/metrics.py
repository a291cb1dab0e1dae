"""Seconds per 10-s pair for each metric: evalkit's metric objects against naive package calls.

Real clips from the default set, coded by Opus at two bitrates (so the reference-side work of
``prepare`` is reused once, as the pipeline reuses it across codecs and bitrates), delay removed
the pipeline's way. "naive" calls each package's public function on every pair, with its model
created once (``VisqolApi.measure_from_arrays``, ``pesq.pesq``, ``pystoi.stoi``, audiotools'
losses when installed). Runs on one core (one torch, numba and BLAS thread) and counts CPU seconds
of this process (``time.process_time``), so other work on a shared machine does not inflate the
figures. Also prints the largest difference between the two values of each metric, which must be
at float-noise level.

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
from evalkit.pipeline.align import MAX_LAG_SECONDS, apply_lag, estimate_lag, probe_signal  # noqa: E402

DEFAULT_SET = Path(__file__).resolve().parents[1] / "datasets" / "default"


def naive_calls() -> dict[str, Callable[[np.ndarray, np.ndarray, int], float]]:
    """Each package called directly on one pair, the way a plain script would."""
    from pesq import pesq
    from pystoi import stoi
    from visqol.api import VisqolApi

    speech, audio = VisqolApi(), VisqolApi()
    speech.create(mode="speech", use_lattice_model=True)
    audio.create(mode="audio")
    calls = {
        "pesq": lambda r, d, sr: pesq(sr, r[0], d[0], "wb"),
        "pesq_nb": lambda r, d, sr: pesq(sr, r[0], d[0], "nb"),
        "stoi": lambda r, d, sr: stoi(r[0], d[0], sr),
        "estoi": lambda r, d, sr: stoi(r[0], d[0], sr, extended=True),
        "visqol_speech": lambda r, d, sr: speech.measure_from_arrays(r[0], d[0], sr).moslqo,
        "visqol_audio": lambda r, d, sr: audio.measure_from_arrays(r[0], d[0], sr).moslqo,
    }
    try:  # reference-free metrics: a plain script scores the reference again for every pair
        import distillmos
        from speechmos import dnsmos

        model = distillmos.ConvTransformerSQAModel().eval()

        def distill(x: np.ndarray) -> float:
            with torch.no_grad():
                return float(model(torch.from_numpy(np.ascontiguousarray(x[0]))[None]))

        def dns(x: np.ndarray) -> dict:
            return dnsmos.run(np.clip(x[0], -1.0, 1.0), 16000)  # speechmos refuses overshoot

        calls["dnsmos"] = lambda r, d, sr: (dns(d), dns(r))[0]["sig_mos"]
        calls["distillmos"] = lambda r, d, sr: (distill(d), distill(r))[0]
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

    calls["mel_distance"] = lambda r, d, sr: float(mel(*signals(r, d, sr)[::-1]))
    calls["stft_distance"] = lambda r, d, sr: float(stft(*signals(r, d, sr)[::-1]))
    calls["si_sdr"] = lambda r, d, sr: -float(sisdr(*signals(r, d, sr)))
    return calls


def coded_pairs(per_domain: int, bitrates: list[float]) -> list[tuple[str, str, np.ndarray, list]]:
    """(clip id, domain, reference, [degraded per bitrate]) with Opus delay removed."""
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
        out.append((row["id"], row["domain"], rate, pairs))
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
        for _clip_id, domain, rate, pairs in clips:
            if not metric.applies_to(domain):
                continue
            m_rate = metric.sample_rate_hz or rate
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
                        prepared[key] = metric.prepare(r, m_rate)
                    values.append(metric.score(prepared[key], d, m_rate)[metric.output_names()[0]])
                ours_s[name] += time.process_time() - started
            except NotApplicable:
                continue
            started = time.process_time()
            theirs = [naive[name](r, d, m_rate) for r, d in converted]
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
    for _clip_id, domain, rate, pairs in clips:
        if metric.applies_to(domain):
            m_rate = metric.sample_rate_hz or rate
            ref, deg = (A.convert(x, rate, m_rate, 1) for x in pairs[0])
            try:
                metric.score(metric.prepare(ref, m_rate), deg, m_rate)
            except NotApplicable:
                continue
            naive_call(ref, deg, m_rate)
            return


if __name__ == "__main__":
    main()
