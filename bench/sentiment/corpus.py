"""Loader and fixed split of the shared review corpus ``online_shopping_10_cats``.

The zip lives outside the repository, in ``../shared/data/sentiment/`` next to
the project root (override with ``HAOCHA_SENTIMENT_CORPUS``); the product ships
trained weights, never the corpus.  Its labels are 1 = positive, 0 = negative;
:func:`load` turns them into this bench's convention (``label`` 1 = negative).

The split is fixed: exact duplicate texts are kept once, texts labelled both
ways are dropped, and within every (category, label) stratum the texts are
sorted, shuffled with :data:`SEED` and the first :data:`HELD_OUT_SHARE` are held
out.  The held-out rows are never trained on; ``train_model.py --dev`` carves
its development rows out of the train rows the same way.
"""

from __future__ import annotations

import csv
import io
import os
import random
import zipfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
DEFAULT_PATH: Final = ROOT.parent / "shared" / "data" / "sentiment" / "online_shopping_10_cats.zip"
MEMBER: Final = "online_shopping_10_cats.csv"
SEED: Final = 21
HELD_OUT_SHARE: Final = 0.1
#: Reviews up to this many characters count as "short" in the bench tables
#: (a quarter of the corpus; rating comments are usually this short).
SHORT_CHARS: Final = 20


@dataclass(frozen=True)
class Review:
    category: str
    label: int  # 1 negative, 0 positive
    text: str


def path() -> Path:
    return Path(os.environ.get("HAOCHA_SENTIMENT_CORPUS", DEFAULT_PATH))


def available() -> bool:
    return path().is_file()


def load() -> list[Review]:
    """Every usable review once, in a stable order."""
    with zipfile.ZipFile(path()) as archive:
        text = archive.read(MEMBER).decode("utf-8-sig")
    labels: dict[tuple[str, str], set[int]] = defaultdict(set)
    for row in csv.DictReader(io.StringIO(text)):
        # Each category's first review carries a stray byte-order mark.
        review = (row["review"] or "").replace("\ufeff", "").strip()
        if review:
            labels[(row["cat"].replace("\ufeff", ""), review)].add(1 - int(row["label"]))
    texts: dict[str, set[int]] = defaultdict(set)
    for (_, review), found in labels.items():
        texts[review] |= found
    return [
        Review(category, next(iter(found)), review)
        for (category, review), found in sorted(labels.items())
        if len(texts[review]) == 1
    ]


def stratified_split(rows: Sequence[Review], share: float, seed: int = SEED) -> tuple[list[Review], list[Review]]:
    """(rest, held) with ``share`` of every (category, label) stratum held."""
    strata: dict[tuple[str, int], list[Review]] = defaultdict(list)
    for row in rows:
        strata[(row.category, row.label)].append(row)
    rng = random.Random(seed)
    rest: list[Review] = []
    held: list[Review] = []
    for key in sorted(strata):
        items = sorted(strata[key], key=lambda r: r.text)
        rng.shuffle(items)
        cut = round(len(items) * share)
        held += items[:cut]
        rest += items[cut:]
    return rest, held


def split() -> tuple[list[Review], list[Review]]:
    """(train, held_out) of the whole corpus."""
    return stratified_split(load(), HELD_OUT_SHARE)
