"""Benchmark of the comment sentiment analyzers.

Run from the project root with the project's virtualenv::

    .venv/bin/python bench/sentiment/run.py

For every analyzer it prints accuracy, negative-class precision / recall / F1,
mean milliseconds per comment (warm) and resident-memory growth (VmRSS of a
fresh subprocess before and after loading the analyzer and scoring one
comment), on

* the held-out ``test`` split of ``labelled.tsv`` (hotline / service-hall
  comments written for this project, see README.md), and
* a balanced sample of the pos/neg review corpus that the ``snownlp`` package
  ships (shopping and book reviews), when snownlp is installed.

It then prints precision/recall tables over thresholds for the shipped
analyzer: on the ``train`` split (Naive Bayes scored by 5-fold
cross-validation; this is the table the threshold is chosen from) and on the
held-out split (confirmation only).

SnowNLP is used here only as a point of comparison, never at run time.
"""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import dataset  # noqa: E402

Scorer = Callable[[str], float]

SNOWNLP_SAMPLE_PER_CLASS: Final = 500
SEED: Final = 12345
THRESHOLDS: Final = [round(-0.6 + 0.05 * i, 2) for i in range(15)]
#: Threshold rule: the highest threshold whose false-flag rate on the train
#: split stays at or below this (false "hidden bad" flags cost the most).
MAX_FALSE_FLAG_RATE: Final = 0.03


# -- analyzers -------------------------------------------------------------


@dataclass(frozen=True)
class Analyzer:
    name: str
    note: str
    load: Callable[[], Scorer]
    #: polarity -> predicted negative
    decide: Callable[[float], bool]


def _english() -> Scorer:
    from textblob.en.sentiments import PatternAnalyzer

    analyzer = PatternAnalyzer()

    def score(text: str) -> float:
        return float(analyzer.analyze(text)[0])

    score("good")
    return score


def _routed(chinese: Scorer) -> Scorer:
    """Chinese text to ``chinese``, anything else to TextBlob's English analyzer."""
    from ratings.sentiment import is_chinese

    english = _english()

    def score(text: str) -> float:
        if not text.strip():
            return 0.0
        return chinese(text) if is_chinese(text) else english(text)

    return score


def load_textblob() -> Scorer:
    from textblob import TextBlob

    def score(text: str) -> float:
        return float(TextBlob(text).sentiment.polarity)

    score("good")
    return score


def load_haocha() -> Scorer:
    from ratings.sentiment import polarity, warm_up

    warm_up()
    return polarity


def load_lexicon() -> Scorer:
    from ratings.sentiment import ChineseSentimentAnalyzer, warm_up

    warm_up()
    return _routed(ChineseSentimentAnalyzer().lexicon_polarity)


def load_bayes() -> Scorer:
    from ratings.sentiment import ChineseSentimentAnalyzer, warm_up

    warm_up()
    return _routed(ChineseSentimentAnalyzer().bayes_polarity)


def snownlp_available() -> bool:
    # find_spec, not import: importing snownlp loads all its models (~400 MB).
    return importlib.util.find_spec("snownlp") is not None


def load_snownlp() -> Scorer:
    from snownlp import SnowNLP

    def score(text: str) -> float:
        return 2.0 * float(SnowNLP(text).sentiments) - 1.0

    score("好")
    return _routed(score)


def _threshold() -> float:
    from ratings.sentiment import DEFAULT_NEGATIVE_THRESHOLD

    return DEFAULT_NEGATIVE_THRESHOLD


