"""Start Doubletext servers (and workers) on 127.0.0.1 for a benchmark.

Embedded mode: one Daphne process on a fresh SQLite database, runs executed
in the server process. Production mode (`--postgres URL --redis URL`):
Daphne processes with `RUNS_EMBEDDED_WORKER=false` plus worker processes,
on a fresh PostgreSQL database created for the benchmark and dropped after.

Servers run with DEBUG off (as in production: with DEBUG on, Django also
records every SQL statement, which on SQLite costs an extra query each).
`BENCH_DEBUG=1` turns it on. Clients authenticate as a benchmark user with an
API key, as an integration would: `servers()` puts it in LANGGRAPH_API_KEY
(langgraph-sdk reads it) and `WS_HEADERS` (for websocket handshakes). The run
creation rate limit is off. `BENCH_PYSPY=DIR` attaches py-spy to every
server and worker process and writes their sampled stacks (collapsed
format, one file per process) to DIR when the benchmark ends.
"""

import contextlib
import os
import platform
import shutil
import signal
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
# Every process of that block, Daphne and workers, as (name, process).
ALL: list[tuple[str, subprocess.Popen]] = []
# Headers a websocket client sends with its handshake to authenticate.
WS_HEADERS: dict[str, str] = {}


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


def process_stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (Linux): [0] the state,
    [3] the session id, [11] and [12] the user and system CPU ticks."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int, fields: list[str] | None = None) -> float:
    """A process's user + system CPU time so far (`fields`: its process_stat)."""
    fields = fields or process_stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
        DEBUG="true" if os.environ.get("BENCH_DEBUG") else "false",
        SECRET_KEY="bench-only-not-secret",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        RUNS_CREATE_RATE="none",
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
    profilers = []
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=base_env, check=True
        )
        use_api_key(base_env)
        urls = []
        for i in range(daphnes):
            port = free_port()
            log = open(log_dir / f"daphne-{i}.log", "wb")  # noqa: SIM115
            proc = subprocess.Popen(
                server_command(port),
                cwd=ROOT,
                env=base_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            procs.append(proc)
            RUNNING.append(proc)
            wait_for_port(port, proc)
            urls.append(f"http://127.0.0.1:{port}")
        names = [f"daphne-{i}" for i in range(daphnes)]
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
            names.append(f"worker-{i}")
        ALL.extend(zip(names, procs, strict=True))
        if os.environ.get("BENCH_PYSPY"):
            profilers = attach_py_spy(Path(os.environ["BENCH_PYSPY"]), procs, names)
        yield urls
    finally:
        for profiler in profilers:  # SIGINT: py-spy writes what it sampled
            profiler.send_signal(signal.SIGINT)
        for profiler in profilers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                profiler.wait(timeout=30)
        RUNNING.clear()
        ALL.clear()
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


def server_command(port: int) -> list[str]:
    """The ASGI server of one process: Daphne, or uvicorn with `BENCH_SERVER=uvicorn`.
    Neither writes an access line per request (the reference server, at
    LOG_LEVEL=WARNING, writes none either); Daphne's -v0 keeps its warnings."""
    app = "chatapp.asgi:application"
    if os.environ.get("BENCH_SERVER", "daphne") == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port)] + [
            "--no-access-log",
            app,
        ]
    return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "0", app]


def use_api_key(env: dict) -> None:
    """Create the benchmark user and an API key; clients of this process use it."""
    create_user = (
        "from django.contrib.auth.models import User; User.objects.create(username='bench')"
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "shell", "-v0", "-c", create_user], cwd=ROOT, env=env, check=True)
    key = subprocess.run(
        [*manage, "create_api_key", "bench"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    os.environ["LANGGRAPH_API_KEY"] = key
    WS_HEADERS["x-api-key"] = key


def attach_py_spy(out: Path, procs: list, names: list[str]) -> list[subprocess.Popen]:
    """Sample every process with py-spy (all threads, 100 Hz, without pausing the
    process, idle time left out)."""
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise RuntimeError("BENCH_PYSPY is set but py-spy is not installed (pip install py-spy)")
    out.mkdir(parents=True, exist_ok=True)
    time.sleep(1.0)  # let the workers finish importing
    return [
        subprocess.Popen(
            [py_spy, "record", "-p", str(proc.pid), "-r", "100", "--nonblocking", "--threads"]
            + ["-f", "raw"]
            + ["-o", str(out / f"{name}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for proc, name in zip(procs, names, strict=True)
    ]


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
