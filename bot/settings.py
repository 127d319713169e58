"""One settings object, read once from the environment and validated at start."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.credit import DEFAULT_OVERDUE_TOLERANCE
from bot.payments.pay import InvalidVpa, normalize_vpa
from bot.payments.provider import PaymentProvider
from bot.payments.razorpay import DEFAULT_API_URL as DEFAULT_RAZORPAY_API_URL
from bot.payments.razorpay import Razorpay
from bot.phone import InvalidPhone, normalize_phone
from bot.quiet_hours import DEFAULT_QUIET_HOURS, QuietHours, parse_quiet_hours

DEFAULT_TWILIO_API_URL = "https://api.twilio.com"
_WEEKDAYS = {
    name[:3]: (number, name)
    for number, name in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
}


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


class Settings(BaseSettings):
    """DESIGN section 8. Every external address is a setting so tests can point at fakes."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str | None = None
    redis_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_whatsapp_from: str | None = None
    twilio_api_url: str = DEFAULT_TWILIO_API_URL
    whatsapp_templates: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    public_base_url: str | None = None
    admin_api_token: str | None = None
    admin_numbers: Annotated[tuple[str, ...], NoDecode] = ()
    business_tz: str = "Asia/Kolkata"
    port: int = Field(default=8000, ge=1, le=65535)
    # The WhatsApp sender's throughput at Twilio, messages per second (Twilio's default for a
    # sender is 10; the sandbox sends one every 3 seconds). Chat replies (TwiML) and the outbox
    # share it: the outbox takes `outbox_rate_share` of it, all sender processes together
    # (shared through Redis), and leaves the rest for replies.
    send_rate_per_second: float = Field(default=10.0, gt=0)
    outbox_rate_share: float = Field(default=0.7, gt=0, le=1)
    # Unpaid amount (paise) on overdue debits below which credit is not stopped (DESIGN 3).
    overdue_tolerance_paise: int = Field(default=DEFAULT_OVERDUE_TOLERANCE, ge=0)
    # Whom a retailer whose credit is blocked is told to call (DESIGN section 10); E.164. Unset,
    # they are told to call the distributor.
    support_phone: str | None = None
    # PostgreSQL connections per web process (uvicorn worker). Mind max_connections (100 by
    # default): web processes x this + workers x 5 must stay below it.
    database_pool_size: int = Field(default=10, ge=1, le=200)
    # Largest request body the web app accepts, in bytes.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Signs the admin console's cookies and CSRF tokens (at least 32 characters); unset, the
    # console at /admin is closed (503). `make run` generates one under the data folder.
    session_secret: str | None = Field(default=None, min_length=32)
    arq_queue_name: str = "arq:queue"
    # asyncpg's prepared-statement cache per connection; 0 behind PgBouncer in transaction mode
    # (a statement prepared on one server connection is not there on the next).
    database_statement_cache_size: int = Field(default=100, ge=0)
    # Bearer token of the web app's GET /metrics; unset, /metrics is closed (404).
    metrics_token: str | None = Field(default=None, min_length=16)
    # The worker serves its metrics on this port (all interfaces unless METRICS_HOST); unset, not.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "0.0.0.0"  # noqa: S104 - a container's port; the README says keep it private
    # One JSON object per log line (production), or plain text (`python -m bot run` sets it).
    log_format: Literal["json", "text"] = "json"
    data_dir: str = ".data"
    # Business-initiated messages that can wait are held in this window of BUSINESS_TZ
    # (`bot.quiet_hours`; "off" for none). A window may cross midnight.
    quiet_hours: str = DEFAULT_QUIET_HOURS
    # The weekly insights message goes on this day at 09:00 BUSINESS_TZ (a day's English name).
    insights_weekday: str = "monday"
    # Payments (DESIGN section 10). With UPI_ID, reminders, balance and statement carry a
    # upi://pay link for the amount due (UPI_PAYEE_NAME is the name the payer's app shows); with
    # a gateway (PAYMENT_PROVIDER), a payment link made through it, paid ones recorded by its
    # signed webhook.
    upi_id: str | None = None
    upi_payee_name: str = "Distributor"
    payment_provider: Literal["razorpay"] | None = None
    razorpay_key_id: str | None = None
    razorpay_key_secret: str | None = None
    razorpay_webhook_secret: str | None = None
    razorpay_api_url: str = DEFAULT_RAZORPAY_API_URL

    @field_validator("business_tz")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_window(cls, value: str) -> str:
        parse_quiet_hours(value)  # ValueError says what is wrong
        return value

    @field_validator("insights_weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        day = value.strip().lower()
        if day[:3] not in _WEEKDAYS or (len(day) > 3 and _WEEKDAYS[day[:3]][1] != day):
            raise ValueError(f"{value!r} is not a day of the week (monday ... sunday)")
        return _WEEKDAYS[day[:3]][1]

    @field_validator("admin_numbers", mode="before")
    @classmethod
    def _split_numbers(cls, value: Any) -> tuple[str, ...]:
        if value is None or value == "":
            return ()
        items = value.split(",") if isinstance(value, str) else list(value)
        out = []
        for item in items:
            if not str(item).strip():
                continue
            try:
                out.append(normalize_phone(str(item)))
            except InvalidPhone as exc:
                raise ValueError(f"not a phone number: {item!r}") from exc
        return tuple(out)

    @field_validator("support_phone", mode="before")
    @classmethod
    def _support_phone(cls, value: Any) -> str | None:
        if value is None or not str(value).strip():
            return None
        try:
            return normalize_phone(str(value))
        except InvalidPhone as exc:
            raise ValueError(f"not a phone number: {value!r}") from exc

    @field_validator("whatsapp_templates", mode="before")
    @classmethod
    def _parse_templates(cls, value: Any) -> dict[str, str]:
        if value is None or value == "":
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError("must be a JSON object of kind -> Content SID") from exc
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValueError("must be a JSON object of kind -> Content SID")
        return dict(value)

    @field_validator("twilio_api_url", "public_base_url", "razorpay_api_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def secure_cookies(self) -> bool:
        """Cookies are Secure when the public address is https."""
        return (self.public_base_url or "").startswith("https://")

    @field_validator(
        "upi_id",
        "payment_provider",
        "session_secret",
        "metrics_token",
        "metrics_port",
        mode="before",
    )
    @classmethod
    def _unset_when_empty(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("upi_id")
    @classmethod
    def _vpa(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalize_vpa(value)
        except InvalidVpa:
            raise ValueError(f"not a UPI address like name@bank: {value!r}") from None

    @model_validator(mode="after")
    def _gateway_keys(self) -> Settings:
        if self.payment_provider == "razorpay":
            missing = [
                name.upper()
                for name in ("razorpay_key_id", "razorpay_key_secret", "razorpay_webhook_secret")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"PAYMENT_PROVIDER=razorpay needs {', '.join(missing)}")
        return self

    @model_validator(mode="after")
    def _public_url_with_twilio(self) -> Settings:
        # Without it the signature check has no URL to check against (every webhook gets 403:
        # the bot goes silent) and status callbacks have no address to come back to.
        if self.twilio_account_sid and self.twilio_auth_token and not self.public_base_url:
            raise ValueError(
                "PUBLIC_BASE_URL must be set when TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are: "
                "the exact address Twilio calls (scheme, host, port if not the default)"
            )
        return self

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.business_tz)

    @cached_property
    def quiet(self) -> QuietHours | None:
        """QUIET_HOURS read (None: off)."""
        return parse_quiet_hours(self.quiet_hours)

    @property
    def insights_weekday_number(self) -> int:
        """INSIGHTS_WEEKDAY as Python counts days: 0 is Monday."""
        return _WEEKDAYS[self.insights_weekday[:3]][0]

    @cached_property
    def payments(self) -> PaymentProvider | None:
        """The configured payment gateway, or None (payment links fall back to UPI_ID)."""
        if self.payment_provider == "razorpay":
            assert self.razorpay_key_id and self.razorpay_key_secret
            return Razorpay(
                key_id=self.razorpay_key_id,
                key_secret=self.razorpay_key_secret,
                webhook_secret=self.razorpay_webhook_secret or "",
                api_url=self.razorpay_api_url,
            )
        return None

    @property
    def outbox_rate_per_second(self) -> float:
        """The outbox's share of the sender's throughput (the rest is left for chat replies)."""
        return self.send_rate_per_second * self.outbox_rate_share

    @property
    def twilio_enabled(self) -> bool:
        """With no Twilio credentials the sender prints messages instead of sending them."""
        return bool(
            self.twilio_account_sid and self.twilio_auth_token and self.twilio_whatsapp_from
        )


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the environment; raise SettingsError naming the bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]).upper()
            msg = str(err["msg"]).removeprefix("Value error, ")
            # A check across settings names its variables itself.
            problems.append(f"{name}: {msg}" if name else msg)
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
