"""Production refuses to start with a guessable SECRET_KEY, and says why in one sentence."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import SettingsError, check_secret_key, load_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STRONG = "k3Q9-vX2pL7_mN4bR8tW1yZ6cF0hJ5sD"  # 32 bytes, varied


@pytest.mark.parametrize("key", ["x", "secret", "change-me", "a" * 40, "0123456789" * 2])
def test_weak_or_placeholder_keys_are_refused(key):
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        check_secret_key(key)


def test_a_long_random_key_is_accepted(monkeypatch, tmp_path):
    monkeypatch.setenv("HAOCHA_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG)
    assert load_settings(tmp_path)["SECRET_KEY"] == STRONG


def test_development_keeps_any_key(monkeypatch, tmp_path):
    monkeypatch.setenv("HAOCHA_ENV", "development")
    monkeypatch.setenv("SECRET_KEY", "x")
    assert load_settings(tmp_path)["SECRET_KEY"] == "x"


@pytest.mark.parametrize("key", ["x", None])
def test_the_app_refuses_to_start_in_production_with_a_clear_message(tmp_path, key):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")}
    env.update(HAOCHA_ENV="production", HAOCHA_INSTANCE_PATH=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/p.db")
    if key is not None:
        env["SECRET_KEY"] = key
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "routes"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "refuses to start" in done.stderr and "SECRET_KEY" in done.stderr
    assert "Traceback" not in done.stderr
