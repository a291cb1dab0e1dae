"""Speech metrics (ASR, speaker, pitch, WARP-Q) equal their packages called directly."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit import audio as A
from evalkit.errors import NotApplicable
from evalkit.metrics.base import ClipText
from evalkit.metrics.text_normalize import normalize
from tests.conftest import DEFAULT_SET, default_clips
from tests.metrics_fixtures import SPEECH, clip, degrade

LIBRIVOX = [c for c in default_clips() if "librivox" in c["id"]]
#: pocketsphinx 5.1.1's WER on the four LibriVox readings (its wheel's en-us model)
LIBRIVOX_WER = {"0870": 4 / 11, "0890": 4 / 14, "0920": 4 / 19, "0930": 1 / 8}


def read16k(row: dict) -> np.ndarray:
    audio, rate = A.read(DEFAULT_SET / row["path"])
    assert rate == 16000
    return audio


def sphinx(audio: np.ndarray) -> str:
    """pocketsphinx's own hypothesis on the clip's 16-bit samples."""
    from pocketsphinx import Decoder

    pcm = np.clip(np.round(audio[0] * 32768.0), -32768, 32767).astype("<i2")
    decoder = Decoder(samprate=16000, loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw(pcm.tobytes(), full_utt=True)
    decoder.end_utt()
    return decoder.hyp().hypstr


def test_normaliser_is_pinned():
    assert normalize("Mr. Dashwood's  'TIS, don\u2019t — 12 Straße!") == (
        "mr dashwood's tis don't 12 strasse"
    )
    assert normalize("Příliš žluťoučký kůň") == "příliš žluťoučký kůň"
    assert normalize(" ...  ") == ""


@pytest.fixture(scope="module")
def librivox_hypotheses():
    pytest.importorskip("pocketsphinx")
    return {row["id"][-4:]: sphinx(read16k(row)) for row in LIBRIVOX}


def test_wer_of_pocketsphinx_on_the_librivox_clips_is_reproduced(librivox_hypotheses):
    import jiwer

    from evalkit.metrics.wer import CER, WER

    assert len(LIBRIVOX) == 4 and all(r["transcript"] and r["language"] == "en" for r in LIBRIVOX)
    wer, cer = WER(), CER()
    # one recogniser for all four, fresh decoders for the direct calls: order does not matter
    for row in LIBRIVOX:
        n, audio = row["id"][-4:], read16k(row)
        text = ClipText(row["language"], row["transcript"])
        ours = wer.score(wer.prepare(audio, 16000, text), audio, 16000)
        direct = jiwer.wer(row["transcript"], librivox_hypotheses[n])
        assert ours["wer"] == ours["wer_ref"] == pytest.approx(direct, abs=1e-12), n
        assert ours["wer"] == pytest.approx(LIBRIVOX_WER[n], abs=1e-12), n
        chars = cer.score(cer.prepare(audio, 16000, text), audio, 16000)["cer"]
        assert chars == pytest.approx(jiwer.cer(row["transcript"], librivox_hypotheses[n]))


def test_dwer_counts_only_what_the_codec_changed(librivox_hypotheses):
    import jiwer

    from evalkit.metrics.wer import DWER

    ref = read16k(LIBRIVOX[3])
    deg = degrade(ref, 16000, 1000)
    metric = DWER()
    prepared = metric.prepare(ref, 16000, ClipText("en"))
    assert metric.score(prepared, ref, 16000) == {"dwer": 0.0}
    ours = metric.score(prepared, deg, 16000)["dwer"]
    assert ours == pytest.approx(jiwer.wer(librivox_hypotheses["0930"], normalize(sphinx(deg))))
    assert ours > 0


@pytest.mark.parametrize(
    "text,reason",
    [
        (ClipText("cs", "dobrý den"), "pocketsphinx does not recognise language 'cs'"),
        (ClipText(None, "hello"), "the clip has no language"),
        (ClipText("en", None), "no transcript"),
    ],
)
def test_asr_is_not_applicable_without_a_known_language_or_transcript(text, reason):
    pytest.importorskip("pocketsphinx")
    from evalkit.metrics.wer import WER

    ref, sr = clip(SPEECH, 1.0, 16000)
    with pytest.raises(NotApplicable, match=reason):
        WER().prepare(ref, sr, text)


def test_speaker_similarity_equals_resemblyzer():
    pytest.importorskip("resemblyzer")
    from resemblyzer import VoiceEncoder, preprocess_wav

    from evalkit.metrics.speaker import SpeakerSimilarity

    a, b = (read16k(r) for r in LIBRIVOX[1::2])  # the two shortest readings
    other, _ = clip(SPEECH, 4.0, 16000)
    metric = SpeakerSimilarity()
    prepared = metric.prepare(a, 16000)
    same, different = (metric.score(prepared, x, 16000)["speaker_similarity"] for x in (b, other))
    encoder = VoiceEncoder(device="cpu", verbose=False)
    ea, eb = (encoder.embed_utterance(preprocess_wav(x[0], source_sr=16000)) for x in (a, b))
    direct = float(np.dot(ea, eb) / np.linalg.norm(ea) / np.linalg.norm(eb))
    assert same == pytest.approx(direct, abs=1e-6)
    assert same > 0.75 > different


def harmonic(f0: float, seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
    return (0.2 * wave).astype(np.float32)[None]


def test_pitch_metrics_equal_praat_and_measure_a_known_shift():
    parselmouth = pytest.importorskip("parselmouth")
    from evalkit.metrics.pitch import F0RMSE, VDE, F0Correlation, compare

    ref, sr = clip(SPEECH, 4.0, 16000)
    deg = degrade(ref, sr, 2000)
    tracks = [
        parselmouth.Sound(x[0].astype(np.float64), sampling_frequency=sr)
        .to_pitch_ac(time_step=0.01, pitch_floor=50, pitch_ceiling=1000)
        .selected_array["frequency"]
        for x in (ref, deg)
    ]
    direct = compare(*tracks)
    for cls in (F0RMSE, F0Correlation, VDE):
        metric = cls()
        assert metric.score(metric.prepare(ref, sr), deg, sr) == {cls.name: direct[cls.name]}
    both = (tracks[0] > 0) & (tracks[1] > 0)
    cents = 1200 * np.log2(tracks[1][both] / tracks[0][both])
    assert direct["f0_rmse"] == pytest.approx(np.sqrt(np.mean(cents**2)))
    metric = F0RMSE()
    shifted = metric.score(metric.prepare(harmonic(200.0), sr), harmonic(210.0), sr)["f0_rmse"]
    assert shifted == pytest.approx(1200 * np.log2(210 / 200), abs=2.0)  # 84.5 cents


def test_pitch_is_not_applicable_to_noise():
    pytest.importorskip("parselmouth")
    from evalkit.metrics.pitch import F0RMSE

    noise = 0.1 * np.random.default_rng(0).standard_normal((1, 16000)).astype(np.float32)
    with pytest.raises(NotApplicable, match="no pitch"):
        F0RMSE().prepare(noise, 16000)


def test_warpq_equals_the_package():
    pytest.importorskip("warpq")
    from warpq.core import warpqMetric

    from evalkit.metrics.warpq import WARPQ  # restores np.lib.pad for the direct call too

    ref, sr = clip(SPEECH, 3.0, 16000)
    deg = degrade(ref, sr, 2000)
    metric = WARPQ()
    ours = metric.score(metric.prepare(ref, sr), deg, sr)["warpq"]
    direct = warpqMetric(sr=16000, n_jobs=1).evaluate(
        ref[0].astype(np.float64), deg[0].astype(np.float64), arr_sr=16000
    )
    assert ours == pytest.approx(direct["raw_warpq_score"], abs=1e-12)
    assert metric.score(metric.prepare(ref, sr), ref, sr)["warpq"] < ours
    loud = 1.5 * deg / np.abs(deg).max()  # a decoder's overshoot: pyvad alone would refuse it
    clipped = metric.score(metric.prepare(ref, sr), np.clip(loud, -1, 1), sr)["warpq"]
    assert metric.score(metric.prepare(ref, sr), loud, sr)["warpq"] == clipped
