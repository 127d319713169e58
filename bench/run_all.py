"""`make bench`: every benchmark against freshly started services, figures into bench/RESULTS.md.

    python bench/run_all.py [--quick] [--only webhook,admin,sending,insights] [--out FILE]

Runs each script of bench/ in turn as a process group of its own (each creates its throwaway
database, starts its own `python -m bot web` / `worker` processes and a fake Twilio where it needs
them, and cleans up), collects the figures each writes with `--json`, and writes one table with
the date, the machine (cores, CPU, load average at the start, PostgreSQL version and whether
autovacuum is on), each command, figure, target and pass/fail. `--quick` runs small sizes (for
developing the benchmarks; its figures are not the targets' sizes).

On Ctrl+C or a failure the running script is interrupted (SIGINT to its group, SIGKILL after 30 s)
and every database and Redis key of this run (`kirana_bench_run<pid>_*`) is dropped. A script that
fails is reported in the table, and the others still run; the exit status is 1 then.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from benchlib import Figure, drop_databases_like, redis_url, server_url

from bot.cli.deps import redis_client

BENCH = Path(__file__).resolve().parent

# name: (script, full-size arguments, --quick arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "webhook": ("webhook.py", ["--count", "2000"], ["--count", "300"]),
    "admin": (
        "admin.py",
        ["--retailers", "100000", "--transactions", "1000000", "--runs", "40"],
        ["--retailers", "5000", "--transactions", "50000", "--runs", "10"],
    ),
    "sending": (
        "sending.py",
        ["--messages", "600", "--rate", "20", "--workers", "2"],
        ["--messages", "100", "--rate", "20", "--workers", "2"],
    ),
    "insights": (
        "insights.py",
        ["--retailers", "100000", "--lines", "5000000"],
        ["--retailers", "5000", "--lines", "100000"],
    ),
}
STOP_WAIT_S = 30
TOTAL_TARGET_MIN = 15


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())

    async def pg() -> tuple[str, str]:
        conn = await asyncpg.connect(server_url())
        try:
            version = await conn.fetchval("SHOW server_version")
            autovacuum = await conn.fetchval("SHOW autovacuum")
        finally:
            await conn.close()
        return version, autovacuum

    version, autovacuum = asyncio.run(pg())
    return {
        "cores": str(os.cpu_count()),
        "cpu": model,
        "load": load,
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "python": platform.python_version(),
        "postgres": version,
        "autovacuum": autovacuum,
    }


def run_one(name: str, args: list[str], env: dict[str, str]) -> tuple[dict[str, object], float]:
    """Run one script (its own process group), echoing its output; its --json figures."""
    script, _, _ = BENCHMARKS[name]
    out = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".json")[1])
    command = [sys.executable, str(BENCH / script), *args, "--json", str(out)]
    print(f"\n=== {name}: {' '.join(['python', f'bench/{script}', *args])}", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        code = proc.wait()
    except BaseException:
        _stop(proc)
        raise
    took = time.monotonic() - started
    try:
        result: dict[str, object] = json.loads(out.read_text() or "{}") if code == 0 else {}
    finally:
        out.unlink(missing_ok=True)
    if code != 0:
        result = {
            "command": f"python bench/{script} {' '.join(args)}",
            "figures": [
                {"benchmark": name, "what": "the script", "figure": f"exited with {code}",
                 "target": "exits 0", "passed": False}
            ],
        }  # fmt: skip
    return result, took


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT to the script's whole group (it and the servers it started), SIGKILL if needed."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


async def cleanup(prefix: str) -> None:
    dropped = await drop_databases_like(prefix)
    redis = redis_client(redis_url())
    try:
        keys = [k async for k in redis.scan_iter(match=f"arq:{prefix}*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()
    if dropped or keys:
        print(f"cleaned up: {len(dropped)} databases, {len(keys)} Redis keys")


def write_results(
    path: Path,
    started: datetime,
    info: dict[str, str],
    runs: list[tuple[str, dict[str, object], float]],
    quick: bool,
    total_s: float,
) -> int:
    figures = [Figure(**f) for _, r, _ in runs for f in r.get("figures", [])]  # type: ignore[attr-defined]
    if not quick and len(runs) == len(BENCHMARKS):
        figures.append(
            Figure(
                "make bench",
                "the whole run",
                f"{total_s / 60:.1f} minutes",
                f"< {TOTAL_TARGET_MIN} minutes",
                total_s < TOTAL_TARGET_MIN * 60,
            )
        )
    missed = [f for f in figures if f.passed is False]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`bench/run_all.py{' --quick' if quick else ''}`) on "
        f"{started:%Y-%m-%d %H:%M} UTC in {total_s / 60:.1f} minutes."
        + (" **Quick sizes: not the targets' sizes.**" if quick else ""),
        "",
        "| machine | |",
        "|---|---|",
        f"| cores | {info['cores']} |",
        f"| CPU | {info['cpu']} |",
        f"| memory | {info['memory']} |",
        f"| load average at the start (1 / 5 / 15 min) | {info['load']} |",
        f"| load average at the end | {info.get('load_end', '')} |",
        f"| PostgreSQL | {info['postgres']} |",
        f"| autovacuum | {info['autovacuum']}"
        + (
            " (the benchmarks VACUUM ANALYZE after each bulk load and after the aging refresh, "
            "standing in for it) |"
            if info["autovacuum"] != "on"
            else " |"
        ),
        f"| Python | {info['python']} |",
        "",
    ]
    if float(info["load"].split(" / ")[0]) >= float(info["cores"]):
        lines += [
            f"**The load average at the start ({info['load'].split(' / ')[0]}) was at or above "
            f"the {info['cores']} cores: other work shared the machine, so the timings are "
            "slower than on a quiet one.** `/health` at 1 in flight (the web server's ceiling) "
            "is the yardstick for comparing runs.",
            "",
        ]
    lines += [
        "| benchmark | what | figure | target | pass |",
        "|---|---|---|---|---|",
    ]
    for f in figures:
        mark = "" if f.passed is None else ("pass" if f.passed else "**FAIL**")
        lines.append(f"| {f.benchmark} | {f.what} | {f.figure} | {f.target} | {mark} |")
    lines += ["", "Commands (each as its own process group, in this order):", ""]
    for name, result, took in runs:
        command = str(result.get("command", name)).split(" --json ")[0]
        lines.append(f"- `{command}` ({took:.0f} s)")
    lines += ["", f"Targets met: {sum(1 for f in figures if f.passed)} of "
              f"{sum(1 for f in figures if f.passed is not None)}."]  # fmt: skip
    if missed:
        lines += ["", "Missed:", ""]
        lines += [f"- {f.benchmark}: {f.what}: {f.figure} (target {f.target})" for f in missed]
    path.write_text("\n".join(lines) + "\n")
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument("--only", help=f"comma-separated, of {', '.join(BENCHMARKS)}")
    parser.add_argument("--out", default=str(BENCH / "RESULTS.md"))
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    for name in names:
        if name not in BENCHMARKS:
            parser.error(f"unknown benchmark {name!r}")
    # Ctrl+C, or SIGTERM, stops the running script and cleans up, even where this process was
    # started with SIGINT ignored (a background job of a shell); the scripts then inherit the
    # default handling too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    prefix = f"kirana_bench_run{os.getpid()}"
    env = {**os.environ, "BENCH_DB_PREFIX": prefix, "PYTHONUNBUFFERED": "1"}
    started = datetime.now(UTC)
    t0 = time.monotonic()
    info = machine()
    print(f"{started:%Y-%m-%d %H:%M} UTC; {info['cores']} cores ({info['cpu']}), load average "
          f"{info['load']}; PostgreSQL {info['postgres']}, autovacuum {info['autovacuum']}")  # fmt: skip
    runs: list[tuple[str, dict[str, object], float]] = []
    try:
        for name in names:
            _, full, quick = BENCHMARKS[name]
            result, took = run_one(name, quick if args.quick else full, env)
            runs.append((name, result, took))
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        asyncio.run(cleanup(prefix))
        return 130
    asyncio.run(cleanup(prefix))
    total = time.monotonic() - t0
    info["load_end"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    code = write_results(Path(args.out), started, info, runs, args.quick, total)
    print(f"\nwrote {args.out} in {total / 60:.1f} minutes" + ("; targets missed" if code else ""))
    return code


if __name__ == "__main__":
    sys.exit(main())
