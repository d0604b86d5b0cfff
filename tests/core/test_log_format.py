"""The JSON log line's timestamp, formatted once per second."""

import json
import logging
import time

from core.logs import JsonFormatter


def _line(formatter: JsonFormatter, created: float) -> dict[str, str]:
    record = logging.LogRecord("haocha.request", logging.INFO, "", 0, "request", None, None)
    record.created = created
    return json.loads(formatter.format(record))


def test_each_line_carries_its_own_second():
    formatter = JsonFormatter()
    start = 1_800_000_000.25
    first, same, next_second = (_line(formatter, t)["ts"] for t in (start, start + 0.5, start + 1))
    assert first == same == time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(int(start)))
    assert next_second == time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(int(start) + 1))
    assert _line(formatter, start)["ts"] == first  # back to an earlier second: formatted again
