"""Sentiment polarity of rating comments, used to flag "hidden bad reviews".

A citizen may give a service a good level (3-5) and still write a clearly
negative comment.  :func:`polarity` scores a comment in [-1, 1] through
TextBlob: Chinese text goes to :class:`ChineseSentimentAnalyzer` (plugged into
TextBlob's analyzer interface), any other text keeps TextBlob's default English
``PatternAnalyzer``.

The Chinese analyzer adds two scorers on the log-odds scale:

* a logistic regression over character 1-3-grams and jieba words (negated
  words marked), trained on 56,000 real labelled shopping and hotel reviews
  plus our own government comments by ``bench/sentiment/train_model.py`` and
  shipped as ``sentiment_data/linear_model.json.gz``; features of clauses
  before a contrast (但是 ...) or in a concession (虽然 ...) weigh less, as in
  the rules;
* a rule scorer over jieba tokens with a hand-built service-domain lexicon:
  opinion words, negators, degree words, "expected outcome" words that only
  count when negated (没处理, 没人管), contrast clauses (但是 ... dominates) and
  regular-expression complaint patterns with no opinion word (跑了三趟).
  Shopping reviews rarely say 跑了三趟 or 态度不差, so the rules carry our
  domain where the statistical model has not seen it.

Polarity is tanh((model log-odds + RULE_WEIGHT * rule polarity) / 2), i.e.
2 P(positive) - 1 of the combined logistic score, with two rule overrides:
negated complaints that leave nothing negative (态度不差, 没有不满意的地方)
take the rule polarity alone, and a bare lukewarm verdict (一般) is held at
:data:`LUKEWARM_FLOOR`, negative but not flagged.  Inference is plain Python
(dict look-ups); scikit-learn is needed only to train.

All data is loaded once per process, lazily, or eagerly by :func:`warm_up`
(call it in gunicorn's master before forking so workers share the pages).
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import math
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
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
    "LinearModel",
    "is_chinese",
    "is_negative",
    "model_features",
    "polarity",
    "warm_up",
]

#: Polarity at or below which a comment counts as negative (P(negative) >=
#: 0.65): the highest threshold whose flag precision on the held-out review
#: corpus stays >= 0.95 (a false "hidden bad review" costs more than a missed
#: one).  See bench/sentiment/README.md for the precision/recall table.
DEFAULT_NEGATIVE_THRESHOLD: Final[float] = -0.3

DATA_DIR: Final[Path] = Path(__file__).resolve().parent / "sentiment_data"
MODEL_FILE: Final[str] = "linear_model.json.gz"
MODEL_FORMAT: Final[str] = "haocha-linear-sentiment/1"

#: Log-odds added per unit of rule polarity (in [-1, 1]).  The rules cost a
#: little on the review corpus (dev accuracy 0.924 without them, 0.922 at
#: 1.5, 0.921 at 2) and lift our own government comments, whose phrases
#: (跑了三趟, 没人管) the reviews never use; see bench/sentiment/README.md.
RULE_WEIGHT: Final[float] = 1.5
#: Squashing constant of the rule score: s / sqrt(s * s + LEXICON_ALPHA).
LEXICON_ALPHA: Final[float] = 4.0
#: Highest polarity of a bare lukewarm verdict (一般, 服务一般): below 0, as
#: real reviewers mean it, but above DEFAULT_NEGATIVE_THRESHOLD, so a citizen
#: who gives 4 stars and writes 一般 is not called back over it.
LUKEWARM_FLOOR: Final[float] = -0.2
#: Character n-gram lengths of the model features.
NGRAM_SIZES: Final = (1, 2, 3)

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
_NON_WORD_RE: Final = re.compile(r"[\W_]+")


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
    lukewarm: re.Pattern[str]

    @classmethod
    def load(cls) -> Lexicon:
        patterns = []
        for line in _data_lines("complaint_patterns.tsv"):
            regex, weight = line.split("\t")
            patterns.append((re.compile(regex), float(weight)))
        kinds: dict[str, list[str]] = {"verdict": [], "aspect": [], "particle": []}
        for line in _data_lines("lukewarm.txt"):
            kind, word = line.split("\t")
            kinds[kind].append(re.escape(word.strip()))

        def either(kind: str) -> str:
            # Longest first, so 一般般 is not read as 一般 plus a stray 般.
            return "|".join(sorted(kinds[kind], key=len, reverse=True))

        lukewarm = re.compile(f"(?:{either('aspect')})*(?:{either('verdict')})(?:{either('particle')})*")
        return cls(
            lukewarm=lukewarm,
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


@dataclass(frozen=True)
class LinearModel:
    """Logistic regression over character n-grams and jieba words.

    ``log_odds`` is log P(positive) - log P(negative) for a feature mapping
    from :func:`model_features`: ``bias + sum(weight * value) / sqrt(n)``,
    where ``n`` is the number of features of the text (known or not), so
    long reviews do not outvote short ones merely by length.  Trained by
    ``bench/sentiment/train_model.py``; features missing from ``weights``
    were pruned or never seen and count zero.
    """

    weights: dict[str, float]
    bias: float

    def log_odds(self, features: dict[str, float]) -> float:
        if not features:
            return self.bias
        weights = self.weights
        total = 0.0
        for feature, value in features.items():
            weight = weights.get(feature)
            if weight is not None:
                total += weight * value
        return self.bias + total / math.sqrt(len(features))

    def to_json(self) -> str:
        payload = {
            "format": MODEL_FORMAT,
            "labels": {"positive": "log_odds > 0", "negative": "log_odds < 0"},
            "bias": round(self.bias, 6),
            "weights": {f: round(w, 4) for f, w in sorted(self.weights.items())},
        }
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LinearModel:
        payload = json.loads(text)
        if payload.get("format") != MODEL_FORMAT:
            raise ValueError(f"unknown sentiment model format {payload.get('format')!r}")
        return cls(weights=dict(payload["weights"]), bias=float(payload["bias"]))

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return cls.from_json(handle.read())

    def save(self, path: Path) -> None:
        """Write gzip'd JSON with no timestamp, so retraining is byte-for-byte reproducible."""
        data = (self.to_json() + "\n").encode("utf-8")
        with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
            handle.write(data)


