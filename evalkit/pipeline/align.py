"""Alignment: one policy for every path (``evalkit run``, pairs mode, ``evalkit score``, the API).

- Metrics that align internally or do not compare in time (PESQ, ViSQOL, DNSMOS;
  ``Metric.needs_alignment = False``) get both signals as they are: no shift, no trimming, which
  is how their reference implementations are defined (PESQ on the ITU files as they are gives the
  official numbers). ViSQOL (``pads_short_degraded``) gets a degraded signal shorter than the
  reference padded with silence at its end: it skips reference patches past the degraded file's
  end, so half a music clip would otherwise score 4.65 against 4.73 for the whole.
- Metrics that compare sample by sample (SI-SDR, mel/STFT distance, STOI) get the degraded
  signal shifted by a *known* lag and cut or padded with silence to the reference's length
  (:func:`to_reference`): the reference is never trimmed, so audio a decoder dropped counts as
  lost. The lag is a codec's delay measured on a probe (``evalkit run``), or for files from
  elsewhere 0 unless a per-pair estimate is asked for (``align="estimate"``), and is recorded.

A codec's delay is a property of its setting, not of the clip, so it is measured once per
(codec, setting, rate, channels) on a broadband probe and then applied to every clip. Estimating it
from each clip instead picks wrong lags on quiet or tonal material (birdsong, flute, violins: about
one pair in thirty with plain cross-correlation). See docs/alignment.md.
"""

from __future__ import annotations

import numpy as np

PROBE_SECONDS = 2.0
MAX_LAG_SECONDS = 0.25
#: how the lag of a pair from elsewhere is found: none (0) or estimated per pair
ALIGN_CHOICES = ("none", "estimate")


def probe_signal(sample_rate_hz: int, channels: int) -> np.ndarray:
    """Deterministic probe: irregular bursts of pink-ish noise over a quiet log sweep, -16 dBFS."""
    n = int(PROBE_SECONDS * sample_rate_hz)
    t = np.arange(n) / sample_rate_hz
    rng = np.random.default_rng(1234)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / sample_rate_hz)
    noise = np.fft.irfft(spectrum / np.sqrt(np.maximum(freqs, 50.0)), n)
    # aperiodic on/off gating (40-200 ms runs) so the envelope has one unambiguous alignment
    edges = np.cumsum(rng.uniform(0.04, 0.2, size=int(PROBE_SECONDS / 0.04) + 1))
    bursts = (np.searchsorted(edges, t) % 2 == 0).astype(np.float64)
    f0, f1 = 80.0, 0.45 * sample_rate_hz
    sweep = np.sin(
        2
        * np.pi
        * f0
        * PROBE_SECONDS
        / np.log(f1 / f0)
        * (np.exp(t / PROBE_SECONDS * np.log(f1 / f0)) - 1)
    )
    x = noise / np.abs(noise).max() * bursts + 0.1 * sweep
    x = x / np.abs(x).max() * 10 ** (-16 / 20) * np.sqrt(2)
    return np.repeat(x[None, :].astype(np.float32), channels, axis=0)


#: a GCC-PHAT peak this many standard deviations above the rest marks a waveform-matched delay;
#: the largest of ~10^4 lags of noise lies near 4.5
MIN_PEAK_Z = 8.0
ENVELOPE_SECONDS = 0.002


def _xcorr_window(
    a: np.ndarray, b: np.ndarray, max_lag: int, phat: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-correlation of ``b`` against ``a`` at lags -max_lag..max_lag (PHAT-weighted or not)."""
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    cross = np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n))
    if phat:
        cross /= np.maximum(np.abs(cross), 1e-12)
    corr = np.fft.irfft(cross, n)
    lags = np.concatenate([np.arange(-max_lag, 0), np.arange(0, max_lag + 1)])
    return lags, np.concatenate([corr[n - max_lag :], corr[: max_lag + 1]])


def _envelope(x: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Log energy in 2-ms windows, floored 50 dB below its peak: on/off structure, not loudness
    (a codec that adds noise or gain must not move the alignment)."""
    width = max(1, int(ENVELOPE_SECONDS * sample_rate_hz))
    energy = 10 * np.log10(np.convolve(x**2, np.ones(width) / width, mode="same") + 1e-10)
    energy = np.maximum(energy, energy.max() - 50.0)
    return energy - energy.mean()


def estimate_lag(
    reference: np.ndarray, degraded: np.ndarray, max_lag: int, sample_rate_hz: int
) -> int:
    """Lag (samples) by which ``degraded`` trails ``reference``.

    The cross-correlation of 2-ms log-energy envelopes gives the delay to about a millisecond for
    any codec, even one that rebuilds magnitudes with phases of its own (neural codecs); GCC-PHAT on
    the mono mixes refines it to the sample where the codec matches the waveform, i.e. where its
    peak is sharp and agrees with the envelope's.
    """
    ref = reference.mean(axis=0).astype(np.float64)
    deg = degraded.mean(axis=0).astype(np.float64)
    lags, corr = _xcorr_window(
        _envelope(ref, sample_rate_hz), _envelope(deg, sample_rate_hz), max_lag, phat=False
    )
    coarse = int(lags[int(np.argmax(corr))])
    lags, corr = _xcorr_window(ref, deg, max_lag, phat=True)
    peak = int(np.argmax(corr))
    sharp = (corr[peak] - corr.mean()) / (corr.std() + 1e-12) >= MIN_PEAK_Z
    agrees = abs(int(lags[peak]) - coarse) <= ENVELOPE_SECONDS * sample_rate_hz
    return int(lags[peak]) if sharp and agrees else coarse


def pair_lag(reference: np.ndarray, degraded: np.ndarray, rate: int, align: str | int) -> int:
    """The lag of one pair under ``align``: a known lag (int), 0 (``none``) or an estimate."""
    if isinstance(align, bool) or not isinstance(align, str | int):
        raise ValueError(f"align must be {' or '.join(ALIGN_CHOICES)} or a lag in samples")
    if isinstance(align, int):
        return align
    if align not in ALIGN_CHOICES:
        raise ValueError(f"align must be {' or '.join(ALIGN_CHOICES)}, not {align!r}")
    if align == "none":
        return 0
    return estimate_lag(reference, degraded, int(MAX_LAG_SECONDS * rate), rate)


def to_reference(degraded: np.ndarray, lag: int, length: int) -> np.ndarray:
    """``degraded`` shifted back by ``lag`` and cut or padded with silence to ``length`` samples:
    what sample-aligned metrics compare with the whole reference."""
    out = np.zeros((degraded.shape[0], length), np.float32)
    src, start = (degraded[:, lag:], 0) if lag >= 0 else (degraded, -lag)
    n = max(0, min(src.shape[1], length - start))
    out[:, start : start + n] = src[:, :n]
    return out


def apply_lag(
    reference: np.ndarray, degraded: np.ndarray, lag: int
) -> tuple[np.ndarray, np.ndarray]:
    """Shift ``degraded`` back by ``lag`` and trim both to their common length (benchmarks and
    listening stimuli, which cut excerpts; scores use :func:`to_reference`)."""
    if lag > 0:
        degraded = degraded[:, lag:]
    elif lag < 0:
        reference = reference[:, -lag:]
    n = min(reference.shape[1], degraded.shape[1])
    return reference[:, :n], degraded[:, :n]
