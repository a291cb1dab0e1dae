"""A listener's ratings file: checked against the test before anything is written.

Everything a page sends is untrusted: the listener's name only becomes a file name through
:func:`evalkit.listen.paths.listener_file_name`, ratings must be integers 0–100 for exactly the
trial's stimuli, and the recorded order must be a permutation of the test's trials and stimuli.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalkit.atomic import atomic_path
from evalkit.errors import UsageError
from evalkit.listen.paths import MAX_NAME, Layout

FORMAT = "evalkit-mushra-ratings/1"
_lock = threading.Lock()


def _check_plan(test: dict, plan: Any) -> dict:
    trials = {t["id"]: sorted(s["id"] for s in t["stimuli"]) for t in test["trials"]}
    if not isinstance(plan, dict) or sorted(plan.get("trial_order") or []) != sorted(trials):
        raise UsageError("plan.trial_order must list every trial of the test once")
    orders = plan.get("orders")
    if not isinstance(orders, dict) or sorted(orders) != sorted(trials):
        raise UsageError("plan.orders must give a stimulus order for every trial")
    for trial, order in orders.items():
        if not isinstance(order, list) or sorted(order) != trials[trial]:
            raise UsageError(f"plan.orders[{trial}] must list every stimulus of the trial once")
    return {"trial_order": list(plan["trial_order"]), "orders": dict(orders)}


def _check_result(test: dict, trial_id: Any, result: Any) -> dict:
    trial = next((t for t in test["trials"] if t["id"] == trial_id), None)
    if trial is None:
        raise UsageError(f"no trial {str(trial_id)[:40]!r} in this test")
    ratings = result.get("ratings") if isinstance(result, dict) else None
    wanted = sorted(s["id"] for s in trial["stimuli"])
    if not isinstance(ratings, dict) or sorted(ratings) != wanted:
        raise UsageError(f"ratings of {trial_id} must rate exactly its stimuli {wanted}")
    for value in ratings.values():
        if type(value) is not int or not 0 <= value <= 100:
            raise UsageError("every rating must be a whole number from 0 to 100")
    seconds = result.get("seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        seconds = None
    return {"ratings": dict(ratings), "seconds": seconds, "finished_utc": _now()}


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise UsageError(f"the listener's name must be 1 to {MAX_NAME} characters")
    return name


def record_trial(layout: Layout, test: dict, body: Any) -> Path:
    """Add one finished trial to its listener's file (read, check, replace atomically)."""
    if not isinstance(body, dict) or body.get("test_id") != test["test_id"]:
        raise UsageError("these ratings belong to another test")
    name = check_name(body.get("listener"))
    plan = _check_plan(test, body.get("plan"))
    result = _check_result(test, body.get("trial"), body.get("result"))
    path = layout.listener(name)
    with _lock:
        record = load_record(path) or {
            "format": FORMAT,
            "test_id": test["test_id"],
            "listener": name,
            "plan": plan,
            "trials": {},
        }
        if record["listener"] != name or record["plan"] != plan:
            raise UsageError("this listener already started the test with another order")
        record["trials"][body["trial"]] = result
        record["updated_utc"] = _now()
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def load_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
