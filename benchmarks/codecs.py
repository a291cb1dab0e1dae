"""Real-time factor of the neural codec adapters: encode + decode seconds per second of audio.

Each model is the package's real architecture with seeded random weights (no weights can be
downloaded here; compute does not depend on the weight values), saved to a checkpoint and loaded
through the adapter's ``--checkpoint`` path. A clip is encoded once and decoded at every bitrate,
as the pipeline does; the last column compares that with encoding anew for every bitrate.

On CPU the script runs one torch thread (as a pipeline worker does) and counts CPU seconds of this
process (``time.process_time``), so other work on a shared machine does not inflate the figures.
On CUDA it counts wall seconds after ``torch.cuda.synchronize``, after one warm-up call.

    python benchmarks/codecs.py [--seconds 10] [--device cpu|cuda|auto]
        [--codecs encodec_24khz,dac_44khz] [--bitrates 1.5,6,24]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from evalkit import registry  # noqa: E402

CODECS = ["encodec_24khz", "encodec_48khz", "dac_16khz", "dac_24khz", "dac_44khz"]


def random_checkpoint(name: str, folder: Path) -> Path:
    """The codec's real architecture with seeded random weights, in the package's file format."""
    torch.manual_seed(0)
    path = folder / f"{name}.pth"
    if name.startswith("encodec"):
        from encodec import EncodecModel

        model = getattr(EncodecModel, f"encodec_model_{name.split('_')[1]}")(pretrained=False)
        state = model.state_dict()
        for key in state:  # untrained codebooks are zeros; random ones make codes vary
            if key.endswith("_codebook.embed"):
                state[key] = torch.randn_like(state[key])
        torch.save(state, path)
    else:
        from dac import DAC

        DAC(**registry.load(registry.CODECS, name).architecture).save(str(path), package=False)
    return path


def clock(device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        return time.perf_counter()
    return time.process_time()


def settings(codec, budgets: list[float] | None) -> list[float]:
    """The resolved budgets, or by default every setting (first, middle and last of long lists)."""
    if budgets:
        return sorted({codec.resolve_bitrate(b) for b in budgets})
    offered = sorted(codec.offered_bitrates())
    return offered if len(offered) <= 5 else [offered[0], offered[len(offered) // 2], offered[-1]]


def bench(name: str, folder: Path, seconds: float, device: str, budgets: list[float] | None):
    cls = registry.load(registry.CODECS, name)
    codec = cls(checkpoint=str(random_checkpoint(name, folder)), device=device)
    rate, channels = cls.sample_rate_hz, cls.channels
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal((channels, int(seconds * rate)))).astype(np.float32)
    bitrates = settings(codec, budgets)
    if device.startswith("cuda"):  # warm-up: kernels and allocator
        codec.decode(codec.encode(audio[:, :rate], rate, bitrates[0]))
    start = clock(device)
    encoded = codec.encode_many(audio, rate, bitrates)
    encode_s = clock(device) - start
    decode_s = []
    for enc in encoded:
        start = clock(device)
        codec.decode(enc)
        decode_s.append(clock(device) - start)
    once = encode_s + sum(decode_s)
    per_bitrate = len(bitrates) * encode_s + sum(decode_s)
    for enc, dec in zip(encoded, decode_s, strict=True):
        rtf = (encode_s + dec) / seconds
        print(
            f"{name:14s} {enc.nominal_kbps:8.3f} {enc.measured_kbps:9.3f} "
            f"{encode_s / seconds:8.3f} {dec / seconds:8.3f} {rtf:8.3f} {1 / rtf:9.1f}x"
        )
    print(
        f"{'':14s} all {len(bitrates)} bitrates: encode once {once / per_bitrate:.2f}x the cost "
        f"of encoding per bitrate"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="clip duration")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--codecs", default=",".join(CODECS))
    parser.add_argument("--bitrates", default="", help="budgets in kbps (default: see settings)")
    args = parser.parse_args()
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(1)
    budgets = [float(b) for b in args.bitrates.split(",") if b.strip()] or None
    warnings.filterwarnings("ignore", category=FutureWarning)  # weight_norm deprecation
    clock_kind = "wall s" if device.startswith("cuda") else "CPU s (1 thread)"
    print(
        f"device {device}, {args.seconds:g}-s clip, random weights; times are {clock_kind} "
        "per second of audio"
    )
    print(
        f"{'codec':14s} {'nominal':>8s} {'measured':>9s} {'encode':>8s} {'decode':>8s} "
        f"{'enc+dec':>8s} {'speed':>10s}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.codecs.split(","):
            bench(name.strip(), Path(tmp), args.seconds, device, budgets)


if __name__ == "__main__":
    main()
