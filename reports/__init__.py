"""reports package: statistics and rollups, dashboards, exports, the public feedback board, and
real-time reporting to the provincial platform (reports.provincial)."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from reports import provincial, stats

    provincial.init_app(app, api)
    stats.init_app(app, api)
