"""Training the RVQ codec: data sampling, the training loop, checkpoints and resume.

Everything a run needs to continue is in ``OUT/checkpoint.pt`` (model, discriminator, optimizers,
step, random-generator state); ``OUT/model.pt`` is the small inference checkpoint (config and
float16 weights) that the ``rvq`` adapter loads. Both load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import csv
import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from evalkit import audio
from evalkit.assets import default_set
from evalkit.atomic import atomic_path
from evalkit.codecs.rvq.discriminator import (
    discriminator_loss,
    generator_losses,
    make_discriminator,
)
from evalkit.codecs.rvq.harmonic import teacher_losses, yin
from evalkit.codecs.rvq.losses import MultiResolutionSTFTLoss, MultiScaleMelLoss
from evalkit.codecs.rvq.model import ModelConfig, RVQModel
from evalkit.datasets.files import audio_files
from evalkit.hashing import sha256_file
from evalkit.metrics.base import DOMAINS

LOGGED = ("mel", "stft", "commit", "adv", "fm", "disc", "f0", "voicing")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. ``max_minutes`` stops it by wall clock (the LR schedule follows whichever
    of steps or time runs out first, so a time-boxed run still ends at a low LR). The time counts
    from this start, so a resumed time-boxed run begins a new cosine cycle at the peak LR (a warm
    restart).

    ``init`` starts a new run from the weights of an inference checkpoint (``model.pt``, e.g. the
    shipped ``rvq.pt``); weights that the checkpoint lacks (a module added since) keep their
    initialisation, and the model shape must otherwise match.

    ``teacher_forcing``: the share of steps whose harmonic comb takes the pitch teacher's F0 on
    voiced frames instead of the decoder's own (with a harmonic decoder, ``model.harmonic``).

    ``trainable``: a parameter-name prefix (``decoder.harmonic``): only those weights train, the
    codebooks stay as they are, and the frozen network needs no backward pass (on a CPU, a cheap
    first stage for a new head). Empty: everything trains.

    ``quantizer_bypass`` is the share of steps whose latents skip the quantizer (Mimi's recipe:
    the autoencoder learns fast and keeps detail that the later codebooks can then carry).
    """

    data: tuple[str, ...]
    out: str
    steps: int = 10_000
    batch_size: int = 8
    crop_s: float = 1.0
    lr: float = 3e-4
    warmup_steps: int = 500
    discriminator: str = "stft"
    discriminator_start: int = 0
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    max_minutes: float | None = None
    checkpoint_every: int = 1000
    log_every: int = 50
    quantizer_bypass: float = 0.5
    teacher_forcing: float = 0.5
    trainable: str = ""
    init: str | None = None
    model: ModelConfig = field(default_factory=ModelConfig)


# -- data ------------------------------------------------------------------------------------------
def evaluation_sha256s() -> set[str]:
    """sha256 of every clip of the default evaluation set, which training must not see."""
    found: set[str] = set()
    for manifest in sorted(default_set().glob("manifest.*")):
        if manifest.suffix == ".csv":
            with manifest.open(newline="") as f:
                found |= {row["sha256"] for row in csv.DictReader(f) if row.get("sha256")}
        elif manifest.suffix == ".parquet":
            import pandas as pd

            found |= set(pd.read_parquet(manifest)["sha256"])
    return found


def list_audio(paths: tuple[str, ...]) -> list[tuple[Path, str]]:
    """(file, group) for every audio file under ``paths``; the group (for balanced sampling) is the
    first folder below a given path when it is named after a domain, else the given path itself."""
    files = []
    for given in map(Path, paths):
        if not given.exists():
            raise FileNotFoundError(f"training data path {given} does not exist")
        candidates = [given] if given.is_file() else audio_files(given)
        for f in candidates:
            if f.is_file():  # regular files only: a pipe or device in the folder is passed over
                rel = f.relative_to(given).parts if f != given else ()
                group = rel[0] if len(rel) > 1 and rel[0] in DOMAINS else str(given)
                files.append((f, group))
    if not files:
        raise FileNotFoundError(f"no audio files under {paths}")
    return files