class _Resources:
    """Everything loaded once per process: lexicons, a private jieba
    tokenizer (the global ``jieba.dt`` is left untouched) and, on first use,
    the model."""

    def __init__(self) -> None:
        self.lexicon = Lexicon.load()
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        for word in sorted(self.lexicon.user_words()):
            tokenizer.add_word(word)
        self.tokenizer = tokenizer

    @functools.cached_property
    def model(self) -> LinearModel:
        # Loaded apart from the lexicons so the trainer can extract features
        # before any model file exists.
        return LinearModel.load(DATA_DIR / MODEL_FILE)

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


def _word_features(lexicon: Lexicon, tokens: Sequence[str]) -> list[str]:
    """Tokens; the two tokens after a negator are marked with ``!`` (不!满意)."""
    features: list[str] = []
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


def _clause_weights(lexicon: Lexicon, clauses: Sequence[Sequence[str]]) -> list[float]:
    """Weight of each tokenized clause: a contrast opener (但是, 却) discounts
    everything before it, a concessive opener (虽然) discounts its own clause."""
    weights: list[float] = []
    for tokens in clauses:
        weight = 1.0
        head = tokens[:2]
        if any(t in lexicon.contrast for t in head) or "却" in tokens:
            weights = [w * _BEFORE_CONTRAST_WEIGHT for w in weights]
            weight = _CONTRAST_WEIGHT
        elif any(t in lexicon.concession for t in head):
            weight = _CONCESSION_WEIGHT
        weights.append(weight)
    return weights


def _features(lexicon: Lexicon, clauses: Sequence[str], tokens: Sequence[Sequence[str]]) -> dict[str, float]:
    """Model features of pre-split clauses: feature -> clause weight (the
    highest, when a feature occurs in several clauses)."""
    features: dict[str, float] = {}

    def add(feature: str, weight: float) -> None:
        if features.get(feature, 0.0) < weight:
            features[feature] = weight

    for clause, words, weight in zip(clauses, tokens, _clause_weights(lexicon, tokens), strict=True):
        # NFKC folds full-width letters and digits, as reviews mix both.
        for piece in _NON_WORD_RE.split(unicodedata.normalize("NFKC", clause).lower()):
            size = len(piece)
            for n in NGRAM_SIZES:
                for i in range(size - n + 1):
                    add(piece[i : i + n], weight)
        for word in _word_features(lexicon, words):
            add("w:" + word.lower(), weight)
    return features


def model_features(text: str) -> dict[str, float]:
    """The statistical model's features of ``text`` (used to train it, too):
    character n-grams within clauses and ``w:``-prefixed jieba words."""
    res = _get_resources()
    clauses = _clauses(text)
    return _features(res.lexicon, clauses, [res.tokens(c) for c in clauses])


