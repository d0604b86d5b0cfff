"""Settings from the environment: domain numbers overridden in the type of their default."""

import pytest

from config import load_settings
from config.domain import DOMAIN_DEFAULTS


def test_a_partial_mapping_changes_only_the_keys_it_names(monkeypatch, tmp_path):
    monkeypatch.setenv("TICKET_HANDLE_WORKING_DAYS", '{"complaint": 13}')
    days = load_settings(tmp_path)["TICKET_HANDLE_WORKING_DAYS"]
    assert days == {**DOMAIN_DEFAULTS["TICKET_HANDLE_WORKING_DAYS"], "complaint": 13}
    assert days.keys() == DOMAIN_DEFAULTS["TICKET_HANDLE_WORKING_DAYS"].keys()


def test_numbers_and_flags_take_their_defaults_type(monkeypatch, tmp_path):
    monkeypatch.setenv("SATISFACTION_TARGET", "0.9")
    monkeypatch.setenv("RATING_TOKEN_TTL_DAYS", "5")
    settings = load_settings(tmp_path)
    assert settings["SATISFACTION_TARGET"] == 0.9 and settings["RATING_TOKEN_TTL_DAYS"] == 5


def test_a_mapping_must_be_a_json_object(monkeypatch, tmp_path):
    monkeypatch.setenv("TICKET_HANDLE_WORKING_DAYS", "[13]")
    with pytest.raises(ValueError, match="JSON object"):
        load_settings(tmp_path)
