"""Domain defaults (DOMAIN.md). Every number the rules use lives here, never as a literal in code.

Each name becomes an app config key, so a deployment can override it with an environment
variable of the same name (see config/settings.py) and tests can override it per app.
"""

from typing import Any

DOMAIN_DEFAULTS: dict[str, Any] = {
    # Time zone in which days and deadlines are computed; timestamps are stored in UTC.
    "LOCAL_TIMEZONE": "Asia/Shanghai",
    # Working-day calendar: country for the `holidays` package.
    "HOLIDAY_COUNTRY": "CN",
    # Working hours, for "average handling time in working hours".
    "WORKDAY_START_HOUR": 9,
    "WORKDAY_END_HOUR": 17,
    # 好差评: satisfaction target and rating levels.
    "SATISFACTION_TARGET": 0.95,
    # 三率 composite (reports/stats/three_rates.py, docs/statistics.md): weights of 响应率, 解决率
    # and 满意率, summing to 1.
    "THREE_RATES_WEIGHTS": {"response": 0.1, "resolution": 0.45, "satisfaction": 0.45},
    "BAD_REVIEW_MAX_LEVEL": 2,
    "SATISFIED_MIN_LEVEL": 3,
    "GOOD_REVIEW_MIN_LEVEL": 4,
    "RATING_TOKEN_TTL_DAYS": 7,
    "RATING_TOKEN_BYTES": 24,
    "DEFAULT_RATING_ENABLED": False,
    "DEFAULT_RATING_AFTER_DAYS": 7,
    "DEFAULT_RATING_LEVEL": 3,
    # Rating form and API: per-client-IP limits (Flask-Limiter strings). Standing QR codes on a
    # counter are not tied to one event, so their ratings are low-trust and limited harder.
    "RATING_RATE_LIMIT": "30 per minute",
    "RATING_PAGE_RATE_LIMIT": "120 per minute",
    "STANDING_QR_RATE_LIMIT": "5 per hour",
    # Comments up to 200 characters (the usual 评价 box) keep the analyzer under 2 ms a rating.
    "RATING_COMMENT_MAX_LENGTH": 200,
    # Channel (pf) of an API rating that names none: 2 = mobile.
    "RATING_DEFAULT_CHANNEL": 2,
    # Reason tags offered on bad reviews (levels 1-2); labels live in ratings/labels.py.
    "RATING_REASON_TAGS": [
        "slow",
        "attitude",
        "many_trips",
        "long_wait",
        "unclear_guide",
        "not_resolved",
        "fees",
        "system",
        "other",
    ],
    # 评价精准: who may issue rating tokens and how fast (Flask-Limiter strings, per issuer key or
    # per staff member), and the fraud signals that hold a rating for a manager's review.
    "ISSUER_RATE_LIMIT": "600 per minute",
    "STAFF_ISSUE_RATE_LIMIT": "60 per minute",
    # Held when rated from the address that issued the token (a department rating itself).
    "REVIEW_SAME_ADDRESS": True,
    # Held when one address (or its /24, /48 for IPv6) has sent more ratings than this within
    # the window, across tokens: the first REVIEW_ADDRESS_MAX count, the rest wait.
    "REVIEW_ADDRESS_MAX": 10,
    "REVIEW_NETWORK_MAX": 30,
    "REVIEW_ADDRESS_WINDOW_MINUTES": 10,
    # Held when a token issued by a staff member's own account is used within this many seconds.
    "REVIEW_STAFF_TOKEN_SECONDS": 30,
    # Held when a department's ratings of one level in the last hour exceed both this floor and
    # this multiple of its own hourly average of that level over the baseline days.
    "REVIEW_BURST_MIN": 20,
    "REVIEW_BURST_FACTOR": 5.0,
    "REVIEW_BURST_BASELINE_DAYS": 28,
    # Addresses exempt from the address signals: registered counter devices and service-hall
    # networks, where everyone shares one address (CIDR strings, e.g. ["10.20.0.0/16"]).
    "REVIEW_EXEMPT_NETWORKS": [],
    # Citizen messages (追评 and satisfaction links by SMS): retries with backoff, then failed.
    "CITIZEN_MESSAGE_MAX_ATTEMPTS": 6,
    "CITIZEN_MESSAGE_RETRY_SECONDS": 30,
    "CITIZEN_MESSAGE_SWEEP_SECONDS": 5,
    # The texts citizens receive (Chinese first); `{link}` is their own link, nothing else
    # personal is put in a message.
    "CITIZEN_MESSAGE_TEMPLATES": {
        "follow_up": "【12345】您评价的事项已整改并公开整改情况，欢迎您对整改结果追评：{link}",
        "satisfaction": "【12345】您的诉求已办结，请对办理结果评价：{link}",
        # `{reference}` is the rating's reference number (not personal).
        "status": "【12345】您的评价已收到，编号{reference}，办理进展请查看：{link}",
        "ticket_status": "【12345】您的诉求（工单号{reference}）已答复办结，办理过程请查看：{link}",
    },
    "RATING_IDEMPOTENCY_HOURS": 24,
    "RATING_SWEEP_SECONDS": 3600,
    # Statistics: how often the fold job moves queued rating changes into the rollups, and how
    # many rows one fold transaction takes (readers add what is not folded yet, so figures are
    # exact either way; a shorter interval keeps that tail small). On SQLite a fold transaction
    # holds the write lock, every rating waiting behind it: 2,814 rows held it 145 ms under the
    # bench's load (a rating's p99 went to 108 ms); 500 rows hold it about 35 ms.
    "STATS_FOLD_SECONDS": 5,
    "STATS_FOLD_BATCH": 500,
    "RATING_SWEEP_BATCH": 1000,
    # Hidden bad review: polarity at or below this is "clearly negative".
    "SENTIMENT_NEGATIVE_THRESHOLD": -0.3,  # chosen in bench/sentiment (held-out flag precision >= 0.95)
    # 回访: callbacks.
    "CALLBACK_VERIFY_WORKING_DAYS": 1,
    "CALLBACK_SATISFACTION_WORKING_DAYS": 1,
    "CALLBACK_MAX_ATTEMPTS": 3,
    "CALLBACK_REPORT_WORKING_DAYS": 1,
    # Remind the assignee (or the agents' queue) this many hours before a callback is due.
    "CALLBACK_REMIND_HOURS_BEFORE": 2,
    # How often the callback and rectification sweeps run (seconds).
    "FOLLOW_UP_SWEEP_SECONDS": 60,
    # 整改: rectification.
    "RECTIFICATION_WORKING_DAYS": 15,
    # 12345 tickets: time to take (签收) and to handle (办理), by urgency and type.
    "TICKET_TAKE_MINUTES_EMERGENCY": 15,
    "TICKET_TAKE_MINUTES_UTILITIES": 30,
    "TICKET_TAKE_WORKING_DAYS": 1,
    "TICKET_HANDLE_WORKING_DAYS": {
        "consultation": 3,
        "help": 3,
        "complaint": 13,
        "report": 13,
        "suggestion": 5,
        "praise": 5,
    },
    "TICKET_HANDLE_HOURS_EMERGENCY": 24,
    "TICKET_EXTENSION_MAX": 1,
    # 延期: the most working days one extension may add to the handling deadline.
    "TICKET_EXTENSION_MAX_WORKING_DAYS": 10,
    "TICKET_NUMBER_PREFIX": "HN",
    # Duplicate hint at intake: open tickets this recent, and how alike two texts must be (0-1).
    "TICKET_DUPLICATE_LOOKBACK_DAYS": 30,
    "TICKET_DUPLICATE_MIN_SIMILARITY": 0.3,
    "TICKET_DUPLICATE_SCAN_LIMIT": 500,
    # 督办: how often the overdue sweep runs, and how many tickets one run supervises at most.
    "TICKET_OVERDUE_SWEEP_SECONDS": 300,
    "TICKET_OVERDUE_SWEEP_BATCH": 500,
    # Ticket lists: rows per page by default and at most.
    "TICKET_PAGE_SIZE": 50,
    "TICKET_PAGE_SIZE_MAX": 200,
    # Open311 GeoReport v2 (hotline/open311, docs/open311.md): the jurisdiction_id clients send
    # (empty: any), requests per API key (per client IP without a key), the service `type`
    # ("batch": POST answers a token; "realtime": the request id), the ticket a request becomes,
    # the region when its location names none (empty: the service item's department's region),
    # the spec's query window and row limit, and the discovery document's contact texts.
    "OPEN311_JURISDICTION_ID": "hainan.12345.gov.cn",
    "OPEN311_RATE_LIMIT": "120 per minute",
    "OPEN311_SERVICE_TYPE": "batch",
    "OPEN311_TICKET_TYPE": "help",
    "OPEN311_UTILITIES_CATEGORIES": ["水电气热"],
    "OPEN311_DEFAULT_REGION": "",
    "OPEN311_MAX_DAYS": 90,
    "OPEN311_MAX_ROWS": 1000,
    "OPEN311_CONTACT": "海南省12345政务服务便民热线：拨打 12345 / Hainan 12345 hotline: call 12345",
    "OPEN311_KEY_SERVICE": "API key 由热线管理员发放 / API keys are issued by the hotline administrator",
    # 实时上报: real-time reporting to the provincial 好差评 platform (reports/provincial).
    # A row is dead (a dead letter, retried only by hand) after this many failed tries; the wait
    # before try n+1 is random in [0, min(cap, base * 2^(n-1))] seconds ("full jitter").
    # With these defaults a row that keeps failing gives up after about nine hours.
    "REPORTING_MAX_ATTEMPTS": 30,
    "REPORTING_BACKOFF_BASE_SECONDS": 0.5,
    "REPORTING_BACKOFF_CAP_SECONDS": 3600.0,
    # Rows claimed per round trip to the database, and how often the delivery job runs.
    "REPORTING_BATCH_SIZE": 50,
    "REPORTING_INTERVAL_SECONDS": 5,
    # The provincial channel code (pf, 1-7) reported for our 12345 hotline callback channel (8).
    "REPORTING_HOTLINE_PF": 6,
}
