"""Where the shipped checkpoint and the embedded default set are, installed or in a checkout.

A wheel carries them under ``evalkit/_assets/`` (mapped from the repository's ``codecs/`` and
``datasets/default/``; see docs/packaging.md); a source checkout or an editable install has them at
the repository root. Both roots hold the same relative paths, so each asset is named once here.
"""

from __future__ import annotations

from pathlib import Path

from evalkit.errors import EvalkitError

INSTALLED_ROOT = Path(__file__).resolve().parent / "_assets"
CHECKOUT_ROOT = Path(__file__).resolve().parent.parent
RVQ_CHECKPOINT = "codecs/rvq/rvq.pt"
DEFAULT_MANIFEST = "datasets/default/manifest.csv"
HOW_TO_GET = "reinstall evalkit-audio from its wheel, or run from a source checkout"


class MissingAsset(EvalkitError):
    """A shipped file is in neither the installed package nor a checkout."""


def find(relative: str, what: str) -> Path:
    """The installed copy of ``relative``, else the checkout's; else an error naming ``what``."""
    for root in (INSTALLED_ROOT, CHECKOUT_ROOT):
        if (root / relative).exists():
            return root / relative
    raise MissingAsset(
        f"{what} is missing (looked for {INSTALLED_ROOT / relative} and "
        f"{CHECKOUT_ROOT / relative}): {HOW_TO_GET}"
    )


def rvq_checkpoint() -> Path:
    """The ``rvq`` codec's shipped inference checkpoint."""
    return find(RVQ_CHECKPOINT, "the rvq codec's shipped checkpoint")


def default_set() -> Path:
    """The folder of the embedded default dataset (FLAC files, manifest.csv, CREDITS.md)."""
    return find(DEFAULT_MANIFEST, "the default dataset's manifest").parent
