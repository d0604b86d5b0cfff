"""Counting: 满意率, 好评率 and 差评率 of per-level counts (the statistics in reports.stats count;
these are the rules they count by)."""

from collections.abc import Mapping

from flask import current_app


def rates(levels: Mapping[int, int]) -> dict[str, float | None]:
    """满意率 (3-5), 好评率 (4-5) and 差评率 (1-2) over the valid ratings counted in `levels`."""
    valid = sum(levels.values())
    if not valid:
        return {"satisfaction_rate": None, "good_rate": None, "bad_rate": None}
    config = current_app.config
    bad_max, satisfied_min, good_min = (
        config["BAD_REVIEW_MAX_LEVEL"],
        config["SATISFIED_MIN_LEVEL"],
        config["GOOD_REVIEW_MIN_LEVEL"],
    )
    return {
        "satisfaction_rate": round(sum(n for lv, n in levels.items() if lv >= satisfied_min) / valid, 4),
        "good_rate": round(sum(n for lv, n in levels.items() if lv >= good_min) / valid, 4),
        "bad_rate": round(sum(n for lv, n in levels.items() if lv <= bad_max) / valid, 4),
    }
