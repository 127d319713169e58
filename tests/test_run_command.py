"""`python -m bot run` on a machine with nothing configured: embedded servers, demo data once,
a clean stop, and a start after `kill -9` that still works."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from bot.cli.run import quiet_when_stopping

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(data_dir: Path, port: int, **extra: str) -> subprocess.Popen[bytes]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "TWILIO_", "ADMIN_", "PUBLIC_BASE_URL"))
    }
    env.update({"DATA_DIR": str(data_dir), "PORT": str(port), "LOG_LEVEL": "WARNING", **extra})
    data_dir.mkdir(parents=True, exist_ok=True)
    # A file, not a pipe: a pipe nobody reads fills up and blocks the processes writing to it.
    with open(data_dir.parent / "run.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if proc.poll() is not None:
            pytest.fail(f"run exited with {proc.returncode}")
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            # The answer must come from this run's web process, not one of an earlier run.
            if r.status_code == 200 and web_child_of(proc) is not None:
                return time.monotonic() - began
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail("no 200 from /health within a minute")


def web_child_of(proc: subprocess.Popen[bytes]) -> psutil.Process | None:
    try:
        children = psutil.Process(proc.pid).children()
    except psutil.NoSuchProcess:
        return None
    for child in children:
        if child.cmdline()[1:4] == ["-m", "bot", "web"]:
            return child
    return None


def servers_of(data_dir: Path) -> list[psutil.Process]:
    """PostgreSQL and Valkey processes of this data folder: PostgreSQL names it in its command
    line (`-D`), Valkey runs in it (its working directory)."""
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "postgres" not in cmd and "valkey" not in cmd:
            continue
        try:
            cwd = p.cwd()
        except psutil.Error:
            cwd = ""
        if str(data_dir) in cmd or cwd.startswith(str(data_dir)):
            found.append(p)
    return found


def count_retailers(data_dir: Path) -> int:
    info = json.loads((data_dir / "run.json").read_text())
    out = subprocess.run(
        [sys.executable, "-c",
         "import asyncio, asyncpg, sys\n"
         "async def m():\n"
         "    c = await asyncpg.connect(sys.argv[1])\n"
         "    print(await c.fetchval('SELECT count(*) FROM retailers'))\n"
         "    await c.close()\n"
         "asyncio.run(m())", info["database_url"]],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return int(out.stdout.strip())


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT) -> None:
    proc.send_signal(sig)
    proc.wait(timeout=60)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    yield path
    # Whatever happened above, leave no server of this test behind.
    for proc in servers_of(path):
        with contextlib.suppress(psutil.Error):
            proc.kill()


@pytest.mark.timeout(240)
def test_run_starts_stops_and_survives_kill_9(tmp_path: Path, data_dir: Path) -> None:
    port = free_port()

    proc = start(data_dir, port)
    try:
        assert wait_healthy(port, proc) < 60
        web = web_child_of(proc)
        assert web is not None
        listening = {c.laddr.ip for c in web.net_connections() if c.status == psutil.CONN_LISTEN}
        assert listening == {"127.0.0.1"}  # this machine only (HOST opens it)
        first = count_retailers(data_dir)
        assert first >= 5
    finally:
        stop(proc)  # Ctrl+C
    time.sleep(1)
    assert servers_of(data_dir) == [], "Ctrl+C left a server running"

    # A second start keeps the data and does not load the demo twice.
    proc = start(data_dir, port)
    try:
        wait_healthy(port, proc)
        assert count_retailers(data_dir) == first
    finally:
        proc.kill()  # kill -9: nothing is cleaned up
        proc.wait(timeout=30)

    # The next start still works (stale pid files, an orphaned server) and stops cleanly.
    proc = start(data_dir, port)
    try:
        wait_healthy(port, proc)
        assert count_retailers(data_dir) == first
    finally:
        stop(proc, signal.SIGTERM)
    time.sleep(1)
    assert servers_of(data_dir) == [], (tmp_path / "run.log").read_text()[-3000:]


def test_run_that_cannot_serve_says_so_and_never_says_serving(
    tmp_path: Path, data_dir: Path
) -> None:
    # A demo retailer's number as an admin's: the web and worker refuse to start.
    proc = start(data_dir, free_port(), ADMIN_NUMBERS="+919800000001")
    try:
        assert proc.wait(timeout=120) == 1
    finally:
        if proc.poll() is None:
            stop(proc)
    log = (tmp_path / "run.log").read_text()
    assert "an admin number cannot be a retailer's number" in log
    assert "error: the service did not start (see above); stopping" in log
    assert "Serving on" not in log
    time.sleep(1)
    assert servers_of(data_dir) == [], log[-3000:]


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot ...` as an operator runs it in another terminal: no DATABASE_URL."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "TWILIO_", "ADMIN_", "PUBLIC_BASE_URL"))
    }
    env["DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.timeout(240)
def test_every_command_finds_the_local_service_and_ctrl_c_stops_in_one_line(
    tmp_path: Path, data_dir: Path
) -> None:
    """Issue 13: `import` under `make run` found no DATABASE_URL although `chat` found the local
    servers; Ctrl+C printed a 35-line traceback (uvicorn got SIGINT twice: the terminal's and
    the run's)."""
    port = free_port()
    products = tmp_path / "products.csv"
    products.write_text("sku,name,category,price,unit\nGHEE-1,Amul Ghee 1L,Staples,650,tin\n")
    log = tmp_path / "run.log"
    proc = start(data_dir, port)
    try:
        wait_healthy(port, proc)
        done = cli(data_dir, "import", "products", str(products))
        assert (done.returncode, done.stdout.strip()) == (0, "imported 1 products"), done.stderr
        time.sleep(2)  # the children's start-up lines are out
        shown = len(log.read_text())
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl+C: the whole foreground process group
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    after = log.read_text()[shown:]
    assert after.strip() == "Stopping ...", after
    assert "Traceback" not in log.read_text()
    time.sleep(1)
    assert servers_of(data_dir) == []
    # The service is gone, and so is what pointed at it: one line says what to do.
    assert not (data_dir / "run.json").exists()
    done = cli(data_dir, "import", "products", str(products))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: DATABASE_URL is not set and no local service is running "
        "(start one with `make run` in another terminal, or set DATABASE_URL)"
    ]


@pytest.mark.parametrize(
    "line, quiet",
    [
        ("INFO:     Shutting down\n", True),
        ("2026-11-29 21:32:23,892 INFO arq.worker: shutdown on SIGINT\n", True),
        ("2026-11-29 21:32:23,892 DEBUG asyncio: poll\n", True),
        ("2026-11-29 21:32:23,892 WARNING jobs.outbox_sender: held\n", False),
        ("ERROR:    Traceback (most recent call last):\n", False),
        ("Traceback (most recent call last):\n", False),
        ('  File "x.py", line 1\n', False),
    ],
)
def test_routine_lines_are_left_out_once_stopping(line: str, quiet: bool) -> None:
    assert quiet_when_stopping(line) is quiet
