"""What defines a run, validated in one place: the CLI, the Python API and ``--resume`` all
build a :class:`RunConfig` and call :meth:`RunConfig.resolved` (through ``evaluate``), so a
profile or a check cannot apply on one path and not on another."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from evalkit.errors import UsageError
from evalkit.results import RUN_JSON

#: named presets. ``fixed`` settings replace the user's; ``defaults`` fill what is not given.
#: ``ci`` is the regression gate's small subset: 2 clips per domain of the default set, rvq.
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "ci": {
        "fixed": {"dataset": "default", "limit": 2},
        "defaults": {"codecs": ("rvq",), "bitrates_kbps": (1.5, 3.0, 6.0)},
    },
}
DEVICES = ("cpu", "cuda", "auto")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; stored in run.json so ``--resume`` can replay it.

    Example:
        >>> RunConfig(profile="ci").resolved().codecs
        ('rvq',)
        >>> RunConfig(codecs=("opus",), bitrates_kbps=(6, 12), limit=1).resolved().bitrates_kbps
        (6.0, 12.0)
    """

    codecs: tuple[str, ...] = ()
    bitrates_kbps: tuple[float, ...] = ()
    dataset: str = "default"
    metrics: tuple[str, ...] | None = None  # None: every metric of a default run
    limit: int | None = None  # clips per domain
    segment_s: float | None = None
    workers: int | None = None  # None: one per core
    scheduler: str | None = None  # address of an existing Dask scheduler
    checkpoints: dict[str, str] = field(default_factory=dict)
    device: str = "cpu"
    save_audio: bool = False
    profile: str | None = None
    timeout_s: float | None = 1800.0
    retries: int = 2
    pairs: str | None = None  # decoded files to replay instead of coding (evalkit.pipeline.pairs)
    align: str = "none"  # lag of replayed pairs for sample-aligned metrics: none or estimate

    def resolved(self) -> RunConfig:
        """The profile applied, names resolved (``pesq_wb`` -> ``pesq``) and every setting
        checked; raises UsageError with a one-line reason before any work starts."""
        config = self.with_profile()
        from evalkit import registry

        if config.pairs is not None:  # codecs and bitrates are the labels the pairs carry
            from evalkit.pipeline.pairs import labelled

            config = labelled(config)
        if not config.codecs or not config.bitrates_kbps:
            raise UsageError(
                "name at least one --codec and --bitrates (e.g. --codec opus --bitrates 6,12,24)"
            )
        codecs = config.codecs
        if config.pairs is None:
            codecs = tuple(registry.parse_list(registry.CODECS, ",".join(codecs)))
        budgets = tuple(float(b) for b in config.bitrates_kbps)
        if not all(0 < b < math.inf or (config.pairs and b == 0) for b in budgets):
            raise UsageError(f"bitrates must be positive finite kbps, got {list(budgets)}")
        metrics = config.metrics
        if metrics is not None:
            metrics = tuple(registry.parse_list(registry.METRICS, ",".join(metrics)))
        # --limit and --segment are checked by the dataset loader, which takes them too
        if config.workers is not None and config.workers < 1:
            raise UsageError(f"--workers must be at least 1, got {config.workers}")
        if config.timeout_s is not None and not 0 < config.timeout_s < math.inf:
            raise UsageError(
                f"--timeout must be a positive number of seconds, not {config.timeout_s}"
            )
        if config.device not in DEVICES:
            raise UsageError(f"--device must be one of {', '.join(DEVICES)}, not {config.device!r}")
        for name, path in config.checkpoints.items():
            if not Path(path).is_file():
                raise UsageError(f"--checkpoint {name}={path}: no such file")
        unknown = set(config.checkpoints) - set(codecs)
        if unknown:
            raise UsageError(f"--checkpoint names {', '.join(sorted(unknown))}, which is not run")
        return replace(config, codecs=codecs, bitrates_kbps=budgets, metrics=metrics)

    def with_profile(self) -> RunConfig:
        if self.profile is None:
            return self
        if self.profile not in PROFILES:
            raise UsageError(f"unknown profile {self.profile!r}; known: {', '.join(PROFILES)}")
        preset = PROFILES[self.profile]
        filled = {k: v for k, v in preset["defaults"].items() if not getattr(self, k)}
        return replace(self, **filled, **preset["fixed"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings, as run.json stores them."""
        d = asdict(self)
        d["codecs"], d["bitrates_kbps"] = list(self.codecs), list(self.bitrates_kbps)
        d["metrics"] = list(self.metrics) if self.metrics else None
        return d

    @classmethod
    def from_run(cls, run_dir: str | Path) -> RunConfig:
        """The settings of an earlier run, for ``--resume``."""
        path = Path(run_dir) / RUN_JSON
        if not path.exists():
            raise UsageError(
                f"{run_dir} is not a run folder (no {RUN_JSON}); give the folder of a run"
            )
        try:  # run.json is a file anyone may have edited: a broken one is a usage error
            d = json.loads(path.read_text())["config"]
            d["codecs"], d["bitrates_kbps"] = tuple(d["codecs"]), tuple(d["bitrates_kbps"])
            d["metrics"] = tuple(d["metrics"]) if d.get("metrics") else None
            return cls(**d)
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(
                f"{path} does not hold a run's settings: {type(exc).__name__}: {exc}"
            ) from None
