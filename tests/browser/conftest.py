"""Browser tests: a live server on loopback with its own SQLite database, driven by Playwright
in Debian's chromium (never a downloaded browser). Skipped, with the reason, where chromium is
not installed; `.ci/run` installs it."""

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from tests_support import build_app_with
from werkzeug.serving import make_server

from core.db import db, set_write_intent

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu"]


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    path: Path = tmp_path_factory.mktemp("live") / "live.db"
    return build_app_with(f"sqlite:///{path}", create_schema=True, WTF_CSRF_ENABLED=True)


@pytest.fixture(scope="session")
def live_server(live_app: Flask) -> Iterator[LiveServer]:
    with LiveServer(live_app) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def live_db(live_app: Flask) -> Iterator[Any]:
    """The live server's database, for arranging data (commits for real).

    The test thread's transactions begin DEFERRED, so reading an expired attribute here never
    holds SQLite's write lock while the server thread needs it.
    """
    with live_app.app_context():
        set_write_intent(False)
        try:
            yield db
        finally:
            db.session.remove()
            set_write_intent(True)
