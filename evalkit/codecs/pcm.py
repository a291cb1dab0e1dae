"""Linear PCM: the smallest complete codec adapter, the reference for writing your own.

16 kHz mono, uniform quantization with 2-16 bits per sample (32-256 kbps). Its quality is
predictable (about 6 dB SNR per bit), which makes it the fixture the tests and the regression
gate degrade on purpose.
"""

from __future__ import annotations

import numpy as np

from evalkit.codecs.base import Codec, Encoded

RATE_HZ = 16000


class PCM(Codec):
    name = "pcm"
    description = "linear PCM, 16 kHz mono, 2-16 bits per sample (reference adapter)"
    sample_rate_hz = RATE_HZ
    channels = 1

    def offered_bitrates(self) -> list[float]:
        return [bits * RATE_HZ / 1000 for bits in range(2, 17)]

    def encode(self, audio: np.ndarray, sample_rate_hz: int, nominal_kbps: float) -> Encoded:
        bits = int(round(nominal_kbps * 1000 / RATE_HZ))
        levels = 2 ** (bits - 1)
        codes = np.clip(np.round(audio[0] * levels), -levels, levels - 1).astype(np.int32)
        return Encoded(
            nominal_kbps=nominal_kbps,
            payload_bits=codes.size * bits,
            duration_s=codes.size / RATE_HZ,
            sample_rate_hz=RATE_HZ,
            data=(codes, bits),
            setting={"bits_per_sample": bits, "sample_rate_hz": RATE_HZ},
        )

    def decode(self, encoded: Encoded) -> tuple[np.ndarray, int]:
        codes, bits = encoded.data
        return (codes.astype(np.float32) / 2 ** (bits - 1))[None, :], RATE_HZ
