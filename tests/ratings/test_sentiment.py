"""Tests of the hidden-bad-review sentiment scorer (ratings.sentiment) and its CLI."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from textblob import TextBlob
from textblob.base import CONTINUOUS, BaseSentimentAnalyzer

from ratings import sentiment
from ratings.sentiment import (
    DEFAULT_NEGATIVE_THRESHOLD,
    LUKEWARM_FLOOR,
    ChineseSentimentAnalyzer,
    LinearModel,
    is_negative,
    model_features,
    polarity,
    warm_up,
)
from ratings.sentiment_cli import sentiment_cli

ROOT = Path(__file__).resolve().parents[2]
LABELLED = ROOT / "bench" / "sentiment" / "labelled.tsv"


def _labelled(split: str) -> list[tuple[str, int]]:
    with LABELLED.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(row["text"], int(row["label"])) for row in reader if row["split"] == split]


def _flagged(text: str) -> bool:
    return is_negative(polarity(text), DEFAULT_NEGATIVE_THRESHOLD)


# -- acceptance cases ------------------------------------------------------------------


def test_level_four_comment_with_complaints_is_negative() -> None:
    assert _flagged("办事效率太低,态度很差,跑了三趟都没办好")


def test_praise_is_not_negative() -> None:
    assert not _flagged("工作人员很热情,一次就办好了")


def test_bu_manyi_is_negative() -> None:
    assert _flagged("不满意")


def test_short_lukewarm_answer_is_not_negative() -> None:
    assert not _flagged("还行")


def test_english_goes_to_textblob_pattern_analyzer() -> None:
    value = polarity("The staff were rude and slow")
    assert value < 0
    assert value == pytest.approx(TextBlob("The staff were rude and slow").sentiment.polarity)


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_empty_text_scores_zero(text: str) -> None:
    assert polarity(text) == 0.0
    assert ChineseSentimentAnalyzer().analyze(text) == 0.0


def test_held_out_accuracy() -> None:
    rows = _labelled("test")
    assert len(rows) >= 150
    correct = sum(_flagged(text) == bool(label) for text, label in rows)
    # 0.874 before the statistical model was trained on real reviews; it must not get worse.
    assert correct / len(rows) >= 0.874


# -- behaviour -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "非常不满意",
        "问题根本没有解决",
        "打了好几次电话都没人接",
        "互相踢皮球",
        "态度挺好，但是事情没办成",
        "等了两个小时",
        "来回跑了三趟",
        "送餐太慢了，饭都凉了",
        "房间很小，隔音很差，不会再住了",
    ],
)
def test_negative_comments(text: str) -> None:
    assert _flagged(text)


@pytest.mark.parametrize("text", ["态度不差", "不麻烦", "没有不满意的地方"])
def test_negated_complaints_are_read_by_the_rules(text: str) -> None:
    analyzer = ChineseSentimentAnalyzer()
    # The n-grams carry the complaint word (差, 麻烦), so the rules override the model.
    assert polarity(text) == pytest.approx(analyzer.lexicon_polarity(text))
    assert polarity(text) > 0


@pytest.mark.parametrize("text", ["一般", "一般般", "服务一般", "态度一般吧。"])
def test_bare_lukewarm_verdict_is_mildly_negative_but_not_flagged(text: str) -> None:
    value = polarity(text)
    assert value == LUKEWARM_FLOOR
    assert LUKEWARM_FLOOR < 0
    assert not _flagged(text)


def test_lukewarm_with_a_complaint_is_flagged() -> None:
    assert _flagged("一般，下次不来了")


def test_model_features_are_character_ngrams_and_words_weighted_by_clause() -> None:
    features = model_features("态度很好，但是效率太低")
    assert {"态", "态度", "态度很", "w:态度", "w:效率"} <= features.keys()
    # The clause before the contrast counts less than the one after it.
    assert features["态度"] < features["效率"]
    assert features["效率"] > 1.0


def test_model_round_trips_through_its_data_file(tmp_path: Path) -> None:
    model = LinearModel(weights={"好": 1.25, "w:差": -2.5}, bias=0.125)
    target = tmp_path / "model.json.gz"
    model.save(target)
    first = target.read_bytes()
    loaded = LinearModel.load(target)
    assert loaded == model
    assert loaded.log_odds({"好": 1.0, "w:差": 1.0, "unknown": 1.0, "x": 1.0}) == pytest.approx(0.125 - 1.25 / 2)
    model.save(target)
    assert target.read_bytes() == first  # no timestamp: retraining is reproducible


def test_shipped_model_is_small_and_loads() -> None:
    path = sentiment.DATA_DIR / sentiment.MODEL_FILE
    assert path.stat().st_size < 5_000_000
    model = sentiment._get_resources().model
    assert len(model.weights) > 10_000
    assert model.log_odds(model_features("质量很好，非常满意")) > 0
    assert model.log_odds(model_features("质量太差了，非常失望")) < 0


def test_scoring_needs_no_training_libraries() -> None:
    code = (
        "import sys; from ratings.sentiment import polarity; polarity('服务很好'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy', 'numpy'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "text",
    ["一般", "可以", "没毛病", "没有不满意的地方", "虽然排队有点久，但是工作人员很耐心", "建议周末也开放窗口"],
)
def test_not_negative_comments(text: str) -> None:
    assert not _flagged(text)


def test_analyzer_plugs_into_textblob() -> None:
    analyzer = ChineseSentimentAnalyzer()
    assert isinstance(analyzer, BaseSentimentAnalyzer)
    assert analyzer.kind == CONTINUOUS
    value = TextBlob("态度很差", analyzer=analyzer).sentiment
    assert isinstance(value, float)
    assert value < 0


def test_textblob_alone_scores_chinese_as_zero() -> None:
    # The reason the Chinese analyzer exists.
    assert TextBlob("态度很差，非常不满意").sentiment.polarity == 0.0


def test_polarity_stays_in_range() -> None:
    for text, _ in _labelled("train") + _labelled("test"):
        assert -1.0 <= polarity(text) <= 1.0


def test_is_negative_includes_the_threshold() -> None:
    assert is_negative(-0.2, -0.2)
    assert is_negative(-0.5, -0.2)
    assert not is_negative(-0.19, -0.2)


def test_warm_up_loads_once() -> None:
    warm_up()
    first = sentiment._get_resources()
    warm_up()
    assert sentiment._get_resources() is first


# -- CLI -------------------------------------------------------------------------------


def _cli_app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    app.cli.add_command(sentiment_cli)
    return app


def test_cli_scores_one_line_per_comment() -> None:
    app = _cli_app()
    comments = [
        "办事效率太低,态度很差,跑了三趟都没办好",
        "",
        "工作人员很热情,一次就办好了",
        "The staff were rude and slow",
    ]
    result = app.test_cli_runner().invoke(args=["sentiment", "score"], input="\n".join(comments) + "\n")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 4
    assert lines[1] == "0.0000\t0"
    for line, text in zip(lines, comments, strict=True):
        value, flag = line.split("\t")
        assert value == f"{polarity(text):.4f}"
        assert flag == str(int(is_negative(polarity(text), DEFAULT_NEGATIVE_THRESHOLD)))
    assert lines[0].endswith("\t1")
    assert lines[2].endswith("\t0")
    assert lines[3].endswith("\t1")


def test_cli_threshold_comes_from_config() -> None:
    app = _cli_app(SENTIMENT_NEGATIVE_THRESHOLD=-1.0)
    result = app.test_cli_runner().invoke(args=["sentiment", "score"], input="不满意\n")
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("\t0")
