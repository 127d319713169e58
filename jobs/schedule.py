"""Cron schedules (DESIGN section 7), evaluated by arq in BUSINESS_TZ. Filled in with the jobs."""

from __future__ import annotations

from typing import Any

cron_jobs: list[Any] = []
