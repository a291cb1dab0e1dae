"""``evalkit train rvq``: two steps on a tiny folder, resume, and refusals of bad training data."""

from __future__ import annotations

import csv
import dataclasses
import shutil
import signal

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.codecs.rvq.model import RVQModel
from evalkit.codecs.rvq.train import Corpus, export_model, initialise_from
from tests.conftest import DEFAULT_SET, default_clips
from tests.test_rvq_quantizer import TINY


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """``--threads`` sets torch's process-wide thread count; restore it for the other tests."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def tiny_data(tmp_path):
    """Two domains of 2-s 16 kHz files (resampled to 24 kHz by the loader)."""
    rng = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    for domain, audio in (
        ("speech", 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))),
        ("music", 0.1 * rng.standard_normal(32000)),
    ):
        (tmp_path / "data" / domain).mkdir(parents=True)
        sf.write(tmp_path / "data" / domain / "a.wav", audio.astype(np.float32), 16000)
    return tmp_path / "data"


def train_args(data, out, steps):
    return [
        "train", "rvq", "--data", str(data), "--out", str(out), "--steps", str(steps),
        "--batch-size", "2", "--crop-seconds", "0.2", "--threads", "1",
    ]  # fmt: skip


@pytest.mark.slow
def test_train_two_steps_then_resume(tiny_data, tmp_path):
    out = tmp_path / "run"
    first = CliRunner().invoke(app, [*train_args(tiny_data, out, 2), "--discriminator", "none"])
    assert first.exit_code == 0, first.output
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2
    resumed = CliRunner().invoke(
        app, [*train_args(tiny_data, out, 3), "--discriminator", "none", "--resume"]
    )
    assert resumed.exit_code == 0, resumed.output
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 3
    with open(out / "log.csv", newline="") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f)]
    assert steps == [2, 3]  # logged at the last step of each run
    model = torch.load(out / "model.pt", weights_only=True)
    assert model["meta"]["steps"] == 3
    assert model["meta"]["groups"] == "music,speech"
    tuned = CliRunner().invoke(
        app,
        [*train_args(tiny_data, tmp_path / "tuned", 1), "--discriminator", "none",
         "--init", str(out / "model.pt")],
    )  # fmt: skip
    assert tuned.exit_code == 0, tuned.output


def test_ctrl_c_finishes_the_step_and_writes_checkpoint_and_model(tiny_data, tmp_path, monkeypatch):
    sample = Corpus.sample

    def interrupting_sample(self, *args):
        if self.calls == 2:  # Ctrl-C arrives while the second step is being computed
            signal.raise_signal(signal.SIGINT)
        self.calls += 1
        return sample(self, *args)

    monkeypatch.setattr(Corpus, "calls", 0, raising=False)
    monkeypatch.setattr(Corpus, "sample", interrupting_sample)
    out = tmp_path / "run"
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        result = CliRunner().invoke(
            app, [*train_args(tiny_data, out, 50), "--discriminator", "none"]
        )
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    finally:
        signal.signal(signal.SIGINT, before)
    assert result.exit_code == 0, result.output
    assert "stopping after step 3" in result.output
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 3
    assert torch.load(out / "model.pt", weights_only=True)["meta"]["steps"] == 3


def test_init_copies_the_weights_and_keeps_modules_the_checkpoint_lacks(tmp_path):
    torch.manual_seed(0)
    source = RVQModel(TINY).eval()
    export_model(source, tmp_path / "model.pt", {})
    older = torch.load(tmp_path / "model.pt", weights_only=True)
    lacking = "decoder.net.out.bias"  # as if the module were added after that checkpoint
    del older["state"][lacking]
    torch.save(older, tmp_path / "older.pt")

    target = RVQModel(TINY)
    with torch.no_grad():
        target.decoder.net.out.bias.fill_(7.0)
    initialise_from(target, tmp_path / "older.pt")
    for name, value in source.state_dict().items():
        got = target.state_dict()[name]
        if name == lacking:
            assert (got == 7.0).all()  # not in the checkpoint: keeps its own value
        else:
            want = value.half().float() if value.is_floating_point() else value
            assert torch.equal(got.float(), want), name

    with pytest.raises(ValueError, match="shape differs"):
        initialise_from(RVQModel(dataclasses.replace(TINY, latent_dim=8)), tmp_path / "model.pt")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["stft", "magnitude"])
def test_train_with_discriminator_runs_and_resumes_only_with_the_same_one(
    tiny_data, tmp_path, kind
):
    args = [*train_args(tiny_data, tmp_path / "gan", 1), "--discriminator", kind]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    state = torch.load(tmp_path / "gan" / "checkpoint.pt", weights_only=True)
    assert "disc" in state and state["discriminator"] == kind
    other = CliRunner().invoke(
        app, [*train_args(tiny_data, tmp_path / "gan", 2), "--discriminator", "none", "--resume"]
    )
    assert other.exit_code == 2 and f"trained with --discriminator {kind}" in other.output


def test_unknown_discriminator_is_a_user_error(tiny_data, tmp_path):
    args = [*train_args(tiny_data, tmp_path / "run", 1), "--discriminator", "mpd"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "stft, magnitude, none" in result.output


def test_training_refuses_an_evaluation_clip(tiny_data, tmp_path):
    clip = default_clips()[0]
    shutil.copy(DEFAULT_SET / clip["path"], tiny_data / "speech" / "copied.flac")
    result = CliRunner().invoke(app, train_args(tiny_data, tmp_path / "run", 1))
    assert result.exit_code == 2
    assert "copied.flac" in result.output and "evaluation set" in result.output


def test_resume_without_checkpoint_and_empty_folder_are_user_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, train_args(tmp_path / "empty", tmp_path / "run", 1))
    assert result.exit_code == 2 and "no audio files" in result.output
    result = CliRunner().invoke(app, ["train", "mp3", "--data", "x", "--out", "y"])
    assert result.exit_code == 2 and "only 'rvq'" in result.output