def analyzers() -> list[Analyzer]:
    threshold = _threshold()
    found = [
        Analyzer(
            "textblob-default",
            "TextBlob() as is (PatternAnalyzer for every text), negative if < 0",
            load_textblob,
            lambda p: p < 0,
        ),
        Analyzer(
            "haocha (shipped)",
            f"ratings.sentiment.polarity, negative if <= {threshold}",
            load_haocha,
            lambda p: p <= threshold,
        ),
        Analyzer(
            "haocha lexicon only",
            f"rule scorer alone, negative if <= {threshold}",
            load_lexicon,
            lambda p: p <= threshold,
        ),
        Analyzer(
            "haocha bayes only",
            "Naive Bayes alone, negative if < 0",
            load_bayes,
            lambda p: p < 0,
        ),
    ]
    if snownlp_available():
        found.append(
            Analyzer(
                "snownlp",
                "SnowNLP(text).sentiments < 0.5 (bench only)",
                load_snownlp,
                lambda p: p < 0,
            )
        )
    return found


# -- data -------------------------------------------------------------------


def snownlp_corpus() -> list[tuple[str, int]]:
    """Balanced, seeded sample of snownlp's bundled pos.txt / neg.txt."""
    spec = importlib.util.find_spec("snownlp")
    assert spec is not None and spec.origin is not None
    folder = Path(spec.origin).resolve().parent / "sentiment"
    rng = random.Random(SEED)
    rows: list[tuple[str, int]] = []
    for name, label in (("neg.txt", 1), ("pos.txt", 0)):
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
        texts = sorted({t.strip() for t in lines if t.strip()})
        rows += [(t, label) for t in rng.sample(texts, SNOWNLP_SAMPLE_PER_CLASS)]
    rng.shuffle(rows)
    return rows


# -- metrics ----------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    accuracy: float
    precision: float
    recall: float
    f1: float
    false_flag_rate: float
    flagged: int


def metrics(labels: Sequence[int], predicted: Sequence[bool]) -> Scores:
    tp = sum(1 for y, p in zip(labels, predicted, strict=True) if y and p)
    fp = sum(1 for y, p in zip(labels, predicted, strict=True) if not y and p)
    fn = sum(1 for y, p in zip(labels, predicted, strict=True) if y and not p)
    tn = len(labels) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(
        accuracy=(tp + tn) / len(labels) if labels else 0.0,
        precision=precision,
        recall=recall,
        f1=f1,
        false_flag_rate=fp / (fp + tn) if fp + tn else 0.0,
        flagged=tp + fp,
    )


def timed(scorer: Scorer, texts: Sequence[str]) -> tuple[list[float], float]:
    start = time.perf_counter()
    values = [scorer(t) for t in texts]
    elapsed = time.perf_counter() - start
    return values, 1000.0 * elapsed / max(len(texts), 1)


# -- memory (fresh subprocess per analyzer) ---------------------------------


def _vm_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _measure_child(name: str) -> int:
    """Child process: load one analyzer, report VmRSS before and after."""
    before = _vm_rss_mb()
    chosen = next(a for a in analyzers() if a.name == name)
    scorer = chosen.load()
    scorer("工作人员态度很好，一次就办好了")
    after = _vm_rss_mb()
    print(json.dumps({"before": before, "after": after}))
    return 0


def rss_growth(name: str) -> float:
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--rss", name],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    return float(payload["after"]) - float(payload["before"])


# -- report -----------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def evaluate(
    title: str,
    data: Sequence[tuple[str, int]],
    loaded: Sequence[tuple[Analyzer, Scorer]],
    memory: dict[str, float],
) -> None:
    texts = [t for t, _ in data]
    labels = [y for _, y in data]
    negatives = sum(labels)
    print(f"\n### {title}: {len(data)} comments, {negatives} negative\n")
    rows = []
    for analyzer, scorer in loaded:
        values, ms = timed(scorer, texts)
        s = metrics(labels, [analyzer.decide(v) for v in values])
        rows.append(
            [
                analyzer.name,
                f"{s.accuracy:.3f}",
                f"{s.precision:.3f}",
                f"{s.recall:.3f}",
                f"{s.f1:.3f}",
                f"{s.false_flag_rate:.3f}",
                f"{ms:.3f}",
                f"{memory[analyzer.name]:.0f}",
            ]
        )
    header = ["analyzer", "acc", "neg P", "neg R", "neg F1", "false-flag rate"]
    print(table([*header, "ms/comment", "RSS +MB"], rows))


