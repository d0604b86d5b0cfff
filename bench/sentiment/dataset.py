"""Loader for the hand-labelled comment set ``labelled.tsv``.

Columns: ``split`` (train/test), ``label`` (1 negative, 0 not negative),
``category`` (what kind of comment it is) and ``text``.  The split was fixed
once from an MD5 hash of the text (about 35 % held out); the held-out ``test``
rows are never used to tune the lexicon, the model or the threshold.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Final

LABELLED: Final[Path] = Path(__file__).resolve().parent / "labelled.tsv"


@dataclass(frozen=True)
class Example:
    split: str
    label: int
    category: str
    text: str


def load(split: str | None = None, path: Path = LABELLED) -> list[Example]:
    """Rows of the labelled set, optionally only one split."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        rows = [Example(r["split"], int(r["label"]), r["category"], r["text"]) for r in reader]
    return [r for r in rows if split is None or r.split == split]
