from __future__ import annotations

import subprocess
import sys

import pytest

from bot.settings import SettingsError, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("BUSINESS_TZ", "PORT", "ADMIN_NUMBERS", "WHATSAPP_TEMPLATES", "TWILIO_API_URL"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.business_tz == "Asia/Kolkata"
    assert s.port == 8000
    assert s.twilio_api_url == "https://api.twilio.com"
    assert s.admin_numbers == ()


def test_parses_lists_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_NUMBERS", "+919900000000, 9812345678")
    monkeypatch.setenv("WHATSAPP_TEMPLATES", '{"payment_reminder": "HX123"}')
    s = load_settings()
    assert s.admin_numbers == ("+919900000000", "+919812345678")
    assert s.whatsapp_templates == {"payment_reminder": "HX123"}


@pytest.mark.parametrize(
    "var, value, named",
    [
        ("BUSINESS_TZ", "Mars/Base", "BUSINESS_TZ"),
        ("PORT", "eighty", "PORT"),
        ("ADMIN_NUMBERS", "not-a-number", "ADMIN_NUMBERS"),
        ("WHATSAPP_TEMPLATES", "[1, 2]", "WHATSAPP_TEMPLATES"),
        ("DATABASE_POOL_SIZE", "0", "DATABASE_POOL_SIZE"),
        ("SEND_RATE_PER_SECOND", "-1", "SEND_RATE_PER_SECOND"),
    ],
)
def test_invalid_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, named: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_bad_setting_stops_cli_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        env={"BUSINESS_TZ": "Mars/Base", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "BUSINESS_TZ" in result.stderr
    assert "Traceback" not in result.stderr
