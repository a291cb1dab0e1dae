"""The codec adapter interface.

A codec adapter turns audio into a payload and back. evalkit measures; the adapter never decides
what counts as quality. Adding a codec = subclass :class:`Codec`, implement ``encode`` / ``decode``
(and ``offered_bitrates``), and register the class under the ``evalkit.codecs`` entry-point group.
"""

from __future__ import annotations

import abc
import hashlib
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from evalkit.errors import UsageError


@dataclass(frozen=True)
class Encoded:
    """What an encoder produced for one bitrate.

    Attributes:
        nominal_kbps: the bitrate the codec was set to (what it advertises for this setting).
        payload_bits: exact number of bits a decoder needs (no container framing).
        duration_s: duration of the input audio, for measured bitrate = payload_bits / duration.
        sample_rate_hz: rate of the audio that was encoded.
        data: opaque payload handed back to ``decode`` (bytes, codes, model tensors ...).
        container_bits: bits including container framing (Ogg, MP3 frames + tags), where one exists.
        codes: integer codebook indices shaped (codebooks, frames) for codebook codecs, else None.
        codebook_size: number of entries per codebook (for entropy and utilisation).
        frame_rate_hz: code frames per second (for the entropy-bound bitrate).
        setting: the exact codec parameters used (recorded in the results).
    """

    nominal_kbps: float
    payload_bits: int
    duration_s: float
    sample_rate_hz: int
    data: Any = None
    container_bits: int | None = None
    codes: np.ndarray | None = None
    codebook_size: int | None = None
    frame_rate_hz: float | None = None
    setting: dict[str, Any] = field(default_factory=dict)

    @property
    def measured_kbps(self) -> float:
        return self.payload_bits / self.duration_s / 1000.0

    @property
    def container_kbps(self) -> float | None:
        if self.container_bits is None:
            return None
        return self.container_bits / self.duration_s / 1000.0


