from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_procfile_web_refuses_bad_configuration_with_one_line() -> None:
    """The Procfile's `web` (uvicorn's factory) says what `python -m bot web` says: one line
    naming the variable, exit status 2, no traceback."""
    web = next(
        line.removeprefix("web:").strip()
        for line in (Path(__file__).parent.parent / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    )
    result = subprocess.run(
        ["/bin/sh", "-c", web],
        env={"BUSINESS_TZ": "Mars/Base", "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: invalid configuration: BUSINESS_TZ")
    assert "Traceback" not in result.stderr


def test_twilio_credentials_need_public_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL must be set"):
        load_settings()
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://bot.example.test:8443/")
    assert load_settings().public_base_url == "https://bot.example.test:8443"
    # Without credentials (messages printed, the local chat's token) it is not needed.
    monkeypatch.delenv("PUBLIC_BASE_URL")
    monkeypatch.delenv("TWILIO_ACCOUNT_SID")
    assert load_settings().public_base_url is None


def test_twilio_without_public_base_url_stops_cli_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        env={
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "token",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "PUBLIC_BASE_URL must be set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "rate, share, outbox",
    [(None, None, 7.0), ("0.3", None, 0.21), ("50", "0.5", 25.0), ("10", "1", 10.0)],
)
def test_outbox_takes_a_share_of_the_senders_rate(
    monkeypatch: pytest.MonkeyPatch, rate: str | None, share: str | None, outbox: float
) -> None:
    for var, value in (("SEND_RATE_PER_SECOND", rate), ("OUTBOX_RATE_SHARE", share)):
        if value is None:
            monkeypatch.delenv(var, raising=False)
        else:
            monkeypatch.setenv(var, value)
    assert load_settings().outbox_rate_per_second == pytest.approx(outbox)


@pytest.mark.parametrize("share", ["0", "1.5", "-0.1"])
def test_outbox_share_is_a_fraction(monkeypatch: pytest.MonkeyPatch, share: str) -> None:
    monkeypatch.setenv("OUTBOX_RATE_SHARE", share)
    with pytest.raises(SettingsError, match="OUTBOX_RATE_SHARE"):
        load_settings()
