"""好差评: service events (办件) and single-use rating tokens, the citizen's rating form, ratings
with hidden-bad-review detection, appeals (申诉), standing counter QR codes, and jobs."""

import logging

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from core.demo import register_demo_loader
    from core.pages import add_nav_link
    from core.scheduler import add_jobs
    from ratings import demo, jobs, listeners, pages, sentiment, views
    from ratings.issuers_cli import issuers_cli
    from ratings.sentiment_cli import sentiment_cli

    for blp in (views.events_blp, views.ratings_blp, views.reviews_blp, views.appeals_blp, views.standing_blp):
        api.register_blueprint(blp)
    app.register_blueprint(pages.bp)
    app.cli.add_command(sentiment_cli)
    app.cli.add_command(issuers_cli)
    register_demo_loader("ratings", demo.load_demo_ratings)
    add_jobs(app, jobs.JOBS)
    listeners.connect()
    add_nav_link("ratings_pages.issue_qr", _l("Issue a rating QR code"), "agent", "handler", "manager")
    add_nav_link("ratings_pages.staff_list", _l("Ratings"), "agent", "handler", "manager", "admin")
    add_nav_link("ratings_pages.appeals", _l("Appeals of bad reviews"), "handler", "manager")
    add_nav_link("ratings_pages.reviews", _l("Ratings held for review"), "manager")
    if not app.testing:
        # Load the analyzer now (gunicorn.conf.py already did in the master, before forking).
        logging.getLogger("jieba").setLevel(logging.WARNING)
        sentiment.warm_up()
