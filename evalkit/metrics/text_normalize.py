"""The one text normaliser applied to every transcript and hypothesis before WER and CER.

WER moves by several points with the normaliser alone (case, punctuation, "don't" vs "dont"), so
evalkit pins one and records its name in every ASR value's fingerprint. It is deliberately small
and language-neutral, so it means the same for every backend and language:

1. Unicode NFKC, then case folding (``Straße`` -> ``strasse``);
2. every character that is not a letter, a digit or an apostrophe becomes a space (punctuation,
   symbols, pocketsphinx's ``<sil>``-style markers);
3. apostrophes survive only inside a word (``don't`` stays, ``'tis`` -> ``tis``);
4. runs of whitespace collapse to one space, none at either end.

Numbers are not spelled out and abbreviations are not expanded ("mr" and "mister" differ): no
rule that is right for one language and wrong for another. Change anything here and bump
``NORMALISER``: cached ASR values are then recomputed.
"""

from __future__ import annotations

import re
import unicodedata

NORMALISER = "evalkit-text-1"
_NOT_WORD = re.compile(r"[^\w']|_")
_EDGE_APOSTROPHES = re.compile(r"(?<!\w)'+|'+(?!\w)")


def normalize(text: str) -> str:
    """``text`` in the form WER and CER compare (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    text = _EDGE_APOSTROPHES.sub(" ", _NOT_WORD.sub(" ", text))
    return " ".join(text.split())
