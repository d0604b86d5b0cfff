"""``flask sentiment score``: score comments read one per line on stdin.

Each input line prints ``POLARITY<TAB>FLAG``: the polarity with four decimals
and ``1`` when the comment counts as negative at the configured threshold
(``SENTIMENT_NEGATIVE_THRESHOLD``, default
:data:`ratings.sentiment.DEFAULT_NEGATIVE_THRESHOLD`), else ``0``.
Blank lines print ``0.0000<TAB>0``.

Register it on an app with ``app.cli.add_command(sentiment_cli)``.
"""

from __future__ import annotations

from typing import BinaryIO

import click
from flask import current_app
from flask.cli import AppGroup

from ratings.sentiment import DEFAULT_NEGATIVE_THRESHOLD, is_negative, polarity

sentiment_cli = AppGroup("sentiment", help="Sentiment of rating comments.")


def format_score(text: str, threshold: float) -> str:
    """One output line (without newline) for one input comment."""
    if not text.strip():
        return "0.0000\t0"
    value = polarity(text)
    shown = f"{value:.4f}"
    if shown == "-0.0000":
        shown = "0.0000"
    return f"{shown}\t{int(is_negative(value, threshold))}"


@sentiment_cli.command("score")
@click.argument("source", type=click.File("rb"), default="-")
def score(source: BinaryIO) -> None:
    """Read comments one per line (stdin, or SOURCE); print POLARITY<TAB>FLAG for each."""
    threshold = float(current_app.config.get("SENTIMENT_NEGATIVE_THRESHOLD", DEFAULT_NEGATIVE_THRESHOLD))
    for raw in source:
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n").removeprefix("\ufeff")
        click.echo(format_score(text, threshold))
