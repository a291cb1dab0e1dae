"""What a magnitude-domain speech decoder could reach at best: oracle resyntheses, scored as a run.

    python codecs/rvq/speech_oracle.py datasets/default/speech-*.flac

Each clip is resampled to the codec's 24 kHz and taken apart with its STFT (window 1280, hop 320);
every variant below puts some of the clip's *true* parts (its magnitude, its cepstral envelope, its
YIN pitch) together with the shipped decoder's or with a random or Griffin-Lim phase, and is scored
with ``evalkit.score_arrays`` against the clip at its own rate, as ``evalkit run`` scores a codec
(ViSQOL speech, PESQ-WB). Prints each clip's values and a Markdown table of the means (model card,
experiment 8). Seeded: the random phases repeat.
"""

from __future__ import annotations

import sys

import numpy as np
import soundfile as sf
import torch

import evalkit
from evalkit import audio
from evalkit.codecs.rvq.adapter import RVQCodec
from evalkit.codecs.rvq.harmonic import comb, yin
from evalkit.codecs.rvq.model import SameSTFT

GRIFFIN_LIM_ITERATIONS = 32
#: Cepstral coefficients kept for the envelope (below a 1.7 ms quefrency at 24 kHz: no pitch).
LIFTER = 40
METRICS = ["visqol_speech", "pesq"]


def main(paths: list[str]) -> None:
    torch.manual_seed(0)
    codec = RVQCodec()
    cfg = codec.model.cfg
    stft = SameSTFT(cfg.window, cfg.hop)

    def random_phase(mag: torch.Tensor) -> torch.Tensor:
        return stft.inverse(torch.polar(mag, 2 * torch.pi * torch.rand_like(mag)))

    def griffin_lim(mag: torch.Tensor) -> torch.Tensor:
        spec = torch.polar(mag, 2 * torch.pi * torch.rand_like(mag))
        for _ in range(GRIFFIN_LIM_ITERATIONS):
            spec = torch.polar(mag, torch.angle(stft(stft.inverse(spec))))
        return stft.inverse(spec)

    def envelope(mag: torch.Tensor) -> torch.Tensor:
        cepstrum = torch.fft.irfft(mag.clamp(min=1e-5).log(), cfg.window, dim=1)
        keep = torch.zeros(cfg.window)
        keep[:LIFTER] = keep[-LIFTER + 1 :] = 1
        return torch.fft.rfft(cepstrum * keep[None, :, None], dim=1).real.exp()

    def with_comb(env: torch.Tensor, f0: torch.Tensor, voiced: torch.Tensor) -> torch.Tensor:
        """Voiced frames: the envelope times the comb of F0's harmonics, frame energy kept."""
        combed = env * comb(
            torch.where(voiced, f0, 100.0), env.shape[1], cfg.sample_rate_hz / cfg.window
        )
        energy = env.square().sum(1, keepdim=True) / combed.square().sum(1, keepdim=True).clamp(
            min=1e-12
        )
        return torch.where(voiced[:, None], combed * energy.sqrt(), env)

    means: dict[str, list[list[float]]] = {}
    for path in paths:
        ref, rate = sf.read(path, dtype="float32", always_2d=True)
        ref = np.ascontiguousarray(ref.T[:1])
        at_24k = audio.resample(ref, rate, cfg.sample_rate_hz)
        n = at_24k.shape[1]
        padded = -(-n // cfg.hop) * cfg.hop
        x = torch.zeros(1, 1, padded)
        x[0, 0, :n] = torch.from_numpy(at_24k[0])
        decoded, _ = codec.decode(codec.encode_many(at_24k, cfg.sample_rate_hz, [6.0])[0])
        d = torch.zeros(1, 1, padded)
        d[0, 0, :n] = torch.from_numpy(decoded[0])
        true_mag, dec_mag = stft(x).abs(), stft(d).abs()
        f0, voiced = yin(x, cfg.window, cfg.hop, cfg.sample_rate_hz)
        true_env = envelope(true_mag)
        true_comb = with_comb(true_env, f0, voiced)
        variants = {
            "the shipped decoder, 8 stages (6 kbps)": d,
            "its magnitude + Griffin-Lim phase": griffin_lim(dec_mag),
            "its envelope × comb(YIN F0) + Griffin-Lim": griffin_lim(
                with_comb(envelope(dec_mag), f0, voiced)
            ),
            "true magnitude, random phase": random_phase(true_mag),
            "true magnitude + Griffin-Lim": griffin_lim(true_mag),
            "true envelope, random phase": random_phase(true_env),
            "true envelope + Griffin-Lim": griffin_lim(true_env),
            "true envelope × comb(YIN F0), random phase": random_phase(true_comb),
            "true envelope × comb(YIN F0) + Griffin-Lim": griffin_lim(true_comb),
        }
        for name, wav in variants.items():
            deg = wav[0, :, :n].detach().numpy().astype(np.float32)
            rows = evalkit.score_arrays(ref, deg, rate, METRICS, degraded_rate=cfg.sample_rate_hz)
            values = {r["metric"]: r["value"] for r in rows}
            print(path, name, values, flush=True)
            means.setdefault(name, []).append([values["visqol_speech"], values["pesq_wb"]])

    print(
        f"\n{len(paths)} clips, means\n\n| signal | ViSQOL speech | PESQ-WB |\n| --- | --- | --- |"
    )
    for name, values in means.items():
        visqol, pesq = np.nanmean(np.array(values, dtype=float), axis=0)
        print(f"| {name} | {visqol:.3f} | {pesq:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
