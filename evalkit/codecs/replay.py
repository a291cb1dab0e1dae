"""Replay: decoded audio made elsewhere, fed through the pipeline as if a codec had produced it.

Pairs mode (``evalkit run --pairs``, :mod:`evalkit.pipeline.pairs`) writes one table per codec
label: for each clip and bitrate label, the decoded file with its sha256, and optionally payload
bits and a codes file. ``Replay`` loads that table once per worker; :meth:`Replay.bind` gives the
adapter of one clip, whose ``encode_many``/``decode`` return what the files hold. So replayed
files get the same reading, scoring, caching and tables as codec output, and nothing forks.

The identity covers the table, hence every file's sha256: changing a decoded file (or the
alignment asked for) computes fresh results for that label. Replayed files are scored as they
are: no probe delay (nothing can be encoded), no length check (a short file is scored and its
duration reported, see docs/alignment.md).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from evalkit import audio as A
from evalkit.codecs.base import Codec, Encoded
from evalkit.datasets.base import Clip
from evalkit.errors import UsageError
from evalkit.pipeline.align import pair_lag

NO_CODING = "replayed files only: nothing to encode (no probe, so no measured delay)"


def label_key(bitrate_kbps: float) -> str:
    return f"{bitrate_kbps:g}"


class Replay(Codec):
    name = "replay"
    description = "decoded files from elsewhere, replayed (evalkit run --pairs)"

    def __init__(self, checkpoint: str | None = None, device: str = "cpu") -> None:
        self.device = device
        self.table: dict[str, Any] = {"label": self.name, "align": "none", "pairs": {}}
        self.digest = ""
        if checkpoint is not None:
            blob = Path(checkpoint).read_bytes()
            self.table, self.digest = json.loads(blob), hashlib.sha256(blob).hexdigest()

    def offered_bitrates(self) -> list[float]:
        labels = {float(b) for bitrates in self.table["pairs"].values() for b in bitrates}
        return sorted(labels)

    def describe_bitrates(self) -> str:
        return "the labels of its pairs"

    def resolve_bitrate(self, budget_kbps: float) -> float:
        if not self.table["pairs"]:
            raise UsageError("codec 'replay' replays decoded files: use evalkit run --pairs")
        return super().resolve_bitrate(budget_kbps)

    def identity(self) -> dict[str, Any]:
        return {
            **super().identity(),
            "label": self.table["label"],
            "align": self.table["align"],
            "pairs_sha256": self.digest,
        }

    def bind(self, clip: Clip) -> ReplayedClip:
        """The adapter of one clip: what the pipeline encodes and decodes for it."""
        return ReplayedClip(self.table["pairs"].get(clip.clip_id, {}), self.table["align"])

    def encode(self, audio: np.ndarray, sample_rate_hz: int, nominal_kbps: float) -> Encoded:
        raise RuntimeError(NO_CODING)

    def decode(self, encoded: Encoded) -> tuple[np.ndarray, int]:
        raise RuntimeError(NO_CODING)


class ReplayedClip(Codec):
    """The replayed files of one clip, one per bitrate label."""

    name = "replay"

    def __init__(self, pairs: dict[str, dict[str, Any]], align: str) -> None:
        super().__init__()
        self.pairs, self.align = pairs, align

    def offered_bitrates(self) -> list[float]:
        return sorted(float(b) for b in self.pairs)

    def encode(self, audio: np.ndarray, sample_rate_hz: int, nominal_kbps: float) -> Encoded:
        entry = self.pairs.get(label_key(nominal_kbps)) or {
            "path": None,  # the manifest lists this label for other clips only
            "missing": f"the manifest lists none for this clip at bitrate label {nominal_kbps:g}",
        }
        duration = audio.shape[1] / sample_rate_hz
        codes = load_codes(entry) if entry.get("codes") else None
        return Encoded(
            nominal_kbps=nominal_kbps,
            payload_bits=int(entry.get("payload_bits") or 0),  # 0: not given
            duration_s=duration,
            sample_rate_hz=sample_rate_hz,
            data=entry,
            codes=codes,
            codebook_size=entry.get("codebook_size"),
            frame_rate_hz=None if codes is None else codes.shape[1] / duration,
            setting={"file": entry.get("path")},
        )

    def decode(self, encoded: Encoded) -> tuple[np.ndarray, int]:
        entry = encoded.data
        if entry.get("path") is None:
            raise ValueError(f"no decoded file: {entry['missing']}")
        try:
            return A.read(entry["path"], sha256=entry["sha256"])
        except ValueError as exc:
            raise ValueError(f"{entry['path']}: {exc}") from None

    def replayed(
        self, encoded: Encoded, reference: np.ndarray, rate: int
    ) -> tuple[np.ndarray, int]:
        """The decoded file at the reference's rate and channels, and its lag under the
        table's alignment (0, or a per-pair estimate)."""
        audio, file_rate = self.decode(encoded)
        degraded = A.to_channels(A.resample(audio, file_rate, rate), reference.shape[0])
        return degraded, pair_lag(reference, degraded, rate, self.align)


def load_codes(entry: dict[str, Any]) -> np.ndarray:
    """A (codebooks, frames) integer array from a .npy file, checked against its listed sha256
    and its codebook size."""
    path = entry["codes"]
    blob = Path(path).read_bytes()
    if hashlib.sha256(blob).hexdigest() != entry["codes_sha256"]:
        raise ValueError(f"{path}: the codes file changed after it was listed; run again")
    try:
        codes = np.load(io.BytesIO(blob), allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"{path}: not a .npy array: {exc}") from None
    size = entry["codebook_size"]
    if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.integer) or codes.shape[1] == 0:
        raise ValueError(f"{path}: codes must be integers shaped (codebooks, frames), got "
                         f"{codes.dtype} {codes.shape}")  # fmt: skip
    if codes.min() < 0 or codes.max() >= size:
        raise ValueError(f"{path}: codes outside 0..{size - 1} (codebook_size {size})")
    return codes


def check_codebook_size(value: str | None, where: str) -> int:
    try:
        size = int(value or "")
    except ValueError:
        raise UsageError(f"{where}: codes need a codebook_size (entries per codebook)") from None
    if size < 1:
        raise UsageError(f"{where}: codebook_size must be positive, got {size}")
    return size
