"""Logging set-up shared by every process; phone numbers are masked where they are logged."""

from __future__ import annotations

import logging
import os


def setup_logging(level: str | None = None) -> None:
    logging.basicConfig(
        level=(level or os.environ.get("LOG_LEVEL", "INFO")).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO, which includes the account SID; keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