class ChineseSentimentAnalyzer(BaseSentimentAnalyzer):  # type: ignore[misc,unused-ignore]  # textblob is untyped
    """TextBlob analyzer for Chinese comments; ``analyze`` returns polarity.

    ``model`` replaces the shipped linear model (the bench and the trainer
    score candidate models with it); by default the process-wide singleton
    data is used.
    """

    kind = CONTINUOUS

    def __init__(self, model: LinearModel | None = None) -> None:
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
        res = _get_resources()
        clauses = _clauses(text)
        # jieba is the slowest step: tokenize once for both scorers.
        tokens = [res.tokens(c) for c in clauses]
        rules = self._rules(res.lexicon, clauses, tokens)
        rule_polarity = _squash(rules.score)
        if rules.negated_complaint and rules.score > 0:
            # Negated complaints that leave nothing negative (态度不差, 没毛病):
            # the rules override the model, which sees only 差 and 毛病.
            return _clamp(rule_polarity)
        lukewarm = _lukewarm(res.lexicon, text)
        odds = self._log_odds(res, clauses, tokens)
        value = math.tanh((odds + RULE_WEIGHT * rule_polarity) / 2.0)
        if lukewarm:
            # A bare lukewarm verdict (一般, 服务一般) is mildly negative in real
            # reviews but not the "clearly negative" comment a flag is for.
            value = max(value, LUKEWARM_FLOOR)
        return _clamp(value)

    # -- components -----------------------------------------------------

    def lexicon_score(self, text: str) -> float:
        """Unbounded rule score (sum of weighted clause scores)."""
        res = _get_resources()
        clauses = _clauses(text)
        return self._rules(res.lexicon, clauses, [res.tokens(c) for c in clauses]).score

    def lexicon_polarity(self, text: str) -> float:
        """Rule score squashed into [-1, 1]."""
        return _squash(self.lexicon_score(text))

    def model_log_odds(self, text: str) -> float:
        """The statistical model alone: log P(positive) - log P(negative)."""
        res = _get_resources()
        clauses = _clauses(text)
        return self._log_odds(res, clauses, [res.tokens(c) for c in clauses])

    def model_polarity(self, text: str) -> float:
        """The statistical model alone, as 2 P(positive) - 1."""
        if not text or not text.strip():
            return 0.0
        return math.tanh(self.model_log_odds(text) / 2.0)

    def _log_odds(self, res: _Resources, clauses: Sequence[str], tokens: Sequence[Sequence[str]]) -> float:
        model = self._model if self._model is not None else res.model
        return model.log_odds(_features(res.lexicon, clauses, tokens))

    @staticmethod
    def _rules(lexicon: Lexicon, clauses: Sequence[str], tokens: Sequence[Sequence[str]]) -> _RuleResult:
        weights = _clause_weights(lexicon, tokens)
        found = [_clause_score(lexicon, words, clause) for clause, words in zip(clauses, tokens, strict=True)]
        return _RuleResult(
            sum(r.score * w for r, w in zip(found, weights, strict=True)),
            any(r.negated_complaint for r in found),
        )


def _lukewarm(lexicon: Lexicon, text: str) -> bool:
    """True when the whole comment is a bare lukewarm verdict."""
    bare = _NON_WORD_RE.sub("", unicodedata.normalize("NFKC", text))
    return lexicon.lukewarm.fullmatch(bare) is not None


def _squash(score: float) -> float:
    return score / math.sqrt(score * score + LEXICON_ALPHA)


@dataclass(frozen=True)
class _RuleResult:
    score: float
    #: A complaint word was negated (不麻烦, 没毛病, 没有不满意): n-grams of
    #: such comments carry the complaint word, so the model misreads them.
    negated_complaint: bool


def _clause_score(lexicon: Lexicon, tokens: Sequence[str], clause: str) -> _RuleResult:
    """Score one clause: opinion words with their negators and degree words,
    negated expected outcomes, plus complaint patterns."""
    score = 0.0
    negated_complaint = False
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
                negated_complaint = negated_complaint or (negations > 0 and value > 0)
        elif expected is not None:
            score -= expected * max(outer, 1.0)
        elif value is not None and value > 0:
            soften = _SOFTENED_NEGATION if inner != 1.0 else 1.0
            score -= value * soften * max(outer, 1.0)
        elif value is not None and prohibitive:
            score += value
        elif value is not None:
            score -= value * _NEGATED_COMPLAINT
            negated_complaint = True
    for pattern, weight in lexicon.patterns:
        if pattern.search(clause):
            score += weight
    return _RuleResult(score, negated_complaint)


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
    _get_resources().model  # noqa: B018  # the property loads the model
    polarity("工作人员很热情")
    polarity("good")
