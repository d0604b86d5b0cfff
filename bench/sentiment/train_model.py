"""Train the Naive Bayes half of the Chinese analyzer on the train split.

Usage (from the project root)::

    .venv/bin/python bench/sentiment/train_model.py

writes ``ratings/sentiment_data/naive_bayes.json``.  Only Chinese rows of the
``train`` split are used; English comments go to TextBlob's own analyzer.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import dataset  # noqa: E402

from ratings import sentiment  # noqa: E402


def main() -> int:
    rows = [r for r in dataset.load("train") if sentiment.is_chinese(r.text)]
    model = sentiment.train_naive_bayes((r.text, r.label) for r in rows)
    target = sentiment.DATA_DIR / sentiment.MODEL_FILE
    target.write_text(model.to_json() + "\n", encoding="utf-8")
    negatives = sum(r.label for r in rows)
    print(f"trained on {len(rows)} comments ({negatives} negative) -> {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