def threshold_table(values: Sequence[float], labels: Sequence[int]) -> list[Scores]:
    return [metrics(labels, [v <= t for v in values]) for t in THRESHOLDS]


def print_threshold_table(title: str, results: Sequence[Scores]) -> None:
    print(f"\n### {title}\n")
    rows = [
        [
            f"{t:+.2f}",
            str(s.flagged),
            f"{s.precision:.3f}",
            f"{s.recall:.3f}",
            f"{s.f1:.3f}",
            f"{s.false_flag_rate:.3f}",
            f"{s.accuracy:.3f}",
        ]
        for t, s in zip(THRESHOLDS, results, strict=True)
    ]
    header = ["threshold", "flagged", "neg P", "neg R", "F1", "false-flag", "acc"]
    print(table(header, rows))


def cross_validated_train_polarity(train: Sequence[dataset.Example]) -> list[float]:
    """Shipped pipeline on the train split, Naive Bayes scored out of fold."""
    from ratings.sentiment import (
        LEXICON_WEIGHT,
        ChineseSentimentAnalyzer,
        is_chinese,
        polarity,
        train_naive_bayes,
    )

    folds = 5
    order = list(range(len(train)))
    random.Random(SEED).shuffle(order)
    values = [0.0] * len(train)
    for k in range(folds):
        held = set(order[k::folds])
        model = train_naive_bayes(
            (r.text, r.label) for i, r in enumerate(train) if i not in held and is_chinese(r.text)
        )
        analyzer = ChineseSentimentAnalyzer(model=model)
        for i in held:
            text = train[i].text
            if is_chinese(text):
                lex = analyzer.lexicon_polarity(text)
                bayes = analyzer.bayes_polarity(text)
                values[i] = LEXICON_WEIGHT * lex + (1 - LEXICON_WEIGHT) * bayes
            else:
                values[i] = polarity(text)
    return values


def main() -> int:
    started = time.perf_counter()
    chosen = analyzers()
    memory = {a.name: rss_growth(a.name) for a in chosen}
    loaded = [(a, a.load()) for a in chosen]
    for a in chosen:
        print(f"- {a.name}: {a.note}")

    test = dataset.load("test")
    evaluate(
        "labelled.tsv held-out test split",
        [(r.text, r.label) for r in test],
        loaded,
        memory,
    )
    chinese_test = [(r.text, r.label) for r in test if r.category != "english"]
    evaluate("labelled.tsv held-out test split, Chinese rows", chinese_test, loaded, memory)
    if snownlp_available():
        evaluate(
            "snownlp pos/neg corpus sample (SnowNLP was trained on this corpus)",
            snownlp_corpus(),
            loaded,
            memory,
        )

    from ratings.sentiment import DEFAULT_NEGATIVE_THRESHOLD, polarity

    train = dataset.load("train")
    train_values = cross_validated_train_polarity(train)
    train_table = threshold_table(train_values, [r.label for r in train])
    print_threshold_table("Threshold choice: train split (Naive Bayes out-of-fold)", train_table)
    allowed = [t for t, s in zip(THRESHOLDS, train_table, strict=True) if s.false_flag_rate <= MAX_FALSE_FLAG_RATE]
    rule = f"false-flag rate <= {MAX_FALSE_FLAG_RATE}"
    if allowed:
        print(f"\nhighest threshold with train {rule}: {max(allowed):+.2f}")
    print(f"shipped DEFAULT_NEGATIVE_THRESHOLD: {DEFAULT_NEGATIVE_THRESHOLD:+.2f}")

    test_values = [polarity(r.text) for r in test]
    print_threshold_table(
        "Held-out test split (confirmation only, not used for the choice)",
        threshold_table(test_values, [r.label for r in test]),
    )
    print(f"\nfinished in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--rss":
        raise SystemExit(_measure_child(sys.argv[2]))
    raise SystemExit(main())
