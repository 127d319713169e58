"""Where the local service's servers are, for every `python -m bot` command alike.

`python -m bot run` starts embedded PostgreSQL and Valkey when DATABASE_URL / REDIS_URL are unset
and writes where they are to `<DATA_DIR>/run.json` (removed again when it stops). Every other
command (`chat`, `import`, `seed`, `migrate`, `bank`, `worker`, `web`, ...) takes the URLs from
there when the environment does not give them, so a newcomer's `make run` in one terminal and
`python -m bot import products file.csv` in another just work.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bot.phone import InvalidPhone, normalize_phone
from bot.settings import Settings

RUN_INFO = "run.json"
NO_DATABASE = (
    "DATABASE_URL is not set and no local service is running "
    "(start one with `make run` in another terminal, or set DATABASE_URL)"
)


def load_run_info(data_dir: Path) -> dict[str, Any]:
    """`<data_dir>/run.json` if the run command wrote one, else {}."""
    try:
        info = json.loads((data_dir / RUN_INFO).read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def with_local_servers(settings: Settings, data_dir: Path | None = None) -> Settings:
    """`settings` with DATABASE_URL and REDIS_URL filled in from the running local service
    (`run.json` in DATA_DIR) where the environment leaves them unset, and then its ADMIN_NUMBERS
    too when the environment has none. Exported to this process's
    environment too, for the commands that read it again (the worker, the web app's factory)."""
    info = load_run_info(data_dir or Path(settings.data_dir))
    found: dict[str, str] = {}
    for field, env in (("database_url", "DATABASE_URL"), ("redis_url", "REDIS_URL")):
        value = info.get(field)
        if getattr(settings, field) is None and isinstance(value, str) and value:
            found[field] = value
            os.environ[env] = value
    # The admin numbers the local service runs with (the demo admin unless ADMIN_NUMBERS was
    # set): `import` must refuse them as retailers' numbers there too, or the next start fails.
    numbers = info.get("admin_numbers")
    update: dict[str, object] = dict(found)
    if found and not settings.admin_numbers and isinstance(numbers, str) and numbers.strip():
        try:
            update["admin_numbers"] = tuple(
                normalize_phone(n) for n in numbers.split(",") if n.strip()
            )
        except InvalidPhone:
            pass  # the service validated them when it started; a hand-edited file is ignored
        else:
            os.environ["ADMIN_NUMBERS"] = numbers
    return settings.model_copy(update=update) if update else settings