class Codec(abc.ABC):
    """Base class of every codec adapter.

    Class attributes describe the codec; instances hold loaded models. Audio is float32 numpy,
    shaped (channels, samples), in [-1, 1].

    ``sample_rate_hz`` / ``channels``: the format ``encode`` expects. ``None`` means the adapter
    accepts any rate / channel count (it handles them itself); otherwise the pipeline converts the
    clip with evalkit's one resampler before ``encode``.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    sample_rate_hz: ClassVar[int | None] = None
    channels: ClassVar[int | None] = None
    max_channels: ClassVar[int | None] = (
        None  # with channels=None: more than this are mixed to mono
    )
    #: algorithmic latency = frame + look-ahead, in ms, as the codec's design states it (None:
    #: not stated; a non-causal model that needs the whole signal states none)
    frame_ms: ClassVar[float | None] = None
    lookahead_ms: ClassVar[float | None] = None

    def __init__(self, checkpoint: str | None = None, device: str = "cpu") -> None:
        if checkpoint is not None:
            raise UsageError(f"codec {self.name!r} takes no checkpoint")
        self.device = device

    def channels_for(self, clip_channels: int) -> int:
        """How many channels this codec codes for a clip (the reference is compared in that
        layout): its fixed count, or the clip's own, mixed to mono above ``max_channels``."""
        if self.channels is not None:
            return self.channels
        if self.max_channels is not None and clip_channels > self.max_channels:
            return 1
        return clip_channels

    # -- bitrates -----------------------------------------------------------------------------
    @abc.abstractmethod
    def offered_bitrates(self) -> list[float] | tuple[float, float]:
        """Discrete settings in kbps (a list), or a continuous (low, high) range (a tuple)."""

    def resolve_bitrate(self, budget_kbps: float) -> float:
        """The highest setting that fits a budget; the same rule for every codec.

        Raises:
            UsageError: when the budget is below the lowest setting, listing what is offered.
        """
        offered = self.offered_bitrates()
        eps = 1e-9
        if isinstance(offered, tuple):
            low, high = offered
            if budget_kbps + eps < low:
                raise UsageError(
                    f"codec {self.name!r} cannot run at {budget_kbps:g} kbps: "
                    f"it offers {low:g}-{high:g} kbps"
                )
            return min(budget_kbps, high)
        fitting = [b for b in offered if b <= budget_kbps + eps]
        if not fitting:
            listed = ", ".join(f"{b:g}" for b in sorted(offered))
            raise UsageError(
                f"codec {self.name!r} cannot run at {budget_kbps:g} kbps: "
                f"its lowest setting is {min(offered):g} kbps (offered: {listed})"
            )
        return max(fitting)

    def describe_bitrates(self) -> str:
        offered = self.offered_bitrates()
        if isinstance(offered, tuple):
            return f"{offered[0]:g}-{offered[1]:g} kbps"
        offered = sorted(offered)
        if len(offered) > 6:  # one line each in `evalkit codecs`: summarise long ladders
            return f"{offered[0]:g}-{offered[-1]:g} kbps ({len(offered)} settings)"
        return ", ".join(f"{b:g}" for b in offered) + " kbps"

    # -- identity -----------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        """What makes this codec's output reproducible: recorded in results, part of cache keys.

        ``adapter_source`` hashes the file that defines the adapter class, so editing a codec's
        code (a plugin under development) computes fresh results instead of reusing cached ones.
        """
        return {
            "codec": self.name,
            "adapter_version": self.version,
            "adapter_source": source_digest(type(self)),
        }

    def parameter_count(self) -> int | None:
        """Learned parameters (None for a DSP codec): those of every torch module the adapter
        holds as an attribute, each counted once; adapters with models elsewhere override it."""
        torch = sys.modules.get("torch")  # a codec holding a module has imported torch
        if torch is None:
            return None
        sizes = {
            id(p): p.numel()
            for value in vars(self).values()
            if isinstance(value, torch.nn.Module)
            for p in value.parameters()
        }
        return sum(sizes.values()) if sizes else None

    # -- coding -------------------------------------------------------------------------------
    @abc.abstractmethod
    def encode(self, audio: np.ndarray, sample_rate_hz: int, nominal_kbps: float) -> Encoded:
        """Encode at one resolved setting (``nominal_kbps`` comes from ``resolve_bitrate``)."""

    @abc.abstractmethod
    def decode(self, encoded: Encoded) -> tuple[np.ndarray, int]:
        """Decode to float32 (channels, samples) and its sample rate."""

    def encode_many(
        self, audio: np.ndarray, sample_rate_hz: int, nominal_kbps: list[float]
    ) -> list[Encoded]:
        """Encode at several settings. RVQ codecs override this to encode once and truncate."""
        return [self.encode(audio, sample_rate_hz, b) for b in nominal_kbps]

    def check_input(
        self, audio: np.ndarray, sample_rate_hz: int, nominal_kbps: list[float]
    ) -> None:
        """For fixed-format adapters: the pipeline converts clips to the declared rate and channels
        and resolves bitrates, so a mismatch here is a caller's bug, reported plainly."""
        rate, channels = self.sample_rate_hz, self.channels
        if (
            audio.ndim != 2
            or (rate is not None and sample_rate_hz != rate)
            or (channels is not None and audio.shape[0] != channels)
        ):
            layout = {1: "mono", 2: "stereo"}.get(channels or 0, f"{channels or 'any'}-channel")
            raise ValueError(
                f"{self.name} codes {layout} audio at {rate or 'any'} Hz, "
                f"got shape {audio.shape} at {sample_rate_hz} Hz"
            )
        offered = self.offered_bitrates()
        if isinstance(offered, list):
            unknown = [b for b in nominal_kbps if b not in offered]
            if unknown:
                raise ValueError(
                    f"{self.name} has no {unknown[0]:g} kbps setting ({self.describe_bitrates()})"
                )


class EncodeOnceCodec(Codec):
    """A codec whose one encoding serves every bitrate (residual VQ: keep the first k codebooks).

    Subclasses implement ``encode_many``; ``encode`` is the one-bitrate case of it.
    """

    def encode(self, audio: np.ndarray, sample_rate_hz: int, nominal_kbps: float) -> Encoded:
        return self.encode_many(audio, sample_rate_hz, [nominal_kbps])[0]

    @abc.abstractmethod
    def encode_many(
        self, audio: np.ndarray, sample_rate_hz: int, nominal_kbps: list[float]
    ) -> list[Encoded]:
        """Encode once; one ``Encoded`` per requested setting, in order."""


def source_digest(cls: type) -> str:
    """sha256 (16 hex digits) of the file defining ``cls``; "" where it has none (a REPL)."""
    try:
        return hashlib.sha256(Path(inspect.getfile(cls)).read_bytes()).hexdigest()[:16]
    except (OSError, TypeError):
        return ""
