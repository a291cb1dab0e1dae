"""Where a run's listening test lives, and the one way a listener's name becomes a file name.

A name is free text typed into a page: it only ever becomes ``<slug>-<hash>.json`` inside
``RUN/listening/ratings/``, so no name can reach another folder or collide with another name.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import EvalkitError

MAX_NAME = 80


def listener_file_name(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:32] or "listener"
    return f"{slug}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:12]}.json"


@dataclass(frozen=True)
class Layout:
    run: Path

    @property
    def root(self) -> Path:
        return self.run / "listening"

    @property
    def test(self) -> Path:
        return self.root / "test"

    @property
    def ratings(self) -> Path:
        return self.root / "ratings"

    def listener(self, name: str) -> Path:
        return self.ratings / listener_file_name(name)

    def refuse_other_ratings(self, test_id: str) -> None:
        """A rebuilt test with other clips or conditions would orphan ratings already given."""
        for path in sorted(self.ratings.glob("*.json")):
            try:
                other = json.loads(path.read_text()).get("test_id")
            except (OSError, ValueError, AttributeError):
                continue
            if other != test_id:
                raise EvalkitError(
                    f"{path} holds ratings of another test ({other}); building test {test_id} "
                    f"would orphan them: move {self.ratings} away first, or build with the "
                    "options of that test"
                )
