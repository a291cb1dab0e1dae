"""The client side of a run: plan tasks, fan them out on Dask, write shards, assemble tables.

Tasks are submitted as a bounded stream and gathered as they complete, so the client never holds
more than a few tasks' results and its memory stays flat however large the dataset. Each finished
task's rows are written as shards at once (see :mod:`evalkit.pipeline.store`); the run folder's
tables are assembled from the shards at the end, so an interrupted run loses nothing and
``--resume`` or a re-run of the same command skips every finished shard.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from evalkit.audio import RESAMPLER
from evalkit.datasets import load_dataset
from evalkit.datasets.base import Clip
from evalkit.errors import EvalkitError, StorageError, UsageError, storage_error
from evalkit.pipeline import provenance
from evalkit.pipeline.config import RunConfig
from evalkit.pipeline.cost import write_cost
from evalkit.pipeline.scoring import default_metrics, fingerprint, one_line
from evalkit.pipeline.store import PIPELINE_VERSION, ShardStore, default_root
from evalkit.pipeline.task import (
    BITRATE_METRICS,
    CodecSpec,
    Task,
    TaskResult,
    Work,
    bitrate_fingerprint,
    fail_all,
    get_codec,
    run_task,
    saved_audio_path,
)
from evalkit.results import RUN_JSON
from evalkit.results import directions as D
from evalkit.results.rundir import write_json, write_tables
from evalkit.results.schema import CODES_COLUMNS, RESULT_COLUMNS, conform, empty

log = logging.getLogger("evalkit")


@dataclass
class Plan:
    codecs: dict[str, tuple[CodecSpec, str]]  # name -> (spec, identity JSON)
    nominal: dict[tuple[str, float], float]  # (codec, budget) -> resolved setting
    skipped: list[str]  # budgets below a codec's lowest setting (other codecs still run them)
    metrics: dict[str, str]  # metric name -> fingerprint JSON
    clips: list[Clip]
    dataset_fingerprint: str


def prepare(config: RunConfig) -> Plan:
    """Resolve every name and bitrate before any work starts: a bad argument fails here."""
    metric_names = list(config.metrics) if config.metrics else default_metrics()
    metrics = {}
    for name in metric_names:
        metrics[name] = fingerprint(name)
    for name in BITRATE_METRICS:
        metrics[name] = bitrate_fingerprint(name)
    if config.pairs is not None:  # decoded files from elsewhere, replayed
        from evalkit.pipeline.pairs import plan_pairs

        return plan_pairs(config, metrics)
    codecs, nominal, skipped = {}, {}, []
    for name in config.codecs:
        spec = CodecSpec(name, config.checkpoints.get(name), config.device)
        try:
            codec = get_codec(spec)
        except EvalkitError:
            raise
        except Exception as exc:  # a plug-in's constructor: one line, not a traceback
            raise EvalkitError(f"codec {name!r} cannot start: {one_line(exc)}") from exc
        codecs[name] = (spec, json.dumps(codec.identity(), sort_keys=True))
        for budget in config.bitrates_kbps:
            try:
                nominal[(name, budget)] = codec.resolve_bitrate(budget)
            except UsageError as exc:
                skipped.append(str(exc))
        if not any(key[0] == name for key in nominal):
            raise UsageError(skipped[-1])
    dataset = load_dataset(config.dataset, limit=config.limit, segment_s=config.segment_s)
    if not dataset.clips:
        raise UsageError(f"dataset {config.dataset!r} holds no audio clips")
    return Plan(codecs, nominal, skipped, metrics, list(dataset.clips), dataset.fingerprint())


def plan_tasks(
    plan: Plan,
    store: ShardStore,
    save_audio_dir: str | None,
    timeout_s: float | None,
    budgets: tuple[float, ...],
) -> Iterator[Task]:
    """Tasks for the work not yet in the store: one per (codec, clip), all missing bitrates."""
    for name, (spec, identity) in plan.codecs.items():
        done = store.existing_by_unit(identity)
        for clip in plan.clips:
            work = []
            for budget in (b for b in budgets if (name, b) in plan.nominal):
                unit = unit_of(store, clip, budget)
                key = store.shard_key(unit, list(plan.metrics.values()))
                if (
                    save_audio_dir
                    and not saved_audio_path(save_audio_dir, name, budget, clip.clip_id).exists()
                ):
                    work.append(
                        Work(budget, plan.nominal[(name, budget)], tuple(plan.metrics), key)
                    )
                    continue
                stored = store.readable(identity, unit, done.get(unit, []))  # damaged: redone
                if key in stored:
                    continue
                covered = _covered(store, identity, stored)
                missing = tuple(m for m, fp in plan.metrics.items() if fp not in covered)
                if not missing:
                    continue
                shard = store.shard_key(unit, [plan.metrics[m] for m in missing])
                work.append(Work(budget, plan.nominal[(name, budget)], missing, shard))
            if work:
                yield Task(spec, identity, clip, tuple(work), save_audio_dir, timeout_s)


def unit_of(store: ShardStore, clip: Clip, budget: float) -> str:
    """The store key of a (clip, bitrate). Rows carry the clip's id, domain and lossy flag, and
    which metrics apply depends on the domain, so these are part of the key with the audio's
    checksum: two clips holding the same bytes (a copied file, one file under two domains) each
    get their own rows instead of sharing, and losing, one set. ASR metrics read the language and
    transcript: a clip that has them keys on them too (keys of clips without stay as they were)."""
    text = f"|{clip.language}|{clip.transcript}" if clip.language or clip.transcript else ""
    key = f"{clip.key}|{clip.clip_id}|{clip.domain}|{clip.lossy_source}{text}"
    return store.unit_key(key, budget)


def _covered(store: ShardStore, identity: str, keys: list[str]) -> set[str]:
    """Metric fingerprints already stored for a (clip, bitrate): so adding a metric adds only it."""
    covered: set[str] = set()
    for key in keys:
        rows = store.read_rows(identity, key)
        covered |= set() if rows is None else set(rows["metric_version"].unique())
    return covered


def _run_with_timeout(task: Task) -> TaskResult:
    """Worker entry point: a hung codec becomes error rows after ``timeout_s``."""
    if task.timeout_s is None:
        return run_task(task)
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("r", run_task(task)), daemon=True)
    thread.start()
    thread.join(task.timeout_s)
    if "r" in box:
        return box["r"]
    result = TaskResult()
    fail_all(
        task,
        result,
        f"{task.clip.clip_id}: {task.codec.name} timed out after {task.timeout_s:g} s",
        task.work,
    )
    return result


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is present, else ``cpu``; a missing GPU is a clear error."""
    if device == "cpu":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise UsageError("--device cuda: no CUDA GPU is visible here; use --device cpu or auto")
    return "cpu"


