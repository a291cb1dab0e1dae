"""Asset lookup, and the wheel's file selection: an install outside the checkout finds its assets.

The selection is read from setuptools' ``build_py`` (setup.py + pyproject.toml, about a second)
instead of building the 60 MB wheel; docs/packaging.md has the full build-and-install check.
"""

from __future__ import annotations

import csv
import runpy
import warnings
from pathlib import Path

import numpy as np
import pytest
import setuptools
import soundfile as sf
from setuptools.dist import Distribution
from typer.testing import CliRunner

from evalkit import assets
from evalkit.cli import app

ROOT = Path(__file__).resolve().parents[1]
INSTALLED = assets.INSTALLED_ROOT.relative_to(ROOT).as_posix()
TRAINING_ONLY = {"training_data.csv", "training_log.csv", "prepare_data.py", "train_gpu.sh"}


def default_set_files() -> list[str]:
    with (ROOT / assets.DEFAULT_MANIFEST).open(newline="") as f:
        return [row["path"] for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Paths inside the wheel, as ``build_py`` would write them, without building it."""
    captured: dict = {}
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # setuptools' deprecation notices are the build's business
        mp.chdir(ROOT)
        mp.setattr(setuptools, "setup", lambda **kw: captured.update(kw))
        runpy.run_path("setup.py")
        dist = Distribution({**captured, "script_name": "setup.py"})
        dist.parse_config_files()
        # include_package_data runs egg_info; keep its output out of the checkout
        dist.get_command_obj("egg_info").egg_base = str(tmp_path_factory.mktemp("egg"))
        build_py = dist.get_command_obj("build_py")
        build_py.ensure_finalized()
        outputs = build_py.get_outputs(include_bytecode=False)
    return {Path(p).relative_to(build_py.build_lib).as_posix() for p in outputs}


def test_lookup_finds_the_checkpoint_and_every_clip_of_the_default_set():
    assert assets.rvq_checkpoint().stat().st_size > 2**20
    files = default_set_files()
    assert len(files) > 10 and all((assets.default_set() / f).is_file() for f in files)


def test_an_installed_copy_comes_before_the_checkout(tmp_path, monkeypatch):
    (tmp_path / assets.RVQ_CHECKPOINT).parent.mkdir(parents=True)
    (tmp_path / assets.RVQ_CHECKPOINT).write_bytes(b"")
    monkeypatch.setattr(assets, "INSTALLED_ROOT", tmp_path)
    assert assets.rvq_checkpoint() == tmp_path / assets.RVQ_CHECKPOINT
    assert assets.default_set() == ROOT / "datasets" / "default"


def test_a_missing_asset_is_one_line_naming_it_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "INSTALLED_ROOT", tmp_path / "site-packages")
    monkeypatch.setattr(assets, "CHECKOUT_ROOT", tmp_path / "checkout")
    with pytest.raises(assets.MissingAsset) as caught:
        assets.rvq_checkpoint()
    message = str(caught.value)
    assert "\n" not in message and "rvq codec's shipped checkpoint" in message
    assert assets.HOW_TO_GET in message


def run_without_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setattr(assets, "INSTALLED_ROOT", tmp_path / "site-packages")
    monkeypatch.setattr(assets, "CHECKOUT_ROOT", tmp_path / "checkout")
    result = CliRunner().invoke(app, ["run", *args, "--metrics", "si_sdr"])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    return result.output


def test_a_default_run_without_the_set_says_so_in_one_line(tmp_path, monkeypatch):
    output = run_without_assets(tmp_path, monkeypatch, "--codec", "pcm", "--bitrates", "64")
    assert output.startswith("error: the default dataset's manifest is missing")


def test_an_rvq_run_without_the_checkpoint_says_so_in_one_line(tmp_path, monkeypatch):
    (tmp_path / "clips").mkdir()
    sf.write(tmp_path / "clips" / "tone.wav", np.zeros(8000, dtype=np.float32), 16000)
    dataset = f"folder:{tmp_path / 'clips'}:speech"
    output = run_without_assets(
        tmp_path, monkeypatch, "--codec", "rvq", "--bitrates", "1.5", "--dataset", dataset
    )
    assert output.startswith("error: the rvq codec's shipped checkpoint is missing")


def test_the_wheel_carries_the_assets_where_lookup_looks(wheel_files):
    shipped = [assets.RVQ_CHECKPOINT, "codecs/rvq/MODEL_CARD.md", assets.DEFAULT_MANIFEST]
    shipped += [f"datasets/default/{f}" for f in ["CREDITS.md", *default_set_files()]]
    assert {f"{INSTALLED}/{f}" for f in shipped} - wheel_files == set()


def test_the_wheel_carries_every_file_of_the_evalkit_package(wheel_files):
    package = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "evalkit").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert package - wheel_files == set()


def test_the_wheel_leaves_out_training_only_files(wheel_files):
    assert {Path(f).name for f in wheel_files} & TRAINING_ONLY == set()
