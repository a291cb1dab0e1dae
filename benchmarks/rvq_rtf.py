"""Real-time factor of the ``rvq`` codec on CPU: (encode + decode time) / audio duration.

    python benchmarks/rvq_rtf.py [--seconds 10] [--threads 1] [--repeats 3]

Uses a real speech clip of the default set (looped to the length asked), the shipped checkpoint,
one torch thread (what each evalkit worker gets). Prints the best of the repeats per bitrate; below
1.0 is faster than real time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from evalkit import audio
from evalkit.codecs.rvq.adapter import RVQCodec

CLIP = Path(__file__).resolve().parents[1] / "datasets/default/speech-linphone-hello16000.flac"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    wav, rate = audio.read(CLIP)
    wav = audio.convert(wav, rate, 24000, 1)
    n = int(args.seconds * 24000)
    x = np.tile(wav, (1, -(-n // wav.shape[1])))[:, :n]
    codec = RVQCodec()
    codec.decode(codec.encode(x[:, :24000], 24000, 6.0))  # warm-up
    print(f"rvq CPU real-time factor, {args.seconds:g} s clip, {args.threads} thread(s)")
    for kbps in codec.offered_bitrates():
        best_enc, best_dec = np.inf, np.inf
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            enc = codec.encode(x, 24000, kbps)
            t1 = time.perf_counter()
            codec.decode(enc)
            t2 = time.perf_counter()
            best_enc, best_dec = min(best_enc, t1 - t0), min(best_dec, t2 - t1)
        rtf = (best_enc + best_dec) / args.seconds
        print(
            f"{kbps:5g} kbps  encode {best_enc / args.seconds:.3f}  "
            f"decode {best_dec / args.seconds:.3f}  encode+decode {rtf:.3f}"
        )


if __name__ == "__main__":
    main()