def gpu_count(device: str) -> int:
    if device != "cuda":
        return 0
    import torch

    return torch.cuda.device_count()


#: thread caps of a local worker process, set before it starts (BLAS and OpenMP read them once);
#: a value the caller has set wins (distributed's precedence)
PRE_SPAWN_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
#: set inside the worker only: numba refuses a new thread count once its pool runs, so a value
#: in the caller's process breaks numba there (ViSQOL, librosa) at its next compile
WORKER_ENV = {"NUMBA_NUM_THREADS": "1"}


@contextlib.contextmanager
def _environ_kept() -> Iterator[None]:
    """Give the process its environment back on the way out: to spawn workers distributed sets
    variables in the process that starts them (the caps above, PYTHONHASHSEED, its parent pid),
    and they would leak into the caller's later subprocesses and libraries."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for name in set(os.environ) - set(saved):
            os.environ.pop(name, None)
        for name, value in saved.items():
            if os.environ.get(name) != value:
                os.environ[name] = value


@contextlib.contextmanager
def dask_client(config: RunConfig) -> Iterator:
    """A client on the user's scheduler, or on a LocalCluster of single-threaded processes."""
    from distributed import Client, LocalCluster

    if config.scheduler:
        with Client(config.scheduler, timeout="30s") as client:
            yield client
        return
    workers = config.workers or gpu_count(config.device) or os.cpu_count() or 1
    import dask

    config_set = dask.config.set(
        {
            "distributed.nanny.pre-spawn-environ": PRE_SPAWN_ENV,
            "distributed.nanny.environ": WORKER_ENV,
            # workers import torch: on a loaded machine the default 30 s can run out
            "distributed.comm.timeouts.connect": "180s",
        }
    )
    with config_set, _environ_kept():
        with _sigint_ignored():  # inherited by the worker processes started here
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
        with cluster, Client(cluster) as client:
            yield client


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while local workers start, so that they ignore it for good: a terminal's
    Ctrl-C reaches the whole process group, and workers would each print a KeyboardInterrupt
    traceback while evalkit stops them itself. (Off the main thread, nothing to do.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


#: a run of many tasks sends up to this many per Dask task: a short clip costs the scheduler and
#: the client about as much as the worker (docs/pairs.md)
MAX_BATCH = 8
#: batches each worker gets at least (load balance, a progress bar that moves)
BATCHES_PER_WORKER = 64


def batch_size(n_tasks: int, n_workers: int) -> int:
    """Tasks per Dask task: 1 below 128 tasks per worker, then up to ``MAX_BATCH``."""
    return max(1, min(MAX_BATCH, n_tasks // (BATCHES_PER_WORKER * n_workers)))


def _run_batch(batch: list[Task]) -> list[TaskResult]:
    """Worker entry point: the tasks of one batch one after the other, each with its timeout."""
    return [_run_with_timeout(task) for task in batch]


def execute(
    tasks: list[Task], client, store: ShardStore, progress, retries: int, per_batch: int = 0
) -> int:
    """Stream tasks through Dask in batches, writing each result as it arrives; returns failures
    seen. A batch whose worker died repeatedly is sent again one task at a time, so that only
    the task that kills its worker fails."""
    from distributed import as_completed

    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    size = per_batch or batch_size(len(tasks), n_workers)
    queue = deque(tasks[i : i + size] for i in range(0, len(tasks), size))
    pending: dict = {}
    failures = 0
    ac = as_completed()

    def submit(batch: list[Task]) -> None:
        fut = client.submit(_run_batch, batch, retries=retries, pure=False)
        pending[fut.key] = batch
        ac.add(fut)

    for _ in range(min(4 * n_workers, len(queue))):
        submit(queue.popleft())
    try:
        for fut in ac:
            batch = pending.pop(fut.key)
            try:
                results = fut.result()
            except Exception as exc:  # the worker died repeatedly, or the batch could not run
                if len(batch) > 1:  # its tasks go again one by one, first in the queue
                    queue.extendleft([task] for task in reversed(batch))
                    batch, results = [], []
                else:
                    (task,) = batch
                    results = [TaskResult()]
                    message = f"task failed on the cluster: {type(exc).__name__}: {exc}"
                    fail_all(task, results[0], f"{task.clip.clip_id}: {message}", task.work)
            for task, result in zip(batch, results, strict=True):
                _store(store, task, result)
                for text in result.tracebacks:  # rows keep one line; run.log keeps where it broke
                    log.info("%s", text)
                failures += result.failures
                progress(task, result)
            fut.release()
            if queue:
                submit(queue.popleft())
    except BaseException:
        for fut in list(ac.futures):
            fut.cancel()
        raise
    return failures


def _store(store: ShardStore, task: Task, result: TaskResult) -> None:
    for budget, rows in result.codes.items():
        store.write_codes(task.codec_identity, unit_of(store, task.clip, budget), rows)
    for key, rows in result.rows.items():
        store.write_rows(task.codec_identity, key, rows)


def assemble(
    plan: Plan, store: ShardStore, run_id: str, budgets: tuple[float, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The run's rows and code histograms, read back from the shards."""
    wanted = set(plan.metrics.values())
    frames, codes = [], []
    for name, (_spec, identity) in plan.codecs.items():
        done = store.existing_by_unit(identity, include_failed=True)
        for clip in plan.clips:
            for budget in (b for b in budgets if (name, b) in plan.nominal):
                unit = unit_of(store, clip, budget)
                for key in done.get(unit, []):
                    df = store.read_rows(identity, key)
                    if df is not None:  # damaged since planning: moved aside, redone next run
                        frames.append(df[df["metric_version"].isin(wanted)])
                c = store.read_codes(identity, unit)
                if c is not None:
                    codes.append(c)
    results = pd.concat(frames, ignore_index=True) if frames else empty(RESULT_COLUMNS)
    # a unit recomputed whole (e.g. to save its audio) may repeat rows of older partial shards
    results = results.drop_duplicates(
        ["codec", "bitrate_kbps", "clip_id", "metric", "metric_version"], keep="last"
    )
    results["run_id"] = run_id
    results = conform(results, RESULT_COLUMNS)
    code_df = pd.concat(codes, ignore_index=True) if codes else empty(CODES_COLUMNS)
    code_df["run_id"] = run_id
    return results, conform(code_df, CODES_COLUMNS)


def default_run_dir(config: RunConfig) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path("runs") / f"{stamp}-{'-'.join(config.codecs)}"


def evaluate(
    config: RunConfig,
    run_dir: Path | None = None,
    cache_dir: Path | None = None,
    progress_factory=None,
    argv: list[str] | None = None,
) -> Path:
    """Run an evaluation end to end; returns the run folder. The CLI is a shell over this."""
    config = config.resolved()
    config = replace(config, device=resolve_device(config.device))
    run_dir = Path(run_dir) if run_dir else default_run_dir(config)
    started = provenance.now()
    plan = prepare(config)  # before the folder exists: a usage error leaves no empty run behind
    for message in plan.skipped:
        log.warning("skipped: %s", message)
    with _storage("the run folder", run_dir):
        run_dir.mkdir(parents=True, exist_ok=True)
    store = ShardStore(cache_dir or default_root())
    meta = provenance.run_metadata(
        run_dir.name,
        config.to_dict(),
        argv,
        started,
        plan_info={
            "dataset": {
                "spec": config.dataset,
                "fingerprint": plan.dataset_fingerprint,
                "n_clips": len(plan.clips),
            },
            "metrics": {m: json.loads(fp) for m, fp in plan.metrics.items()},
            "directions": D.of_metrics(m for m in plan.metrics if m not in BITRATE_METRICS),
            "codecs": {n: json.loads(i) for n, (_, i) in plan.codecs.items()},
            "skipped_bitrates": plan.skipped,
            "resampler": RESAMPLER,
            "pipeline_version": PIPELINE_VERSION,
        },
    )
    run_json = run_dir / RUN_JSON
    with contextlib.suppress(OSError, ValueError):  # --resume: still the command that started it
        before = json.loads(run_json.read_text())
        meta["resumed_by"] = [*before.get("resumed_by", []), meta["command"]]
        meta.update({k: before[k] for k in ("argv", "command", "started_utc") if k in before})
    with _storage("the run folder", run_dir):
        write_json(run_json, {**meta, "status": "running"})
        handler = _log_to(run_dir)
    budgets = tuple(config.bitrates_kbps)
    save_dir = str((run_dir / "audio").resolve()) if config.save_audio else None
    tasks = list(plan_tasks(plan, store, save_dir, config.timeout_s, budgets))
    status = "completed"
    failures = 0
    try:
        if tasks:
            with dask_client(config) as client:
                dash = getattr(client, "dashboard_link", None)
                log.info("dask dashboard: %s", dash)
                factory = progress_factory or _null_progress
                with factory(len(tasks), dash) as progress:
                    failures = execute(tasks, client, store, progress, config.retries)
    except StorageError as exc:  # the cache: what finished is kept, so say how to go on
        status = f"failed: {exc}"
        raise StorageError(f"{exc}; then continue with `evalkit run --resume {run_dir}`") from None
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"failed: {exc!r}"
        raise
    finally:
        log.removeHandler(handler)
        handler.close()
        try:
            results, codes = assemble(plan, store, run_dir.name, budgets)
            write_tables(run_dir, results, codes, meta["directions"])
            meta["cost"] = write_cost(run_dir, plan, results, codes, config)
            meta.update(
                status=status,
                finished_utc=provenance.now(),
                tasks_run=len(tasks),
                failures_this_session=failures,
            )
            write_json(run_json, meta)
        except OSError as exc:
            if status == "completed":  # else the failure in flight is the one to report
                raise storage_error(exc, "the run's tables in", run_dir) from None
    return run_dir


@contextlib.contextmanager
def _storage(what: str, path: Path) -> Iterator[None]:
    """A failed write of ``what`` is one line naming the path and what to do (StorageError)."""
    try:
        yield
    except OSError as exc:
        raise storage_error(exc, what, path) from None


@contextlib.contextmanager
def _null_progress(total: int, dashboard: str | None):
    yield lambda task, result: None


class _QuietFileHandler(logging.FileHandler):
    """run.log copies what the terminal shows: on a full disk a line is lost, not printed again
    with a traceback (logging's default), so the one-line error stays one line."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        pass


def _log_to(run_dir: Path) -> logging.Handler:
    """Log to the run folder's run.log for the duration of the run (removed by the caller)."""
    handler = _QuietFileHandler(run_dir / "run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler
