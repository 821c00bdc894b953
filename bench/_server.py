"""Start Doubletext servers (and workers) on 127.0.0.1 for a benchmark.

Embedded mode: one Daphne process on a fresh SQLite database, runs executed
in the server process. Production mode (`--postgres URL --redis URL`):
Daphne processes with `RUNS_EMBEDDED_WORKER=false` plus worker processes,
on a fresh PostgreSQL database created for the benchmark and dropped after.
"""

import contextlib
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The Daphne processes of the `servers()` block running now (for CPU readings).
RUNNING: list[subprocess.Popen] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


def _psql(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


@contextlib.contextmanager
def servers(
    *,
    postgres: str = "",
    redis: str = "",
    daphnes: int = 1,
    workers: int = 0,
    env: dict | None = None,
    log_dir: Path | None = None,
):
    """Yield the base URLs of running servers; stop everything after."""
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="doubletext-bench-"))
    base_env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="chatapp.settings",
        DEBUG="true",
        LOG_LEVEL="WARNING",
        **(env or {}),
    )
    base_env.pop("REDIS_URL", None)
    dbname = None
    if postgres:
        dbname = f"bench_{uuid.uuid4().hex[:8]}"
        _psql(postgres, f'CREATE DATABASE "{dbname}"')
        base_env["DATABASE_URL"] = postgres.rsplit("/", 1)[0] + f"/{dbname}"
    else:
        base_env["DATABASE_URL"] = f"sqlite:///{log_dir / 'bench.sqlite3'}"
    if redis:
        base_env["REDIS_URL"] = redis
    if workers:
        base_env["RUNS_EMBEDDED_WORKER"] = "false"
    procs = []
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=base_env, check=True
        )
        urls = []
        for i in range(daphnes):
            port = free_port()
            log = open(log_dir / f"daphne-{i}.log", "wb")  # noqa: SIM115
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "chatapp.asgi:application",
                ],
                cwd=ROOT,
                env=base_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            procs.append(proc)
            RUNNING.append(proc)
            wait_for_port(port, proc)
            urls.append(f"http://127.0.0.1:{port}")
        for i in range(workers):
            log = open(log_dir / f"worker-{i}.log", "wb")  # noqa: SIM115
            procs.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "runworker_runs", "--worker-id", f"bench-{i}"],
                    cwd=ROOT,
                    env=base_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        yield urls
    finally:
        RUNNING.clear()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if dbname:
            with contextlib.suppress(Exception):
                _psql(postgres, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summary(name: str, values_ms: list[float]) -> str:
    return (
        f"{name}: n={len(values_ms)} median={percentile(values_ms, 50):.1f} ms "
        f"p95={percentile(values_ms, 95):.1f} ms"
    )


def machine() -> str:
    import django

    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, "
        f"Python {platform.python_version()}, Django {django.__version__}"
    )
