"""Sentiment polarity of rating comments, used to flag "hidden bad reviews".

A citizen may give a service a good level (3-5) and still write a clearly
negative comment.  :func:`polarity` scores a comment in [-1, 1] through
TextBlob: Chinese text goes to :class:`ChineseSentimentAnalyzer` (plugged into
TextBlob's analyzer interface), any other text keeps TextBlob's default English
``PatternAnalyzer``.

The Chinese analyzer averages two scorers:

* a rule scorer over jieba tokens with a hand-built service-domain lexicon:
  opinion words, negators, degree words, "expected outcome" words that only
  count when negated (没处理, 没人管), contrast clauses (但是 ... dominates) and
  regular-expression complaint patterns with no opinion word (跑了三趟);
* a multinomial Naive Bayes model trained on the train split of
  ``bench/sentiment/labelled.tsv`` (see ``bench/sentiment/train_model.py``).

All data is loaded once per process, lazily, or eagerly by :func:`warm_up`
(call it in gunicorn's master before forking so workers share the pages).
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, cast

import jieba
from textblob import TextBlob
from textblob.base import CONTINUOUS, BaseSentimentAnalyzer
from textblob.en.sentiments import PatternAnalyzer

jieba.setLogLevel(logging.WARNING)  # it logs building its dictionary at DEBUG, to its own handler

__all__ = [
    "DEFAULT_NEGATIVE_THRESHOLD",
    "ChineseSentimentAnalyzer",
    "NaiveBayesModel",
    "is_chinese",
    "is_negative",
    "polarity",
    "train_naive_bayes",
    "warm_up",
]

#: Polarity at or below which a comment counts as negative: the highest
#: threshold whose false-flag rate on the train split stays <= 3 % (a false
#: "hidden bad review" costs more than a missed one).  See
#: bench/sentiment/README.md for the precision/recall table.
DEFAULT_NEGATIVE_THRESHOLD: Final[float] = -0.15

DATA_DIR: Final[Path] = Path(__file__).resolve().parent / "sentiment_data"
MODEL_FILE: Final[str] = "naive_bayes.json"

#: Weight of the rule scorer in the final polarity (the rest is Naive Bayes).
LEXICON_WEIGHT: Final[float] = 0.8
#: Squashing constant of the rule score: s / sqrt(s * s + LEXICON_ALPHA).
LEXICON_ALPHA: Final[float] = 4.0
#: Temperature of the Naive Bayes log-odds: tanh(log_odds / BAYES_TEMPERATURE).
BAYES_TEMPERATURE: Final[float] = 3.0

# Clause weights: clauses before a contrast opener and concessive clauses
# (虽然 ...) count less than the clause that carries the speaker's conclusion.
_BEFORE_CONTRAST_WEIGHT: Final = 0.35
_CONTRAST_WEIGHT: Final = 1.3
_CONCESSION_WEIGHT: Final = 0.35
# Negation details.
_NEGATION_WINDOW: Final = 3
_SOFTENED_NEGATION: Final = 0.6
_NEGATED_COMPLAINT: Final = 0.5
# "Don't ..." (别再敷衍了) asks to stop a complaint; it does not negate it.
_PROHIBITIVE: Final = frozenset({"别", "不要", "请勿", "勿"})

_CJK_RE: Final = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_CLAUSE_SPLIT_RE: Final = re.compile(r"[，,。.!！?？;；:：、~～…\s\n]+")
_TOKEN_SKIP_RE: Final = re.compile(r"^[\W_]+$")


def _data_lines(name: str) -> list[str]:
    """Non-empty, non-comment lines of a data file in :data:`DATA_DIR`."""
    text = (DATA_DIR / name).read_text(encoding="utf-8")
    return [line.rstrip("\n") for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _weighted(name: str) -> dict[str, float]:
    table: dict[str, float] = {}
    for line in _data_lines(name):
        word, weight = line.split("\t")
        table[word.strip()] = float(weight)
    return table


@dataclass(frozen=True)
class Lexicon:
    """The hand-built word lists of ``sentiment_data/``."""

    opinion: dict[str, float]
    expect: dict[str, float]
    negators: frozenset[str]
    degree: dict[str, float]
    contrast: frozenset[str]
    concession: frozenset[str]
    patterns: tuple[tuple[re.Pattern[str], float], ...]
    segmentation: frozenset[str]

    @classmethod
    def load(cls) -> Lexicon:
        patterns = []
        for line in _data_lines("complaint_patterns.tsv"):
            regex, weight = line.split("\t")
            patterns.append((re.compile(regex), float(weight)))
        return cls(
            opinion=_weighted("opinion.tsv"),
            expect=_weighted("expect.tsv"),
            negators=frozenset(w.strip() for w in _data_lines("negators.txt")),
            degree=_weighted("degree.tsv"),
            contrast=frozenset(w.strip() for w in _data_lines("contrast.txt")),
            concession=frozenset(w.strip() for w in _data_lines("concession.txt")),
            patterns=tuple(patterns),
            segmentation=frozenset(w.strip() for w in _data_lines("jieba_words.txt")),
        )

    def user_words(self) -> set[str]:
        """Multi-character entries that jieba should keep in one piece."""
        words = set(self.opinion) | set(self.expect) | set(self.degree)
        words |= self.negators | self.contrast | self.concession | self.segmentation
        return {w for w in words if len(w) > 1}


@dataclass
class NaiveBayesModel:
    """Multinomial Naive Bayes over negation-marked jieba tokens.

    Class 1 is "negative comment", class 0 "not negative".
    """

    counts: tuple[dict[str, int], dict[str, int]]
    docs: tuple[int, int]
    smoothing: float = 1.0
    _log_prior: tuple[float, float] = field(init=False, repr=False)
    _log_unseen: tuple[float, float] = field(init=False, repr=False)
    _log_prob: tuple[dict[str, float], dict[str, float]] = field(init=False, repr=False)
    _vocabulary: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        vocabulary = set(self.counts[0]) | set(self.counts[1])
        size = max(len(vocabulary), 1)
        total_docs = max(sum(self.docs), 1)
        priors = []
        unseen = []
        tables = []
        for label in (0, 1):
            total = sum(self.counts[label].values()) + self.smoothing * size
            priors.append(math.log(max(self.docs[label], 1) / total_docs))
            unseen.append(math.log(self.smoothing / total))
            tables.append({tok: math.log((n + self.smoothing) / total) for tok, n in self.counts[label].items()})
        self._log_prior = (priors[0], priors[1])
        self._log_unseen = (unseen[0], unseen[1])
        self._log_prob = (tables[0], tables[1])
        self._vocabulary = frozenset(vocabulary)

    def log_odds(self, features: Iterable[str]) -> float:
        """log P(not negative | features) - log P(negative | features)."""
        score = self._log_prior[0] - self._log_prior[1]
        for feat in features:
            if feat not in self._vocabulary:
                continue
            score += self._log_prob[0].get(feat, self._log_unseen[0])
            score -= self._log_prob[1].get(feat, self._log_unseen[1])
        return score

    def to_json(self) -> str:
        payload = {
            "format": "haocha-naive-bayes/1",
            "labels": {"0": "not negative", "1": "negative"},
            "smoothing": self.smoothing,
            "docs": list(self.docs),
            "counts": [dict(sorted(c.items())) for c in self.counts],
        }
        return json.dumps(payload, ensure_ascii=False, indent=0, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> NaiveBayesModel:
        payload = json.loads(text)
        counts = payload["counts"]
        docs = payload["docs"]
        return cls(
            counts=(dict(counts[0]), dict(counts[1])),
            docs=(int(docs[0]), int(docs[1])),
            smoothing=float(payload["smoothing"]),
        )


class _Resources:
    """Everything loaded once per process: lexicons, a private jieba
    tokenizer (the global ``jieba.dt`` is left untouched) and the model."""

    def __init__(self) -> None:
        self.lexicon = Lexicon.load()
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        for word in sorted(self.lexicon.user_words()):
            tokenizer.add_word(word)
        self.tokenizer = tokenizer
        path = DATA_DIR / MODEL_FILE
        self.model = NaiveBayesModel.from_json(path.read_text(encoding="utf-8"))

    def tokens(self, clause: str) -> list[str]:
        words = cast(list[str], self.tokenizer.lcut(clause, HMM=False))
        return [w for w in words if w.strip() and not _TOKEN_SKIP_RE.match(w)]


_lock = threading.Lock()
_resources: _Resources | None = None


def _get_resources() -> _Resources:
    global _resources
    if _resources is None:
        with _lock:
            if _resources is None:
                _resources = _Resources()
    return _resources


def _clauses(text: str) -> list[str]:
    return [c for c in _CLAUSE_SPLIT_RE.split(text) if c]


def _bayes_features(lexicon: Lexicon, clauses: Sequence[list[str]]) -> list[str]:
    """Tokens; the two tokens after a negator are marked with ``!`` (不!满意)."""
    features: list[str] = []
    for tokens in clauses:
        negated = 0
        for tok in tokens:
            if tok in lexicon.negators:
                negated = 2
                features.append(tok)
            elif negated:
                features.append("!" + tok)
                negated -= 1
            else:
                features.append(tok)
    return features


def train_naive_bayes(samples: Iterable[tuple[str, int]], smoothing: float = 1.0) -> NaiveBayesModel:
    """Train a model on ``(text, label)`` pairs, label 1 meaning negative."""
    res = _get_resources()
    counts: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
    docs = [0, 0]
    for text, label in samples:
        clauses = [res.tokens(c) for c in _clauses(text)]
        # Binarised counts (each feature once per document) work better on
        # short texts.
        counts[label].update(set(_bayes_features(res.lexicon, clauses)))
        docs[label] += 1
    return NaiveBayesModel(
        counts=(dict(counts[0]), dict(counts[1])),
        docs=(docs[0], docs[1]),
        smoothing=smoothing,
    )


class ChineseSentimentAnalyzer(BaseSentimentAnalyzer):  # type: ignore[misc,unused-ignore]  # textblob is untyped
    """TextBlob analyzer for Chinese comments; ``analyze`` returns polarity.

    ``model`` replaces the shipped Naive Bayes model (used by the bench for
    cross-validation); by default the process-wide singleton data is used.
    """

    kind = CONTINUOUS

    def __init__(self, model: NaiveBayesModel | None = None) -> None:
        super().__init__()
        self._model = model

    def train(self) -> None:
        """Load the shared lexicons and model (nothing is trained here)."""
        _get_resources()
        super().train()

    def analyze(self, text: str) -> float:
        """Polarity in [-1, 1]: -1 clearly negative, +1 clearly positive."""
        if not text or not text.strip():
            return 0.0
        lex = self.lexicon_polarity(text)
        bayes = self.bayes_polarity(text)
        return _clamp(LEXICON_WEIGHT * lex + (1.0 - LEXICON_WEIGHT) * bayes)

    # -- components -----------------------------------------------------

    def lexicon_score(self, text: str) -> float:
        """Unbounded rule score (sum of weighted clause scores)."""
        res = _get_resources()
        lexicon = res.lexicon
        clauses = _clauses(text)
        if not clauses:
            return 0.0
        scores: list[float] = []
        weights: list[float] = []
        for clause in clauses:
            tokens = res.tokens(clause)
            weight = 1.0
            head = tokens[:2]
            if any(t in lexicon.contrast for t in head) or "却" in tokens:
                weights = [w * _BEFORE_CONTRAST_WEIGHT for w in weights]
                weight = _CONTRAST_WEIGHT
            elif any(t in lexicon.concession for t in head):
                weight = _CONCESSION_WEIGHT
            scores.append(_clause_score(lexicon, tokens, clause))
            weights.append(weight)
        return sum(s * w for s, w in zip(scores, weights, strict=True))

    def lexicon_polarity(self, text: str) -> float:
        """Rule score squashed into [-1, 1]."""
        score = self.lexicon_score(text)
        return score / math.sqrt(score * score + LEXICON_ALPHA)

    def bayes_polarity(self, text: str) -> float:
        """Naive Bayes log-odds squashed into [-1, 1]."""
        res = _get_resources()
        model = self._model if self._model is not None else res.model
        clauses = [res.tokens(c) for c in _clauses(text)]
        if not any(clauses):
            return 0.0
        odds = model.log_odds(_bayes_features(res.lexicon, clauses))
        return math.tanh(odds / BAYES_TEMPERATURE)


def _clause_score(lexicon: Lexicon, tokens: Sequence[str], clause: str) -> float:
    """Score one clause: opinion words with their negators and degree words,
    negated expected outcomes, plus complaint patterns."""
    score = 0.0
    for i, tok in enumerate(tokens):
        value = lexicon.opinion.get(tok)
        expected = lexicon.expect.get(tok)
        if value is None and expected is None:
            continue
        negations = 0
        prohibitive = False
        inner = 1.0  # degree words between the negator and the word (不太好)
        outer = 1.0  # degree words before the negator (太不负责, 根本没有)
        for j in range(i - 1, max(-1, i - 1 - _NEGATION_WINDOW), -1):
            prev = tokens[j]
            if prev in lexicon.opinion:
                break
            if prev in lexicon.negators:
                negations += 1
                prohibitive = prohibitive or prev in _PROHIBITIVE
            elif prev in lexicon.degree:
                if negations:
                    outer *= lexicon.degree[prev]
                else:
                    inner *= lexicon.degree[prev]
        if negations % 2 == 0:
            if value is not None:
                score += value * inner * outer
        elif expected is not None:
            score -= expected * max(outer, 1.0)
        elif value is not None and value > 0:
            soften = _SOFTENED_NEGATION if inner != 1.0 else 1.0
            score -= value * soften * max(outer, 1.0)
        elif value is not None and prohibitive:
            score += value
        elif value is not None:
            score -= value * _NEGATED_COMPLAINT
    for pattern, weight in lexicon.patterns:
        if pattern.search(clause):
            score += weight
    return score


def _clamp(value: float) -> float:
    return max(-1.0, min(1.0, value))


_english_analyzer: Final = PatternAnalyzer()
_chinese_analyzer: ChineseSentimentAnalyzer | None = None


def _chinese() -> ChineseSentimentAnalyzer:
    global _chinese_analyzer
    if _chinese_analyzer is None:
        _chinese_analyzer = ChineseSentimentAnalyzer()
    return _chinese_analyzer


def is_chinese(text: str) -> bool:
    """True when the text contains any CJK ideograph."""
    return _CJK_RE.search(text) is not None


def polarity(text: str) -> float:
    """Polarity in [-1, 1] of a comment, by TextBlob with a language-specific analyzer."""
    if not text or not text.strip():
        return 0.0
    analyzer: BaseSentimentAnalyzer = _chinese() if is_chinese(text) else _english_analyzer
    result = TextBlob(text, analyzer=analyzer).sentiment
    if isinstance(result, float):
        return _clamp(result)
    return _clamp(float(result[0]))


def is_negative(polarity: float, threshold: float) -> bool:
    """True when ``polarity`` is at or below ``threshold``."""
    return polarity <= threshold


def warm_up() -> None:
    """Load jieba, the lexicons, the model and TextBlob's English lexicon now."""
    _get_resources()
    polarity("工作人员很热情")
    polarity("good")