class Corpus:
    """All training audio as one mono tensor at the model rate, sampled in random crops.

    Crops are balanced across groups (each group is equally likely, whatever its length), then
    proportional to length within a group. Files shorter than a crop are zero-padded.
    """

    def __init__(self, paths: tuple[str, ...], sample_rate_hz: int, device: str) -> None:
        forbidden = evaluation_sha256s()
        pieces, starts, lengths, groups = [], [], [], []
        names: list[str] = []
        offset = 0
        for path, group in list_audio(paths):
            if forbidden and sha256_file(path) in forbidden:
                raise ValueError(f"{path}: is a clip of the evaluation set (sha256 match)")
            try:
                wav, rate = audio.read(path)
            except Exception as exc:
                raise ValueError(f"{path}: cannot be read as training audio: {exc}") from exc
            wav = audio.convert(wav, rate, sample_rate_hz, 1)[0]
            if group not in names:
                names.append(group)
            pieces.append(wav)
            starts.append(offset)
            lengths.append(len(wav))
            groups.append(names.index(group))
            offset += len(wav)
        self.groups = names
        self.seconds = offset / sample_rate_hz
        self.wave = torch.from_numpy(np.concatenate(pieces)).to(device)
        self.starts = torch.tensor(starts, device=device)
        self.lengths = torch.tensor(lengths, device=device)
        group_ids = torch.tensor(groups, device=device)
        # P(file) = 1/num_groups * length / total length of its group.
        group_total = torch.zeros(len(names), device=device).index_add_(
            0, group_ids, self.lengths.float()
        )
        self.weights = self.lengths.float() / group_total[group_ids] / len(names)

    def sample(self, batch: int, length: int, gen: torch.Generator) -> torch.Tensor:
        """(batch, 1, length) random crops with a random gain of -12..+4 dB (peak kept < 1)."""
        dev = self.wave.device
        f = torch.multinomial(self.weights.cpu(), batch, replacement=True, generator=gen).to(dev)
        room = (self.lengths[f] - length).clamp(min=0)
        offset = (torch.rand(batch, generator=gen).to(dev) * (room + 1)).long()
        pos = offset[:, None] + torch.arange(length, device=dev)[None, :]
        inside = pos < self.lengths[f][:, None]
        idx = (self.starts[f][:, None] + pos).clamp(max=len(self.wave) - 1)
        x = torch.where(inside, self.wave[idx], torch.zeros((), device=dev))
        gain = 10 ** ((torch.rand(batch, 1, generator=gen).to(dev) * 16 - 12) / 20)
        x = x * gain
        peak = x.abs().amax(dim=1, keepdim=True).clamp(min=1e-8)
        x = torch.where(peak > 0.99, x * 0.99 / peak, x)
        return x[:, None, :]


# -- checkpoints -----------------------------------------------------------------------------------
def export_model(model: RVQModel, path: Path, meta: dict) -> None:
    """Write the inference checkpoint: config, float16 weights, and ``meta`` (steps, data ...)."""
    state = {
        k: (v.half() if v.is_floating_point() else v).cpu() for k, v in model.state_dict().items()
    }
    torch.save({"config": model.cfg.to_dict(), "state": state, "meta": meta}, path)


def load_model(path: str | Path, device: str = "cpu") -> tuple[RVQModel, dict]:
    """Rebuild a model from an inference checkpoint; returns (model in eval mode, meta)."""
    ckpt = torch.load(path, map_location=device, weights_only=True)
    model = RVQModel(ModelConfig.from_dict(ckpt["config"])).to(device)
    result = model.load_state_dict(ckpt["state"], strict=False)
    problems = [
        f"{what} {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
        for what, keys in (("missing", result.missing_keys), ("unexpected", result.unexpected_keys))
        if keys
    ]
    if problems:
        raise ValueError(
            "its weights do not fit this version of the model (from an older evalkit?): "
            + "; ".join(problems)
        )
    return model.eval(), ckpt["meta"]


