"""Train the statistical half of the Chinese analyzer (a logistic regression).

Usage (from the project root; needs the shared corpus, see corpus.py, and
scikit-learn in a separate virtualenv that sees the project's packages, because
nltk imports scikit-learn into every process wherever it is installed)::

    python3 -m venv .venv-train
    .venv/bin/python -c 'import site; print(site.getsitepackages()[0])' \
        > "$(.venv-train/bin/python -c 'import site; print(site.getsitepackages()[0])')/haocha.pth"
    .venv-train/bin/pip install -r bench/sentiment/requirements-train.txt
    .venv-train/bin/python bench/sentiment/train_model.py          # writes the shipped model
    .venv-train/bin/python bench/sentiment/train_model.py --dev    # hyper-parameter check only

Training rows: the train split of ``online_shopping_10_cats`` (90 %, the
held-out 10 % is never used) plus the Chinese ``train`` rows of our own
``labelled.tsv``, each weighted :data:`LABELLED_WEIGHT` because they are few and
are the domain we serve (a "not negative" there includes lukewarm answers such
as 还行).  Features come from :func:`ratings.sentiment.model_features`, so
training and inference cannot drift apart.  The vocabulary keeps features seen
in at least :data:`MIN_DF` training texts; weights smaller than :data:`PRUNE`
are dropped before writing ``ratings/sentiment_data/linear_model.json.gz``.

``--dev`` trains on the train split minus a development tenth and prints
accuracy there for a few regularisation strengths and rule weights; that is how
the constants below were chosen.  The held-out split is not touched.
Everything is seeded, so the written file is the same on every run.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import corpus  # noqa: E402
import dataset  # noqa: E402

from ratings import sentiment  # noqa: E402

#: Inverse L2 regularisation strength of the logistic regression.
C: Final = 16.0
MIN_DF: Final = 3
LABELLED_WEIGHT: Final = 5.0
PRUNE: Final = 0.3

Row = tuple[str, int, float]  # text, label (1 negative), sample weight


def training_rows(reviews: Sequence[corpus.Review]) -> list[Row]:
    rows: list[Row] = [(r.text, r.label, 1.0) for r in reviews]
    rows += [(r.text, r.label, LABELLED_WEIGHT) for r in dataset.load("train") if sentiment.is_chinese(r.text)]
    return rows


def fit(rows: Sequence[Row], c: float = C) -> sentiment.LinearModel:
    import numpy as np
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    features = [sentiment.model_features(text) for text, _, _ in rows]
    df: Counter[str] = Counter()
    for feats in features:
        df.update(feats.keys())
    names = sorted(f for f, n in df.items() if n >= MIN_DF)
    index = {f: i for i, f in enumerate(names)}
    indptr = [0]
    columns: list[int] = []
    values: list[float] = []
    for feats in features:
        # Same scaling as LinearModel.log_odds: every feature of the text counts in n.
        scale = 1.0 / math.sqrt(max(len(feats), 1))
        for feature, value in feats.items():
            column = index.get(feature)
            if column is not None:
                columns.append(column)
                values.append(value * scale)
        indptr.append(len(columns))
    matrix = sparse.csr_matrix((values, columns, indptr), shape=(len(rows), len(names)))
    positive = np.array([1 - label for _, label, _ in rows])
    weights = np.array([w for _, _, w in rows])
    model: Any = LogisticRegression(C=c, solver="liblinear", max_iter=5000, random_state=corpus.SEED)
    model.fit(matrix, positive, sample_weight=weights)
    coef = model.coef_[0]
    kept = {names[i]: float(coef[i]) for i in range(len(names)) if abs(coef[i]) >= PRUNE}
    return sentiment.LinearModel(weights=kept, bias=float(model.intercept_[0]))


def accuracy(model: sentiment.LinearModel, reviews: Sequence[corpus.Review], rule_weight: float) -> float:
    analyzer = sentiment.ChineseSentimentAnalyzer(model=model)
    correct = 0
    for r in reviews:
        odds = analyzer.model_log_odds(r.text) + rule_weight * analyzer.lexicon_polarity(r.text)
        correct += (odds < 0) == bool(r.label)
    return correct / len(reviews)


def develop() -> int:
    train, _ = corpus.split()
    rest, dev = corpus.stratified_split(train, 1 / 9)
    short = [r for r in dev if len(r.text) <= corpus.SHORT_CHARS]
    print(f"train {len(rest)}, dev {len(dev)} ({len(short)} short)")
    for c in (1.0, 4.0, 16.0):
        model = fit(training_rows(rest), c)
        for rule_weight in (0.0, 1.0, 1.5, 2.0, 3.0):
            print(
                f"C={c:g} rule weight {rule_weight:g}: dev accuracy {accuracy(model, dev, rule_weight):.4f},"
                f" short {accuracy(model, short, rule_weight):.4f}"
            )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", action="store_true", help="hyper-parameter check; writes nothing")
    args = parser.parse_args()
    if not corpus.available():
        print(f"corpus not found at {corpus.path()}: cannot train", file=sys.stderr)
        return 1
    if args.dev:
        return develop()
    started = time.perf_counter()
    train, held = corpus.split()
    rows = training_rows(train)
    model = fit(rows)
    target = sentiment.DATA_DIR / sentiment.MODEL_FILE
    model.save(target)
    size = target.stat().st_size / 1e6
    print(
        f"trained on {len(rows)} texts ({len(train)} corpus reviews, {len(held)} held out) in"
        f" {time.perf_counter() - started:.0f} s: {len(model.weights)} weights, {size:.1f} MB -> {target}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