def initialise_from(model: RVQModel, path: str | Path) -> None:
    """Copy inference checkpoint ``path``'s weights into ``model`` (see ``TrainConfig.init``)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not model.cfg.compatible(ModelConfig.from_dict(ckpt["config"])):
        raise ValueError(f"--init {path}: its model shape differs from the one being trained")
    result = model.load_state_dict(ckpt["state"], strict=False)  # float16 is copied into float32
    if result.unexpected_keys:
        raise ValueError(f"--init {path}: weights this model lacks: {result.unexpected_keys}")


# -- training --------------------------------------------------------------------------------------
@contextmanager
def stop_requests() -> Iterator[threading.Event]:
    """An event set by the first Ctrl-C, so the loop can finish its step and write the checkpoint
    and model.pt; a second Ctrl-C aborts at once. Off the main thread, or where SIGINT is ignored
    (a background job), the handling is left as it is."""
    stop = threading.Event()
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield stop
        return

    def on_sigint(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def pitch_teacher(
    x: torch.Tensor, cfg: TrainConfig, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The teacher's F0 and voicing of batch ``x``, and the F0 the comb uses this step
    (the teacher's, NaN where unvoiced, on a ``teacher_forcing`` share of steps; else None)."""
    m = cfg.model
    f0, voiced = yin(x, m.window, m.hop, m.sample_rate_hz)
    forced = float(torch.rand((), generator=gen)) < cfg.teacher_forcing
    return f0, voiced, torch.where(voiced, f0, torch.nan) if forced else None


def lr_factor(progress: float, step: int, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak as progress goes 0 -> 1."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def train(cfg: TrainConfig, resume: bool = False, show_progress: bool = True) -> Path:
    """Train (or resume) a run; returns the path of the exported inference checkpoint."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dev = cfg.device
    gen = torch.Generator().manual_seed(cfg.seed)

    corpus = Corpus(cfg.data, cfg.model.sample_rate_hz, dev)
    model = RVQModel(cfg.model).to(dev)
    disc = make_discriminator(cfg.discriminator)
    disc = disc.to(dev) if disc is not None else None
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(cfg.trainable))
    trained = [p for p in model.parameters() if p.requires_grad]
    opt_g = torch.optim.AdamW(trained, lr=cfg.lr, betas=(0.8, 0.99))
    opt_d = torch.optim.AdamW(disc.parameters(), lr=cfg.lr, betas=(0.8, 0.99)) if disc else None
    mel_loss = MultiScaleMelLoss(cfg.model.sample_rate_hz).to(dev)
    stft_loss = MultiResolutionSTFTLoss().to(dev)

    step, elapsed_before = 0, 0.0
    ckpt_path = out / "checkpoint.pt"
    if resume:
        if not ckpt_path.exists():
            raise FileNotFoundError(f"--resume: no {ckpt_path} to resume from")
        state = torch.load(ckpt_path, map_location=dev, weights_only=True)
        model.load_state_dict(state["model"])
        opt_g.load_state_dict(state["opt_g"])
        if state.get("discriminator", "none") != cfg.discriminator:
            raise ValueError(
                f"{ckpt_path} was trained with --discriminator "
                f"{state.get('discriminator', 'none')}, not {cfg.discriminator}"
            )
        if disc is not None:
            disc.load_state_dict(state["disc"])
            opt_d.load_state_dict(state["opt_d"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        step, elapsed_before = state["step"], state["elapsed_s"]
    elif cfg.init:
        initialise_from(model, cfg.init)

    def save() -> None:
        state = {
            "model": model.state_dict(),
            "opt_g": opt_g.state_dict(),
            "generator": gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "step": step,
            "discriminator": cfg.discriminator,
            "elapsed_s": elapsed_before + time.monotonic() - t0,
        }
        if disc is not None:
            state["disc"], state["opt_d"] = disc.state_dict(), opt_d.state_dict()
        with atomic_path(ckpt_path) as tmp:
            torch.save(state, tmp)

    crop = int(cfg.crop_s * cfg.model.sample_rate_hz) // cfg.model.hop * cfg.model.hop
    budget_s = cfg.max_minutes * 60 if cfg.max_minutes else math.inf
    log = (out / "log.csv").open("a", newline="")
    logger = csv.writer(log)
    if step == 0:
        logger.writerow(["step", "elapsed_s", "n_q", *LOGGED])
    model.train()
    if cfg.trainable:
        model.quantizer.eval()  # no k-means, EMA or restarts: the codes stay the shipped ones
    t0 = time.monotonic()
    columns = [TextColumn("rvq"), BarColumn(), TextColumn("{task.completed}/{task.total}")]
    columns += [TimeRemainingColumn(), TextColumn("{task.fields[losses]}")]
    with Progress(*columns, disable=not show_progress) as bar, stop_requests() as stop:
        task = bar.add_task("train", total=cfg.steps, completed=step, losses="")
        while step < cfg.steps:
            elapsed = time.monotonic() - t0
            if elapsed > budget_s:
                break
            if stop.is_set():
                bar.console.print(
                    f"Ctrl-C: stopping after step {step}, writing checkpoint.pt and model.pt "
                    "(continue with --resume)"
                )
                break
            progress = max(step / cfg.steps, elapsed / budget_s)
            for opt in (opt_g, opt_d):
                for group in opt.param_groups if opt else ():
                    group["lr"] = cfg.lr * lr_factor(progress, step, cfg.warmup_steps)
            n_q = cfg.model.quantizer_dropout[
                int(torch.randint(len(cfg.model.quantizer_dropout), (1,), generator=gen))
            ]
            if float(torch.rand((), generator=gen)) < cfg.quantizer_bypass:
                n_q = 0
            x = corpus.sample(cfg.batch_size, crop, gen)
            teacher = pitch_teacher(x, cfg, gen) if cfg.model.harmonic else None
            y, q, controls = model(x, n_q, teacher[2] if teacher else None)
            losses = {"commit": q.commitment_loss} if q is not None else {}
            losses["mel"], losses["stft"] = mel_loss(y, x), stft_loss(y, x)
            loss = losses["mel"] + 0.5 * losses["stft"] + 0.25 * losses.get("commit", 0.0)
            if teacher:
                losses |= teacher_losses(controls, *teacher[:2])
                loss = loss + losses["f0"] + 0.2 * losses["voicing"]
            use_disc = disc is not None and step >= cfg.discriminator_start
            if use_disc:
                real, fake = disc(x), disc(y)
                losses["adv"], losses["fm"] = generator_losses(real, fake)
                loss = loss + 0.067 * losses["adv"] + 0.133 * losses["fm"]
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt_g.step()
            if use_disc:
                d_loss = discriminator_loss(disc(x), disc(y.detach()))
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
                losses["disc"] = d_loss
            step += 1
            if step % cfg.log_every == 0 or step == cfg.steps:
                vals = {k: float(v.detach()) for k, v in losses.items()}
                logger.writerow(
                    [step, round(elapsed_before + elapsed, 1), n_q]
                    + [f"{vals[k]:.4f}" if k in vals else "" for k in LOGGED]
                )
                log.flush()
                text = " ".join(f"{k} {v:.3f}" for k, v in vals.items())
                bar.update(task, completed=step, losses=f"n_q {n_q:2d} {text}")
            if step % cfg.checkpoint_every == 0:
                save()
    save()
    log.close()
    meta = {
        "steps": step,
        "wall_s": round(elapsed_before + time.monotonic() - t0, 1),
        "device": torch.cuda.get_device_name() if dev.startswith("cuda") else "cpu",
        "train_seconds_of_audio": round(corpus.seconds, 1),
        "groups": ",".join(corpus.groups),
        "train_config": repr(asdict(cfg)),
    }
    model.eval()
    export_model(model, out / "model.pt", meta)
    return out / "model.pt"
